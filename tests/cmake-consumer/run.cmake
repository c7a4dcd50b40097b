# Configures, builds and runs the consumer project one way. Called by CTest:
#   cmake -DMODE=subdirectory|package|pkgconfig|packager|distribution|multiconfig -DSOURCE_DIR=<isula-mailbox>
#         -DWORK_DIR=<scratch> -DBUILD_TYPE=<type>
#         -DCARGO_TARGET_DIR=<cargo dir to reuse> [-DCARGO_OPTIONS_FILE=<file>] -P run.cmake
# CARGO_OPTIONS_FILE sets CARGO_OPTIONS: how the library's build runs cargo
# (offline, vendor directory, profile, arguments), as -D options for the
# builds made here.
foreach(var MODE SOURCE_DIR WORK_DIR BUILD_TYPE CARGO_TARGET_DIR)
    if(NOT DEFINED ${var})
        message(FATAL_ERROR "run.cmake: -D${var}= is required")
    endif()
endforeach()

set(CARGO_OPTIONS "")
if(CARGO_OPTIONS_FILE)
    include("${CARGO_OPTIONS_FILE}")
endif()

function(run)
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE result)
    if(NOT result EQUAL 0)
        message(FATAL_ERROR "failed (${result}): ${ARGN}")
    endif()
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")
# Installs here go to a prefix under WORK_DIR, whatever the environment.
set(relative_dirs -DCMAKE_INSTALL_LIBDIR=lib -DCMAKE_INSTALL_INCLUDEDIR=include
    -DCMAKE_INSTALL_DATADIR=share)

# "packager": what a distribution package build does, in a build of its own
# with the tests off (CTest's BUILD_TESTING=OFF), and no C++ compiler there
# to find: `cmake --build` must build the library and `cmake --install`
# install it; then the consumer takes the install both ways (find_package
# and pkg-config). Its own cargo directory (about 15 s more): with the
# tests' one, the libraries would already be there.
if(MODE STREQUAL "packager")
    run("${CMAKE_COMMAND}" -E env CXX=/nonexistent/c++
        "${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${WORK_DIR}/library"
        -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=${BUILD_TYPE} ${CARGO_OPTIONS}
        ${relative_dirs})
    run("${CMAKE_COMMAND}" --build "${WORK_DIR}/library")
    run("${CMAKE_COMMAND}" --install "${WORK_DIR}/library" --prefix "${prefix}")
    foreach(file include/isula_mailbox/mailbox.h include/isula_mailbox/isula_mailbox.h
                 share/licenses/isula-mailbox/LICENSE share/licenses/isula-mailbox/THIRD_PARTY_LICENSES.md)
        if(NOT EXISTS "${prefix}/${file}")
            message(FATAL_ERROR "not installed: ${prefix}/${file}")
        endif()
    endforeach()
    file(GLOB installed_libs "${prefix}/lib*/libisula_mailbox.a" "${prefix}/lib*/libisula_mailbox.so"
         "${prefix}/lib*/libisula_mailbox.so.0" "${prefix}/lib*/libisula_mailbox.so.0.*"
         "${prefix}/lib*/pkgconfig/isula_mailbox.pc" "${prefix}/lib*/cmake/isula_mailbox/isula_mailboxConfig.cmake")
    list(LENGTH installed_libs n)
    if(NOT n EQUAL 6)
        message(FATAL_ERROR "expected the .a, .so, .so.0, .so.0.x.y, .pc and package config "
                            "installed, found: ${installed_libs}")
    endif()
    # The .pc file names the prefix installed to, in plain paths.
    file(GLOB pc_file "${prefix}/lib*/pkgconfig/isula_mailbox.pc")
    file(STRINGS "${pc_file}" pc_prefix REGEX "^prefix=")
    if(NOT pc_prefix STREQUAL "prefix=${prefix}")
        message(FATAL_ERROR "${pc_file}: ${pc_prefix}, installed to ${prefix}")
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
# "distribution": laid out as rpm's %cmake lays it out (absolute
# /usr/lib64 and /usr/include), installed under DESTDIR: the shared library
# with its soname and links, and a .pc file that pkg-config reads right for
# /usr/lib64 (a system directory there).
if(MODE STREQUAL "distribution")
    set(destdir "${WORK_DIR}/destdir")
    run("${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${WORK_DIR}/library"
        -DISULA_MAILBOX_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=${BUILD_TYPE} ${CARGO_OPTIONS}
        -DISULA_MAILBOX_CARGO_TARGET_DIR=${CARGO_TARGET_DIR}
        -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_INSTALL_LIBDIR=/usr/lib64
        -DCMAKE_INSTALL_INCLUDEDIR=/usr/include)
    run("${CMAKE_COMMAND}" --build "${WORK_DIR}/library")
    run("${CMAKE_COMMAND}" -E env "DESTDIR=${destdir}" "${CMAKE_COMMAND}" --install "${WORK_DIR}/library")
    file(READ "${SOURCE_DIR}/Cargo.toml" manifest)
    string(REGEX MATCH "\nversion = \"([0-9]+)\\.[0-9]+\\.[0-9]+\"" _ "${manifest}")
    set(major "${CMAKE_MATCH_1}")
    foreach(file lib64/libisula_mailbox.so lib64/libisula_mailbox.so.${major} lib64/libisula_mailbox.a
                 lib64/pkgconfig/isula_mailbox.pc lib64/cmake/isula_mailbox/isula_mailboxConfig.cmake
                 include/isula_mailbox/isula_mailbox.h)
        if(NOT EXISTS "${destdir}/usr/${file}")
            message(FATAL_ERROR "not installed: /usr/${file}")
        endif()
    endforeach()
    execute_process(COMMAND readelf -d "${destdir}/usr/lib64/libisula_mailbox.so" OUTPUT_VARIABLE dynamic)
    if(NOT dynamic MATCHES "Library soname: \\[libisula_mailbox\\.so\\.${major}\\]")
        message(FATAL_ERROR "libisula_mailbox.so has no soname libisula_mailbox.so.${major}:\n${dynamic}")
    endif()
    find_program(PKG_CONFIG pkg-config REQUIRED)
    set(pkg_env "${CMAKE_COMMAND}" -E env "PKG_CONFIG_PATH=${destdir}/usr/lib64/pkgconfig"
        PKG_CONFIG_SYSTEM_LIBRARY_PATH=/usr/lib64:/usr/lib PKG_CONFIG_SYSTEM_INCLUDE_PATH=/usr/include)
    foreach(query "--cflags;-I/usr/include/isula_mailbox" "--libs;-lisula_mailbox"
                  "--variable=libdir;/usr/lib64")
        list(GET query 0 flag)
        list(GET query 1 expected)
        execute_process(COMMAND ${pkg_env} "${PKG_CONFIG}" ${flag} isula_mailbox
                        OUTPUT_VARIABLE got OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
        if(NOT rc EQUAL 0 OR NOT got STREQUAL expected)
            message(FATAL_ERROR "pkg-config ${flag} isula_mailbox: \"${got}\", expected \"${expected}\"")
        endif()
    endforeach()
    execute_process(COMMAND ${pkg_env} "${PKG_CONFIG}" --static --libs isula_mailbox
                    OUTPUT_VARIABLE got OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(NOT got MATCHES "^-lisula_mailbox .*-lgcc_s")
        message(FATAL_ERROR "pkg-config --static --libs isula_mailbox: \"${got}\" lacks rustc's libraries")
    endif()
    return()
endif()
# "multiconfig": a multi-config generator (Ninja Multi-Config) builds
# the library in two configurations, installs one, and the consumer takes
# it with find_package.
if(MODE STREQUAL "multiconfig")
    find_program(NINJA ninja)
    if(NOT NINJA)
        message(FATAL_ERROR "multiconfig: needs ninja (ninja-build)")
    endif()
    run("${CMAKE_COMMAND}" -G "Ninja Multi-Config" -S "${SOURCE_DIR}" -B "${WORK_DIR}/library"
        "-DCMAKE_CONFIGURATION_TYPES=Release\\;Debug" -DBUILD_TESTING=OFF ${CARGO_OPTIONS}
        -DISULA_MAILBOX_CARGO_TARGET_DIR=${CARGO_TARGET_DIR} ${relative_dirs}
        -DCMAKE_INSTALL_PREFIX=${prefix})
    foreach(config Release Debug)
        run("${CMAKE_COMMAND}" --build "${WORK_DIR}/library" --config ${config})
        foreach(file libisula_mailbox.a libisula_mailbox.so.0)
            if(NOT EXISTS "${WORK_DIR}/library/lib/${config}/${file}")
                message(FATAL_ERROR "multiconfig: ${config} built no lib/${config}/${file}")
            endif()
        endforeach()
    endforeach()
    run("${CMAKE_COMMAND}" --install "${WORK_DIR}/library" --config Release)
    run("${CMAKE_COMMAND}" -S "${CMAKE_CURRENT_LIST_DIR}" -B "${WORK_DIR}/build"
        -DMAILBOX_MODE=package -DCMAKE_BUILD_TYPE=${BUILD_TYPE} -DCMAKE_PREFIX_PATH=${prefix})
    run("${CMAKE_COMMAND}" --build "${WORK_DIR}/build")
    run("${WORK_DIR}/build/src/daemon/isulad")
    return()
endif()

set(configure_args -DMAILBOX_MODE=${MODE} -DCMAKE_BUILD_TYPE=${BUILD_TYPE})
set(env)
if(MODE STREQUAL "subdirectory")
    # As iSulad builds it in its tree: BUILD_SHARED_LIBS=OFF makes
    # isula_mailbox::isula_mailbox the static library (checked below).
    list(APPEND configure_args -DISULA_MAILBOX_SOURCE_DIR=${SOURCE_DIR}
         -DISULA_MAILBOX_CARGO_TARGET_DIR=${CARGO_TARGET_DIR} ${CARGO_OPTIONS}
         -DBUILD_SHARED_LIBS=OFF)
else()
    # A fresh install prefix, as a distribution package would lay it out:
    # a build of the library of its own (reusing the cargo output), since
    # the tested build's install directories may be absolute (rpm's %check
    # configures /usr/lib64), which no prefix relocates.
    run("${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${WORK_DIR}/library"
        -DISULA_MAILBOX_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=${BUILD_TYPE} ${CARGO_OPTIONS}
        -DISULA_MAILBOX_CARGO_TARGET_DIR=${CARGO_TARGET_DIR} ${relative_dirs}
        -DCMAKE_INSTALL_PREFIX=${prefix})
    run("${CMAKE_COMMAND}" --build "${WORK_DIR}/library")
    run("${CMAKE_COMMAND}" --install "${WORK_DIR}/library")
    if(MODE STREQUAL "package")
        list(APPEND configure_args -DCMAKE_PREFIX_PATH=${prefix})
    else()
        set(env "${CMAKE_COMMAND}" -E env "PKG_CONFIG_PATH=${prefix}/lib/pkgconfig")
    endif()
endif()

run(${env} "${CMAKE_COMMAND}" -S "${CMAKE_CURRENT_LIST_DIR}" -B "${WORK_DIR}/build" ${configure_args})
run("${CMAKE_COMMAND}" --build "${WORK_DIR}/build")
run("${WORK_DIR}/build/src/daemon/isulad")

# A parent project's install must not install the library it vendors
# (ISULA_MAILBOX_INSTALL is OFF below the top level).
if(MODE STREQUAL "subdirectory")
    execute_process(COMMAND readelf -d "${WORK_DIR}/build/src/daemon/isulad" OUTPUT_VARIABLE dynamic)
    if(dynamic MATCHES "libisula_mailbox")
        message(FATAL_ERROR "BUILD_SHARED_LIBS=OFF, yet isulad needs the shared library:\n${dynamic}")
    endif()
    run("${CMAKE_COMMAND}" --install "${WORK_DIR}/build" --prefix "${WORK_DIR}/parent-install")
    file(GLOB_RECURSE installed "${WORK_DIR}/parent-install/*")
    if(installed)
        message(FATAL_ERROR "the parent project's install installed: ${installed}")
    endif()
endif()
