//! Allocation that fails instead of aborting: std has no stable fallible
//! `Box` constructor, and an allocation the daemon's call needs must return
//! the call's failure value when memory runs out.

use std::alloc::{alloc, Layout};

use isula_mailbox_core::error::Error;

/// `Box::new` that returns [`Error::OutOfMemory`] instead of aborting the
/// daemon. `value` is dropped on failure.
pub fn try_box<T>(value: T) -> Result<Box<T>, Error> {
    let layout = Layout::new::<T>();
    if layout.size() == 0 {
        return Ok(Box::new(value)); // allocates nothing
    }
    // SAFETY: `layout` has a non-zero size.
    let raw = unsafe { alloc(layout) }.cast::<T>();
    if raw.is_null() {
        return Err(Error::OutOfMemory);
    }
    // SAFETY: `raw` is a fresh allocation of the global allocator with
    // `T`'s layout, written before it is read; that is what a `Box<T>`
    // owns.
    unsafe {
        raw.write(value);
        Ok(Box::from_raw(raw))
    }
}
