//! # isula-mailbox-ffi: the C library
//!
//! iSulad's in-process pub/sub behind the C ABI of the modules it replaces
//! (`blocking_queue`, `mailbox_message`, `message_subscriber`,
//! `message_queue`, `mailbox`) and of `isula_mailbox.h`, which adds to
//! them. This crate's one job is that ABI: one module per header, named as
//! the header is and owning its C types (from Rust,
//! `isula_mailbox_ffi::blocking_queue::blocking_queue_push`); every export written by [`ffi_fn!`]
//! in the same three steps: check and convert the pointers, call the core
//! or the broker, map the result. Its Rust items are the C API itself (for
//! the tests, benchmarks and fuzzer that call it from Rust, and for a Rust
//! program that links the daemon's C code with it); Rust code that uses the
//! topics uses the Rust API, the `isula-mailbox` crate, instead.
//!
//! Built as a static and a shared library (`libisula_mailbox_ffi.a`,
//! `.so`); CMake turns them into what the daemon links,
//! `libisula_mailbox.a` (localized to the C API) and
//! `libisula_mailbox.so.0`. The headers in `include/` are generated from
//! these modules (build.rs, feature `generate-headers`); what the library
//! promises is in the headers and `docs/CONTRACT.md`.
#![allow(non_camel_case_types)]
#![deny(unsafe_op_in_unsafe_fn)]

#[macro_use]
pub mod boundary;
mod handle;

pub mod blocking_queue;
pub mod isula_mailbox;
pub mod mailbox;
pub mod mailbox_message;
pub mod message_queue;
pub mod message_subscriber;

#[cfg(test)]
mod tests;
