# Configures, builds and runs the consumer project one way. Called by CTest:
#   cmake -DMODE=subdirectory|package|pkgconfig|packager -DSOURCE_DIR=<isula-mailbox>
#         -DBUILD_DIR=<its CMake build> -DWORK_DIR=<scratch> -DBUILD_TYPE=<type>
#         -DCARGO_TARGET_DIR=<cargo dir to reuse> -P run.cmake
foreach(var MODE SOURCE_DIR BUILD_DIR WORK_DIR BUILD_TYPE CARGO_TARGET_DIR)
    if(NOT DEFINED ${var})
        message(FATAL_ERROR "run.cmake: -D${var}= is required")
    endif()
endforeach()

function(run)
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE result)
    if(NOT result EQUAL 0)
        message(FATAL_ERROR "failed (${result}): ${ARGN}")
    endif()
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")

# "packager": what a distribution package build does, in a build of its own
# with the tests off: `cmake --build` must build the library and
# `cmake --install` install it; then the consumer takes the install both
# ways (find_package and pkg-config). Its own cargo directory (about 15 s
# more): with the tests' one, the libraries would already be there.
if(MODE STREQUAL "packager")
    run("${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${WORK_DIR}/library"
        -DISULA_MAILBOX_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=${BUILD_TYPE})
    run("${CMAKE_COMMAND}" --build "${WORK_DIR}/library")
    run("${CMAKE_COMMAND}" --install "${WORK_DIR}/library" --prefix "${prefix}")
    foreach(file include/isula_mailbox/mailbox.h include/isula_mailbox/isula_mailbox.h)
        if(NOT EXISTS "${prefix}/${file}")
            message(FATAL_ERROR "not installed: ${prefix}/${file}")
        endif()
    endforeach()
    file(GLOB installed_libs "${prefix}/lib*/libisula_mailbox.a" "${prefix}/lib*/libisula_mailbox.so"
         "${prefix}/lib*/pkgconfig/isula_mailbox.pc" "${prefix}/lib*/cmake/isula_mailbox/isula_mailboxConfig.cmake")
    list(LENGTH installed_libs n)
    if(NOT n EQUAL 4)
        message(FATAL_ERROR "expected the .a, .so, .pc and package config installed, found: ${installed_libs}")
    endif()
    file(GLOB pc_dirs "${prefix}/lib*/pkgconfig")
    foreach(way package pkgconfig)
        run("${CMAKE_COMMAND}" -E env "PKG_CONFIG_PATH=${pc_dirs}"
            "${CMAKE_COMMAND}" -S "${CMAKE_CURRENT_LIST_DIR}" -B "${WORK_DIR}/build-${way}"
            -DMAILBOX_MODE=${way} -DCMAKE_BUILD_TYPE=${BUILD_TYPE} -DCMAKE_PREFIX_PATH=${prefix})
        run("${CMAKE_COMMAND}" --build "${WORK_DIR}/build-${way}")
        run("${WORK_DIR}/build-${way}/src/daemon/isulad")
    endforeach()
    return()
endif()
set(configure_args -DMAILBOX_MODE=${MODE} -DCMAKE_BUILD_TYPE=${BUILD_TYPE})
set(env)
if(MODE STREQUAL "subdirectory")
    list(APPEND configure_args -DISULA_MAILBOX_SOURCE_DIR=${SOURCE_DIR}
         -DISULA_MAILBOX_CARGO_TARGET_DIR=${CARGO_TARGET_DIR})
else()
    # A fresh install prefix, as a distribution package would lay it out.
    run("${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${prefix}")
    if(MODE STREQUAL "package")
        list(APPEND configure_args -DCMAKE_PREFIX_PATH=${prefix})
    else()
        file(GLOB pc_dirs "${prefix}/lib*/pkgconfig")
        set(env "${CMAKE_COMMAND}" -E env "PKG_CONFIG_PATH=${pc_dirs}")
    endif()
endif()

run(${env} "${CMAKE_COMMAND}" -S "${CMAKE_CURRENT_LIST_DIR}" -B "${WORK_DIR}/build" ${configure_args})
run("${CMAKE_COMMAND}" --build "${WORK_DIR}/build")
run("${WORK_DIR}/build/src/daemon/isulad")

# A parent project's install must not install the library it vendors
# (ISULA_MAILBOX_INSTALL is OFF below the top level).
if(MODE STREQUAL "subdirectory")
    run("${CMAKE_COMMAND}" --install "${WORK_DIR}/build" --prefix "${WORK_DIR}/parent-install")
    file(GLOB_RECURSE installed "${WORK_DIR}/parent-install/*")
    if(installed)
        message(FATAL_ERROR "the parent project's install installed: ${installed}")
    endif()
endif()
