//! The process's broker: the one table of topics that the C library and
//! the Rust API share, the messages it delivers, when their releases run,
//! and the library's log. Everything here that reads a raw pointer C hands
//! over, or asserts a type, is an `unsafe fn` or `unsafe trait` that says
//! what it needs; the crates above it (the C library at the repository's
//! root, the Rust API in `crates/rust-api`) sit side by side on it and never
//! use each other.
//!
//! - the topic table ([`topics`]), made at compile time (no lazy
//!   initialisation on the publish path), and the one publish path
//!   ([`publish`]);
//! - [`message`]: the message every subscriber receives, C or Rust;
//! - `releases`: when a message's release function runs;
//! - [`typed`]: the topics as Rust sees them: what publishers pass, what
//!   subscribers receive;
//! - [`logging`]: the library's log; [`alloc`]: a `Box` that fails instead
//!   of aborting.
//!
//! Not an API of its own: its items are public for the two crates above,
//! and follow them.
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

#[macro_use]
pub mod logging;

pub mod alloc;
pub mod message;
mod releases;
pub mod typed;

use std::os::raw::c_void;

use isula_mailbox_core::error::Error;
use isula_mailbox_core::topics::{Published, TopicTable};
use message::Message;

/// The topic of CRI container events (`MAILBOX_TOPIC_CRI_CONTAINER`).
pub const CRI_CONTAINER: usize = 0;

/// How many topics there are (`MAILBOX_TOPIC_MAX`).
pub const TOPIC_COUNT: usize = 1;

/// What a publisher passes: a pointer to the topic's input, which the
/// library never reads itself: it hands it to the topic's generator, in
/// the publishing thread.
#[derive(Debug, Clone, Copy)]
pub struct RawInput(pub *mut c_void);

/// The table every topic of this process lives in.
pub type Topics = TopicTable<RawInput, Message, TOPIC_COUNT>;

static TOPICS: Topics = TopicTable::new();

/// The topics of this process.
pub fn topics() -> &'static Topics {
    &TOPICS
}

/// Publishes `input` on topic `index`: the one publish path of C and Rust
/// publishers. Release functions of messages let go meanwhile run once the
/// thread's outermost publish returns, with no lock held.
pub fn publish(index: usize, input: RawInput) -> Result<Published, Error> {
    releases::publishing(|| TOPICS.publish(index, input))
}
