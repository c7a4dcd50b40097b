//! What the library holds on the daemon's behalf: `void *` data with the C
//! function that releases it, and the C generator of a topic. The only
//! place where C pointers become values the safe core moves between threads.

use std::ffi::CString;
use std::os::raw::{c_char, c_void};

use crate::core::message::Message;
use crate::ffi::isula_mailbox::mailbox_log_level;
use crate::ffi::mailbox_message::mailbox_message;

/// `void (*)(void *)`: how the daemon releases data it handed over.
pub type ReleaseFn = unsafe extern "C" fn(*mut c_void);

/// `void *(*)(void *context, void *data)`: a topic's generator.
pub type GeneratorFn = unsafe extern "C" fn(*mut c_void, *mut c_void) -> *mut c_void;

/// The payload of a message from C: `data` and the function that releases
/// it when the message's last reference goes.
///
/// `#[repr(C)]` with the public header first: a pointer to a payload is a
/// valid `mailbox_message *`, whose `data` the daemon reads directly.
#[repr(C)]
pub struct ForeignPayload {
    header: mailbox_message,
    destroy: Option<ReleaseFn>,
}

// SAFETY: the payload is only `data` and a function pointer. Handing
// messages from publishing threads to popping threads is what the C API is
// for (the original did the same), and the library itself never reads
// through `data`: it only passes it to `destroy`, once, from `Drop`.
unsafe impl Send for ForeignPayload {}
// SAFETY: shared references only read the two fields; see `Send`.
unsafe impl Sync for ForeignPayload {}

impl ForeignPayload {
    /// Takes `data`, to be released by `destroy` (if any) when dropped.
    pub fn new(data: *mut c_void, destroy: Option<ReleaseFn>) -> Self {
        ForeignPayload {
            header: mailbox_message { data },
            destroy,
        }
    }
}

impl Drop for ForeignPayload {
    fn drop(&mut self) {
        if let Some(destroy) = self.destroy {
            // SAFETY: `data` was handed over with `destroy` as its release,
            // and a payload is dropped once (after its message's last
            // reference), so `data` is released exactly once.
            unsafe { destroy(self.header.data) }
        }
    }
}

/// A message as C sees it.
pub type ForeignMessage = Message<ForeignPayload>;

/// What a publisher passes to `mailbox_publish`. The library never reads
/// through it: it is handed to the generator in the publishing thread.
#[derive(Debug, Clone, Copy)]
pub struct RawInput(pub *mut c_void);

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

    /// Calls the generator; a non-NULL result becomes a payload that the
    /// topic's release function will release.
    pub fn generate(&self, input: RawInput) -> Option<ForeignPayload> {
        // SAFETY: `generator` and `context` were registered together by the
        // daemon, which promises the call is valid from any thread.
        let data = unsafe { (self.generator)(self.context, input.0) };
        (!data.is_null()).then(|| ForeignPayload::new(data, self.release))
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
