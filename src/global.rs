//! The process's topic table, shared by the C functions of `mailbox.h` and
//! the Rust API.
#![forbid(unsafe_code)]

use crate::core::topics::TopicTable;
use crate::ffi::mailbox::TOPIC_COUNT;
use crate::foreign::{ForeignMessage, RawInput};

/// The topics of this process.
pub(crate) type Mailbox = TopicTable<RawInput, ForeignMessage, TOPIC_COUNT>;

/// Made at compile time: no lazy initialisation on the publish path.
static MAILBOX: Mailbox = TopicTable::new();

/// The one table.
#[inline]
pub(crate) fn mailbox() -> &'static Mailbox {
    &MAILBOX
}
