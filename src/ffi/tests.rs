//! The panic boundary and the reference limit, through the real exports.
//!
//! A test-only hook (`arm`, compiled only into the test build) makes the
//! next call of a named export panic inside its boundary: the export must
//! return its failure value, and the process must go on working.

use std::cell::Cell;
use std::os::raw::c_void;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::blocking_queue::*;
use super::isula_mailbox::*;
use super::mailbox::*;
use super::mailbox_message::REF_LIMIT;
use super::mailbox_message::*;
use super::message_queue::*;
use super::message_subscriber::*;

thread_local! {
    static ARMED: Cell<Option<&'static str>> = const { Cell::new(None) };
    /// Whether the armed panic carries a payload whose `Drop` panics too.
    static NASTY_PAYLOAD: Cell<bool> = const { Cell::new(false) };
}

/// Makes this thread's next call of `function` panic inside its boundary.
fn arm(function: &'static str) {
    ARMED.with(|armed| armed.set(Some(function)));
}

/// A panic payload that panics again when dropped.
struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("the panic payload's Drop panics");
    }
}

/// Called by `ffi::call` in test builds.
pub(super) fn panic_if_armed(function: &'static str) {
    if ARMED.with(|armed| armed.get()) == Some(function) {
        ARMED.with(|armed| armed.set(None));
        if NASTY_PAYLOAD.take() {
            std::panic::panic_any(PanicsOnDrop);
        }
        panic!("fault injected into {function}");
    }
}

/// Reporting a contained panic must not let a second one out: a payload
/// whose `Drop` panics would unwind into C (an abort since Rust 1.81).
#[test]
fn a_panic_payload_that_panics_when_dropped_is_contained() {
    NASTY_PAYLOAD.set(true);
    arm("mailbox_message_create");
    assert!(mailbox_message_create(ptr::null_mut(), None).is_null());
    let message = mailbox_message_create(ptr::null_mut(), None);
    assert!(!message.is_null(), "works after");
    // SAFETY: made just above; our one reference.
    unsafe { mailbox_message_unref(message) };
}

const TOPIC: RawTopic = RawTopic(mailbox_topic::MAILBOX_TOPIC_CRI_CONTAINER as i32);

unsafe extern "C" fn generate(_context: *mut c_void, _data: *mut c_void) -> *mut c_void {
    Box::into_raw(Box::new(7u32)).cast()
}

unsafe extern "C" fn release(data: *mut c_void) {
    // SAFETY: made by `generate`.
    drop(unsafe { Box::from_raw(data.cast::<u32>()) });
}

/// Every export, made to panic once: each returns its failure value, and
/// the same call works right after.
#[test]
fn a_panic_inside_any_export_returns_its_failure_value() {
    // SAFETY (whole test): every handle passed is live, made just above
    // by this library, and destroyed once at the end.
    unsafe {
        let queue = blocking_queue_create(0, None);
        let message = mailbox_message_create(ptr::null_mut(), None);
        let subscriber = message_subscriber_create(0, None);
        let mq = message_queue_create(None);
        let mut out: *mut c_void = ptr::null_mut();
        let mut popped: *mut mailbox_message = ptr::null_mut();
        let mut stats = mailbox_topic_stats::default();

        macro_rules! check {
            ($function:ident($($arg:expr),*) => $failure:expr, then $ok:expr) => {{
                arm(stringify!($function));
                assert_eq!($function($($arg),*), $failure, "{} contained", stringify!($function));
                assert_eq!($function($($arg),*), $ok, "{} works after", stringify!($function));
            }};
        }

        assert!({
            arm("blocking_queue_create");
            blocking_queue_create(0, None)
        }
        .is_null());
        check!(blocking_queue_push(queue, ptr::dangling_mut()) => -1, then 0);
        check!(blocking_queue_pop(queue, &mut out) => -1, then 0);
        check!(blocking_queue_clear(queue) => (), then ());

        assert!({
            arm("mailbox_message_create");
            mailbox_message_create(ptr::null_mut(), None)
        }
        .is_null());
        check!(mailbox_message_ref(message) => -1, then 0);
        mailbox_message_unref(message); // the extra reference

        assert!({
            arm("message_subscriber_create");
            message_subscriber_create(0, None)
        }
        .is_null());
        check!(message_subscriber_push(subscriber, message) => -1, then 0);
        check!(message_subscriber_pop(subscriber, &mut popped) => -1, then 0);
        mailbox_message_unref(popped);
        check!(message_subscriber_shutdown(subscriber) => (), then ());

        assert!({
            arm("message_queue_create");
            message_queue_create(None)
        }
        .is_null());
        let sub = {
            arm("message_queue_subscribe");
            message_queue_subscribe(mq, None)
        };
        assert!(sub.is_null());
        let sub = message_queue_subscribe(mq, None);
        assert!(!sub.is_null());
        check!(message_queue_have_subscribers(mq) => false, then true);
        mailbox_message_ref(message);
        check!(message_queue_publish(mq, message) => -1, then 0);
        check!(message_queue_unsubscribe(mq, sub) => (), then ());
        check!(message_queue_shutdown(mq) => (), then ());

        check!(mailbox_register_topic_handler(TOPIC, Some(generate), ptr::null_mut(), Some(release), true) => -1, then 0);
        let topic_sub = {
            arm("mailbox_subscribe");
            mailbox_subscribe(TOPIC)
        };
        assert!(topic_sub.is_null());
        let topic_sub = mailbox_subscribe(TOPIC);
        assert!(!topic_sub.is_null());
        // With a subscriber, publishing takes the path inside the boundary.
        check!(mailbox_publish(TOPIC, ptr::null_mut()) => (), then ());
        check!(mailbox_get_topic_stats(TOPIC, &mut stats) => -1, then 0);
        assert_eq!(
            stats.published, 1,
            "the publish after the contained panic went through"
        );
        check!(mailbox_unsubscribe(TOPIC, topic_sub) => (), then ());
        check!(mailbox_set_subscriber_timeout(TOPIC, 1000) => -1, then 0);
        check!(mailbox_set_subscriber_capacity(TOPIC, 0) => -1, then 0);
        check!(mailbox_unregister_topic_handler(TOPIC) => (), then ());
        check!(mailbox_set_log_callback(None, RawLogLevel(2), ptr::null_mut()) => (), then ());

        // Destroys last: a contained panic leaves the handle alive.
        arm("message_subscriber_destroy");
        message_subscriber_destroy(topic_sub);
        message_subscriber_destroy(topic_sub);
        message_subscriber_destroy(sub);
        message_subscriber_destroy(subscriber);
        arm("message_queue_destroy");
        message_queue_destroy(mq);
        message_queue_destroy(mq);
        arm("mailbox_message_unref");
        mailbox_message_unref(message);
        mailbox_message_unref(message);
        arm("blocking_queue_destroy");
        blocking_queue_destroy(queue);
        blocking_queue_destroy(queue);
    }
}

static DESTROYED: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" fn count_destroy(_data: *mut c_void) {
    DESTROYED.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn ref_at_the_limit_fails_and_changes_nothing() {
    // INT_MAX real references would take minutes: the limit is lowered to
    // 3 for this thread, the same check.
    REF_LIMIT.set(3);
    // SAFETY: `message` is live and ours throughout; one reference each.
    unsafe {
        let message = mailbox_message_create(ptr::null_mut(), Some(count_destroy));
        assert_eq!(mailbox_message_ref(message), 0);
        assert_eq!(mailbox_message_ref(message), 0);
        assert_eq!(mailbox_message_ref(message), -1, "a fourth is refused");
        mailbox_message_unref(message);
        assert_eq!(mailbox_message_ref(message), 0, "room again");
        for _ in 0..3 {
            mailbox_message_unref(message);
        }
        assert_eq!(DESTROYED.load(Ordering::SeqCst), 1);
    }
    REF_LIMIT.set(super::mailbox_message::ForeignMessage::MAX_REFS);
}
