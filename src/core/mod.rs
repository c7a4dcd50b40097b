//! The safe core: generic, thread-safe building blocks with no `unsafe` and
//! no C types. The C ABI in [`crate::ffi`] and the Rust API are thin layers
//! over these.
//!
//! - [`blocking_queue`]: a FIFO whose pop waits, with a time limit.
//! - [`message`]: a reference-counted payload.
//! - [`subscriber`]: one consumer's inbox of messages.
//! - [`message_queue`]: fan-out of messages to subscribers, one order for all.
//! - [`topics`]: the table of topics publishers and subscribers meet at.
//! - [`counters`]: what each topic has done, for stats.
//! - [`refcount`]: the counting behind a message freed by hand.
//!
//! Under `cfg(loom)` the core runs on loom's models (see `sync`), for the
//! model checks of `tests/loom.rs`; the topic table, made at compile time
//! for a `static`, is left out there.
#![forbid(unsafe_code)]

pub mod blocking_queue;
pub mod counters;
pub mod message;
pub mod message_queue;
pub mod refcount;
pub mod subscriber;
pub(crate) mod sync;
#[cfg(not(loom))]
pub mod topics;
