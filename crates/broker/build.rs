//! The isula_libutils log bridge (feature `isula-libutils-log`):
//! `src/logging/isula_libutils.c`, compiled against the installed
//! `<isula_libutils/log.h>` and linked with isula_libutils, as the daemon
//! is. Without the feature there is nothing to build.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(feature = "isula-libutils-log")]
    bridge::build();
}

#[cfg(feature = "isula-libutils-log")]
mod bridge {
    use std::env;
    use std::path::Path;

    pub fn build() {
        println!("cargo:rerun-if-env-changed=ISULA_LIBUTILS_INCLUDE_DIR");
        println!("cargo:rerun-if-env-changed=ISULA_LIBUTILS_LIB_DIR");
        let source = "src/logging/isula_libutils.c";
        println!("cargo:rerun-if-changed={source}");
        let mut build = cc::Build::new();
        build.file(source).warnings(true).extra_warnings(true);
        match env::var_os("ISULA_LIBUTILS_INCLUDE_DIR") {
            Some(dir) => {
                build.include(dir);
            }
            None => println!(
                "cargo:warning=isula-libutils-log: ISULA_LIBUTILS_INCLUDE_DIR not set; \
                 looking for <isula_libutils/log.h> on the compiler's default path"
            ),
        }
        build.compile("isula_mailbox_libutils_log");
        if let Some(dir) = env::var_os("ISULA_LIBUTILS_LIB_DIR") {
            println!(
                "cargo:rustc-link-search=native={}",
                Path::new(&dir).display()
            );
        }
        println!("cargo:rustc-link-lib=dylib=isula_libutils");
    }
}
