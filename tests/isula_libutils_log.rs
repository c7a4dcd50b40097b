//! The library built inside iSulad (the `isula-libutils-log` feature): its
//! records reach isula_libutils' log, the daemon's own, in its format,
//! named after the library and the function, at the daemon's level, and a
//! record is handed over as an argument, never as the format string (a
//! record full of `%n` and `%s` is written as it is, and nothing crashes).
//!
//! Needs isula_libutils (lcr): `scripts/isulad-e2e` runs it against the one
//! it builds, with `ISULA_LIBUTILS_INCLUDE_DIR`, `ISULA_LIBUTILS_LIB_DIR`
//! and `LD_LIBRARY_PATH` set:
//! `cargo test -p isula-mailbox-ffi --features isula-libutils-log --test isula_libutils_log`.
#![cfg(feature = "isula-libutils-log")]

use std::ffi::CString;
use std::io::Read;
use std::os::raw::{c_char, c_int, c_void};
use std::os::unix::fs::OpenOptionsExt;
use std::ptr;

use isula_mailbox_ffi::mailbox::mailbox_topic::MAILBOX_TOPIC_CRI_CONTAINER;
use isula_mailbox_ffi::mailbox::{
    mailbox_register_topic_handler, mailbox_subscribe, mailbox_unregister_topic_handler, RawTopic,
};

/// `struct isula_libutils_log_config` of `<isula_libutils/log.h>`.
#[repr(C)]
struct LogConfig {
    name: *const c_char,
    file: *const c_char,
    priority: *const c_char,
    prefix: *const c_char,
    driver: *const c_char,
    quiet: bool,
}

extern "C" {
    fn isula_libutils_log_enable(config: *const LogConfig) -> c_int;
}

unsafe extern "C" fn generate(_context: *mut c_void, _data: *mut c_void) -> *mut c_void {
    ptr::null_mut()
}

#[test]
fn records_reach_the_daemons_log_named_and_as_arguments() {
    // The daemon's "file" log driver: records into a fifo its log thread
    // drains; here the test drains it.
    let dir = std::env::temp_dir().join(format!("isula-mailbox-log-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = CString::new(dir.join("isulad_log_fifo").to_str().unwrap()).unwrap();
    let config = LogConfig {
        name: c"isulad".as_ptr(),
        file: fifo.as_ptr(),
        priority: c"DEBUG".as_ptr(),
        prefix: c"iSulad".as_ptr(),
        driver: c"fifo".as_ptr(),
        quiet: false,
    };
    // SAFETY: a valid config, its strings alive for the call.
    assert_eq!(unsafe { isula_libutils_log_enable(&config) }, 0);

    // SAFETY: an invalid topic is handled bad input; the generator is a C
    // function taking any pointers; the topic is unregistered at the end.
    unsafe {
        assert!(mailbox_subscribe(RawTopic(42)).is_null());
        assert_eq!(
            mailbox_register_topic_handler(
                MAILBOX_TOPIC_CRI_CONTAINER.into(),
                Some(generate),
                ptr::null_mut(),
                None,
                true
            ),
            0
        );
        mailbox_unregister_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER.into());
    }
    // Rust code of the daemon logs through the same logger.
    log::error!(target: "hostile", "%n%s%s%n%p quoted");

    let mut text = String::new();
    let mut reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(dir.join("isulad_log_fifo"))
        .unwrap();
    let mut buf = [0u8; 65536];
    while let Ok(n) = reader.read(&mut buf) {
        if n == 0 {
            break;
        }
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let _ = std::fs::remove_dir_all(&dir);
    for (level, place, message) in [
        (
            "ERROR",
            "isula_mailbox:mailbox_subscribe:",
            "invalid topic 42",
        ),
        (
            "DEBUG",
            "isula_mailbox:mailbox_register_topic_handler:",
            "topic 0 registered",
        ),
        (
            "DEBUG",
            "isula_mailbox:mailbox_unregister_topic_handler:",
            "topic 0 unregistered",
        ),
        ("ERROR", "isula_mailbox:hostile:", "%n%s%s%n%p quoted"),
    ] {
        assert!(
            text.lines().any(|line| line.contains("iSulad")
                && line.contains(level)
                && line.contains(place)
                && line.contains(message)),
            "no {level} record {place} ... {message} in the daemon's log:\n{text}"
        );
    }
}
