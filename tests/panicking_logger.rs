//! A Rust host whose logger panics: a failing export reports through it,
//! and that panic must not unwind into the C caller (since Rust 1.81 it
//! would abort the process). Its own test binary: the logger is global.

use std::ptr;

use std::os::raw::c_void;

use isula_mailbox_ffi::mailbox::mailbox_topic::MAILBOX_TOPIC_CRI_CONTAINER;
use isula_mailbox_ffi::mailbox::{
    mailbox_register_topic_handler, mailbox_subscribe, mailbox_unregister_topic_handler,
};
use isula_mailbox_ffi::mailbox_message::{mailbox_message_ref, mailbox_message_unref};
use isula_mailbox_ffi::message_subscriber::message_subscriber_destroy;
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
    if log::set_logger(&PanickingLogger).is_ok() {
        log::set_max_level(log::LevelFilter::Trace);
    }
    // Each fails and reports through the logger, which panics.
    // SAFETY: an invalid topic and NULL are handled bad input.
    unsafe {
        assert!(mailbox_subscribe(isula_mailbox_ffi::mailbox::RawTopic(42)).is_null());
        assert_eq!(mailbox_message_ref(ptr::null_mut()), -1);
        mailbox_message_unref(ptr::null_mut());
    }
}

unsafe extern "C" fn make_nothing(_context: *mut c_void, _data: *mut c_void) -> *mut c_void {
    ptr::null_mut()
}

/// The library logs at debug after it changed something (a topic
/// registered, a subscriber attached) and before it returns the result: a
/// logger that panics there must not turn the change into a failure that
/// leaves it unreported (a registered topic reported as -1, an attached
/// subscriber nobody holds).
#[test]
fn a_panicking_host_logger_does_not_lose_what_a_call_made() {
    if log::set_logger(&PanickingLogger).is_ok() {
        log::set_max_level(log::LevelFilter::Trace);
    }
    // SAFETY: a generator callable from any thread, no context; the
    // subscriber is destroyed once.
    unsafe {
        assert_eq!(
            mailbox_register_topic_handler(
                MAILBOX_TOPIC_CRI_CONTAINER.into(),
                Some(make_nothing),
                ptr::null_mut(),
                None,
                true
            ),
            0,
            "registered, and said so"
        );
        let sub = mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER.into());
        assert!(!sub.is_null(), "attached, and handed over");
        message_subscriber_destroy(sub);
        mailbox_unregister_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER.into());
    }
}
