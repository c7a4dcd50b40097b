//! `blocking_queue.h`: a FIFO of `void *` whose pop waits.

use std::os::raw::{c_int, c_void};
use std::ptr;
use std::time::Duration;

use isula_mailbox_core::blocking_queue::{BlockingQueue, Drained, Pop};
use isula_mailbox_core::error::Error;

use crate::boundary::{millis, About, Failure};
use crate::handle::{into_handle, take_handle, Handle};

/// Releases data the library was handed (a queued item, a message's data,
/// what a generator made). Declared here, the first header to use it.
pub type message_release_t = Option<unsafe extern "C" fn(*mut c_void)>;

/// An item of a C `blocking_queue`: the library only stores it and hands it
/// back (or to the queue's release function).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RawItem(*mut c_void);

// SAFETY: the queue moves the pointer between the pushing and the popping
// thread without reading through it; that hand-over is the queue's purpose.
unsafe impl Send for RawItem {}

/// A FIFO queue of `void *` whose pop waits (opaque).
pub struct blocking_queue {
    _private: [u8; 0],
}

/// What a `blocking_queue *` points to: a queue of the daemon's pointers.
pub(crate) struct PointerQueue {
    items: BlockingQueue<RawItem>,
    timeout: Option<Duration>,
    release: message_release_t,
}

impl Handle for blocking_queue {
    type Target = PointerQueue;
}

impl PointerQueue {
    /// Releases every queued item, in order, outside the queue's lock.
    fn clear(&self) {
        self.release_all(self.items.take_all());
    }

    /// Closes the queue for good, then releases what it held: a release
    /// that pushes to the queue being destroyed is refused (-1, the item
    /// stays its caller's), so nothing is left in the queue once freed.
    /// By reference: the handle stays valid while the releases run.
    fn close_and_release(&self) {
        self.release_all(self.items.close());
    }

    fn release_all(&self, items: Drained<RawItem>) {
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

ffi_fn! {
    /// Creates an empty queue.
    ///
    /// `timeout` is how long `blocking_queue_pop` waits on an empty queue, in
    /// milliseconds; any negative value (`BLOCKING_QUEUE_NO_TIMEOUT`), or one
    /// too large for the clock, waits forever. `release` (may be NULL) is
    /// called on items still queued when the queue is cleared or destroyed,
    /// with no lock of the library held.
    ///
    /// Returns the queue (free it with `blocking_queue_destroy`), or NULL when
    /// memory runs out.
    ///
    /// # Safety
    /// `release` is NULL or may be called, from any thread, with every item
    /// pushed to the queue.
    unsafe fn blocking_queue_create(
        timeout: i64,
        release: message_release_t,
    ) -> *mut blocking_queue {
        Ok(into_handle::<blocking_queue>(PointerQueue {
            items: BlockingQueue::new(),
            timeout: millis(timeout),
            release,
        })?)
    } else ptr::null_mut()
}

ffi_fn! {
    /// Appends `data` (any pointer, NULL included) and wakes a waiting pop at
    /// once.
    ///
    /// Returns 0, or -1 if `queue` is NULL, the queue cannot grow (out of
    /// memory) or is being destroyed (a release run by `blocking_queue_destroy`
    /// pushing to it); then the item stays the caller's, `release` is not
    /// called on it.
    ///
    /// # Safety
    /// `queue` is NULL or a live queue from `blocking_queue_create`.
    unsafe fn blocking_queue_push(queue: *mut blocking_queue, data: *mut c_void) -> c_int {
        // Closed: only `blocking_queue_destroy` closes a C queue, and this is
        // one of the releases it runs.
        // No task awaits a C queue: nothing to wake.
        match handle_arg!(queue).items.push(RawItem(data)) {
            Ok(_) => Ok(0),
            Err(refused) => Err(Failure::Refused(refused.error, About::Queue)),
        }
    } else -1
}

ffi_fn! {
    /// Removes the oldest item into `*data`: items pushed by one thread come
    /// out in the order they went in. On an empty queue, waits for a push:
    /// forever, or until the queue's timeout has passed on the monotonic
    /// clock; spurious wake-ups neither cut nor restart the wait. How it waits
    /// (a short spin, or a park) is docs/CONTRACT.md's "How a pop waits".
    ///
    /// Returns 0 with the item, `ETIMEDOUT` once it has waited at least the
    /// timeout (`*data` untouched), or -1 if an argument is NULL or the queue
    /// is being destroyed (a release run by `blocking_queue_destroy`).
    /// Allocates nothing.
    ///
    /// # Safety
    /// `queue` is NULL or a live queue; `data` is NULL or writable.
    unsafe fn blocking_queue_pop(queue: *mut blocking_queue, data: *mut *mut c_void) -> c_int {
        let queue = handle_arg!(queue);
        if data.is_null() {
            return Err(Failure::Null("data"));
        }
        match queue.items.pop(queue.timeout) {
            Pop::Item(RawItem(item)) => {
                // SAFETY: `data` is non-NULL and, per this function's
                // contract, points to writable storage for one pointer.
                unsafe { data.write(item) };
                Ok(0)
            }
            Pop::TimedOut => Ok(libc::ETIMEDOUT),
            Pop::Closed => Err(Failure::Refused(Error::Closed, About::Queue)),
        }
    } else -1
}

ffi_fn! {
    /// Calls the queue's `release` once on every item still queued (none that
    /// was popped) and empties it; the queue stays usable. NULL is a no-op.
    /// Allocates nothing. `release` may call any function of the library
    /// except destroying this queue.
    ///
    /// # Safety
    /// `queue` is NULL or a live queue.
    unsafe fn blocking_queue_clear(queue: *mut blocking_queue) {
        if !queue.is_null() {
            handle_arg!(queue).clear();
        }
        Ok(())
    }
}

ffi_fn! {
    /// Calls the queue's `release` once on every item still queued, then frees
    /// the queue. NULL is a no-op. No other thread may use the queue during or
    /// after the call. A release it runs may call the queue: its pushes and
    /// pops fail (-1), the queue being closed first, so that nothing is left in
    /// it unreleased. Allocates nothing.
    ///
    /// # Safety
    /// `queue` is NULL or a live queue, not used again afterwards.
    unsafe fn blocking_queue_destroy(queue: *mut blocking_queue) {
        // SAFETY: per this function's contract, `queue` is NULL or a live
        // handle from `blocking_queue_create` that nobody uses afterwards.
        if let Some(queue) = unsafe { take_handle(queue) } {
            // Freed only after the releases, which may use the handle.
            queue.close_and_release();
        }
        Ok(())
    }
}
