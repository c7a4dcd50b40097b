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

c_tests! {
    blocking_queue => "test_blocking_queue.c",
    mailbox_message => "test_mailbox_message.c",
    message_subscriber => "test_message_subscriber.c",
    message_queue => "test_message_queue.c",
    mailbox => "test_mailbox.c",
    publish_takes_no_lock => "test_publish_takes_no_lock.c",
    isula_mailbox => "test_isula_mailbox.c",
    churn => "test_churn.c",
    bad_input => "test_bad_input.c",
    cri_events => "cri_events.cc",
    // Fails each allocation in turn (interposes malloc): see its header.
    oom => "test_oom.c",
    // Pushes until the address-space limit it sets makes a push fail.
    memory_limit => "test_memory_limit.c",
}

const HEADERS: &[&str] = &[
    "blocking_queue.h",
    "mailbox_message.h",
    "message_subscriber.h",
    "message_queue.h",
    "mailbox.h",
    "isula_mailbox.h",
];

/// Each header compiles on its own (twice over), as C and as C++, with no
/// warning: where the daemon's `<isula_libutils/auto_cleanup.h>` is not
/// installed, and where it is (a stand-in with its macros lives in c-tests/)
/// and included first.
#[test]
#[cfg_attr(miri, ignore = "runs the C and C++ compilers: Miri runs Rust only")]
fn headers_are_self_contained_in_c_and_cxx() {
    let toolchain = toolchain();
    for header in HEADERS {
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
