//! `mailbox_message.h`: a reference-counted message around the daemon's
//! data (the block behind it, and when its release runs, are the
//! mailbox's: `mailbox/message.rs`).

use std::os::raw::{c_int, c_void};
use std::ptr;

use isula_mailbox_broker::message::{Message, MessageView};
use isula_mailbox_core::error::Error;
use isula_mailbox_core::shared::Shared;

use crate::blocking_queue::message_release_t;
use crate::boundary::Failure;

/// A reference-counted message. Only `data` is public: the daemon reads
/// `msg->data`; the library allocates messages and keeps the rest private
/// (never allocate, copy or free one yourself).
#[repr(C)]
pub struct mailbox_message {
    /// The data the message was created with.
    pub data: *mut c_void,
}

// SAFETY: `#[repr(C)]`, and its only field is the data pointer.
unsafe impl MessageView for mailbox_message {}

ffi_fn! {
    /// Creates a message around `data` with one reference. `destroy` (may be
    /// NULL) is called on `data` exactly once, when the last reference goes.
    ///
    /// Returns the message (the caller owns its reference), or NULL when memory
    /// runs out (`data` then stays the caller's: `destroy` is not called).
    ///
    /// # Safety
    /// `destroy` is NULL or may be called with `data`, once, from any thread.
    unsafe fn mailbox_message_create(
        data: *mut c_void,
        destroy: message_release_t,
    ) -> *mut mailbox_message {
        // SAFETY: per this function's contract.
        let message = unsafe { Message::new(data, destroy) }?;
        Ok(message.into_raw())
    } else ptr::null_mut()
}

ffi_fn! {
    /// Adds a reference (atomically; no lock; allocates nothing).
    ///
    /// Returns 0, or -1 if `p` is NULL or already has `INT_MAX` references.
    ///
    /// # Safety
    /// `p` is NULL or a message the caller holds a reference to.
    unsafe fn mailbox_message_ref(p: *mut mailbox_message) -> c_int {
        // SAFETY: per this function's contract, the caller's reference keeps
        // a non-NULL `p` alive for the call.
        let message = unsafe { Message::borrow_raw(p) }.ok_or(Failure::Null("p"))?;
        let extra = message.share().ok_or(Error::ReferenceLimit)?;
        // The new reference now belongs to the caller, as the same pointer.
        let _ = extra.into_raw::<mailbox_message>();
        Ok(0)
    } else -1
}

ffi_fn! {
    /// Drops a reference (atomically; no lock; allocates nothing); the last
    /// one calls `destroy(data)`, once, and frees the message. NULL is a
    /// no-op.
    ///
    /// # Safety
    /// `p` is NULL or a message the caller holds a reference to, which the call
    /// consumes.
    unsafe fn mailbox_message_unref(p: *mut mailbox_message) {
        if !p.is_null() {
            // SAFETY: per this function's contract, `p` is one reference the
            // caller gives up here.
            drop(unsafe { Message::from_raw(p) });
        }
        Ok(())
    }
}
