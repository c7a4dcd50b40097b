//! The safe core of isula-mailbox: generic, thread-safe building blocks in
//! safe Rust only (the `forbid` below), with no C types and no logging.
//! The process's broker (`isula-mailbox-broker`), the C library (the root
//! crate) and the Rust API (`isula-mailbox`) are built on it: they convert,
//! call, and log what the core reports. Not an API of its own: its items
//! are public for those crates, and follow them.
//!
//! - [`blocking_queue`]: a FIFO whose pop waits, with a time limit;
//!   [`backoff`]: whether a waiting pop spins first, and the spin.
//! - [`subscriber`]: one consumer's inbox of messages; `members`: what a
//!   message queue shares with its subscribers.
//! - [`message_queue`]: fan-out of messages to subscribers, one order for all.
//! - [`topics`]: the table of topics publishers and subscribers meet at.
//! - [`counters`]: what a message queue has done, for stats.
//! - [`shared`]: the trait of the messages the queues deliver;
//!   [`refcount`]: the counting behind a message freed by hand.
//! - [`lease`]: a value many threads borrow while one may take it away.
//! - [`error`]: what can fail; [`unwind`]: stopping a panic of someone
//!   else's code.
//! - `sync`: the locks, condition variable and `Arc` (or loom's models);
//!   `sys`: the current CPU.
//!
//! Every allocation the core makes can fail without aborting: queues grow
//! with `try_reserve`, shared state is made with a fallible `Arc`, and a
//! call whose allocation failed returns
//! [`Error::OutOfMemory`](error::Error::OutOfMemory) having changed nothing.
//!
//! Under `cfg(loom)` the core runs on loom's models (see `sync`), for the
//! model checks of `tests/loom.rs`; the topic table, made at compile time
//! for a `static`, is left out there.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// The loom build checks the queues and the lease alone.
#![cfg_attr(loom, allow(dead_code, unused_imports))]

pub mod backoff;
pub mod blocking_queue;
pub mod counters;
pub mod error;
pub mod lease;
mod members;
pub mod message_queue;
pub mod refcount;
pub mod shared;
pub mod subscriber;
mod sync;
mod sys;
#[cfg(not(loom))]
pub mod topics;
pub mod unwind;
