//! The library's log, through the `log` crate. Unless the process installed
//! a Rust logger of its own, the library installs one that hands each
//! record to the sink the daemon set (`mailbox_set_log_callback`), or else
//! to the default sink:
//! - built inside iSulad (the `isula-libutils-log` feature, which the CMake
//!   build turns on where it finds isula_libutils): isula_libutils' log,
//!   the daemon's own, at its level, in its format, to its destination;
//! - otherwise stderr, warnings and errors, one line each.
//!
//! A record's target is the function it comes from (a C export's name for
//! the C ABI's records). Records are formatted into a fixed buffer on the
//! stack: logging allocates nothing, so it works when memory has run out
//! (long records are cut).
#![deny(unsafe_code)]

#[cfg(feature = "isula-libutils-log")]
mod isula_libutils;
mod line;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

use log::{LevelFilter, Log, Metadata, Record};

use isula_mailbox_core::error::Error;
use isula_mailbox_core::lease::Lease;
use isula_mailbox_core::message_queue::Missed;
use isula_mailbox_core::unwind::catch;
pub use line::LineBuffer;
/// The `log` crate, for the macros below.
#[doc(hidden)]
pub use log;

/// Where records go instead of the default sink.
pub type Sink = Box<dyn Fn(&Record<'_>) + Send + Sync>;

/// Up to which level the default sink takes records: isula_libutils
/// decides itself, record by record; stderr takes warnings and errors.
pub const DEFAULT_LEVEL: LevelFilter = if cfg!(feature = "isula-libutils-log") {
    LevelFilter::Trace
} else {
    LevelFilter::Warn
};

/// A sink with the most verbose level it takes.
struct LevelledSink {
    sink: Sink,
    max_level: LevelFilter,
}

struct MailboxLogger {
    /// Borrowed by every record while the sink runs (a sink may log through
    /// the library in turn), so that once a new sink is set, the old one
    /// (and the daemon's `user` pointer behind it) is never called again.
    /// Its level is checked under the same borrow: `log`'s global level
    /// only filters early, and may still be the previous sink's.
    sink: Lease<LevelledSink>,
    /// Whether a sink is set: records then go there, up to `log`'s level.
    sink_set: AtomicBool,
}

static LOGGER: MailboxLogger = MailboxLogger {
    sink: Lease::new(),
    sink_set: AtomicBool::new(false),
};

/// Whether `LOGGER` is the process's logger (it is not when a Rust host
/// installed its own first; then that one gets the records).
static INSTALLED: AtomicBool = AtomicBool::new(false);

impl Log for MailboxLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        if metadata.level() > log::max_level() {
            return false;
        }
        #[cfg(feature = "isula-libutils-log")]
        if !self.sink_set.load(Ordering::Acquire) {
            return isula_libutils::enabled(metadata.level());
        }
        true
    }

    fn log(&self, record: &Record<'_>) {
        // Before anything is formatted: a record the destination would drop
        // costs a comparison.
        if !self.enabled(record.metadata()) {
            return;
        }
        match self.sink.borrow() {
            Some(sink) if record.level() <= sink.max_level => (sink.sink)(record),
            Some(_) => {}
            None if record.level() <= DEFAULT_LEVEL => default_sink(record),
            None => {}
        }
    }

    fn flush(&self) {}
}

/// The daemon's log, when the library is built inside iSulad.
#[cfg(feature = "isula-libutils-log")]
fn default_sink(record: &Record<'_>) {
    isula_libutils::log(record);
}

/// stderr, one line a record, named after the library and the function.
#[cfg(not(feature = "isula-libutils-log"))]
fn default_sink(record: &Record<'_>) {
    let mut line = LineBuffer::new();
    line.format(&format_args!(
        "isula-mailbox {}: {}: {}\n",
        record.level(),
        record.target(),
        record.args()
    ));
    let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
}

/// Installs the library's logger unless the process has one. Cheap after
/// the first call (one atomic load).
pub fn ensure_installed() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if log::set_logger(&LOGGER).is_ok() {
            INSTALLED.store(true, Ordering::Release);
            log::set_max_level(DEFAULT_LEVEL);
        }
    });
}

/// Sends records up to `max_level` to `sink`, or puts back the default
/// sink when `sink` is `None`. Returns once no thread is still inside the
/// previous sink. Does nothing to the level of a logger the process
/// installed itself. Changes nothing when memory runs out.
pub fn set_sink(sink: Option<Sink>, max_level: LevelFilter) -> Result<(), Error> {
    ensure_installed();
    let (level, set) = match sink {
        Some(_) => (max_level, true),
        None => (DEFAULT_LEVEL, false),
    };
    let sink = sink.map(|sink| LevelledSink { sink, max_level });
    let previous = LOGGER.sink.replace(sink, || {
        // Under the lease's lock, as the sink changes: two racing calls
        // cannot leave one's sink with the other's level.
        LOGGER.sink_set.store(set, Ordering::Release);
        if INSTALLED.load(Ordering::Acquire) {
            log::set_max_level(level);
        }
    })?;
    drop(previous);
    Ok(())
}

/// The text of a record as the C log callback receives it: the function
/// it comes from, then the message.
pub fn callback_line(record: &Record<'_>, line: &mut LineBuffer) {
    line.format(&format_args!("{}: {}", record.target(), record.args()));
}

/// `log::error!` that makes sure the record has somewhere to go; with
/// `target: "function",` first, the record is named after that function.
/// A logger the host installed may panic: that panic stops here (see
/// [`emit`]).
#[macro_export]
macro_rules! log_error {
    (target: $target:expr, $($arg:tt)+) => {
        $crate::logging::emit(|| $crate::logging::log::error!(target: $target, $($arg)+))
    };
    ($($arg:tt)+) => {
        $crate::logging::emit(|| $crate::logging::log::error!($($arg)+))
    };
}

/// `log::debug!` (with a target), as [`log_error!`]: off unless the daemon
/// logs at debug.
#[macro_export]
macro_rules! log_debug {
    (target: $target:expr, $($arg:tt)+) => {
        $crate::logging::emit(|| $crate::logging::log::debug!(target: $target, $($arg)+))
    };
}

/// Runs `log`, which hands a record to the process's logger, after making
/// sure there is one. The library logs after it changed something (a
/// subscriber attached, a topic registered) and before it hands the result
/// back: a host's logger that panicked there would leave that change
/// unreported, a subscriber nobody holds. So a panic in the logger stops
/// here, and the call goes on as if the record had been written.
pub fn emit(log: impl FnOnce()) {
    ensure_installed();
    let _ = catch(log);
}

/// Logs what subscribers missed of a message that `function` published
/// (the publish itself went through; each miss is counted in `dropped`).
pub fn report_missed(function: &str, missed: Missed) {
    if missed.at_limit > 0 {
        log_error!(
            target: function,
            "message reference limit reached, {} subscribers missed the message",
            missed.at_limit
        );
    }
    if missed.out_of_memory > 0 {
        log_error!(
            target: function,
            "out of memory, {} subscribers missed the message",
            missed.out_of_memory
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two threads set sinks racing each other, many times: whichever
    /// sink stays, the level must be its own (the default's is `Warn`: a
    /// `Trace` level there would print info records to stderr).
    #[test]
    fn racing_sinks_leave_the_level_of_the_sink_that_stays() {
        ensure_installed();
        for _ in 0..500 {
            std::thread::scope(|scope| {
                scope.spawn(|| set_sink(Some(Box::new(|_| {})), LevelFilter::Debug));
                scope.spawn(|| set_sink(None, DEFAULT_LEVEL));
            });
            let sink_set = LOGGER.sink.borrow().is_some();
            let expected = if sink_set {
                LevelFilter::Debug
            } else {
                DEFAULT_LEVEL
            };
            assert_eq!(log::max_level(), expected, "sink set: {sink_set}");
            assert_eq!(LOGGER.sink_set.load(Ordering::SeqCst), sink_set);
        }
        set_sink(None, DEFAULT_LEVEL).unwrap();
    }
}
