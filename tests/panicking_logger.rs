//! A Rust host whose logger panics: a failing export reports through it,
//! and that panic must not unwind into the C caller (since Rust 1.81 it
//! would abort the process). Its own test binary: the logger is global.

use std::ptr;

use isula_mailbox_abi::{mailbox_message_ref, mailbox_message_unref, mailbox_subscribe};
use log::{Log, Metadata, Record};

struct PanickingLogger;

impl Log for PanickingLogger {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &Record<'_>) {
        panic!("the host's logger panics on: {}", record.args());
    }

    fn flush(&self) {}
}

#[test]
fn a_panicking_host_logger_does_not_unwind_into_c() {
    log::set_logger(&PanickingLogger).unwrap();
    log::set_max_level(log::LevelFilter::Trace);
    // Each fails and reports through the logger, which panics.
    // SAFETY: an invalid topic and NULL are handled bad input.
    unsafe {
        assert!(mailbox_subscribe(42).is_null());
        assert_eq!(mailbox_message_ref(ptr::null_mut()), -1);
        mailbox_message_unref(ptr::null_mut());
    }
}
