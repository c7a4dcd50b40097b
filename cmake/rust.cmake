# How this build runs the Rust toolchain (included by CMakeLists.txt):
# finds cargo and rustc, the Rust target the library is built for, what
# cargo and the C compiler cc-rs runs (the isula_libutils log bridge) need
# to build for it, and what a program linking the static library needs
# from the system (rustc's --print native-static-libs).
#
# Sets: ISULA_MAILBOX_CARGO, ISULA_MAILBOX_RUSTC, ISULA_MAILBOX_RUST_TARGET
# (cache: empty builds for the host), ISULA_MAILBOX_RUST_TARGET_EFFECTIVE,
# ISULA_MAILBOX_CARGO_TARGET_ARGS, ISULA_MAILBOX_CARGO_TARGET_ENV,
# ISULA_MAILBOX_NATIVE_STATIC_LIBS.
include_guard(GLOBAL)

find_program(ISULA_MAILBOX_CARGO cargo HINTS "$ENV{HOME}/.cargo/bin" "$ENV{CARGO_HOME}/bin")
if(NOT ISULA_MAILBOX_CARGO)
    message(FATAL_ERROR "isula_mailbox: cargo not found (install Rust, or set ISULA_MAILBOX_CARGO)")
endif()
# The rustc beside cargo: the one cargo runs (RUSTC is set to it at build
# time), and the one asked for the native libraries below.
get_filename_component(_cargo_dir "${ISULA_MAILBOX_CARGO}" DIRECTORY)
find_program(ISULA_MAILBOX_RUSTC rustc HINTS "${_cargo_dir}" NO_DEFAULT_PATH)
find_program(ISULA_MAILBOX_RUSTC rustc)
if(NOT ISULA_MAILBOX_RUSTC)
    message(FATAL_ERROR "isula_mailbox: rustc not found beside ${ISULA_MAILBOX_CARGO} (set ISULA_MAILBOX_RUSTC)")
endif()

# --- the Rust target --------------------------------------------------------
# A native build builds for the host. A cross build (a toolchain file: the
# system's name and processor, its compilers, maybe a sysroot) builds for
# the target derived from them; ISULA_MAILBOX_RUST_TARGET names another.
set(ISULA_MAILBOX_RUST_TARGET "" CACHE STRING
    "Rust target triple to build the library for; empty: the host's, or derived from a cross toolchain")
set(ISULA_MAILBOX_RUST_TARGET_EFFECTIVE "${ISULA_MAILBOX_RUST_TARGET}")
if(NOT ISULA_MAILBOX_RUST_TARGET_EFFECTIVE AND CMAKE_CROSSCOMPILING)
    if(NOT CMAKE_SYSTEM_NAME STREQUAL "Linux")
        message(FATAL_ERROR "isula_mailbox: cross-building for ${CMAKE_SYSTEM_NAME}: set ISULA_MAILBOX_RUST_TARGET")
    endif()
    string(TOLOWER "${CMAKE_SYSTEM_PROCESSOR}" _processor)
    # CMAKE_SYSTEM_PROCESSOR as toolchain files spell it, then Rust's target.
    set(_rust_targets
        "^(aarch64|arm64)$" aarch64-unknown-linux-gnu
        "^(x86_64|amd64)$" x86_64-unknown-linux-gnu
        "^riscv64$" riscv64gc-unknown-linux-gnu
        "^loongarch64$" loongarch64-unknown-linux-gnu
        "^(ppc64le|powerpc64le)$" powerpc64le-unknown-linux-gnu
        "^s390x$" s390x-unknown-linux-gnu
        "^armv7" armv7-unknown-linux-gnueabihf)
    while(_rust_targets AND NOT ISULA_MAILBOX_RUST_TARGET_EFFECTIVE)
        list(POP_FRONT _rust_targets _pattern _rust_target)
        if(_processor MATCHES "${_pattern}")
            set(ISULA_MAILBOX_RUST_TARGET_EFFECTIVE ${_rust_target})
        endif()
    endwhile()
    if(NOT ISULA_MAILBOX_RUST_TARGET_EFFECTIVE)
        message(FATAL_ERROR "isula_mailbox: no Rust target known for processor ${CMAKE_SYSTEM_PROCESSOR}: "
                            "set ISULA_MAILBOX_RUST_TARGET")
    endif()
endif()

# For a target of its own, cargo gets the linker (the C compiler of this
# build, with the sysroot), and cc-rs its compiler, archiver and flags,
# through cargo's --config and target-named variables: nothing is needed
# in the environment, and what is needed is recorded in this build.
set(ISULA_MAILBOX_CARGO_TARGET_ARGS "")
set(ISULA_MAILBOX_CARGO_TARGET_ENV "")
if(ISULA_MAILBOX_RUST_TARGET_EFFECTIVE)
    set(_t "${ISULA_MAILBOX_RUST_TARGET_EFFECTIVE}")
    string(REPLACE "-" "_" _t_env "${_t}")
    set(_rustflags "")
    set(_cflags "")
    if(CMAKE_SYSROOT)
        list(APPEND _rustflags "\"-C\", \"link-arg=--sysroot=${CMAKE_SYSROOT}\"")
        list(APPEND _cflags "--sysroot=${CMAKE_SYSROOT}")
    endif()
    if(CMAKE_C_COMPILER_TARGET)
        list(APPEND _rustflags "\"-C\", \"link-arg=--target=${CMAKE_C_COMPILER_TARGET}\"")
        list(APPEND _cflags "--target=${CMAKE_C_COMPILER_TARGET}")
    endif()
    list(APPEND ISULA_MAILBOX_CARGO_TARGET_ARGS --target "${_t}"
         --config "target.${_t}.linker=\"${CMAKE_C_COMPILER}\"")
    if(_rustflags)
        string(REPLACE ";" ", " _rustflags "${_rustflags}")
        list(APPEND ISULA_MAILBOX_CARGO_TARGET_ARGS --config "target.${_t}.rustflags=[${_rustflags}]")
    endif()
    string(REPLACE ";" " " _cflags "${_cflags}")
    list(APPEND ISULA_MAILBOX_CARGO_TARGET_ENV "CC_${_t_env}=${CMAKE_C_COMPILER}"
         "AR_${_t_env}=${CMAKE_AR}" "CFLAGS_${_t_env}=${_cflags}")
    message(STATUS "isula_mailbox: Rust target ${_t}, linked by ${CMAKE_C_COMPILER}")
endif()

# --- what a static link needs -----------------------------------------------
# What rustc says (`--print native-static-libs`) for this toolchain and
# target, asked of an empty library now; the build checks that the
# library's own link says no more (cmake/cargo_build.cmake).
set(_probe_dir "${CMAKE_CURRENT_BINARY_DIR}/native-static-libs")
file(MAKE_DIRECTORY "${_probe_dir}")
file(WRITE "${_probe_dir}/probe.rs" "")
set(_probe_target "")
if(ISULA_MAILBOX_RUST_TARGET_EFFECTIVE)
    set(_probe_target --target "${ISULA_MAILBOX_RUST_TARGET_EFFECTIVE}")
endif()
execute_process(
    COMMAND "${ISULA_MAILBOX_RUSTC}" --crate-type staticlib --crate-name probe ${_probe_target}
            --print native-static-libs -o "${_probe_dir}/libprobe.a" "${_probe_dir}/probe.rs"
    RESULT_VARIABLE _probe_rc ERROR_VARIABLE _probe_err OUTPUT_QUIET)
if(NOT _probe_rc EQUAL 0 OR NOT _probe_err MATCHES "native-static-libs: ([^\n]*)")
    message(FATAL_ERROR "isula_mailbox: ${ISULA_MAILBOX_RUSTC} --print native-static-libs failed "
                        "(for a cross build: is the Rust standard library of "
                        "${ISULA_MAILBOX_RUST_TARGET_EFFECTIVE} installed? rustup target add):\n${_probe_err}")
endif()
string(STRIP "${CMAKE_MATCH_1}" _native)
separate_arguments(ISULA_MAILBOX_NATIVE_STATIC_LIBS UNIX_COMMAND "${_native}")
set(ISULA_MAILBOX_NATIVE_STATIC_LIBS_SEEN "${_probe_dir}/seen.txt")
message(STATUS "isula_mailbox: the static library needs ${_native}")
