//! `blocking_queue.h`: a FIFO of `void *` whose pop waits.

use std::os::raw::{c_int, c_void};
use std::ptr;
use std::time::Duration;

use super::handle::{into_handle, take_handle, Handle};
use super::{call, handle_arg, millis, Failure};
use crate::core::blocking_queue::{BlockingQueue, Pop};
use crate::foreign::{RawItem, ReleaseFn};

/// A FIFO queue of `void *` whose pop waits (opaque).
pub struct blocking_queue {
    _private: [u8; 0],
}

/// What a `blocking_queue *` points to.
pub(crate) struct CBlockingQueue {
    items: BlockingQueue<RawItem>,
    timeout: Option<Duration>,
    release: Option<ReleaseFn>,
}

impl Handle for blocking_queue {
    type Target = CBlockingQueue;
}

impl CBlockingQueue {
    /// Releases every queued item, in order, outside the queue's lock.
    fn clear(&self) {
        let items = self.items.take_all();
        if let Some(release) = self.release {
            for RawItem(data) in items {
                // SAFETY: each item was pushed by the daemon, which made
                // `release` the way to dispose of queued items; taken out of
                // the queue, each is released exactly once.
                unsafe { release(data) }
            }
        }
    }
}

/// Creates an empty queue.
///
/// `timeout` is how long `blocking_queue_pop` waits on an empty queue, in
/// milliseconds; any negative value (`BLOCKING_QUEUE_NO_TIMEOUT`) waits
/// forever. `release` (may be NULL) is called on items still queued when
/// the queue is cleared or destroyed.
///
/// Returns the queue (free it with `blocking_queue_destroy`).
#[no_mangle]
pub extern "C" fn blocking_queue_create(
    timeout: i64,
    release: Option<unsafe extern "C" fn(*mut c_void)>,
) -> *mut blocking_queue {
    call("blocking_queue_create", ptr::null_mut(), || {
        Ok(into_handle::<blocking_queue>(CBlockingQueue {
            items: BlockingQueue::new(),
            timeout: millis(timeout),
            release,
        }))
    })
}

/// Appends `data` (any pointer, NULL included) and wakes a waiting pop.
///
/// Returns 0, or -1 if `queue` is NULL.
///
/// # Safety
/// `queue` is NULL or a live queue from `blocking_queue_create`.
#[no_mangle]
pub unsafe extern "C" fn blocking_queue_push(
    queue: *mut blocking_queue,
    data: *mut c_void,
) -> c_int {
    call("blocking_queue_push", -1, || {
        let queue = handle_arg!(queue);
        // A C queue is never closed, so the push cannot be refused.
        queue
            .items
            .push(RawItem(data))
            .map_err(|_| Failure::error("queue is closed"))?;
        Ok(0)
    })
}

/// Removes the oldest item into `*data`. On an empty queue, waits for a
/// push: forever, or for the queue's timeout (monotonic clock).
///
/// Returns 0 with the item, `ETIMEDOUT` when the timeout passed first
/// (`*data` untouched), or -1 if an argument is NULL.
///
/// # Safety
/// `queue` is NULL or a live queue; `data` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn blocking_queue_pop(
    queue: *mut blocking_queue,
    data: *mut *mut c_void,
) -> c_int {
    call("blocking_queue_pop", -1, || {
        let queue = handle_arg!(queue);
        if data.is_null() {
            return Err(Failure::null("data"));
        }
        match queue.items.pop(queue.timeout) {
            Pop::Item(RawItem(item)) => {
                // SAFETY: `data` is non-NULL and, per this function's
                // contract, points to writable storage for one pointer.
                unsafe { data.write(item) };
                Ok(0)
            }
            Pop::TimedOut => Ok(libc::ETIMEDOUT),
            Pop::Closed => Err(Failure::error("queue is closed")),
        }
    })
}

/// Calls the queue's `release` once on every item still queued (none that
/// was popped) and empties it; the queue stays usable. NULL is a no-op.
///
/// # Safety
/// `queue` is NULL or a live queue.
#[no_mangle]
pub unsafe extern "C" fn blocking_queue_clear(queue: *mut blocking_queue) {
    call("blocking_queue_clear", (), || {
        if !queue.is_null() {
            handle_arg!(queue).clear();
        }
        Ok(())
    })
}

/// `blocking_queue_clear`, then frees the queue. NULL is a no-op. No other
/// thread may use the queue during or after the call.
///
/// # Safety
/// `queue` is NULL or a live queue, not used again afterwards.
#[no_mangle]
pub unsafe extern "C" fn blocking_queue_destroy(queue: *mut blocking_queue) {
    call("blocking_queue_destroy", (), || {
        // SAFETY: per this function's contract, `queue` is NULL or a live
        // handle from `blocking_queue_create` that nobody uses afterwards.
        if let Some(queue) = unsafe { take_handle(queue) } {
            queue.clear();
        }
        Ok(())
    })
}
