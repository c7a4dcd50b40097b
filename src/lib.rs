//! # isula-mailbox
//!
//! iSulad's in-process pub/sub — the C modules `blocking_queue`,
//! `mailbox_message`, `message_subscriber`, `message_queue` and `mailbox` —
//! rewritten in Rust behind the same C ABI.
//!
//! - The Rust API ([`Topic`], [`Subscription`], [`Event`], …): the same
//!   topics as the C functions, for Rust code in the daemon. No `unsafe`.
//! - [`core`]: the safe, generic building blocks (no `unsafe`, no C, no
//!   logging).
//! - [`ffi`]: the `extern "C"` functions of the original headers and of
//!   `isula_mailbox.h`, one module per header, each owning its C types.
//!
//! The C headers in `include/` are generated from [`ffi`] by cbindgen; what
//! the library promises is in `docs/CONTRACT.md`.
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
// The loom build checks the core alone; what only the C layer uses is idle.
#![cfg_attr(loom, allow(dead_code, unused_imports, unused_macros))]

#[macro_use]
mod logging;

#[cfg(not(loom))]
mod api;
pub mod core;
mod sys;
// The C ABI and the process-wide topic table need the compile-time-made
// `static`s that loom's models cannot provide; loom checks the core alone.
#[cfg(not(loom))]
#[allow(missing_docs, non_camel_case_types)]
pub mod ffi;

#[cfg(not(loom))]
pub use api::*;
