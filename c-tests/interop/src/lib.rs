//! C and Rust on the same topics, in one process.
//!
//! The C half (`interop.c`) registers, publishes and subscribes through
//! the C ABI exactly as the daemon does; the Rust half uses the library's
//! Rust API. Both share the one topic table of the one library linked in.

#![allow(non_camel_case_types)]

use std::os::raw::{c_char, c_int};

// The C library: the exports interop.c calls, on the same broker as the
// Rust API.
use isula_mailbox_ffi as _;

/// `message_subscriber` of the C headers, opaque.
#[repr(C)]
pub struct message_subscriber {
    _private: [u8; 0],
}

/// `shared_event` of interop.h.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SharedEvent {
    pub container_id: [u8; 64],
    pub r#type: c_int,
}

impl SharedEvent {
    pub fn new(container_id: &str, r#type: c_int) -> Self {
        let mut id = [0u8; 64];
        id[..container_id.len()].copy_from_slice(container_id.as_bytes());
        SharedEvent {
            container_id: id,
            r#type,
        }
    }

    pub fn container(&self) -> &str {
        let end = self.container_id.iter().position(|&b| b == 0).unwrap_or(64);
        std::str::from_utf8(&self.container_id[..end]).unwrap()
    }
}

// SAFETY: interop.c's generator returns a malloc'd `shared_event`, whose
// layout this is, never changed once made, and its release frees it from
// any thread; a Rust generator of it makes the same layout for C to read.
unsafe impl isula_mailbox::ForeignEvent<isula_mailbox::CriContainer> for SharedEvent {}

extern "C" {
    pub fn c_register() -> c_int;
    pub fn c_publish(container_id: *const c_char, r#type: c_int);
    pub fn c_unregister();
    pub fn c_made() -> c_int;
    pub fn c_released() -> c_int;
    pub fn c_subscribe() -> *mut message_subscriber;
    pub fn c_pop(sub: *mut message_subscriber, out: *mut SharedEvent) -> c_int;
    pub fn c_destroy(sub: *mut message_subscriber);
}

#[cfg(test)]
mod tests;
