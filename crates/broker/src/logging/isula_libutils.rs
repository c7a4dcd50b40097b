//! The default sink inside iSulad: records go to isula_libutils' log, the
//! daemon's own (through `isula_libutils.c`, compiled by build.rs against
//! the installed `<isula_libutils/log.h>`).

#![allow(unsafe_code)] // the calls into C, each with its SAFETY

use std::ffi::CStr;
use std::os::raw::{c_char, c_int};

use log::{Level, Record};

use super::LineBuffer;

extern "C" {
    fn isula_mailbox_libutils_enabled(level: c_int) -> bool;
    fn isula_mailbox_libutils_log(
        level: c_int,
        function: *const c_char,
        line: c_int,
        message: *const c_char,
    );
}

/// `mailbox_log_level`'s numbers, which the C side maps to the daemon's.
fn number(level: Level) -> c_int {
    match level {
        Level::Error => 1,
        Level::Warn => 2,
        Level::Info => 3,
        Level::Debug => 4,
        Level::Trace => 5,
    }
}

/// Whether the daemon logs records of `level` now (its configured level).
pub(super) fn enabled(level: Level) -> bool {
    // SAFETY: reads isula_libutils' log level; takes no pointer.
    unsafe { isula_mailbox_libutils_enabled(number(level)) }
}

/// Hands `record` to the daemon's log.
pub(super) fn log(record: &Record<'_>) {
    let mut function = LineBuffer::new();
    function.format(&format_args!("{}", record.target()));
    let mut message = LineBuffer::new();
    message.format(record.args());
    let line = record
        .line()
        .and_then(|line| c_int::try_from(line).ok())
        .unwrap_or(0);
    let function: &CStr = function.as_c_str();
    // SAFETY: both strings are NUL-terminated and live for the call; the C
    // side passes the message as an argument to "%s", never as the format.
    unsafe {
        isula_mailbox_libutils_log(
            number(record.level()),
            function.as_ptr(),
            line,
            message.as_c_str().as_ptr(),
        )
    };
}
