//! The boundary every export crosses: [`ffi_fn!`] writes each export (its
//! `#[no_mangle]`, its C name, the panic boundary, its failure value),
//! [`Failure`] says why an export returns its failure value, and
//! [`Failure::describe`] is the one place that maps it, and every error of
//! the core, to what C sees: the failure value's log line and its level.

use std::any::Any;
use std::fmt;
use std::os::raw::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use isula_mailbox_broker::log_error;
use isula_mailbox_broker::logging;
use isula_mailbox_core::error::Error;
use isula_mailbox_core::unwind::catch;
use log::Level;

/// Defines one export of the C library:
///
/// ```text
/// ffi_fn! {
///     /// Documentation: becomes the header's comment.
///     unsafe fn name(arg: Type, ...) -> Ret {
///         // Result<Ret, Failure>; `EXPORT` names this export
///     } else FAILURE_VALUE
/// }
/// ```
///
/// It writes `#[no_mangle] pub unsafe extern "C" fn name(...) -> Ret` (or
/// `pub extern "C" fn` without `unsafe`, for an export that takes no
/// pointer C could get wrong), runs the body inside the boundary: a
/// `Failure` is logged once, under the export's name, and the export
/// returns `FAILURE_VALUE`; a panic is contained, logged, and gives the
/// same. A function returning nothing has no `else`. An optional `before
/// { ... }` block, between the signature and the body, runs first, outside
/// the boundary: a fast path that cannot panic, where one is measured to
/// matter (`mailbox_publish` to nobody).
///
/// The headers are generated from these invocations (build.rs reads the
/// signature and the documentation the macro is given).
#[macro_export]
macro_rules! ffi_fn {
    ($(#[$attr:meta])* unsafe fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty
        $body:block else $failure:expr) => {
        $crate::ffi_fn!(@export [$(#[$attr])*] [unsafe] [] $name [$($arg: $ty),*] [$ret], $body, $failure);
    };
    ($(#[$attr:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty
        $body:block else $failure:expr) => {
        $crate::ffi_fn!(@export [$(#[$attr])*] [] [] $name [$($arg: $ty),*] [$ret], $body, $failure);
    };
    ($(#[$attr:meta])* unsafe fn $name:ident($($arg:ident: $ty:ty),* $(,)?)
        $(before $fast:block)? $body:block) => {
        $crate::ffi_fn!(@export [$(#[$attr])*] [unsafe] [$($fast)?] $name [$($arg: $ty),*] [], $body, ());
    };
    ($(#[$attr:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?)
        $(before $fast:block)? $body:block) => {
        $crate::ffi_fn!(@export [$(#[$attr])*] [] [$($fast)?] $name [$($arg: $ty),*] [], $body, ());
    };
    (@export [$($attr:tt)*] [$($unsafety:tt)?] [$($fast:tt)*] $name:ident [$($arg:ident: $ty:ty),*]
        [$($ret:ty)?], $body:block, $failure:expr) => {
        $($attr)*
        #[no_mangle]
        pub $($unsafety)? extern "C" fn $name($($arg: $ty),*) $(-> $ret)? {
            $($fast)*
            #[allow(unused)]
            const EXPORT: $crate::boundary::Export = $crate::boundary::Export(stringify!($name));
            $crate::boundary::call(
                EXPORT,
                $failure,
                move || -> Result<$crate::ffi_fn!(@returns $($ret)?), $crate::boundary::Failure> { $body },
            )
        }
    };
    (@returns) => { () };
    (@returns $ret:ty) => { $ret };
}

/// The export whose body runs: what its log records are named after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Export(pub &'static str);

impl Export {
    /// The export's C name.
    pub fn name(self) -> &'static str {
        self.0
    }
}

/// Why an export returns its failure value, logged as `<function>:
/// <failure>`. Small and without heap: an export's `Result` fits in
/// registers, and a failure can be reported when memory has run out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// A NULL argument, named as in the header.
    Null(&'static str),
    /// The core refused; what it refused is `about` that.
    Refused(Error, About),
    /// A log level outside `mailbox_log_level`.
    InvalidLevel(c_int),
}

/// What a refusal is about, for its log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum About {
    /// The call itself (out of memory, a reference limit).
    Call,
    /// A topic, by its C number.
    Topic(c_int),
    /// Unregistering a topic: the daemon unregisters at every shutdown, an
    /// unregistered one too.
    Unregistering(c_int),
    /// Unsubscribing from a topic: a stream ending during the daemon's
    /// shutdown finds it unregistered already.
    Unsubscribing(c_int),
    /// A `blocking_queue`.
    Queue,
    /// A `message_subscriber`.
    Subscriber,
    /// A `message_queue`.
    MessageQueue,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure::Refused(error, About::Call)
    }
}

impl Failure {
    /// A refusal of the core about topic `topic`.
    pub fn topic(topic: c_int) -> impl Fn(Error) -> Failure {
        move |error| Failure::Refused(error, About::Topic(topic))
    }

    /// How the failure is logged: its level and its text. The one mapping
    /// of what can fail to what C is told.
    fn describe(self) -> (Level, Description) {
        use About::*;
        let level = match self {
            Failure::Refused(Error::NotSubscribed, _) => Level::Warn,
            Failure::Refused(Error::NotRegistered, Unregistering(_) | Unsubscribing(_)) => {
                Level::Info
            }
            _ => Level::Error,
        };
        (level, Description(self))
    }
}

/// The text of a failure's log line.
struct Description(Failure);

impl fmt::Display for Description {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use About::*;
        let error = match self.0 {
            Failure::Null(arg) => return write!(f, "{arg} is NULL"),
            Failure::InvalidLevel(level) => return write!(f, "invalid max_level {level}"),
            Failure::Refused(error, about) => (error, about),
        };
        match error {
            (Error::OutOfMemory, _) => f.write_str("out of memory"),
            (Error::ReferenceLimit, _) => f.write_str("reference count overflow"),
            (Error::Closed, Subscriber) => f.write_str("subscriber is shut down"),
            (Error::Closed, MessageQueue) => f.write_str("message queue is shut down"),
            (Error::Closed, Queue) => f.write_str("queue is being destroyed"),
            (Error::NotSubscribed, MessageQueue) => {
                f.write_str("subscriber is not subscribed to this queue")
            }
            (Error::NotRegistered, Unregistering(topic)) => {
                write!(f, "topic {topic} was not registered")
            }
            (Error::NotRegistered, Unsubscribing(topic)) => {
                write!(f, "topic {topic} is not registered any more")
            }
            (error, Topic(topic) | Unregistering(topic) | Unsubscribing(topic)) => match error {
                Error::InvalidTopic => write!(f, "invalid topic {topic}"),
                Error::NotRegistered => write!(f, "topic {topic} is not registered"),
                Error::AlreadyRegistered => write!(f, "topic {topic} is already registered"),
                Error::Synchronous => write!(f, "topic {topic} is synchronous"),
                Error::NotSubscribed => write!(f, "subscriber is not subscribed to topic {topic}"),
                Error::EventType => write!(f, "topic {topic} makes events of another type"),
                Error::RustOnly => write!(
                    f,
                    "topic {topic} is registered from Rust with events C cannot read"
                ),
                Error::GeneratorPanicked => write!(
                    f,
                    "the generator of topic {topic} panicked; the event reached no subscriber"
                ),
                error => write!(f, "topic {topic}: {error}"),
            },
            (error, _) => write!(f, "{error}"),
        }
    }
}

/// Runs the body of an export (see [`ffi_fn!`]).
#[inline]
pub fn call<R>(export: Export, failure: R, body: impl FnOnce() -> Result<R, Failure>) -> R {
    match catch_unwind(AssertUnwindSafe(body)) {
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
    let (level, text) = failure.describe();
    logging::emit(|| log::log!(target: export.name(), level, "{text}"));
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
        target: export.name(),
        "internal error contained (panic: {reason})"
    );
    // Dropped inside a boundary too: a payload whose `Drop` panics would
    // otherwise unwind from here into C.
    catch(move || drop(panic));
}

/// Logs what subscribers missed of a message that was published (the
/// publish itself succeeded; each miss is counted in `dropped`).
pub(crate) fn report_missed(export: Export, missed: isula_mailbox_core::message_queue::Missed) {
    logging::report_missed(export.name(), missed);
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
        unsafe { $crate::handle::borrow($ptr) }
            .ok_or($crate::boundary::Failure::Null(stringify!($ptr)))?
    };
}
