//! `mailbox_set_log_callback`: records up to `max_level` reach the daemon's
//! callback with their level; records above it are not even formatted.
//! (Its own binary: the logger is process-wide.)

use std::ffi::CStr;
use std::fmt;
use std::os::raw::{c_char, c_void};
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use isula_mailbox_ffi::isula_mailbox::mailbox_log_level::{
    MAILBOX_LOG_DEBUG, MAILBOX_LOG_ERROR, MAILBOX_LOG_WARN,
};
use isula_mailbox_ffi::isula_mailbox::{mailbox_set_log_callback, RawLogLevel};
use isula_mailbox_ffi::mailbox::mailbox_topic::MAILBOX_TOPIC_CRI_CONTAINER;
use isula_mailbox_ffi::mailbox::{
    mailbox_register_topic_handler, mailbox_subscribe, mailbox_unregister_topic_handler,
    mailbox_unsubscribe,
};
use isula_mailbox_ffi::mailbox_message::mailbox_message_ref;
use isula_mailbox_ffi::message_subscriber::message_subscriber_destroy;

/// One test at a time: the callback is process-wide.
static SINK: Mutex<()> = Mutex::new(());

static RECEIVED: Mutex<Vec<(RawLogLevel, String)>> = Mutex::new(Vec::new());
static FORMATTED: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" fn collect(level: RawLogLevel, message: *const c_char, user: *mut c_void) {
    assert_eq!(user as usize, 0x5eed);
    // SAFETY: the library passes a NUL-terminated string valid for the call.
    let message = unsafe { CStr::from_ptr(message) }
        .to_string_lossy()
        .into_owned();
    RECEIVED.lock().unwrap().push((level, message));
}

/// Counts how often it is formatted.
struct Expensive;

impl fmt::Display for Expensive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        FORMATTED.fetch_add(1, Ordering::SeqCst);
        f.write_str("expensive")
    }
}

#[test]
fn records_reach_the_callback_filtered_before_formatting() {
    let _sink = SINK.lock().unwrap_or_else(|e| e.into_inner());
    let warn = MAILBOX_LOG_WARN.into();
    // SAFETY: `collect` may be called from any thread with this user pointer.
    unsafe { mailbox_set_log_callback(Some(collect), warn, ptr::without_provenance_mut(0x5eed)) };

    // SAFETY: NULL is a handled bad input.
    assert_eq!(unsafe { mailbox_message_ref(ptr::null_mut()) }, -1);
    log::debug!("{}", Expensive); // above WARN
    log::info!("{}", Expensive); // above WARN
    log::warn!("{}", Expensive);

    assert_eq!(
        FORMATTED.load(Ordering::SeqCst),
        1,
        "only the warning was formatted"
    );
    let received = RECEIVED.lock().unwrap().clone();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].0, MAILBOX_LOG_ERROR.into());
    assert_eq!(received[0].1, "mailbox_message_ref: p is NULL");
    // Named after where it comes from: the Rust module (a C export for the
    // library's own records).
    assert_eq!(
        received[1],
        (
            MAILBOX_LOG_WARN.into(),
            "log_callback: expensive".to_owned()
        )
    );

    // NULL puts back the stderr default: the callback hears nothing more.
    // SAFETY: no callback.
    unsafe { mailbox_set_log_callback(None, warn, ptr::null_mut()) };
    // SAFETY: as above.
    assert_eq!(unsafe { mailbox_message_ref(ptr::null_mut()) }, -1);
    assert_eq!(RECEIVED.lock().unwrap().len(), 2);
}

/// Records an ERROR callback received above its level.
static ABOVE_ITS_LEVEL: AtomicUsize = AtomicUsize::new(0);
static DEBUG_RECEIVED: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" fn verbose(level: RawLogLevel, _message: *const c_char, _user: *mut c_void) {
    if level == MAILBOX_LOG_DEBUG.into() {
        DEBUG_RECEIVED.fetch_add(1, Ordering::Relaxed);
    }
}

unsafe extern "C" fn errors_only(level: RawLogLevel, _message: *const c_char, _user: *mut c_void) {
    if level.0 > MAILBOX_LOG_ERROR as i32 {
        ABOVE_ITS_LEVEL.fetch_add(1, Ordering::Relaxed);
    }
}

unsafe extern "C" fn make_nothing(_context: *mut c_void, _data: *mut c_void) -> *mut c_void {
    ptr::null_mut()
}

/// One thread logs at debug (subscribe, unsubscribe) while another swaps a
/// DEBUG callback and an ERROR one: the ERROR callback never gets a debug
/// record, however the swap and a record being logged interleave (the
/// global level may still be the DEBUG callback's when the ERROR one is
/// called: its own level decides).
#[test]
fn a_callback_never_gets_records_above_its_level_while_callbacks_are_swapped() {
    let _sink = SINK.lock().unwrap_or_else(|e| e.into_inner());
    let (swaps, limit) = if cfg!(miri) {
        (20, Duration::from_secs(60))
    } else {
        (200_000, Duration::from_secs(2))
    };
    // SAFETY (whole test): callbacks callable from any thread; the topic's
    // generator takes anything; each subscriber is destroyed once.
    unsafe {
        assert_eq!(
            mailbox_register_topic_handler(
                MAILBOX_TOPIC_CRI_CONTAINER.into(),
                Some(make_nothing),
                ptr::null_mut(),
                None,
                true
            ),
            0
        );
        let done = AtomicBool::new(false);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                while !done.load(Ordering::Relaxed) {
                    let sub = mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER.into());
                    mailbox_unsubscribe(MAILBOX_TOPIC_CRI_CONTAINER.into(), sub);
                    message_subscriber_destroy(sub);
                }
            });
            let started = Instant::now();
            // The swaps asked for, and until the DEBUG callback heard from
            // the logging thread at least once (a slow scheduler, Miri's,
            // may keep that thread off for a while); within the time limit.
            for swap in 0.. {
                if swap % 2 == 0 {
                    mailbox_set_log_callback(
                        Some(verbose),
                        MAILBOX_LOG_DEBUG.into(),
                        ptr::null_mut(),
                    );
                } else {
                    mailbox_set_log_callback(
                        Some(errors_only),
                        MAILBOX_LOG_ERROR.into(),
                        ptr::null_mut(),
                    );
                }
                let heard = DEBUG_RECEIVED.load(Ordering::Relaxed) > 0;
                if (swap >= swaps && heard) || started.elapsed() > limit {
                    break;
                }
            }
            done.store(true, Ordering::Relaxed);
        });
        mailbox_set_log_callback(None, MAILBOX_LOG_WARN.into(), ptr::null_mut());
        mailbox_unregister_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER.into());
    }
    assert!(
        DEBUG_RECEIVED.load(Ordering::Relaxed) > 0,
        "the DEBUG callback got debug records"
    );
    assert_eq!(ABOVE_ITS_LEVEL.load(Ordering::Relaxed), 0);
}
