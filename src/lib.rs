//! # isula-mailbox
//!
//! iSulad's in-process pub/sub — the C modules `blocking_queue`,
//! `mailbox_message`, `message_subscriber`, `message_queue` and `mailbox` —
//! rewritten in Rust behind the same C ABI.
//!
//! - [`core`]: the safe, generic building blocks (no `unsafe`).
//! - [`ffi`]: the `extern "C"` functions of the original headers and of
//!   `isula_mailbox.h`, one module per header.
//!
//! The C headers in `include/` are generated from [`ffi`] by cbindgen.
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

#[macro_use]
mod logging;

pub mod core;
#[allow(missing_docs, non_camel_case_types)]
pub mod ffi;
mod foreign;
mod global;
