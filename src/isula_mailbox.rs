//! `isula_mailbox.h`: what the library adds to the original API (and
//! `message_queue_destroy`, which build.rs declares there from
//! `message_queue.rs`: the original `message_queue.h` keeps its API).

use std::num::NonZeroUsize;
use std::os::raw::{c_char, c_int, c_void};

use log::{Level, LevelFilter, Record};

use isula_mailbox_broker::alloc::try_box;
use isula_mailbox_broker::logging::{self, LineBuffer};
use isula_mailbox_broker::topics;

use crate::boundary::{millis, Failure};
use crate::mailbox::RawTopic;

/// Log levels, most severe first.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum mailbox_log_level {
    MAILBOX_LOG_ERROR = 1,
    MAILBOX_LOG_WARN = 2,
    MAILBOX_LOG_INFO = 3,
    MAILBOX_LOG_DEBUG = 4,
    MAILBOX_LOG_TRACE = 5,
}

/// A `mailbox_log_level` as C passes it: any `int`, checked before use.
/// Spelled `mailbox_log_level` in the header.
#[repr(transparent)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawLogLevel(pub c_int);

impl From<mailbox_log_level> for RawLogLevel {
    fn from(level: mailbox_log_level) -> Self {
        RawLogLevel(level as c_int)
    }
}

impl RawLogLevel {
    fn filter(self) -> Option<LevelFilter> {
        Some(match self.0 {
            0 => LevelFilter::Off,
            1 => LevelFilter::Error,
            2 => LevelFilter::Warn,
            3 => LevelFilter::Info,
            4 => LevelFilter::Debug,
            5 => LevelFilter::Trace,
            _ => return None,
        })
    }
}

/// A record's level as the callback receives it: as an `int`, which is what
/// a C enum is passed as (a Rust enum would not be that type).
fn c_level(level: Level) -> RawLogLevel {
    RawLogLevel(match level {
        Level::Error => mailbox_log_level::MAILBOX_LOG_ERROR,
        Level::Warn => mailbox_log_level::MAILBOX_LOG_WARN,
        Level::Info => mailbox_log_level::MAILBOX_LOG_INFO,
        Level::Debug => mailbox_log_level::MAILBOX_LOG_DEBUG,
        Level::Trace => mailbox_log_level::MAILBOX_LOG_TRACE,
    } as c_int)
}

/// Receives one log record: its level, the message, "<function>:
/// <text>", named after the function it comes from (valid during the call
/// only), and the `user` pointer given to `mailbox_set_log_callback`.
pub type mailbox_log_fn =
    Option<unsafe extern "C" fn(level: RawLogLevel, message: *const c_char, user: *mut c_void)>;

/// The daemon's log callback with its `user` pointer.
struct ForeignLogSink {
    callback: unsafe extern "C" fn(RawLogLevel, *const c_char, *mut c_void),
    user: *mut c_void,
}

// SAFETY: the daemon sets the callback to receive the library's records
// from whichever thread logs them; the library never reads through `user`.
unsafe impl Send for ForeignLogSink {}
// SAFETY: see `Send`; calls only read the two fields.
unsafe impl Sync for ForeignLogSink {}

impl ForeignLogSink {
    /// Hands one record to the callback as a NUL-terminated line, "function:
    /// message", formatted into a fixed buffer on the stack (long records
    /// are cut): logging allocates nothing, so it works when memory has run
    /// out.
    fn emit(&self, record: &Record<'_>) {
        let mut line = LineBuffer::new();
        logging::callback_line(record, &mut line);
        // SAFETY: the daemon set `callback` with `user` to be called with a
        // level and a string valid for the duration of the call.
        unsafe { (self.callback)(c_level(record.level()), line.as_c_str().as_ptr(), self.user) }
    }
}

ffi_fn! {
    /// Routes the library's log records into the daemon's log: records up to
    /// `max_level` go to `fn(level, message, user)`, from whichever thread logs
    /// them; records above it are not even formatted and never reach it, even
    /// from a thread that was logging while an earlier, more verbose callback
    /// was being replaced (the callback's own level decides, as it is called).
    /// A NULL `fn` puts back the default sink: isula_libutils' log where the
    /// library was built with it, else warnings and errors to stderr. When the
    /// call returns, the previous callback is no longer running and will not
    /// be called again.
    /// `max_level` 0 turns logging off. An invalid `max_level` is logged and
    /// changes nothing; so does running out of memory (the callback needs a few
    /// bytes). A record longer than 1023 bytes reaches the callback cut short.
    ///
    /// The callback may run while a generator's topic is held (a record logged
    /// by a call the generator made): like the generator, it must not
    /// unregister that topic.
    ///
    /// # Safety
    /// `fn` is NULL or safe to call with `user` from any thread until replaced;
    /// it must not call `mailbox_set_log_callback` itself.
    unsafe fn mailbox_set_log_callback(
        r#fn: mailbox_log_fn,
        max_level: RawLogLevel,
        user: *mut c_void,
    ) {
        let Some(callback) = r#fn else {
            logging::set_sink(None, logging::DEFAULT_LEVEL)?;
            return Ok(());
        };
        let level = max_level
            .filter()
            .ok_or(Failure::InvalidLevel(max_level.0))?;
        let sink = ForeignLogSink { callback, user };
        let sink = try_box(move |record: &Record<'_>| sink.emit(record))?;
        logging::set_sink(Some(sink), level)?;
        Ok(())
    }
}

/// Counters of one topic since it was registered (this registration: a
/// topic registered again starts at zero, and a subscriber unsubscribed but
/// not destroyed no longer counts).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct mailbox_topic_stats {
    /// Messages generated and published.
    pub published: u64,
    /// (message, subscriber) deliveries enqueued.
    pub delivered: u64,
    /// Deliveries dropped: a full subscriber's oldest, a subscriber shut
    /// down or destroyed while subscribed, the reference limit, or out of
    /// memory.
    pub dropped: u64,
    /// What the subscribers hold now, delivered and not yet popped.
    pub pending: u64,
    /// Subscribers now.
    pub subscribers: u32,
}

ffi_fn! {
    /// Fills `*out` with the counters of the registered `topic`. Relaxed
    /// atomics: publishing takes no lock to count. `pending` is summed over the
    /// subscribers, each locked in turn. Allocates nothing.
    ///
    /// Returns 0, or -1 for NULL `out` or an invalid or unregistered topic.
    ///
    /// # Safety
    /// `out` is NULL or writable.
    unsafe fn mailbox_get_topic_stats(topic: RawTopic, out: *mut mailbox_topic_stats) -> c_int {
        if out.is_null() {
            return Err(Failure::Null("out"));
        }
        let stats = topics()
            .stats(topic.index()?)
            .map_err(Failure::topic(topic.0))?;
        let stats = mailbox_topic_stats {
            published: stats.published,
            delivered: stats.delivered,
            dropped: stats.dropped,
            pending: stats.pending,
            subscribers: stats.subscribers,
        };
        // SAFETY: `out` is non-NULL and, per this function's contract,
        // writable.
        unsafe { out.write(stats) };
        Ok(0)
    } else -1
}

ffi_fn! {
    /// Sets how long pops of subscribers made from now on wait, in
    /// milliseconds (negative: forever; default 1000).
    ///
    /// Returns 0, or -1 for an invalid topic. Allocates nothing.
    fn mailbox_set_subscriber_timeout(topic: RawTopic, timeout_ms: i64) -> c_int {
        topics()
            .set_subscriber_timeout(topic.index()?, millis(timeout_ms))
            .map_err(Failure::topic(topic.0))?;
        Ok(0)
    } else -1
}

ffi_fn! {
    /// Bounds subscribers made from now on to `capacity` pending messages (0:
    /// unbounded, the default). A full subscriber drops its oldest pending
    /// message (with `mailbox_message_unref`) to make room, and the topic's
    /// `dropped` counter counts it; the order of what it keeps is unchanged.
    ///
    /// Returns 0, or -1 for an invalid topic. Allocates nothing.
    fn mailbox_set_subscriber_capacity(topic: RawTopic, capacity: usize) -> c_int {
        topics()
            .set_subscriber_capacity(topic.index()?, NonZeroUsize::new(capacity))
            .map_err(Failure::topic(topic.0))?;
        Ok(0)
    } else -1
}

/// The library's version, NUL-terminated, for [`isula_mailbox_version`].
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

ffi_fn! {
    /// The version of the library linked, "MAJOR.MINOR.PATCH": the same numbers
    /// as the `ISULA_MAILBOX_VERSION_*` macros of the headers it was built with
    /// (a program compares the two to see which library it runs on). A static
    /// string: never NULL, never freed.
    fn isula_mailbox_version() -> *const c_char {
        Ok(VERSION.as_ptr().cast())
    } else VERSION.as_ptr().cast()
}
