//! `mailbox_message.h`: a reference-counted message around the daemon's data.

use std::os::raw::{c_int, c_void};
use std::ptr;

use super::{call, Failure};
use crate::core::message::Shared;
use crate::foreign::ForeignMessage;

/// A reference-counted message. Only `data` is public: the daemon reads
/// `msg->data`; the library allocates messages and keeps the rest private
/// (never allocate, copy or free one yourself).
#[repr(C)]
pub struct mailbox_message {
    /// The data the message was created with.
    pub data: *mut c_void,
}

/// Creates a message around `data` with one reference. `destroy` (may be
/// NULL) is called on `data` exactly once, when the last reference goes.
///
/// Returns the message (the caller owns its reference).
#[no_mangle]
pub extern "C" fn mailbox_message_create(
    data: *mut c_void,
    destroy: Option<unsafe extern "C" fn(*mut c_void)>,
) -> *mut mailbox_message {
    call("mailbox_message_create", ptr::null_mut(), || {
        Ok(ForeignMessage::new(data, destroy).into_raw())
    })
}

/// Adds a reference (atomically; no lock).
///
/// Returns 0, or -1 if `p` is NULL or already has `INT_MAX` references.
///
/// # Safety
/// `p` is NULL or a message the caller holds a reference to.
#[no_mangle]
pub unsafe extern "C" fn mailbox_message_ref(p: *mut mailbox_message) -> c_int {
    call("mailbox_message_ref", -1, || {
        // SAFETY: per this function's contract, the caller's reference keeps
        // a non-NULL `p` alive for the call.
        let message = unsafe { ForeignMessage::borrow_raw(p) }.ok_or_else(|| Failure::null("p"))?;
        let extra = message
            .share()
            .ok_or_else(|| Failure::error("reference count overflow"))?;
        // The new reference now belongs to the caller, as the same pointer.
        let _ = extra.into_raw();
        Ok(0)
    })
}

/// Drops a reference; the last one calls `destroy(data)` and frees the
/// message. NULL is a no-op.
///
/// # Safety
/// `p` is NULL or a message the caller holds a reference to, which the call
/// consumes.
#[no_mangle]
pub unsafe extern "C" fn mailbox_message_unref(p: *mut mailbox_message) {
    call("mailbox_message_unref", (), || {
        if !p.is_null() {
            // SAFETY: per this function's contract, `p` is one reference the
            // caller gives up here.
            drop(unsafe { ForeignMessage::from_raw(p) });
        }
        Ok(())
    })
}
