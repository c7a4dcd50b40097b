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
                fn static_library() {
                    run(&toolchain().build($source, Link::Static), &[]);
                }

                #[test]
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
    cri_events => "cri_events.cc",
}

const HEADERS: &[&str] = &[
    "blocking_queue.h",
    "mailbox_message.h",
    "message_subscriber.h",
    "message_queue.h",
    "mailbox.h",
    "isula_mailbox.h",
];

/// Each header compiles on its own, as C and as C++, with and without the
/// daemon's `<isula_libutils/auto_cleanup.h>` included first (a stand-in
/// with the same macros lives in c-tests/), with no warning.
#[test]
fn headers_are_self_contained_in_c_and_cxx() {
    let toolchain = toolchain();
    for header in HEADERS {
        for lang in [Lang::C, Lang::Cxx] {
            for with_libutils in [false, true] {
                let prelude = if with_libutils {
                    "#include <isula_libutils/auto_cleanup.h>\n"
                } else {
                    ""
                };
                let stem = header.trim_end_matches(".h");
                let name = format!("header_{stem}_{lang:?}_{with_libutils}");
                toolchain.compiles(
                    &name,
                    lang,
                    &format!("{prelude}#include \"{header}\"\n#include \"{header}\"\nint main(void) {{ return 0; }}\n"),
                );
            }
        }
    }
}
