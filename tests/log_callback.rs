//! `mailbox_set_log_callback`: records up to `max_level` reach the daemon's
//! callback with their level; records above it are not even formatted.
//! (Its own binary: the logger is process-wide.)

use std::ffi::CStr;
use std::fmt;
use std::os::raw::{c_char, c_void};
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use isula_mailbox_abi::{
    mailbox_log_level, mailbox_message_ref, mailbox_set_log_callback, MAILBOX_LOG_ERROR,
    MAILBOX_LOG_WARN,
};

static RECEIVED: Mutex<Vec<(mailbox_log_level, String)>> = Mutex::new(Vec::new());
static FORMATTED: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" fn collect(level: mailbox_log_level, message: *const c_char, user: *mut c_void) {
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
    let warn = MAILBOX_LOG_WARN;
    // SAFETY: `collect` may be called from any thread with this user pointer.
    unsafe { mailbox_set_log_callback(Some(collect), warn, 0x5eed as *mut c_void) };

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
    assert_eq!(received[0].0, MAILBOX_LOG_ERROR);
    assert_eq!(received[0].1, "mailbox_message_ref: p is NULL");
    // Named after where it comes from: the Rust module (a C export for the
    // library's own records).
    assert_eq!(
        received[1],
        (MAILBOX_LOG_WARN, "log_callback: expensive".to_owned())
    );

    // NULL puts back the stderr default: the callback hears nothing more.
    // SAFETY: no callback.
    unsafe { mailbox_set_log_callback(None, warn, ptr::null_mut()) };
    // SAFETY: as above.
    assert_eq!(unsafe { mailbox_message_ref(ptr::null_mut()) }, -1);
    assert_eq!(RECEIVED.lock().unwrap().len(), 2);
}
