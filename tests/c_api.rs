//! The C and C++ tests of `c-tests/`, each built against the static and the
//! shared library and run (see `tests/support`).

mod support;

use support::{run, toolchain, Lang, Link};

macro_rules! c_tests {
    ($($name:ident => $source:literal),* $(,)?) => {
        $(
            mod $name {
                use super::*;

                #[test]
                #[cfg_attr(miri, ignore = "builds and runs a C program: Miri runs Rust only")]
                fn static_library() {
                    run(&toolchain().build($source, Link::Static), &[]);
                }

                #[test]
                #[cfg_attr(miri, ignore = "builds and runs a C program: Miri runs Rust only")]
                fn shared_library() {
                    run(&toolchain().build($source, Link::Shared), &[]);
                }
            }
        )*
    };
}

// Every `c-tests/test_*.c` and `c-tests/*.cc`, the same glob as ctest's
// (c-tests/CMakeLists.txt): build.rs lists them.
include!(concat!(env!("OUT_DIR"), "/c_tests.rs"));

/// Each header compiles on its own (twice over), as C and as C++, with no
/// warning: where the daemon's `<isula_libutils/auto_cleanup.h>` is not
/// installed, and where it is (a stand-in with its macros lives in c-tests/)
/// and included first.
#[test]
#[cfg_attr(miri, ignore = "runs the C and C++ compilers: Miri runs Rust only")]
fn headers_are_self_contained_in_c_and_cxx() {
    let toolchain = toolchain();
    let mut headers: Vec<String> = std::fs::read_dir(toolchain.root.join("include"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".h"))
        .collect();
    headers.sort();
    assert!(headers.len() >= 6, "{headers:?}");
    for header in &headers {
        for lang in [Lang::C, Lang::Cxx] {
            for libutils in [false, true] {
                let prelude = if libutils {
                    "#include <isula_libutils/auto_cleanup.h>\n"
                } else {
                    ""
                };
                let stem = header.trim_end_matches(".h");
                toolchain.compiles(
                    &format!("header_{stem}_{lang:?}_{libutils}"),
                    lang,
                    libutils,
                    &format!(
                        "{prelude}#include \"{header}\"\n#include \"{header}\"\n\
                         int main(void) {{ return 0; }}\n"
                    ),
                );
            }
        }
    }
}

/// Every header has its C test, `c-tests/test_<header>.c` (docs/DEVELOPING.md,
/// "Adding a C module").
#[test]
fn every_header_has_a_c_test() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(root.join("include")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(".h") {
            if !root.join("c-tests").join(format!("test_{stem}.c")).exists() {
                missing.push(format!("c-tests/test_{stem}.c"));
            }
        }
    }
    assert!(missing.is_empty(), "no C test: {missing:?}");
}
