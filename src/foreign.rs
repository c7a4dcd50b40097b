//! What the library holds on the daemon's behalf: `void *` data with the C
//! function that releases it, and the C generator of a topic. The only
//! place where C pointers become values the safe core moves between threads.

use std::ffi::CString;
use std::os::raw::{c_char, c_void};

use crate::core::message::Shared;
use crate::core::refcount::RefCount;
use crate::ffi::isula_mailbox::mailbox_log_level;
use crate::ffi::mailbox_message::mailbox_message;
use std::mem::ManuallyDrop;
use std::ptr::NonNull;

/// `void (*)(void *)`: how the daemon releases data it handed over.
pub type ReleaseFn = unsafe extern "C" fn(*mut c_void);

/// `void *(*)(void *context, void *data)`: a topic's generator.
pub type GeneratorFn = unsafe extern "C" fn(*mut c_void, *mut c_void) -> *mut c_void;

/// The block behind a `mailbox_message *`: `#[repr(C)]` with the public
/// header first, so a pointer to the block is a valid `mailbox_message *`
/// whose `data` the daemon reads directly. 24 bytes: the reference count
/// needs no weak count, unlike `Arc`'s.
#[repr(C)]
struct MessageBlock {
    header: mailbox_message,
    refs: RefCount,
    destroy: Option<ReleaseFn>,
}

/// One reference to a message from C: the daemon's `data` and the function
/// that releases it when the last reference goes.
pub struct ForeignMessage {
    block: NonNull<MessageBlock>,
}

// SAFETY: a reference only touches the block's atomic count and, once, the
// release function. Handing messages from publishing threads to popping
// threads is what the C API is for (the original did the same), and the
// library never reads through `data`: it only passes it to `destroy`.
unsafe impl Send for ForeignMessage {}
// SAFETY: `&ForeignMessage` only reads the block's fields and counts
// atomically; see `Send`.
unsafe impl Sync for ForeignMessage {}

impl ForeignMessage {
    /// The most references one message may have, as the original's `INT_MAX`.
    pub const MAX_REFS: usize = i32::MAX as usize;

    /// A message around `data`, with one reference; `destroy` (if any)
    /// releases `data` when the last reference goes.
    pub fn new(data: *mut c_void, destroy: Option<ReleaseFn>) -> Self {
        let block = Box::new(MessageBlock {
            header: mailbox_message { data },
            refs: RefCount::new(),
            destroy,
        });
        ForeignMessage {
            block: NonNull::from(Box::leak(block)),
        }
    }

    fn block(&self) -> &MessageBlock {
        // SAFETY: the block stays allocated while any reference exists, and
        // this is one.
        unsafe { self.block.as_ref() }
    }

    /// A message whose data is `value`, boxed: released by dropping it.
    /// C subscribers read `msg->data` as a pointer to `E`.
    pub fn boxed<E: Send + Sync + 'static>(value: E) -> Self {
        ForeignMessage::new(Box::into_raw(Box::new(value)).cast(), Some(drop_box::<E>))
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

    /// How many references exist now.
    #[cfg(test)]
    pub fn ref_count(&self) -> usize {
        self.block().refs.get()
    }

    /// Pretends to `refs` references (tests of the limit).
    #[cfg(test)]
    pub fn set_ref_count(&self, refs: usize) {
        self.block().refs.set(refs)
    }
}

impl ForeignMessage {
    fn share_within(&self, limit: usize) -> Option<Self> {
        // Lazily: a `ForeignMessage` made and dropped on refusal would give
        // back a reference it never took.
        self.block()
            .refs
            .acquire(limit)
            .then(|| ForeignMessage { block: self.block })
    }
}

impl Shared for ForeignMessage {
    fn share(&self) -> Option<Self> {
        self.share_within(Self::MAX_REFS)
    }
}

impl Drop for ForeignMessage {
    fn drop(&mut self) {
        if !self.block().refs.release() {
            return;
        }
        // SAFETY: this was the last reference (and `release` ordered every
        // other holder's use of the block before this point): nobody else
        // can reach the block, which `new` allocated with `Box`.
        let block = unsafe { Box::from_raw(self.block.as_ptr()) };
        if let Some(destroy) = block.destroy {
            // SAFETY: `data` was handed over with `destroy` as its release;
            // the last reference goes once, so it is released exactly once.
            unsafe { destroy(block.header.data) }
        }
    }
}

/// Releases the data of a message made by [`ForeignMessage::boxed`]. Called
/// as a C function (possibly from C, through `mailbox_message_unref`), so a
/// panic in `E`'s `Drop` is contained here rather than aborting.
unsafe extern "C" fn drop_box<E>(data: *mut c_void) {
    // SAFETY: `boxed` made `data` with `Box::<E>::into_raw` and set this as
    // its release, which the message calls once.
    let event = unsafe { Box::from_raw(data.cast::<E>()) };
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(event))).is_err() {
        log_error!("an event's Drop panicked; the panic was contained");
    }
}

/// What a publisher passes to `mailbox_publish`. The library never reads
/// through it: it is handed to the generator in the publishing thread.
#[derive(Debug, Clone, Copy)]
pub struct RawInput(pub *mut c_void);

impl RawInput {
    /// What a Rust publisher passes.
    pub fn of<I>(input: &I) -> Self {
        RawInput((input as *const I).cast_mut().cast())
    }

    /// The input as the topic's input type, `None` for NULL.
    ///
    /// # Safety
    /// A non-NULL pointer points to an `I` valid for `'a`: what every
    /// publisher of the topic promises (C ones by the topic's convention,
    /// Rust ones by [`RawInput::of`] with the topic's type).
    pub unsafe fn get<'a, I>(self) -> Option<&'a I> {
        // SAFETY: per this function's contract.
        unsafe { self.0.cast::<I>().as_ref() }
    }
}

/// A topic's C generator with its context and release function.
pub struct ForeignGenerator {
    generator: GeneratorFn,
    context: *mut c_void,
    release: Option<ReleaseFn>,
}

// SAFETY: the generator is called from whichever thread publishes, with the
// context registered with it; the daemon registers it for exactly that (the
// original calls it the same way). The library never reads through `context`.
unsafe impl Send for ForeignGenerator {}
// SAFETY: see `Send`; calls only read the three fields.
unsafe impl Sync for ForeignGenerator {}

impl ForeignGenerator {
    pub fn new(generator: GeneratorFn, context: *mut c_void, release: Option<ReleaseFn>) -> Self {
        ForeignGenerator {
            generator,
            context,
            release,
        }
    }

    /// Calls the generator; a non-NULL result becomes a message that the
    /// topic's release function will release.
    pub fn generate(&self, input: RawInput) -> Option<ForeignMessage> {
        // SAFETY: `generator` and `context` were registered together by the
        // daemon, which promises the call is valid from any thread.
        let data = unsafe { (self.generator)(self.context, input.0) };
        (!data.is_null()).then(|| ForeignMessage::new(data, self.release))
    }
}

/// An item of a C `blocking_queue`: the library only stores it and hands it
/// back (or to the queue's release function).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawItem(pub *mut c_void);

// SAFETY: the queue moves the pointer between the pushing and the popping
// thread without reading through it; that hand-over is the queue's purpose.
unsafe impl Send for RawItem {}

/// `void (*)(mailbox_log_level, const char *, void *)`.
pub type LogFn = unsafe extern "C" fn(mailbox_log_level, *const c_char, *mut c_void);

/// The daemon's log callback with its `user` pointer.
pub struct ForeignLogSink {
    callback: LogFn,
    user: *mut c_void,
}

// SAFETY: the daemon sets the callback to receive the library's records
// from whichever thread logs them; the library never reads through `user`.
unsafe impl Send for ForeignLogSink {}
// SAFETY: see `Send`; calls only read the two fields.
unsafe impl Sync for ForeignLogSink {}

impl ForeignLogSink {
    pub fn new(callback: LogFn, user: *mut c_void) -> Self {
        ForeignLogSink { callback, user }
    }

    /// Hands one record to the callback as a NUL-terminated line.
    pub fn emit(&self, level: mailbox_log_level, message: &std::fmt::Arguments<'_>) {
        let text = message.to_string().replace('\0', "\\0");
        let text = CString::new(text).unwrap_or_default();
        // SAFETY: the daemon set `callback` with `user` to be called with a
        // level and a string valid for the duration of the call.
        unsafe { (self.callback)(level, text.as_ptr(), self.user) }
    }
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
        let message = ForeignMessage::new(0x1234 as *mut c_void, Some(count_release));
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
        let message = ForeignMessage::new(std::ptr::null_mut(), None);
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
        let message = ForeignMessage::boxed(PanicsOnDrop);
        drop(message); // would abort the process without the containment
        let after = ForeignMessage::boxed(1u32);
        assert_eq!(after.ref_count(), 1);
    }

    #[test]
    fn raw_round_trip_keeps_the_reference() {
        let message = ForeignMessage::new(0x10 as *mut c_void, None);
        let raw = message.into_raw();
        // SAFETY: `raw` came from `into_raw` and its reference is ours.
        let borrowed = unsafe { ForeignMessage::borrow_raw(raw) }.unwrap();
        assert_eq!(borrowed.data() as usize, 0x10);
        assert_eq!(borrowed.ref_count(), 1);
        // SAFETY: as above; the reference is consumed here.
        drop(unsafe { ForeignMessage::from_raw(raw) });
    }
}
