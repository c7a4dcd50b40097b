//! The library's log. Records go through the `log` crate; unless the
//! process installed a logger of its own, the library installs one that
//! writes warnings and errors to stderr, one line each, or hands records to
//! the sink the daemon set (`mailbox_set_log_callback`).
#![forbid(unsafe_code)]

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

use log::{Level, LevelFilter, Log, Metadata, Record};
use parking_lot::RwLock;

/// Where records go instead of stderr.
pub(crate) type Sink = Box<dyn Fn(Level, &fmt::Arguments<'_>) + Send + Sync>;

/// What is logged when no sink is set.
pub(crate) const DEFAULT_LEVEL: LevelFilter = LevelFilter::Warn;

struct MailboxLogger {
    sink: RwLock<Option<Sink>>,
}

static LOGGER: MailboxLogger = MailboxLogger {
    sink: RwLock::new(None),
};

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
        // Held during the call so that once a new sink is set, the old one
        // (and the daemon's `user` pointer behind it) is never called again.
        // Recursive: the sink may log through the library in turn.
        let sink = self.sink.read_recursive();
        match sink.as_ref() {
            Some(sink) => sink(record.level(), record.args()),
            None => {
                let _ = writeln!(
                    std::io::stderr().lock(),
                    "isula-mailbox {}: {}",
                    record.level(),
                    record.args()
                );
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
/// of a logger the process installed itself.
pub(crate) fn set_sink(sink: Option<Sink>, max_level: LevelFilter) {
    ensure_installed();
    let level = if sink.is_some() {
        max_level
    } else {
        DEFAULT_LEVEL
    };
    *LOGGER.sink.write() = sink;
    if INSTALLED.load(Ordering::Acquire) {
        log::set_max_level(level);
    }
}

/// `log::error!` that makes sure the record has somewhere to go.
macro_rules! log_error {
    ($($arg:tt)+) => {{
        $crate::logging::ensure_installed();
        ::log::error!($($arg)+)
    }};
}
