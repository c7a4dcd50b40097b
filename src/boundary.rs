//! The C ABI: the `extern "C"` functions of the original headers and of
//! `isula_mailbox.h`, one module per header, each owning the C types of its
//! header and their conversions. Not part of the Rust API: only the C
//! symbols leave it.
//!
//! Every export has the same shape: check and convert its pointers, call
//! the core or the mailbox, map the result; [`ffi_body!`] wraps each body,
//! containing panics and logging failures, one line each, under the
//! export's own name.

#![allow(non_camel_case_types)]

pub(crate) mod blocking_queue;
pub(crate) mod isula_mailbox;
pub(crate) mod mailbox;
pub(crate) mod mailbox_message;
pub(crate) mod message_queue;
pub(crate) mod message_subscriber;

mod handle;
#[cfg(test)]
mod tests;

use std::any::Any;
use std::fmt;
use std::os::raw::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use log::Level;

use crate::core::oom::OutOfMemory;
use crate::core::topics::TopicError;
use crate::core::unwind::catch;

/// Why an export returns its failure value, logged as
/// `<function>: <failure>`. Eight bytes and no heap: an export's `Result`
/// fits in two registers (its success path needs no stack frame), and a
/// failure can be reported when memory has run out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// A NULL argument.
    Null(Arg),
    /// An allocation failed; nothing changed.
    OutOfMemory,
    /// A message already has `INT_MAX` references.
    ReferenceLimit,
    /// The subscriber is shut down.
    SubscriberShutDown,
    /// The message queue is shut down.
    QueueShutDown,
    /// A `blocking_queue` used by a release its destroy runs.
    QueueDestroyed,
    /// Unsubscribing a subscriber of another queue (ignored).
    NotSubscribedHere,
    /// A topic call failed.
    Topic(TopicError, c_int),
    /// Unregistering a topic that is not registered: the daemon does it at
    /// every shutdown when pod events are off.
    UnregisterUnregistered(c_int),
    /// Unsubscribing from a topic unregistered meanwhile: a stream ending
    /// during the daemon's shutdown does it (unregistering detached it).
    UnsubscribeUnregistered(c_int),
    /// A log level outside `mailbox_log_level`.
    InvalidLevel(c_int),
}

/// The arguments that may be NULL, named as in the headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arg {
    queue,
    data,
    p,
    sub,
    msg,
    mq,
    generator,
    out,
}

impl Failure {
    fn level(self) -> Level {
        match self {
            Failure::NotSubscribedHere | Failure::Topic(TopicError::NotSubscribed, _) => {
                Level::Warn
            }
            Failure::UnregisterUnregistered(_) | Failure::UnsubscribeUnregistered(_) => Level::Info,
            _ => Level::Error,
        }
    }
}

impl From<OutOfMemory> for Failure {
    fn from(_: OutOfMemory) -> Self {
        Failure::OutOfMemory
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Failure::Null(arg) => write!(f, "{arg:?} is NULL"),
            Failure::OutOfMemory => f.write_str("out of memory"),
            Failure::ReferenceLimit => f.write_str("reference count overflow"),
            Failure::SubscriberShutDown => f.write_str("subscriber is shut down"),
            Failure::QueueShutDown => f.write_str("message queue is shut down"),
            Failure::QueueDestroyed => f.write_str("queue is being destroyed"),
            Failure::NotSubscribedHere => f.write_str("subscriber is not subscribed to this queue"),
            Failure::Topic(error, topic) => match error {
                TopicError::Invalid => write!(f, "invalid topic {topic}"),
                TopicError::NotRegistered => write!(f, "topic {topic} is not registered"),
                TopicError::AlreadyRegistered => {
                    write!(f, "topic {topic} is already registered")
                }
                TopicError::Sync => write!(f, "topic {topic} is synchronous"),
                TopicError::NotSubscribed => {
                    write!(f, "subscriber is not subscribed to topic {topic}")
                }
                TopicError::EventType => {
                    write!(f, "topic {topic} makes events of another type")
                }
                TopicError::OutOfMemory => f.write_str("out of memory"),
                TopicError::GeneratorPanicked => write!(
                    f,
                    "the generator of topic {topic} panicked; the event reached no subscriber"
                ),
            },
            Failure::UnregisterUnregistered(topic) => write!(f, "topic {topic} was not registered"),
            Failure::UnsubscribeUnregistered(topic) => {
                write!(f, "topic {topic} is not registered any more")
            }
            Failure::InvalidLevel(level) => write!(f, "invalid max_level {level}"),
        }
    }
}

/// The body of an export: `ffi_body!(failure, |export| { ... })`, where
/// `failure` is the value the contract gives the export for bad input and
/// the body returns `Result<_, Failure>`. A [`Failure`] is logged and a
/// panic contained (logged too), both under the export's name, which
/// `export` also gives the body for what else it logs.
macro_rules! ffi_body {
    ($failure:expr, |$export:ident| $body:block) => {{
        // Named after nothing: its type name is the export's path.
        fn export() {}
        $crate::ffi::call(export, $failure, |$export: $crate::ffi::Export| $body)
    }};
}
pub(crate) use ffi_body;

/// The export whose body runs: what its log records are named after.
#[derive(Clone, Copy)]
pub(crate) struct Export(fn() -> &'static str);

impl Export {
    /// The export's C name.
    pub(crate) fn name(self) -> &'static str {
        (self.0)()
    }
}

/// The C name of the export `ffi_body!` defined `E` in: the segment before
/// the last of `isula_mailbox::ffi::<header>::<export>::export` (or the
/// last, for a function named as the export it runs for).
fn name_of<E>() -> &'static str {
    let path = std::any::type_name::<E>();
    let path = path.strip_suffix("::export").unwrap_or(path);
    path.rsplit("::").next().unwrap_or(path)
}

/// Runs the body of an export (see [`ffi_body!`]).
#[inline]
pub(crate) fn call<R, E: Fn()>(
    _export: E,
    failure: R,
    body: impl FnOnce(Export) -> Result<R, Failure>,
) -> R {
    let export = Export(name_of::<E>);
    match catch_unwind(AssertUnwindSafe(|| body(export))) {
        Ok(Ok(value)) => value,
        Ok(Err(reason)) => {
            report(export, reason);
            failure
        }
        Err(panic) => {
            report_panic(export, panic);
            failure
        }
    }
}

/// Logs why an export fails; out of line so that the success path of every
/// export stays small.
#[cold]
#[inline(never)]
fn report(export: Export, failure: Failure) {
    crate::logging::emit(|| log::log!(target: export.name(), failure.level(), "{failure}"));
}

#[cold]
#[inline(never)]
fn report_panic(export: Export, panic: Box<dyn Any + Send>) {
    let reason = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("unknown");
    log_error!(
        "{}: internal error contained (panic: {reason})",
        export.name()
    );
    // Dropped inside a boundary too: a payload whose `Drop` panics would
    // otherwise unwind from here into C.
    catch(move || drop(panic));
}

/// Logs what subscribers missed of a message that was published (the
/// publish itself succeeded; each miss is counted in `dropped`).
pub(crate) fn report_missed(export: Export, missed: crate::core::message_queue::Missed) {
    crate::logging::report_missed(export.name(), missed);
}

/// A C timeout in milliseconds: negative means forever (`None`).
pub(crate) fn millis(timeout: i64) -> Option<Duration> {
    u64::try_from(timeout).ok().map(Duration::from_millis)
}

/// Borrows the Rust value behind a handle argument, or fails the call with
/// "<argument> is NULL".
macro_rules! handle_arg {
    ($ptr:ident) => {
        // SAFETY: every handle the daemon passes was returned by this
        // library's constructor for its type and not yet destroyed; NULL is
        // checked by `borrow`. That is the contract of every C function here.
        unsafe { $crate::ffi::handle::borrow($ptr) }
            .ok_or($crate::ffi::Failure::Null($crate::ffi::Arg::$ptr))?
    };
}
pub(crate) use handle_arg;
