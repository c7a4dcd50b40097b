//! The process's mailbox, shared by the C ABI ([`crate::ffi`]) and the Rust
//! API ([`crate::api`]), which sit side by side on it:
//! - the one table of topics, made at compile time (no lazy initialisation
//!   on the publish path), and the one publish path;
//! - [`message`]: the message every subscriber receives, C or Rust;
//! - [`releases`]: when a message's release function runs;
//! - [`events`]: the typed events Rust code publishes and receives.
//!
//! A safe API over the raw pointers C hands over: what needs a promise from
//! its caller is an `unsafe fn` that says which.

pub(crate) mod events;
pub(crate) mod message;
pub(crate) mod releases;

use std::os::raw::c_void;

use crate::core::topics::{Published, TopicError, TopicTable};
use message::ForeignMessage;

/// The topic of CRI container events (`MAILBOX_TOPIC_CRI_CONTAINER`).
pub(crate) const CRI_CONTAINER: usize = 0;

/// How many topics there are (`MAILBOX_TOPIC_MAX`).
pub(crate) const TOPIC_COUNT: usize = 1;

/// What a publisher passes: a pointer to the topic's input, which the
/// library never reads itself: it hands it to the topic's generator, in
/// the publishing thread.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawInput(pub(crate) *mut c_void);

/// The table every topic of this process lives in.
pub(crate) type Mailbox = TopicTable<RawInput, ForeignMessage, TOPIC_COUNT>;

static MAILBOX: Mailbox = TopicTable::new();

/// The topics of this process.
pub(crate) fn mailbox() -> &'static Mailbox {
    &MAILBOX
}

/// Publishes `input` on topic `index`: the one publish path of C and Rust
/// publishers. Release functions of messages let go meanwhile run once the
/// thread's outermost publish returns, with no lock held.
pub(crate) fn publish(index: usize, input: RawInput) -> Result<Published, TopicError> {
    releases::publishing(|| MAILBOX.publish(index, input))
}
