# Makes a Rust static library expose exactly its C API: every object of
# INPUT (cargo's libisula_mailbox_ffi.a, with the library's Rust std
# inside) is linked into one relocatable object, OBJECT, in which every
# global symbol but the exports becomes local (and OUTPUT, if given, is an
# archive of it). CMakeLists.txt makes the static library of that object
# and links the versioned shared library from it. So any number of Rust
# static libraries, of any rustc and profile, link beside it: their std's
# symbols (rust_eh_personality, the panic machinery, the allocator shims)
# no longer meet ours.
#
#   cmake -DINPUT=libisula_mailbox_ffi.a -DSHARED=libisula_mailbox_ffi.so
#         -DVERSION_SCRIPT=cmake/isula_mailbox.map
#         -DOBJECT=out/isula_mailbox.o [-DOUTPUT=out/libisula_mailbox.a]
#         [-DEXTRA_OBJECTS=a.o;b.o]
#         [-DLINKER=ld] [-DOBJCOPY=objcopy] [-DAR=ar] [-DNM=nm]
#         -P cmake/localize_static_library.cmake
#
# The exports are the functions the version script makes global, and they
# must be exactly those that SHARED, cargo's shared library of the same
# build, exports (a cdylib exports the library's C functions and nothing
# else): a function added to the C API and not to the script fails here.
cmake_minimum_required(VERSION 3.16)

foreach(_var INPUT SHARED VERSION_SCRIPT OBJECT)
    if(NOT DEFINED ${_var})
        message(FATAL_ERROR "localize_static_library: -D${_var}=... is required")
    endif()
endforeach()
foreach(_tool LINKER OBJCOPY NM READELF)
    if(NOT ${_tool})
        string(TOLOWER "${_tool}" _name)
        if(_name STREQUAL "linker")
            set(_name ld)
        endif()
        find_program(${_tool} ${_name} REQUIRED)
    endif()
endforeach()

get_filename_component(_out_dir "${OBJECT}" DIRECTORY)
set(_work "${OBJECT}.localize")
file(REMOVE_RECURSE "${_work}")
file(MAKE_DIRECTORY "${_work}" "${_out_dir}")

function(run)
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _err)
    if(NOT _rc EQUAL 0)
        string(REPLACE ";" " " _cmd "${ARGN}")
        message(FATAL_ERROR "localize_static_library: ${_cmd} failed (${_rc}):\n${_out}${_err}")
    endif()
    set(run_output "${_out}" PARENT_SCOPE)
endfunction()

# The exports: the version script's global names ...
file(READ "${VERSION_SCRIPT}" _script)
string(REGEX REPLACE "/\\*([^*]|\\*+[^*/])*\\*+/" "" _script "${_script}")
string(REGEX MATCHALL "[A-Za-z_][A-Za-z0-9_]*;" _named "${_script}")
set(_exports "")
foreach(_name IN LISTS _named)
    # ("name;" matched: the list holds the name and an empty element.)
    if(_name)
        list(APPEND _exports "${_name}")
    endif()
endforeach()
list(SORT _exports)
# ... which are the shared library's defined dynamic functions.
run("${NM}" -D --defined-only "${SHARED}")
string(REGEX MATCHALL "[0-9a-f]+ T [A-Za-z_][A-Za-z0-9_]*" _lines "${run_output}")
set(_functions "")
foreach(_line IN LISTS _lines)
    string(REGEX REPLACE "^[0-9a-f]+ T " "" _symbol "${_line}")
    list(APPEND _functions "${_symbol}")
endforeach()
list(SORT _functions)
if(NOT _exports STREQUAL _functions)
    message(FATAL_ERROR "localize_static_library: ${VERSION_SCRIPT} names\n  ${_exports}\n"
                        "but the library's C functions are\n  ${_functions}\n"
                        "(add a new function to the script, in the node of the next version)")
endif()
string(REPLACE ";" "\n" _export_lines "${_exports}")
file(WRITE "${_work}/exports.txt" "${_export_lines}\n")

# One relocatable object of every member (and the extra objects), with
# only what the exports reach (--gc-sections from them: a program linking
# the archive takes the whole object, so what it does not need must not be
# in it), then only the exports global.
set(_object "${_work}/isula_mailbox.o")
set(_roots "")
foreach(_name IN LISTS _exports)
    list(APPEND _roots -u "${_name}")
endforeach()
run("${LINKER}" -r --gc-sections ${_roots} -o "${_object}"
    --whole-archive "${INPUT}" --no-whole-archive ${EXTRA_OBJECTS})
# COMDAT groups are kept once per link by their signature's name: another
# Rust library's DW.ref.rust_eh_personality group would be dropped for ours
# (whose symbol is local now), leaving its references undefined. Our
# groups get signatures of their own.
run("${READELF}" -gW "${_object}")
string(REGEX MATCHALL "COMDAT group section \\[ *[0-9]+\\] `[^']*' \\[[^]]+\\]" _groups "${run_output}")
set(_renames "")
foreach(_group IN LISTS _groups)
    string(REGEX REPLACE ".*\\[([^]]+)\\]$" "\\1" _signature "${_group}")
    string(APPEND _renames "${_signature} isula_mailbox.${_signature}\n")
endforeach()
file(WRITE "${_work}/renames.txt" "${_renames}")
# The bitcode rustc embeds (.llvmbc, .llvmcmd) goes too: no linker needs it,
# and a system linker plugin of another LLVM (LLVMgold) chokes on it.
run("${OBJCOPY}" "--keep-global-symbols=${_work}/exports.txt" "--redefine-syms=${_work}/renames.txt"
    --remove-section=.llvmbc --remove-section=.llvmcmd "${_object}")

configure_file("${_object}" "${OBJECT}" COPYONLY)
if(DEFINED OUTPUT)
    if(NOT AR)
        find_program(AR ar REQUIRED)
    endif()
    file(REMOVE "${OUTPUT}")
    run("${AR}" rcs "${OUTPUT}" "${_object}")
endif()
file(REMOVE_RECURSE "${_work}")
