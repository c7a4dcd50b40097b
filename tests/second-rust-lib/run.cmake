# ctest driver (c-tests/CMakeLists.txt): isula-mailbox as this CMake build
# makes it (LIBRARY), linked into one C program with a second Rust static
# library built by each toolchain at hand (stable, and nightly where rustup
# has it), with and without fat LTO; the program must link and run. Also
# checks that LIBRARY's global symbols are exactly the C functions of
# SHARED (the same build's shared library).
#
#   -DSOURCE_DIR= -DLIBRARY= -DSHARED= -DRAW_LIBRARY= -DINCLUDE_DIR=
#   -DWORK_DIR= -DCARGO= -DCC= [-DLINK_LIBRARIES=] -P run.cmake
#
# LINK_LIBRARIES: what a static link of LIBRARY needs besides it (a
# space-separated command line: rustc's native libraries as CMake probed
# them, isula_libutils by path where the library logs there).
cmake_minimum_required(VERSION 3.16)
separate_arguments(link_libraries UNIX_COMMAND "${LINK_LIBRARIES}")

function(run)
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    set(run_rc ${rc} PARENT_SCOPE)
    set(run_output "${out}${err}" PARENT_SCOPE)
endfunction()

function(must)
    run(${ARGN})
    if(NOT run_rc EQUAL 0)
        string(REPLACE ";" " " cmd "${ARGN}")
        message(FATAL_ERROR "${cmd} failed (${run_rc}):\n${run_output}")
    endif()
    set(run_output "${run_output}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

# Exactly the C API is global.
must(nm -g --defined-only "${LIBRARY}")
string(REGEX MATCHALL "\n[0-9a-f]+ [A-Za-z] [^\n]+" globals "\n${run_output}")
must(nm -D --defined-only "${SHARED}")
string(REGEX MATCHALL "\n[0-9a-f]+ T [^\n]+" exports "\n${run_output}")
list(LENGTH globals n_globals)
list(LENGTH exports n_exports)
foreach(line IN LISTS globals)
    if(NOT line MATCHES " T ")
        message(FATAL_ERROR "${LIBRARY} has a global symbol that is not a function:${line}")
    endif()
endforeach()
if(NOT n_globals EQUAL n_exports)
    message(FATAL_ERROR "${LIBRARY}: ${n_globals} global symbols, the C API has ${n_exports}")
endif()
message(STATUS "nm -g --defined-only: ${n_globals} global symbols, the ${n_exports} C functions")

set(toolchains "")
run(rustup run stable rustc --version)
if(run_rc EQUAL 0)
    list(APPEND toolchains stable)
else()
    list(APPEND toolchains default)
endif()
run(rustup run nightly rustc --version)
if(run_rc EQUAL 0)
    list(APPEND toolchains nightly)
else()
    message(STATUS "no nightly toolchain: the second library is built by stable only")
endif()

foreach(toolchain IN LISTS toolchains)
    foreach(lto off fat)
        set(variant "${toolchain}-lto-${lto}")
        set(cargo "${CARGO}")
        if(NOT toolchain STREQUAL "default")
            set(cargo rustup run ${toolchain} cargo)
        endif()
        must(${cargo} build --release --quiet
             --manifest-path "${SOURCE_DIR}/tests/second-rust-lib/Cargo.toml"
             --target-dir "${WORK_DIR}/${variant}"
             --config "profile.release.lto=\"${lto}\"")
        set(second "${WORK_DIR}/${variant}/release/libsecond_rust_lib.a")
        # Both orders on the link line.
        foreach(order mailbox-first second-first)
            if(order STREQUAL "mailbox-first")
                set(libs "${LIBRARY}" "${second}")
            else()
                set(libs "${second}" "${LIBRARY}")
            endif()
            set(exe "${WORK_DIR}/${variant}-${order}")
            must("${CC}" -O1 -I "${INCLUDE_DIR}" "${SOURCE_DIR}/tests/second-rust-lib/main.c"
                 ${libs} ${link_libraries} -o "${exe}")
            must("${exe}")
            message(STATUS "${variant}, ${order}: links and runs")
        endforeach()
        # What this fixes: cargo's own archive keeps std's symbols global.
        if(RAW_LIBRARY)
            run("${CC}" -O1 -I "${INCLUDE_DIR}" "${SOURCE_DIR}/tests/second-rust-lib/main.c"
                "${RAW_LIBRARY}" "${second}" ${link_libraries} -o "${WORK_DIR}/${variant}-raw")
            if(run_rc EQUAL 0)
                message(STATUS "${variant}: cargo's unlocalized archive links too")
            else()
                string(REGEX MATCH "multiple definition of `[^']*'" clash "${run_output}")
                message(STATUS "${variant}: cargo's unlocalized archive does not link (${clash})")
            endif()
        endif()
    endforeach()
endforeach()
