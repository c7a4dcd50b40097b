//! Generates the C headers from `src/ffi/` with cbindgen: one header per
//! source file, into `$OUT_DIR/include`. The committed copies in `include/`
//! must match (the `headers` test checks); to update them after changing
//! the C API, build with `ISULA_MAILBOX_UPDATE_HEADERS=1`.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

/// One generated header.
struct Header {
    name: &'static str,
    source: &'static str,
    /// The original header's guard, so that a stray copy of the original
    /// included alongside is skipped instead of clashing.
    guard: &'static str,
    includes: &'static [&'static str],
    sys_includes: &'static [&'static str],
    /// Types no prototype mentions that the header still declares.
    export: &'static [&'static str],
    /// Verbatim, after the includes.
    prologue: &'static str,
    /// Whether to include `<isula_libutils/auto_cleanup.h>` where it is
    /// installed, as the original header did (daemon code may rely on it).
    libutils: bool,
    /// The `__isula_auto_<name>` cleanup macro the header offers:
    /// (name, type, function that disposes of a `type *`).
    cleanup: Option<(&'static str, &'static str, &'static str)>,
}

const HEADERS: &[Header] = &[
    Header {
        name: "blocking_queue.h",
        source: "src/ffi/blocking_queue.rs",
        guard: "DAEMON_UTILS_CUTILS_BLOCKING_QUEUE_H",
        includes: &[],
        sys_includes: &[
            "errno.h",
            "pthread.h",
            "stdbool.h",
            "stddef.h",
            "stdint.h",
            "time.h",
        ],
        export: &[],
        prologue: "/* Timeout of a queue whose pops wait forever (any negative value does). */\n\
                   #define BLOCKING_QUEUE_NO_TIMEOUT (-1)",
        libutils: true,
        cleanup: Some(("blocking_queue", "blocking_queue", "blocking_queue_destroy")),
    },
    Header {
        name: "mailbox_message.h",
        source: "src/ffi/mailbox_message.rs",
        guard: "DAEMON_MAILBOX_MAILBOX_MESSAGE_H",
        // For `message_release_t`, declared by the lowest header.
        includes: &["blocking_queue.h"],
        sys_includes: &["pthread.h", "stdbool.h", "stddef.h", "stdint.h"],
        export: &[],
        prologue: "",
        libutils: true,
        cleanup: Some((
            "mailbox_message",
            "mailbox_message",
            "mailbox_message_unref",
        )),
    },
    Header {
        name: "message_subscriber.h",
        source: "src/ffi/message_subscriber.rs",
        guard: "SRC_DAEMON_MAILBOX_MESSAGE_SUBSCRIBER_H",
        includes: &["blocking_queue.h", "mailbox_message.h"],
        sys_includes: &[],
        export: &[],
        prologue: "",
        libutils: false,
        cleanup: Some((
            "subscriber",
            "message_subscriber",
            "message_subscriber_destroy",
        )),
    },
    Header {
        name: "message_queue.h",
        source: "src/ffi/message_queue.rs",
        guard: "DAEMON_MESSAGE_MESSAGE_QUEUE_H",
        includes: &[
            "blocking_queue.h",
            "mailbox_message.h",
            "message_subscriber.h",
        ],
        sys_includes: &[],
        export: &[],
        prologue: "",
        libutils: false,
        cleanup: None,
    },
    Header {
        name: "mailbox.h",
        source: "src/ffi/mailbox.rs",
        guard: "DAEMON_MAILBOX_MAILBOX_H",
        includes: &[
            "blocking_queue.h",
            "mailbox_message.h",
            "message_queue.h",
            "message_subscriber.h",
        ],
        sys_includes: &[],
        export: &[
            "mailbox_topic",
            "cri_container_message_type",
            "cri_container_message_t",
            "message_generator_t",
        ],
        prologue: "",
        libutils: false,
        cleanup: None,
    },
    Header {
        name: "isula_mailbox.h",
        source: "src/ffi/isula_mailbox.rs",
        guard: "ISULA_MAILBOX_ISULA_MAILBOX_H",
        includes: &["mailbox.h", "message_queue.h"],
        sys_includes: &[],
        export: &["mailbox_log_level"],
        prologue: "",
        libutils: false,
        cleanup: None,
    },
];

/// The daemon's cleanup helpers, included where installed (nested `#if`s:
/// a compiler without `__has_include` must not parse the call).
const LIBUTILS_INCLUDE: &str = "\
/* As the original header: the daemon's cleanup helpers, where installed. */
#if defined(__has_include)
#if __has_include(<isula_libutils/auto_cleanup.h>)
#include <isula_libutils/auto_cleanup.h>
#endif
#endif
";

/// The `__isula_auto_<name>` cleanup attribute for a local `ty *`, calling
/// `dispose` on it at scope exit. Its callback has a name of its own, so the
/// daemon's `<isula_libutils/auto_cleanup.h>` may or may not be included:
/// nothing is defined twice.
fn cleanup_macro((name, ty, dispose): (&str, &str, &str)) -> String {
    format!(
        "/* Put before a local `{ty} *` to {dispose}() it when it goes out of scope. */\n\
         static inline void isula_mailbox_auto_{name}_cb({ty} **ptr)\n\
         {{\n\
         \x20   if (*ptr != NULL) {{\n\
         \x20       {dispose}(*ptr);\n\
         \x20   }}\n\
         }}\n\
         #ifndef __isula_auto_{name}\n\
         #define __isula_auto_{name} __attribute__((__cleanup__(isula_mailbox_auto_{name}_cb)))\n\
         #endif\n\n"
    )
}

fn main() {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR")).join("include");
    fs::create_dir_all(&out).expect("create $OUT_DIR/include");
    let update = env::var_os("ISULA_MAILBOX_UPDATE_HEADERS").is_some_and(|v| v == "1");

    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=ISULA_MAILBOX_UPDATE_HEADERS");
    println!(
        "cargo:rustc-env=ISULA_MAILBOX_GENERATED_HEADERS={}",
        out.display()
    );

    // A soname, so that programs linked against the shared library record
    // its name rather than the path it was linked from.
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libisula_mailbox.so");

    #[cfg(feature = "isula-libutils-log")]
    build_isula_libutils_bridge(&root);

    let base = cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("read cbindgen.toml");
    for header in HEADERS {
        println!("cargo:rerun-if-changed={}", header.source);
        let text = generate(&root, &base, header);
        write_if_changed(&out.join(header.name), &text);
        if update {
            write_if_changed(&root.join("include").join(header.name), &text);
        }
    }
}

fn generate(root: &Path, base: &cbindgen::Config, header: &Header) -> String {
    let mut config = base.clone();
    config.header = Some(format!(
        "/* {name}: generated by cbindgen from {source} (build.rs); do not edit. */\n\
         #ifndef {guard}\n#define {guard}",
        name = header.name,
        source = header.source,
        guard = header.guard,
    ));
    config.include_guard = None;
    config.includes = header.includes.iter().map(|s| s.to_string()).collect();
    config.sys_includes = header.sys_includes.iter().map(|s| s.to_string()).collect();
    config.export.include = header.export.iter().map(|s| s.to_string()).collect();
    let mut after_includes = String::new();
    if header.libutils {
        after_includes.push_str(LIBUTILS_INCLUDE);
    }
    after_includes.push_str(header.prologue);
    config.after_includes = (!after_includes.is_empty()).then_some(after_includes);
    let mut trailer = header.cleanup.map(cleanup_macro).unwrap_or_default();
    trailer.push_str(&format!("#endif /* {} */", header.guard));
    config.trailer = Some(trailer);

    let mut bytes = Vec::new();
    cbindgen::Builder::new()
        .with_config(config)
        .with_src(root.join(header.source))
        .generate()
        .unwrap_or_else(|e| panic!("cbindgen failed on {}: {e}", header.source))
        .write(&mut bytes);
    String::from_utf8(bytes).expect("cbindgen writes UTF-8")
}

fn write_if_changed(path: &Path, text: &str) {
    if fs::read_to_string(path).is_ok_and(|old| old == text) {
        return;
    }
    fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// The isula_libutils log bridge: `src/logging/isula_libutils.c`, compiled
/// against the installed `<isula_libutils/log.h>`; linked with
/// isula_libutils, as the daemon is.
#[cfg(feature = "isula-libutils-log")]
fn build_isula_libutils_bridge(root: &Path) {
    println!("cargo:rerun-if-env-changed=ISULA_LIBUTILS_INCLUDE_DIR");
    println!("cargo:rerun-if-env-changed=ISULA_LIBUTILS_LIB_DIR");
    let source = root.join("src/logging/isula_libutils.c");
    println!("cargo:rerun-if-changed={}", source.display());
    let mut build = cc::Build::new();
    build.file(&source).warnings(true).extra_warnings(true);
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
