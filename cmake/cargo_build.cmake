# Runs cargo for the CMake build: `cargo rustc` of the library's static and
# shared library, always with --locked (Cargo.lock is committed: a build
# never resolves versions of its own), offline when asked or when a vendor
# directory is configured. A crate that cannot be fetched fails the build
# with the vendoring recipe instead of cargo's DNS error alone.
#
#   cmake -DSETTINGS=<build>/cargo_build_settings.cmake -P cmake/cargo_build.cmake
#
# SETTINGS (written by CMakeLists.txt at configure time) sets CARGO, RUSTC
# (the one cargo runs: the one the configure step asked), MANIFEST,
# TARGET_DIR, PROFILE, FEATURES, ENVIRONMENT, OFFLINE, VENDOR_DIR,
# TARGET_ARGS (a cross build's --target and linker), CARGO_ARGS,
# NATIVE_STATIC_LIBS (what the .pc file and the CMake targets say the
# static library needs) and NATIVE_STATIC_LIBS_SEEN (where to write what
# rustc printed).
#
# It runs at every build: cargo decides whether anything changed (sources,
# Cargo.lock, RUSTFLAGS, the toolchain, .cargo/config.toml, vendored
# crates) and touches its libraries only when it rebuilt them.
cmake_minimum_required(VERSION 3.16)

if(NOT DEFINED SETTINGS)
    message(FATAL_ERROR "cargo_build: -DSETTINGS=<file> is required")
endif()
include("${SETTINGS}")

set(_args rustc --lib --locked --manifest-path "${MANIFEST}" --profile "${PROFILE}" ${FEATURES}
    ${TARGET_ARGS})
if(OFFLINE OR VENDOR_DIR)
    list(APPEND _args --offline)
endif()
if(VENDOR_DIR)
    # Source replacement, as `cargo vendor` prints it, without a config file
    # in the source tree; under the name `cargo vendor` gives it, so that
    # a .cargo/config.toml made from its output is overridden, not doubled
    # (cargo refuses two sources of one directory).
    list(APPEND _args
         --config "source.crates-io.replace-with=\"vendored-sources\""
         --config "source.vendored-sources.directory=\"${VENDOR_DIR}\"")
endif()
list(APPEND _args ${CARGO_ARGS} --crate-type staticlib --crate-type cdylib
     -- --print native-static-libs)

set(ENV{CARGO_TARGET_DIR} "${TARGET_DIR}")
set(ENV{RUSTC} "${RUSTC}")
foreach(_assignment IN LISTS ENVIRONMENT)
    string(REGEX MATCH "^([^=]+)=(.*)$" _ "${_assignment}")
    set(ENV{${CMAKE_MATCH_1}} "${CMAKE_MATCH_2}")
endforeach()

# cargo's output is shown as it comes (CMake >= 3.18) and kept, to explain
# a failure and to read the libraries rustc says a static link needs.
set(_echo "")
if(CMAKE_VERSION VERSION_GREATER_EQUAL 3.18)
    set(_echo ECHO_OUTPUT_VARIABLE ECHO_ERROR_VARIABLE)
endif()
execute_process(COMMAND "${CARGO}" ${_args}
                RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _err ${_echo})
if(NOT _echo)
    message("${_out}${_err}")
endif()

if(NOT _rc EQUAL 0)
    if(_err MATCHES "failed to (download|get|load|query|fetch|update)|[Cc]ould( not|n't) resolve|network|--offline|no matching package|failed to select a version|unable to update registry")
        message(FATAL_ERROR
            "isula_mailbox: cargo could not get the crates the library needs (no network, or not "
            "vendored).\nTo build without network: where there is network, in the isula-mailbox "
            "source directory, run\n    scripts/vendor-crates .\nand configure with\n"
            "    -DISULA_MAILBOX_VENDOR_DIR=<that source directory>/vendor\n"
            "(or unpack a vendor tarball made that way and point the option at it). "
            "README.md, \"Packaging and building offline\", has the whole recipe.")
    endif()
    string(REPLACE ";" " " _command "${CARGO} ${_args}")
    message(FATAL_ERROR "isula_mailbox: ${_command} failed (${_rc})")
endif()

# rustc prints the libraries only when it links the library anew.
if(_err MATCHES "native-static-libs: ([^\n]*)")
    string(STRIP "${CMAKE_MATCH_1}" _seen)
    file(WRITE "${NATIVE_STATIC_LIBS_SEEN}" "${_seen}\n")
    separate_arguments(_seen UNIX_COMMAND "${_seen}")
    foreach(_flag IN LISTS _seen)
        if(NOT _flag IN_LIST NATIVE_STATIC_LIBS)
            message(FATAL_ERROR
                "isula_mailbox: rustc says the static library needs ${_flag}, which the .pc file "
                "and the CMake targets do not list (they say: ${NATIVE_STATIC_LIBS}); "
                "reconfigure with the toolchain that builds it")
        endif()
    endforeach()
endif()
