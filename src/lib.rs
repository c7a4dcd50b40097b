//! # isula-mailbox
//!
//! iSulad's in-process pub/sub — the C modules `blocking_queue`,
//! `mailbox_message`, `message_subscriber`, `message_queue` and `mailbox` —
//! rewritten in Rust behind the same C ABI, with a safe Rust API over the
//! same topics.
//!
//! - The Rust API ([`Topic`], [`Subscription`], [`Event`], …): the topics
//!   the C functions use, for Rust code in the daemon. No `unsafe`.
//! - [`core`]: the safe, generic building blocks (no `unsafe`, no C, no
//!   logging).
//!
//! Inside, from the bottom up: `sys` and `alloc` (what std lacks, made
//! safe), `core`, the process's `mailbox` (its topic table, its messages,
//! when their releases run, the typed events), then, side by side on it,
//! the Rust API and `ffi`, the C ABI (only its C symbols leave the crate);
//! `logging` beside them. The C headers in `include/` are generated from
//! `ffi` by cbindgen; what the library promises is in `docs/CONTRACT.md`.
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
// The loom build checks the core alone; what only the layers above use is
// idle there.
#![cfg_attr(loom, allow(dead_code, unused_imports, unused_macros))]

// Used by the layers above the core only, as is what it is built on.
#[cfg(not(loom))]
#[macro_use]
mod logging;

mod alloc;
#[cfg(not(loom))]
mod api;
pub mod core;
// The process's mailbox and the C ABI need the compile-time-made `static`s
// that loom's models cannot provide; loom checks the core alone.
#[cfg(not(loom))]
mod ffi;
#[cfg(not(loom))]
mod mailbox;
mod sys;

#[cfg(not(loom))]
pub use api::*;
