//! `mailbox_message.h`: a reference-counted message around the daemon's
//! data, the block behind it, and when its release function runs.

use std::cell::Cell;
use std::mem::{ManuallyDrop, MaybeUninit};
use std::os::raw::{c_int, c_void};
use std::ptr::{self, NonNull};

use super::blocking_queue::message_release_t;
use super::handle::try_box;
use super::{call, Arg, Failure};
use crate::core::oom::OutOfMemory;
use crate::core::refcount::RefCount;
use crate::core::shared::Shared;

/// A reference-counted message. Only `data` is public: the daemon reads
/// `msg->data`; the library allocates messages and keeps the rest private
/// (never allocate, copy or free one yourself).
#[repr(C)]
pub struct mailbox_message {
    /// The data the message was created with.
    pub data: *mut c_void,
}

/// The block behind a `mailbox_message *`: `#[repr(C)]` with the public
/// header first, so a pointer to the block is a valid `mailbox_message *`
/// whose `data` the daemon reads directly. 24 bytes.
#[repr(C)]
struct MessageBlock {
    header: mailbox_message,
    refs: RefCount,
    destroy: message_release_t,
}

/// One reference to a message from C: the daemon's `data` and the function
/// that releases it when the last reference goes.
///
/// The one message type of the library, on the one reference count made
/// for it ([`RefCount`]): a block allocated by hand can be allocated
/// fallibly (std's `Arc` and `Box` have no stable fallible constructor),
/// needs no weak count (24 bytes: a pending message stays within the
/// 100-byte target), and costs one atomic per reference taken or given back
/// with the limit the C API has (`INT_MAX`), checked in the same atomic.
pub struct ForeignMessage {
    block: NonNull<MessageBlock>,
}

// SAFETY: a reference only touches the block's atomic count and, once, the
// release function. The library never reads through `data`: it only hands
// it to `destroy`, once, when the last reference goes, from whichever
// thread that is. Handing messages from publishing to popping threads is
// what the C API is for (the original did the same).
unsafe impl Send for ForeignMessage {}
// SAFETY: `&ForeignMessage` only reads the block's fields and counts
// atomically; see `Send`.
unsafe impl Sync for ForeignMessage {}

impl ForeignMessage {
    /// The most references one message may have, as the original's `INT_MAX`.
    pub const MAX_REFS: usize = i32::MAX as usize;

    /// A message around `data`, with one reference; `destroy` (if any)
    /// releases `data` when the last reference goes. When memory runs out,
    /// `data` stays its owner's (`destroy` is not called).
    pub fn new(data: *mut c_void, destroy: message_release_t) -> Result<Self, OutOfMemory> {
        let block = try_box(MessageBlock {
            header: mailbox_message { data },
            refs: RefCount::new(),
            destroy,
        })?;
        Ok(ForeignMessage {
            block: NonNull::from(Box::leak(block)),
        })
    }

    /// A message around what `make` returns, released by `destroy`. The
    /// block is allocated first, so that once the data exists nothing can
    /// fail: `Err` means `make` was not called (there is nothing to
    /// release), `Ok(None)` that it returned NULL.
    pub(crate) fn make(
        make: impl FnOnce() -> *mut c_void,
        destroy: message_release_t,
    ) -> Result<Option<Self>, OutOfMemory> {
        let mut block = try_box(MessageBlock {
            header: mailbox_message {
                data: ptr::null_mut(),
            },
            refs: RefCount::new(),
            destroy,
        })?;
        block.header.data = make();
        if block.header.data.is_null() {
            return Ok(None);
        }
        Ok(Some(ForeignMessage {
            block: NonNull::from(Box::leak(block)),
        }))
    }

    /// A message whose data is what `make` returns, boxed, so that C
    /// subscribers read `msg->data` as a pointer to `E`. Everything is
    /// allocated before `make` runs, as in [`make`](Self::make).
    pub(crate) fn make_boxed<E: Send + Sync + 'static>(
        make: impl FnOnce() -> Option<E>,
    ) -> Result<Option<Self>, OutOfMemory> {
        let slot = try_box(MaybeUninit::<E>::uninit())?;
        Self::make(
            move || match make() {
                Some(event) => {
                    let mut slot = slot;
                    slot.write(event);
                    Box::into_raw(slot).cast()
                }
                None => ptr::null_mut(),
            },
            Some(drop_box::<E>),
        )
    }

    fn block(&self) -> &MessageBlock {
        // SAFETY: the block stays allocated while any reference exists, and
        // this is one.
        unsafe { self.block.as_ref() }
    }

    /// The message's data.
    pub fn data(&self) -> *mut c_void {
        self.block().header.data
    }

    /// Gives this reference to C as a `mailbox_message *`.
    pub fn into_raw(self) -> *mut mailbox_message {
        let raw = self.block.as_ptr().cast::<mailbox_message>();
        std::mem::forget(self);
        raw
    }

    /// Takes back the reference a `mailbox_message *` stands for.
    ///
    /// # Safety
    /// `raw` is non-NULL, came from [`into_raw`](Self::into_raw), and the
    /// caller owns the reference it stands for, which this consumes.
    pub unsafe fn from_raw(raw: *mut mailbox_message) -> Self {
        ForeignMessage {
            // SAFETY: non-NULL per this function's contract.
            block: unsafe { NonNull::new_unchecked(raw.cast::<MessageBlock>()) },
        }
    }

    /// Looks at the message behind a `mailbox_message *` without taking
    /// the caller's reference; `None` for NULL.
    ///
    /// # Safety
    /// A non-NULL `raw` came from [`into_raw`](Self::into_raw) and the
    /// caller holds the reference it stands for while the result is in use.
    pub unsafe fn borrow_raw(raw: *mut mailbox_message) -> Option<ManuallyDrop<Self>> {
        NonNull::new(raw.cast::<MessageBlock>())
            .map(|block| ManuallyDrop::new(ForeignMessage { block }))
    }

    /// Another reference, unless `limit` exist already.
    fn share_within(&self, limit: usize) -> Option<Self> {
        // Lazily: a `ForeignMessage` made and dropped on refusal would give
        // back a reference it never took.
        self.block()
            .refs
            .acquire(limit)
            .then(|| ForeignMessage { block: self.block })
    }

    /// How many references exist now.
    #[cfg(test)]
    pub(crate) fn ref_count(&self) -> usize {
        self.block().refs.get()
    }
}

impl Drop for ForeignMessage {
    #[inline]
    fn drop(&mut self) {
        if self.block().refs.release() {
            // SAFETY: this was the last reference (and `release` ordered
            // every other holder's use of the block before this point):
            // nobody else can reach the block, which `new` or `make`
            // allocated as a `Box`.
            unsafe { free(self.block) }
        }
    }
}

/// Frees a message block whose last reference went, and releases its data.
///
/// # Safety
/// `block` was allocated by `try_box` as a `MessageBlock` and nobody can
/// reach it any more.
#[inline]
unsafe fn free(block: NonNull<MessageBlock>) {
    // SAFETY: per this function's contract, the block is ours alone.
    let MessageBlock {
        header, destroy, ..
    } = unsafe { block.as_ptr().read() };
    match destroy {
        // SAFETY: as above; read out, the block holds nothing to drop.
        None => drop(unsafe { Box::from_raw(block.as_ptr().cast::<MaybeUninit<MessageBlock>>()) }),
        // SAFETY: as above.
        Some(destroy) => unsafe { release(block, header.data, destroy) },
    }
}

#[cfg(not(test))]
fn ref_limit() -> usize {
    ForeignMessage::MAX_REFS
}

#[cfg(test)]
thread_local! {
    /// The reference limit, lowered by the tests that reach it.
    pub(crate) static REF_LIMIT: Cell<usize> = const { Cell::new(ForeignMessage::MAX_REFS) };
}

#[cfg(test)]
fn ref_limit() -> usize {
    REF_LIMIT.get()
}

impl Shared for ForeignMessage {
    fn share(&self) -> Option<Self> {
        self.share_within(ref_limit())
    }
}

/// Releases the data of a message made by [`ForeignMessage::make_boxed`].
/// Called as a C function (possibly from C, through
/// `mailbox_message_unref`), so a panic in `E`'s `Drop` is contained here
/// rather than aborting.
unsafe extern "C" fn drop_box<E>(data: *mut c_void) {
    // SAFETY: `make_boxed` made `data` from a `Box<MaybeUninit<E>>` holding
    // an `E` and set this as its release, which the message calls once.
    let event = unsafe { Box::from_raw(data.cast::<E>()) };
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(event))).is_err() {
        log_error!("an event's Drop panicked; the panic was contained");
    }
}

// --- when release functions run ------------------------------------------

thread_local! {
    /// How many publishes this thread is inside (a generator may publish in
    /// turn). Const-initialised and without a destructor: no allocation.
    static PUBLISHING: Cell<usize> = const { Cell::new(0) };
    /// Releases deferred until the outermost publish returns, newest first.
    static DEFERRED: Cell<*mut Deferred> = const { Cell::new(ptr::null_mut()) };
}

/// A release waiting for the outermost publish of its thread: written over
/// the dying message's own block, so that deferring allocates nothing.
#[repr(C)]
struct Deferred {
    data: *mut c_void,
    destroy: unsafe extern "C" fn(*mut c_void),
    next: *mut Deferred,
}

// A block is reused as a node and freed with the block's layout.
const _: () = assert!(
    std::mem::size_of::<Deferred>() == std::mem::size_of::<MessageBlock>()
        && std::mem::align_of::<Deferred>() == std::mem::align_of::<MessageBlock>()
);

/// Runs `publish` as a publish of this thread: a message released meanwhile
/// (by it, by a generator, by whatever a generator calls) has its release
/// function run once the outermost publish of the thread returns, when the
/// library holds no lock. A release function may then call anything,
/// unregistering the topic included.
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
/// As `free`; `block` was read out already (it is only memory now), and
/// `data` was handed over with `destroy` as its release.
#[inline(never)]
unsafe fn release(
    block: NonNull<MessageBlock>,
    data: *mut c_void,
    destroy: unsafe extern "C" fn(*mut c_void),
) {
    let node = block.cast::<Deferred>();
    if PUBLISHING.get() > 0 {
        let next = DEFERRED.get();
        // SAFETY: the block is ours, of the node's size and alignment.
        unsafe {
            node.as_ptr().write(Deferred {
                data,
                destroy,
                next,
            })
        };
        DEFERRED.set(node.as_ptr());
        return;
    }
    // SAFETY: the block is ours; freed with the layout it was made with.
    drop(unsafe { Box::from_raw(block.as_ptr().cast::<MaybeUninit<MessageBlock>>()) });
    // SAFETY: the message's last reference went, once: `data` is released
    // exactly once, with the function it was handed over with.
    unsafe { destroy(data) }
}

fn run_deferred() {
    loop {
        let head = DEFERRED.get();
        if head.is_null() {
            return;
        }
        // SAFETY: every node on the list is a dead message's block written
        // by `release`, taken off the list exactly once, here.
        let Deferred {
            data,
            destroy,
            next,
        } = unsafe { head.read() };
        DEFERRED.set(next);
        // SAFETY: as in `release`: the node was the block's last use.
        drop(unsafe { Box::from_raw(head.cast::<MaybeUninit<MessageBlock>>()) });
        // SAFETY: as in `release`; the node was its only record.
        unsafe { destroy(data) }
    }
}

// --- the exports ---------------------------------------------------------

/// Creates a message around `data` with one reference. `destroy` (may be
/// NULL) is called on `data` exactly once, when the last reference goes.
///
/// Returns the message (the caller owns its reference), or NULL when memory
/// runs out (`data` then stays the caller's: `destroy` is not called).
#[no_mangle]
pub extern "C" fn mailbox_message_create(
    data: *mut c_void,
    destroy: message_release_t,
) -> *mut mailbox_message {
    call("mailbox_message_create", ptr::null_mut(), || {
        Ok(ForeignMessage::new(data, destroy)?.into_raw())
    })
}

/// Adds a reference (atomically; no lock; allocates nothing).
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
        let message = unsafe { ForeignMessage::borrow_raw(p) }.ok_or(Failure::Null(Arg::p))?;
        let extra = message.share().ok_or(Failure::ReferenceLimit)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static RELEASED: AtomicUsize = AtomicUsize::new(0);

    unsafe extern "C" fn count_release(data: *mut c_void) {
        assert_eq!(data as usize, 0x1234);
        RELEASED.fetch_add(1, Ordering::SeqCst);
    }

    #[test]
    fn last_reference_releases_once_across_threads() {
        let before = RELEASED.load(Ordering::SeqCst);
        let message = ForeignMessage::new(0x1234 as *mut c_void, Some(count_release)).unwrap();
        assert_eq!(message.data() as usize, 0x1234);
        let copies: Vec<_> = (0..8).map(|_| message.share().unwrap()).collect();
        assert_eq!(message.ref_count(), 9);
        let threads: Vec<_> = copies
            .into_iter()
            .map(|copy| {
                std::thread::spawn(move || {
                    let more: Vec<_> = (0..100).map(|_| copy.share().unwrap()).collect();
                    drop(more);
                    drop(copy);
                })
            })
            .collect();
        drop(message);
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(RELEASED.load(Ordering::SeqCst), before + 1);
    }

    #[test]
    fn share_is_refused_at_the_limit_and_the_count_restored() {
        let message = ForeignMessage::new(ptr::null_mut(), None).unwrap();
        let second = message.share_within(2).unwrap();
        assert!(message.share_within(2).is_none());
        assert_eq!(message.ref_count(), 2);
        drop(second);
        assert!(message.share_within(2).is_some());
    }

    #[test]
    fn a_panicking_drop_of_a_rust_event_is_contained() {
        struct PanicsOnDrop;
        impl Drop for PanicsOnDrop {
            fn drop(&mut self) {
                panic!("drop of an event");
            }
        }
        let message = ForeignMessage::make_boxed(|| Some(PanicsOnDrop)).unwrap();
        drop(message); // would abort the process without the containment
        let after = ForeignMessage::make_boxed(|| Some(1u32)).unwrap().unwrap();
        assert_eq!(after.ref_count(), 1);
    }

    #[test]
    fn nothing_made_means_nothing_released() {
        let before = RELEASED.load(Ordering::SeqCst);
        let none = ForeignMessage::make(ptr::null_mut, Some(count_release)).unwrap();
        assert!(none.is_none());
        assert!(ForeignMessage::make_boxed(|| None::<String>)
            .unwrap()
            .is_none());
        assert_eq!(RELEASED.load(Ordering::SeqCst), before);
    }

    #[test]
    fn releases_inside_a_publish_wait_for_the_outermost_one() {
        let before = RELEASED.load(Ordering::SeqCst);
        publishing(|| {
            publishing(|| {
                drop(ForeignMessage::new(0x1234 as *mut c_void, Some(count_release)).unwrap());
            });
            assert_eq!(RELEASED.load(Ordering::SeqCst), before, "deferred");
        });
        assert_eq!(RELEASED.load(Ordering::SeqCst), before + 1);
    }

    #[test]
    fn raw_round_trip_keeps_the_reference() {
        let message = ForeignMessage::new(0x10 as *mut c_void, None).unwrap();
        let raw = message.into_raw();
        // SAFETY: `raw` came from `into_raw` and its reference is ours.
        let borrowed = unsafe { ForeignMessage::borrow_raw(raw) }.unwrap();
        assert_eq!(borrowed.data() as usize, 0x10);
        // SAFETY: as above; C reads `data` at the pointer itself.
        assert_eq!(unsafe { (*raw).data } as usize, 0x10);
        assert_eq!(borrowed.ref_count(), 1);
        // SAFETY: as above; the reference is consumed here.
        drop(unsafe { ForeignMessage::from_raw(raw) });
    }
}
