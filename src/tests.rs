//! The panic boundary, the names failures are logged under, and the
//! reference limit, through the real exports.

use std::os::raw::c_void;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::mailbox_message::*;
use super::{call, ffi_body, name_of, Failure};
use crate::mailbox::message::ForeignMessage;

/// A panic payload that panics again when dropped.
struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("the panic payload's Drop panics");
    }
}

/// A body that panics returns the export's failure value; the next call
/// works. Every export is an `ffi_body!` (`tests/layout.rs` checks), so
/// this is what each does.
#[test]
fn a_panic_in_a_body_returns_the_failure_value() {
    fn export() -> i32 {
        ffi_body!(-1, |_export| {
            if PANICS.fetch_add(1, Ordering::SeqCst) == 0 {
                panic!("fault injected");
            }
            Ok(0)
        })
    }
    static PANICS: AtomicUsize = AtomicUsize::new(0);
    assert_eq!(export(), -1, "contained");
    assert_eq!(export(), 0, "works after");
}

/// Reporting a contained panic must not let a second one out: a payload
/// whose `Drop` panics would unwind into C (an abort since Rust 1.81).
#[test]
fn a_panic_payload_that_panics_when_dropped_is_contained() {
    fn export() {}
    let failure = call(export, 7, |_| -> Result<i32, Failure> {
        std::panic::panic_any(PanicsOnDrop)
    });
    assert_eq!(failure, 7);
}

/// What `ffi_body!` names an export's records after (`tests/log_callback.rs`
/// reads one through a real export).
#[test]
fn failures_are_named_after_their_export() {
    fn name<E: Fn()>(_: E) -> &'static str {
        name_of::<E>()
    }
    fn blocking_queue_push() -> &'static str {
        fn export() {}
        name(export)
    }
    fn mailbox_publish() {}
    assert_eq!(blocking_queue_push(), "blocking_queue_push");
    assert_eq!(name(mailbox_publish), "mailbox_publish");
}

static DESTROYED: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" fn count_destroy(_data: *mut c_void) {
    DESTROYED.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn ref_at_the_limit_fails_and_changes_nothing() {
    // SAFETY: `message` is live and ours throughout; one reference each.
    unsafe {
        let message = mailbox_message_create(ptr::null_mut(), Some(count_destroy));
        // As if INT_MAX - 2 holders existed besides ours (real references
        // would take minutes to make).
        let view = ForeignMessage::borrow_raw(message).unwrap();
        let pretend = ForeignMessage::MAX_REFS - 3;
        view.add_holders_for_test(pretend);
        assert_eq!(mailbox_message_ref(message), 0);
        assert_eq!(mailbox_message_ref(message), 0);
        assert_eq!(mailbox_message_ref(message), -1, "one past INT_MAX");
        mailbox_message_unref(message);
        assert_eq!(mailbox_message_ref(message), 0, "room again");
        view.remove_holders_for_test(pretend);
        for _ in 0..3 {
            mailbox_message_unref(message);
        }
        assert_eq!(DESTROYED.load(Ordering::SeqCst), 1);
    }
}
