//! The process's topic table, shared by the C functions of `mailbox.h` and
//! the Rust API.
#![forbid(unsafe_code)]

use once_cell::sync::Lazy;

use crate::core::topics::TopicTable;
use crate::ffi::mailbox::TOPIC_COUNT;
use crate::foreign::{ForeignPayload, RawInput};

/// The topics of this process.
pub(crate) type Mailbox = TopicTable<RawInput, ForeignPayload>;

/// The one table, made on first use.
pub(crate) fn mailbox() -> &'static Mailbox {
    static MAILBOX: Lazy<Mailbox> = Lazy::new(|| TopicTable::new(TOPIC_COUNT));
    &MAILBOX
}
