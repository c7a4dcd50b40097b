//! The C ABI, one module per header. Every export has the same shape: check
//! and convert its pointers, call the core, map the result. `call` wraps
//! each body: it contains panics and logs failures, one line each.

pub mod blocking_queue;
pub mod isula_mailbox;
pub mod mailbox;
pub mod mailbox_message;
pub mod message_queue;
pub mod message_subscriber;

pub(crate) mod handle;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

/// Why an export returns its failure value; logged as
/// `<function>: <what>`. Boxed, so that an export's `Result` fits in two
/// registers and its success path needs no stack frame: failures are cold.
pub(crate) struct Failure(Box<(log::Level, Cow<'static, str>)>);

impl Failure {
    #[cold]
    #[inline(never)]
    fn new(level: log::Level, what: Cow<'static, str>) -> Self {
        Failure(Box::new((level, what)))
    }

    /// A NULL argument.
    #[cold]
    #[inline(never)]
    pub(crate) fn null(argument: &'static str) -> Self {
        Self::error(format!("{argument} is NULL"))
    }

    /// Bad input or a refused operation.
    #[cold]
    #[inline(never)]
    pub(crate) fn error(what: impl Into<Cow<'static, str>>) -> Self {
        Self::new(log::Level::Error, what.into())
    }

    /// Nothing to do, as expected in some normal flows; not shown by default.
    #[cold]
    #[inline(never)]
    pub(crate) fn info(what: impl Into<Cow<'static, str>>) -> Self {
        Self::new(log::Level::Info, what.into())
    }

    /// A harmless misuse, ignored.
    #[cold]
    #[inline(never)]
    pub(crate) fn warn(what: impl Into<Cow<'static, str>>) -> Self {
        Self::new(log::Level::Warn, what.into())
    }
}

/// Runs the body of the export `function`. A [`Failure`] is logged and a
/// panic contained (logged too); both return `failure`, the value the
/// contract gives that function for bad input.
#[inline]
pub(crate) fn call<R>(
    function: &'static str,
    failure: R,
    body: impl FnOnce() -> Result<R, Failure>,
) -> R {
    match catch_unwind(AssertUnwindSafe(|| {
        #[cfg(test)]
        tests::panic_if_armed(function);
        body()
    })) {
        Ok(Ok(value)) => value,
        Ok(Err(reason)) => {
            report(function, reason);
            failure
        }
        Err(panic) => {
            report_panic(function, panic);
            failure
        }
    }
}

/// Logs why `function` fails; out of line so that the success path of
/// every export stays small.
#[cold]
#[inline(never)]
fn report(function: &'static str, failure: Failure) {
    let (level, what) = *failure.0;
    crate::logging::ensure_installed();
    log::log!(level, "{function}: {what}");
}

#[cold]
#[inline(never)]
fn report_panic(function: &'static str, panic: Box<dyn std::any::Any + Send>) {
    let reason = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("unknown");
    log_error!("{function}: internal error contained (panic: {reason})");
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
            .ok_or_else(|| $crate::ffi::Failure::null(stringify!($ptr)))?
    };
}
pub(crate) use handle_arg;
