# Configures, builds and runs the consumer project one way. Called by CTest:
#   cmake -DMODE=subdirectory|package|pkgconfig -DSOURCE_DIR=<isula-mailbox>
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
