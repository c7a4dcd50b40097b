# Defines the imported targets isula_mailbox::static, isula_mailbox::shared
# and isula_mailbox::isula_mailbox (static) for a build tree or an install.
# Used by the top-level CMakeLists.txt and by isula_mailboxConfig.cmake.
include_guard(GLOBAL)

# soname: the shared library's (libisula_mailbox.so.MAJOR).
# extra_link_libraries: what the library needs besides the system's
# (isula_libutils, when it logs there). system_libraries: what rustc says a
# program linking the static library needs (`--print native-static-libs`,
# asked by CMakeLists.txt when it configured the library's build).
function(isula_mailbox_add_targets include_dir static_library shared_library soname
         extra_link_libraries system_libraries)
    if(TARGET isula_mailbox::static)
        return()
    endif()
    set(THREADS_PREFER_PTHREAD_FLAG ON)
    find_package(Threads REQUIRED)
    set(_system_libs ${extra_link_libraries} Threads::Threads ${system_libraries})

    add_library(isula_mailbox_static STATIC IMPORTED GLOBAL)
    set_target_properties(isula_mailbox_static PROPERTIES
        IMPORTED_LOCATION "${static_library}"
        INTERFACE_INCLUDE_DIRECTORIES "${include_dir}"
        INTERFACE_LINK_LIBRARIES "${_system_libs}")

    add_library(isula_mailbox_shared SHARED IMPORTED GLOBAL)
    set_target_properties(isula_mailbox_shared PROPERTIES
        IMPORTED_LOCATION "${shared_library}"
        IMPORTED_SONAME "${soname}"
        INTERFACE_INCLUDE_DIRECTORIES "${include_dir}"
        INTERFACE_LINK_LIBRARIES "${extra_link_libraries};Threads::Threads")

    add_library(isula_mailbox::static ALIAS isula_mailbox_static)
    add_library(isula_mailbox::shared ALIAS isula_mailbox_shared)
    add_library(isula_mailbox::isula_mailbox ALIAS isula_mailbox_static)
endfunction()
