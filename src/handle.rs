//! Conversions between C handles and the Rust values behind them, so that no
//! export casts raw pointers itself.
//!
//! Boxed handles (`blocking_queue`, `message_subscriber`, `message_queue`)
//! have one owner: made by `*_create`/`*_subscribe`, freed by `*_destroy`.
//! Messages (`mailbox_message`) are reference-counted instead: see
//! the broker's `message.rs`.

use isula_mailbox_broker::alloc::try_box;
use isula_mailbox_core::error::Error;

/// Ties an opaque C handle type to the Rust value it stands for.
pub(crate) trait Handle {
    type Target;
}

/// Gives `value` to C as a new handle.
pub(crate) fn into_handle<C: Handle>(value: C::Target) -> Result<*mut C, Error> {
    Ok(Box::into_raw(try_box(value)?).cast())
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
