//! The safe core: generic, thread-safe building blocks in safe Rust only
//! (the `forbid` below), with no C types and no logging. The C ABI
//! ([`crate::ffi`]) and the Rust API are thin layers over it: they convert,
//! call, and log what the core reports.
//!
//! - [`blocking_queue`]: a FIFO whose pop waits, with a time limit.
//! - `members`: what a message queue shares with its subscribers.
//! - [`subscriber`]: one consumer's inbox of messages.
//! - [`message_queue`]: fan-out of messages to subscribers, one order for all.
//! - [`topics`]: the table of topics publishers and subscribers meet at.
//! - [`counters`]: what a message queue has done, for stats.
//! - [`shared`]: the trait of the messages the queues deliver.
//! - [`refcount`]: the counting behind a message freed by hand.
//! - [`oom`]: the error of a call whose allocation failed.
//! - [`unwind`]: stopping a panic of someone else's code.
//!
//! Every allocation the core makes can fail without aborting: queues grow
//! with `try_reserve`, shared state is made with a fallible `Arc`, and a
//! call whose allocation failed returns [`OutOfMemory`](oom::OutOfMemory)
//! having changed nothing.
//!
//! Under `cfg(loom)` the core runs on loom's models (see `sync`), for the
//! model checks of `tests/loom.rs`; the topic table, made at compile time
//! for a `static`, is left out there.
#![forbid(unsafe_code)]

pub mod backoff;
pub mod blocking_queue;
pub mod counters;
pub mod lease;
mod members;
pub mod message_queue;
pub mod oom;
pub mod refcount;
pub mod refused;
pub mod shared;
pub mod subscriber;
pub(crate) mod sync;
#[cfg(not(loom))]
pub mod topics;
pub mod unwind;
