//! The panic boundary, the names failures are logged under, and the
//! reference limit, through the real exports.

use std::os::raw::c_void;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};

use isula_mailbox_broker::message::Message;

use crate::boundary::{call, Export, Failure};
use crate::mailbox_message::*;

/// A panic payload that panics again when dropped.
struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("the panic payload's Drop panics");
    }
}

static PANICS: AtomicUsize = AtomicUsize::new(0);

ffi_fn! {
    /// An export whose body panics the first time.
    fn isula_mailbox_test_panics_once() -> i32 {
        if PANICS.fetch_add(1, Ordering::SeqCst) == 0 {
            panic!("fault injected");
        }
        Ok(EXPORT.name().len() as i32)
    } else -1
}

/// A body that panics returns the export's failure value; the next call
/// works. Every export is an `ffi_fn!`, so this is what each does.
#[test]
fn a_panic_in_a_body_returns_the_failure_value() {
    assert_eq!(isula_mailbox_test_panics_once(), -1, "contained");
    assert_eq!(
        isula_mailbox_test_panics_once(),
        "isula_mailbox_test_panics_once".len() as i32,
        "works after, and knows its name"
    );
}

/// Reporting a contained panic must not let a second one out: a payload
/// whose `Drop` panics would unwind into C (an abort since Rust 1.81).
#[test]
fn a_panic_payload_that_panics_when_dropped_is_contained() {
    let failure = call(Export("test"), 7, || -> Result<i32, Failure> {
        std::panic::panic_any(PanicsOnDrop)
    });
    assert_eq!(failure, 7);
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
        let view = Message::borrow_raw(message).unwrap();
        let pretend = Message::MAX_REFS - 3;
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
