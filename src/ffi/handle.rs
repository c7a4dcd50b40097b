//! Conversions between C handles and the Rust values behind them, so that no
//! export casts raw pointers itself.
//!
//! Two ownership models, as in the headers:
//! - boxed handles (`blocking_queue`, `message_subscriber`, `message_queue`):
//!   one owner, made by `*_create`/`*_subscribe`, freed by `*_destroy`;
//! - messages (`mailbox_message`): reference-counted, each pointer the
//!   daemon holds is one reference, given back with `mailbox_message_unref`.

use std::mem::ManuallyDrop;
use std::sync::Arc;

use crate::ffi::mailbox_message::mailbox_message;
use crate::foreign::{ForeignMessage, ForeignPayload};

/// Ties an opaque C handle type to the Rust value it stands for.
pub(crate) trait Handle {
    type Target;
}

/// Gives `value` to C as a new handle.
pub(crate) fn into_handle<C: Handle>(value: C::Target) -> *mut C {
    Box::into_raw(Box::new(value)).cast()
}

/// The value behind `handle`, or `None` for NULL.
///
/// # Safety
/// A non-NULL `handle` was returned by [`into_handle`] for this `C` and has
/// not been passed to [`take_handle`], and stays so for `'a`.
pub(crate) unsafe fn borrow<'a, C: Handle>(handle: *const C) -> Option<&'a C::Target> {
    // SAFETY: per this function's contract, a non-NULL handle points to a
    // live `C::Target` made by `into_handle`.
    unsafe { handle.cast::<C::Target>().as_ref() }
}

/// Takes the value behind `handle` back (to drop it), or `None` for NULL.
///
/// # Safety
/// As [`borrow`]; afterwards the handle is dangling and must not be used.
pub(crate) unsafe fn take_handle<C: Handle>(handle: *mut C) -> Option<Box<C::Target>> {
    if handle.is_null() {
        return None;
    }
    // SAFETY: per this function's contract, `handle` is a `Box` leaked by
    // `into_handle` and not yet taken back.
    Some(unsafe { Box::from_raw(handle.cast::<C::Target>()) })
}

/// Gives one reference to C as a `mailbox_message *`.
pub(crate) fn message_into_ptr(message: ForeignMessage) -> *mut mailbox_message {
    // The payload is `#[repr(C)]` and starts with the public header, so the
    // pointer to it is a pointer to a `mailbox_message`.
    Arc::into_raw(message.into_arc()).cast_mut().cast()
}

/// Takes back the reference a `mailbox_message *` stands for.
///
/// # Safety
/// `message` is non-NULL, came from [`message_into_ptr`], and the caller
/// owns the reference it stands for (which this consumes).
pub(crate) unsafe fn message_from_ptr(message: *mut mailbox_message) -> ForeignMessage {
    // SAFETY: per this function's contract, the pointer is one reference
    // made by `Arc::into_raw` on an `Arc<ForeignPayload>`.
    ForeignMessage::from_arc(unsafe { Arc::from_raw(message.cast::<ForeignPayload>()) })
}

/// Looks at the message behind a `mailbox_message *` without taking the
/// caller's reference, or `None` for NULL.
///
/// # Safety
/// A non-NULL `message` came from [`message_into_ptr`] and the caller holds
/// the reference it stands for while the result is in use.
pub(crate) unsafe fn borrow_message(
    message: *mut mailbox_message,
) -> Option<ManuallyDrop<ForeignMessage>> {
    if message.is_null() {
        return None;
    }
    // SAFETY: the caller's reference keeps the message alive, and
    // `ManuallyDrop` keeps us from giving that reference back.
    Some(ManuallyDrop::new(unsafe { message_from_ptr(message) }))
}
