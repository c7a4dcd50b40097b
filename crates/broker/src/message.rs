//! The message every subscriber receives, C or Rust: a block the library
//! allocates by hand around the daemon's `data`, with its reference count
//! and the function that releases `data` when the last reference goes. C
//! sees a pointer to the block as a `mailbox_message *` and reads its first
//! field, `data`.

use std::alloc::{dealloc, Layout};
use std::mem::{ManuallyDrop, MaybeUninit};
use std::os::raw::c_void;
use std::ptr::{self, NonNull};

use isula_mailbox_core::error::Error;
use isula_mailbox_core::refcount::RefCount;
use isula_mailbox_core::shared::Shared;
use isula_mailbox_core::unwind::catch;

use crate::alloc::try_box;
use crate::releases;
pub use crate::releases::Release;

/// The C struct a message block starts with.
///
/// # Safety
/// Implement it only for a `#[repr(C)]` struct whose only field is the
/// `*mut c_void` data pointer: a pointer to a block is then a valid pointer
/// to it.
pub unsafe trait MessageView {}

/// The block behind a `mailbox_message *`: `#[repr(C)]`, with the data
/// first. 24 bytes.
#[repr(C)]
struct MessageBlock {
    data: *mut c_void,
    refs: RefCount,
    release: Option<Release>,
}

// A dying block is the deferred release's list node: same size, same
// alignment, freed with the same layout.
const _: () = {
    let block = Layout::new::<MessageBlock>();
    assert!(block.size() == releases::NODE.size() && block.align() == releases::NODE.align());
};

/// One reference to a message.
///
/// The one message type of the library, on the one reference count made
/// for it ([`RefCount`]): a block allocated by hand can be allocated
/// fallibly (std's `Arc` and `Box` have no stable fallible constructor),
/// needs no weak count, and costs one atomic per reference taken or given
/// back, with the limit the C API has (`INT_MAX`) checked in the same
/// atomic.
pub struct Message {
    block: NonNull<MessageBlock>,
}

// SAFETY: a reference only touches the block's atomic count and, once, the
// release function. The library never reads through `data`: it only hands
// it to `release`, once, when the last reference goes, from whichever
// thread that is. Handing messages from publishing to popping threads is
// what the library is for (the original did the same).
unsafe impl Send for Message {}
// SAFETY: `&Message` only reads the block's fields and counts
// atomically; see `Send`.
unsafe impl Sync for Message {}

impl Message {
    /// The most references one message may have, as the original's `INT_MAX`.
    pub const MAX_REFS: usize = i32::MAX as usize;

    /// A message around `data`, with one reference; `release` (if any)
    /// releases `data` when the last reference goes. When memory runs out,
    /// `data` stays its owner's (`release` is not called).
    ///
    /// # Safety
    /// `release` may be called with `data`, once, from any thread.
    pub unsafe fn new(data: *mut c_void, release: Option<Release>) -> Result<Self, Error> {
        let block = try_box(MessageBlock {
            data,
            refs: RefCount::new(),
            release,
        })?;
        Ok(Message {
            block: NonNull::from(Box::leak(block)),
        })
    }

    /// A message around what `make` returns, released by `release`. The
    /// block is allocated first, so that once the data exists nothing can
    /// fail: `Err` means `make` was not called (there is nothing to
    /// release), `Ok(None)` that it returned NULL. The block becomes a
    /// message only once `make` returned: if `make` unwinds, the bare
    /// allocation is freed and `release` is never called.
    ///
    /// # Safety
    /// `release` may be called, once, from any thread, with what `make`
    /// returns.
    pub unsafe fn make(
        make: impl FnOnce() -> *mut c_void,
        release: Option<Release>,
    ) -> Result<Option<Self>, Error> {
        // Uninitialised memory has no `Drop`: dropped (NULL, or an unwind
        // out of `make`), the box only gives its allocation back.
        let mut block = try_box(MaybeUninit::<MessageBlock>::uninit())?;
        let data = make();
        if data.is_null() {
            return Ok(None);
        }
        block.write(MessageBlock {
            data,
            refs: RefCount::new(),
            release,
        });
        // SAFETY: written just above.
        let block = unsafe { block.assume_init() };
        Ok(Some(Message {
            block: NonNull::from(Box::leak(block)),
        }))
    }

    /// A message whose data is what `make` returns, boxed, so that C
    /// subscribers read `msg->data` as a pointer to `E`. Everything is
    /// allocated before `make` runs, as in [`make`](Self::make).
    pub fn make_boxed<E: Send + Sync + 'static>(
        make: impl FnOnce() -> Option<E>,
    ) -> Result<Option<Self>, Error> {
        let slot = try_box(MaybeUninit::<E>::uninit())?;
        let boxed = move || match make() {
            Some(event) => {
                let mut slot = slot;
                slot.write(event);
                Box::into_raw(slot).cast()
            }
            None => ptr::null_mut(),
        };
        // SAFETY: `drop_box::<E>` releases exactly what `boxed` makes, a
        // boxed `E` that is `Send`.
        unsafe { Self::make(boxed, Some(drop_box::<E>)) }
    }

    fn block(&self) -> &MessageBlock {
        // SAFETY: the block stays allocated while any reference exists, and
        // this is one.
        unsafe { self.block.as_ref() }
    }

    /// The message's data.
    pub fn data(&self) -> *mut c_void {
        self.block().data
    }

    /// Gives this reference to C as a pointer to the block.
    pub fn into_raw<C: MessageView>(self) -> *mut C {
        ManuallyDrop::new(self).block.as_ptr().cast()
    }

    /// Takes back the reference a pointer from [`into_raw`](Self::into_raw)
    /// stands for.
    ///
    /// # Safety
    /// `raw` is non-NULL, came from `into_raw`, and the caller owns the
    /// reference it stands for, which this consumes.
    pub unsafe fn from_raw<C: MessageView>(raw: *mut C) -> Self {
        Message {
            // SAFETY: non-NULL per this function's contract.
            block: unsafe { NonNull::new_unchecked(raw.cast()) },
        }
    }

    /// Looks at the message behind a pointer from `into_raw` without taking
    /// the caller's reference; `None` for NULL.
    ///
    /// # Safety
    /// A non-NULL `raw` came from `into_raw` and the caller holds the
    /// reference it stands for while the result is in use.
    pub unsafe fn borrow_raw<C: MessageView>(raw: *mut C) -> Option<ManuallyDrop<Self>> {
        NonNull::new(raw.cast()).map(|block| ManuallyDrop::new(Message { block }))
    }

    /// Another reference, unless `limit` exist already.
    fn share_within(&self, limit: usize) -> Option<Self> {
        // Lazily: a `Message` made and dropped on refusal would give
        // back a reference it never took.
        self.block()
            .refs
            .acquire(limit)
            .then(|| Message { block: self.block })
    }

    /// How many references exist now (a relaxed read): for tests.
    #[doc(hidden)]
    pub fn ref_count_for_test(&self) -> usize {
        self.block().refs.get_for_test()
    }

    /// Counts `extra` more holders, as if they existed: the tests reach
    /// the limit this way (`INT_MAX` real references would take minutes).
    #[doc(hidden)]
    pub fn add_holders_for_test(&self, extra: usize) {
        self.block().refs.add_for_test(extra);
    }

    /// Takes back what [`add_holders_for_test`](Self::add_holders_for_test)
    /// added.
    #[doc(hidden)]
    pub fn remove_holders_for_test(&self, extra: usize) {
        self.block().refs.remove_for_test(extra);
    }
}

impl Shared for Message {
    fn share(&self) -> Option<Self> {
        self.share_within(Self::MAX_REFS)
    }
}

impl Drop for Message {
    #[inline]
    fn drop(&mut self) {
        if self.block().refs.release() {
            // SAFETY: this was the last reference (and `release` ordered
            // every other holder's use of the block before this point):
            // nobody else can reach the block, which `new` allocated.
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
    let MessageBlock { data, release, .. } = unsafe { block.as_ptr().read() };
    match release {
        // SAFETY: read out, the block is memory of `MessageBlock`'s layout
        // that nothing refers to.
        None => unsafe { dealloc(block.as_ptr().cast(), Layout::new::<MessageBlock>()) },
        // SAFETY: as above; `release` was given with `data` when the message
        // was made, and the last reference goes once.
        Some(release) => unsafe { releases::release(block.cast(), data, release) },
    }
}

/// Releases the data of a message made by [`Message::make_boxed`].
/// Called as a C function (possibly from C, through
/// `mailbox_message_unref`), so a panic in `E`'s `Drop` is contained here
/// rather than aborting.
unsafe extern "C" fn drop_box<E>(data: *mut c_void) {
    // SAFETY: `make_boxed` made `data` from a `Box<MaybeUninit<E>>` holding
    // an `E` and set this as its release, which the message calls once.
    let event = unsafe { Box::from_raw(data.cast::<E>()) };
    if catch(|| drop(event)).is_none() {
        log_error!("an event's Drop panicked; the panic was contained");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::releases::publishing;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static RELEASED: AtomicUsize = AtomicUsize::new(0);

    unsafe extern "C" fn count_release(data: *mut c_void) {
        assert_eq!(data as usize, 0x1234);
        RELEASED.fetch_add(1, Ordering::SeqCst);
    }

    /// A C struct a block is seen as.
    #[repr(C)]
    struct View {
        data: *mut c_void,
    }

    // SAFETY: `#[repr(C)]`, the data pointer its only field.
    unsafe impl MessageView for View {}

    #[test]
    fn last_reference_releases_once_across_threads() {
        let before = RELEASED.load(Ordering::SeqCst);
        // SAFETY: `count_release` takes any pointer, from any thread.
        let message =
            unsafe { Message::new(ptr::without_provenance_mut(0x1234), Some(count_release)) }
                .unwrap();
        assert_eq!(message.data() as usize, 0x1234);
        let copies: Vec<_> = (0..8).map(|_| message.share().unwrap()).collect();
        assert_eq!(message.ref_count_for_test(), 9);
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
        let message = Message::make_boxed(|| Some(0u8)).unwrap().unwrap();
        let second = message.share_within(2).unwrap();
        assert!(message.share_within(2).is_none());
        assert_eq!(message.ref_count_for_test(), 2);
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
        let message = Message::make_boxed(|| Some(PanicsOnDrop)).unwrap();
        drop(message); // would abort the process without the containment
        let after = Message::make_boxed(|| Some(1u32)).unwrap().unwrap();
        assert_eq!(after.ref_count_for_test(), 1);
    }

    #[test]
    fn nothing_made_means_nothing_released() {
        let before = RELEASED.load(Ordering::SeqCst);
        // SAFETY: `count_release` takes any pointer; it is never given one.
        let none = unsafe { Message::make(ptr::null_mut, Some(count_release)) }.unwrap();
        assert!(none.is_none());
        assert!(Message::make_boxed(|| None::<String>).unwrap().is_none());
        assert_eq!(RELEASED.load(Ordering::SeqCst), before);
    }

    #[test]
    fn releases_inside_a_publish_wait_for_the_outermost_one() {
        let before = RELEASED.load(Ordering::SeqCst);
        publishing(|| {
            publishing(|| {
                // SAFETY: `count_release` takes this pointer, once.
                let message = unsafe {
                    Message::new(ptr::without_provenance_mut(0x1234), Some(count_release))
                };
                drop(message.unwrap());
            });
            assert_eq!(RELEASED.load(Ordering::SeqCst), before, "deferred");
        });
        assert_eq!(RELEASED.load(Ordering::SeqCst), before + 1);
    }

    #[test]
    fn raw_round_trip_keeps_the_reference() {
        let message = Message::make_boxed(|| Some(0x10u64)).unwrap().unwrap();
        let data = message.data();
        let raw = message.into_raw::<View>();
        // SAFETY: `raw` came from `into_raw` and its reference is ours.
        let borrowed = unsafe { Message::borrow_raw(raw) }.unwrap();
        assert_eq!(borrowed.data(), data);
        // SAFETY: as above; C reads `data` at the pointer itself.
        assert_eq!(unsafe { (*raw).data }, data);
        assert_eq!(borrowed.ref_count_for_test(), 1);
        // SAFETY: as above; the reference is consumed here.
        drop(unsafe { Message::from_raw(raw) });
    }
}
