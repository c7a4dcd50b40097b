//! The library's log, through the `log` crate. Unless the process installed
//! a logger of its own, the library installs one that writes warnings and
//! errors to stderr, one line each, or hands records to the sink the daemon
//! set (`mailbox_set_log_callback`). Records are formatted into a fixed
//! buffer on the stack: logging allocates nothing, so it works when memory
//! has run out (long records are cut).
#![forbid(unsafe_code)]

use std::ffi::CStr;
use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

use log::{Level, LevelFilter, Log, Metadata, Record};

use crate::core::lease::Lease;
use crate::core::message_queue::Missed;
use crate::core::oom::OutOfMemory;

/// Where records go instead of stderr.
pub(crate) type Sink = Box<dyn Fn(Level, &fmt::Arguments<'_>) + Send + Sync>;

/// What is logged when no sink is set.
pub(crate) const DEFAULT_LEVEL: LevelFilter = LevelFilter::Warn;

struct MailboxLogger {
    /// Borrowed by every record while the sink runs (a sink may log through
    /// the library in turn), so that once a new sink is set, the old one
    /// (and the daemon's `user` pointer behind it) is never called again.
    sink: Lease<Sink>,
}

static LOGGER: MailboxLogger = MailboxLogger { sink: Lease::new() };

/// Whether `LOGGER` is the process's logger (it is not when a Rust host
/// installed its own first; then that one gets the records).
static INSTALLED: AtomicBool = AtomicBool::new(false);

impl Log for MailboxLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        match self.sink.borrow() {
            Some(sink) => (*sink)(record.level(), record.args()),
            None => {
                let mut line = LineBuffer::new();
                line.format(&format_args!(
                    "isula-mailbox {}: {}\n",
                    record.level(),
                    record.args()
                ));
                let _ = std::io::stderr().write_all(line.as_bytes());
            }
        }
    }

    fn flush(&self) {}
}

/// Installs the library's logger unless the process has one. Cheap after
/// the first call (one atomic load).
pub(crate) fn ensure_installed() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if log::set_logger(&LOGGER).is_ok() {
            INSTALLED.store(true, Ordering::Release);
            log::set_max_level(DEFAULT_LEVEL);
        }
    });
}

/// Sends records up to `max_level` to `sink`, or puts back the stderr
/// default (warnings and errors) when `sink` is `None`. Returns once no
/// thread is still inside the previous sink. Does nothing to the level
/// of a logger the process installed itself. Changes nothing when memory
/// runs out.
pub(crate) fn set_sink(sink: Option<Sink>, max_level: LevelFilter) -> Result<(), OutOfMemory> {
    ensure_installed();
    let level = if sink.is_some() {
        max_level
    } else {
        DEFAULT_LEVEL
    };
    let previous = LOGGER.sink.replace(sink, || {
        // Under the lease's lock, as the sink changes: two racing calls
        // cannot leave one's sink with the other's level.
        if INSTALLED.load(Ordering::Acquire) {
            log::set_max_level(level);
        }
    })?;
    drop(previous);
    Ok(())
}

/// One log line, formatted on the stack: at most [`LineBuffer::CAPACITY`]
/// bytes, cut at a character boundary, NUL bytes written as `\0` so that
/// it can be handed to C as a string.
pub(crate) struct LineBuffer {
    bytes: [u8; Self::CAPACITY + 1],
    len: usize,
}

impl LineBuffer {
    /// The longest line; one more byte holds the terminating NUL.
    pub(crate) const CAPACITY: usize = 1023;

    pub(crate) fn new() -> Self {
        LineBuffer {
            bytes: [0; Self::CAPACITY + 1],
            len: 0,
        }
    }

    /// Appends `args`, cut where the buffer is full.
    pub(crate) fn format(&mut self, args: &fmt::Arguments<'_>) {
        // A full buffer stops the formatting with an error: that is the cut.
        let _ = self.write_fmt(*args);
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// The line as a C string.
    pub(crate) fn as_c_str(&mut self) -> &CStr {
        self.bytes[self.len] = 0;
        // No NUL is ever written before `len` (see `write_str`).
        CStr::from_bytes_with_nul(&self.bytes[..=self.len]).unwrap_or_default()
    }

    fn push(&mut self, piece: &str) -> fmt::Result {
        let room = Self::CAPACITY - self.len;
        let mut take = piece.len().min(room);
        while !piece.is_char_boundary(take) {
            take -= 1;
        }
        self.bytes[self.len..self.len + take].copy_from_slice(&piece.as_bytes()[..take]);
        self.len += take;
        if take < piece.len() {
            return Err(fmt::Error);
        }
        Ok(())
    }
}

impl fmt::Write for LineBuffer {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let mut pieces = text.split('\0');
        if let Some(first) = pieces.next() {
            self.push(first)?;
        }
        for piece in pieces {
            self.push("\\0")?;
            self.push(piece)?;
        }
        Ok(())
    }
}

/// `log::error!` that makes sure the record has somewhere to go.
macro_rules! log_error {
    ($($arg:tt)+) => {{
        $crate::logging::ensure_installed();
        ::log::error!($($arg)+)
    }};
}

/// Logs what subscribers missed of a message that `function` published
/// (the publish itself went through; each miss is counted in `dropped`).
pub(crate) fn report_missed(function: &str, missed: Missed) {
    if missed.at_limit > 0 {
        log_error!(
            "{function}: message reference limit reached, {} subscribers missed the message",
            missed.at_limit
        );
    }
    if missed.out_of_memory > 0 {
        log_error!(
            "{function}: out of memory, {} subscribers missed the message",
            missed.out_of_memory
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_cut_at_its_capacity_and_carries_no_nul() {
        let mut line = LineBuffer::new();
        let long = "é".repeat(LineBuffer::CAPACITY);
        line.format(&format_args!("a\0b {long}"));
        assert!(line.as_bytes().len() <= LineBuffer::CAPACITY);
        assert!(line.as_bytes().starts_with(b"a\\0b "));
        let text = line
            .as_c_str()
            .to_str()
            .expect("cut at a character boundary");
        assert!(text.ends_with('é'));
    }

    /// Two threads set sinks racing each other, many times: whichever
    /// sink stays, the level must be its own (the default's is `Warn`: a
    /// `Trace` level there would print info records to stderr).
    #[test]
    fn racing_sinks_leave_the_level_of_the_sink_that_stays() {
        ensure_installed();
        for _ in 0..500 {
            std::thread::scope(|scope| {
                scope.spawn(|| set_sink(Some(Box::new(|_, _| {})), LevelFilter::Trace));
                scope.spawn(|| set_sink(None, DEFAULT_LEVEL));
            });
            let sink_set = LOGGER.sink.borrow().is_some();
            let expected = if sink_set {
                LevelFilter::Trace
            } else {
                DEFAULT_LEVEL
            };
            assert_eq!(log::max_level(), expected, "sink set: {sink_set}");
        }
        set_sink(None, DEFAULT_LEVEL).unwrap();
    }
}
