//! When a message's release function runs.
//!
//! A message can be let go inside a publish (by a generator, by whatever a
//! generator calls, or by the publish itself), while the library holds the
//! topic. Its release function is the daemon's code, which may call back
//! into the library, unregistering the topic included: inside a publish,
//! releases wait until the thread's outermost publish returns, with no lock
//! held. The waiting list is made of the dying messages' own blocks, so
//! that deferring a release allocates nothing and cannot fail.

use std::alloc::{dealloc, Layout};
use std::cell::Cell;
use std::os::raw::c_void;
use std::ptr::{self, NonNull};

/// A function that releases a message's data (the daemon's `destroy`).
pub type Release = unsafe extern "C" fn(*mut c_void);

thread_local! {
    /// How many publishes this thread is inside (a generator may publish in
    /// turn). Const-initialised and without a destructor: no allocation.
    static PUBLISHING: Cell<usize> = const { Cell::new(0) };
    /// Releases deferred until the outermost publish returns, newest first.
    static DEFERRED: Cell<*mut Deferred> = const { Cell::new(ptr::null_mut()) };
}

/// A release waiting for the outermost publish of its thread, written over
/// the dying message's block.
#[repr(C)]
struct Deferred {
    data: *mut c_void,
    release: Release,
    next: *mut Deferred,
}

/// The layout of the memory a deferred release is kept in: a message
/// block's (checked where blocks are defined).
pub(crate) const NODE: Layout = Layout::new::<Deferred>();

/// Runs `publish` as a publish of this thread: a message released meanwhile
/// has its release function run once the outermost publish of the thread
/// returns (panics included), when the library holds no lock.
pub(crate) fn publishing<R>(publish: impl FnOnce() -> R) -> R {
    struct Outermost;
    impl Drop for Outermost {
        fn drop(&mut self) {
            let depth = PUBLISHING.get() - 1;
            PUBLISHING.set(depth);
            if depth == 0 {
                run_deferred();
            }
        }
    }
    PUBLISHING.set(PUBLISHING.get() + 1);
    let _outermost = Outermost;
    publish()
}

/// Releases `data` and frees `block`: at once, or, inside a publish, once
/// the thread's outermost publish returns (the block is the list's node
/// until then).
///
/// # Safety
/// `block` is memory of [`NODE`]'s layout from the global allocator that
/// nothing refers to any more (a dead message's block, read out already);
/// `release` may be called with `data`, once, and this is that once.
#[inline(never)]
pub(crate) unsafe fn release(block: NonNull<u8>, data: *mut c_void, release: Release) {
    if PUBLISHING.get() > 0 {
        let node = block.cast::<Deferred>().as_ptr();
        let next = DEFERRED.get();
        // SAFETY: the block is ours, of the node's layout.
        unsafe {
            node.write(Deferred {
                data,
                release,
                next,
            })
        };
        DEFERRED.set(node);
        return;
    }
    // SAFETY: per this function's contract.
    unsafe {
        dealloc(block.as_ptr(), NODE);
        release(data);
    }
}

fn run_deferred() {
    loop {
        let head = DEFERRED.get();
        if head.is_null() {
            return;
        }
        // SAFETY: every node on the list was written by `release` over a
        // block of `NODE`'s layout, and is taken off the list exactly once,
        // here.
        let Deferred {
            data,
            release,
            next,
        } = unsafe { head.read() };
        DEFERRED.set(next);
        // SAFETY: as above: the node was the block's last use; `release`
        // runs once with the data it was handed over with.
        unsafe {
            dealloc(head.cast(), NODE);
            release(data);
        }
    }
}
