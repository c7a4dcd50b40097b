//! The C functions and types of isula-mailbox's headers (`include/`),
//! declared in Rust as a C program sees them: opaque handles, enums as
//! `int`, every function `unsafe`. For the project's Rust tests,
//! benchmarks, fuzzer and example that use the library through its C ABI;
//! `tests/headers.rs` checks these against the headers.
#![allow(non_camel_case_types)]

use std::os::raw::{c_char, c_int, c_void};

// Links the library, whose C symbols the declarations below resolve to.
use isula_mailbox as _;

/// `struct blocking_queue` (opaque).
#[repr(C)]
pub struct blocking_queue {
    _private: [u8; 0],
}

/// `struct message_subscriber` (opaque).
#[repr(C)]
pub struct message_subscriber {
    _private: [u8; 0],
}

/// `struct message_queue` (opaque).
#[repr(C)]
pub struct message_queue {
    _private: [u8; 0],
}

/// `struct mailbox_message`: only `data` is public.
#[repr(C)]
pub struct mailbox_message {
    pub data: *mut c_void,
}

pub type message_release_t = Option<unsafe extern "C" fn(*mut c_void)>;
pub type message_generator_t =
    Option<unsafe extern "C" fn(*mut c_void, *mut c_void) -> *mut c_void>;

pub const BLOCKING_QUEUE_NO_TIMEOUT: i64 = -1;

pub type mailbox_topic = c_int;
pub const MAILBOX_TOPIC_INVALID: mailbox_topic = -1;
pub const MAILBOX_TOPIC_CRI_CONTAINER: mailbox_topic = 0;
pub const MAILBOX_TOPIC_MAX: mailbox_topic = 1;

pub type cri_container_message_type = c_int;
pub const CRI_CONTAINER_MESSAGE_TYPE_INVALID: cri_container_message_type = -1;
pub const CRI_CONTAINER_MESSAGE_TYPE_CREATED: cri_container_message_type = 0;
pub const CRI_CONTAINER_MESSAGE_TYPE_STARTED: cri_container_message_type = 1;
pub const CRI_CONTAINER_MESSAGE_TYPE_STOPPED: cri_container_message_type = 2;
pub const CRI_CONTAINER_MESSAGE_TYPE_DELETED: cri_container_message_type = 3;
pub const CRI_CONTAINER_MESSAGE_TYPE_MAX: cri_container_message_type = 4;

/// `cri_container_message_t`.
#[repr(C)]
pub struct cri_container_message_t {
    pub container_id: *const c_char,
    pub sandbox_id: *const c_char,
    pub r#type: cri_container_message_type,
}

pub type mailbox_log_level = c_int;
pub const MAILBOX_LOG_ERROR: mailbox_log_level = 1;
pub const MAILBOX_LOG_WARN: mailbox_log_level = 2;
pub const MAILBOX_LOG_INFO: mailbox_log_level = 3;
pub const MAILBOX_LOG_DEBUG: mailbox_log_level = 4;
pub const MAILBOX_LOG_TRACE: mailbox_log_level = 5;

pub type mailbox_log_fn = Option<
    unsafe extern "C" fn(level: mailbox_log_level, message: *const c_char, user: *mut c_void),
>;

/// `struct mailbox_topic_stats`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct mailbox_topic_stats {
    pub published: u64,
    pub delivered: u64,
    pub dropped: u64,
    pub pending: u64,
    pub subscribers: u32,
}

extern "C" {
    // blocking_queue.h
    pub fn blocking_queue_create(timeout: i64, release: message_release_t) -> *mut blocking_queue;
    pub fn blocking_queue_push(queue: *mut blocking_queue, data: *mut c_void) -> c_int;
    pub fn blocking_queue_pop(queue: *mut blocking_queue, data: *mut *mut c_void) -> c_int;
    pub fn blocking_queue_clear(queue: *mut blocking_queue);
    pub fn blocking_queue_destroy(queue: *mut blocking_queue);

    // mailbox_message.h
    pub fn mailbox_message_create(
        data: *mut c_void,
        destroy: message_release_t,
    ) -> *mut mailbox_message;
    pub fn mailbox_message_ref(p: *mut mailbox_message) -> c_int;
    pub fn mailbox_message_unref(p: *mut mailbox_message);

    // message_subscriber.h
    pub fn message_subscriber_create(
        timeout: i64,
        release: message_release_t,
    ) -> *mut message_subscriber;
    pub fn message_subscriber_shutdown(sub: *mut message_subscriber);
    pub fn message_subscriber_destroy(sub: *mut message_subscriber);
    pub fn message_subscriber_push(
        sub: *mut message_subscriber,
        msg: *mut mailbox_message,
    ) -> c_int;
    pub fn message_subscriber_pop(
        sub: *mut message_subscriber,
        msg: *mut *mut mailbox_message,
    ) -> c_int;

    // message_queue.h
    pub fn message_queue_create(release: message_release_t) -> *mut message_queue;
    pub fn message_queue_shutdown(mq: *mut message_queue);
    pub fn message_queue_subscribe(
        mq: *mut message_queue,
        release: message_release_t,
    ) -> *mut message_subscriber;
    pub fn message_queue_unsubscribe(mq: *mut message_queue, sub: *mut message_subscriber);
    pub fn message_queue_publish(mq: *mut message_queue, msg: *mut mailbox_message) -> c_int;
    pub fn message_queue_have_subscribers(mq: *mut message_queue) -> bool;

    // mailbox.h
    pub fn mailbox_register_topic_handler(
        topic: mailbox_topic,
        generator: message_generator_t,
        context: *mut c_void,
        release: message_release_t,
        r#async: bool,
    ) -> c_int;
    pub fn mailbox_unregister_topic_handler(topic: mailbox_topic);
    pub fn mailbox_publish(topic: mailbox_topic, data: *mut c_void);
    pub fn mailbox_subscribe(topic: mailbox_topic) -> *mut message_subscriber;
    pub fn mailbox_unsubscribe(topic: mailbox_topic, sub: *mut message_subscriber);

    // isula_mailbox.h
    pub fn message_queue_destroy(mq: *mut message_queue);
    pub fn mailbox_set_log_callback(
        r#fn: mailbox_log_fn,
        max_level: mailbox_log_level,
        user: *mut c_void,
    );
    pub fn mailbox_get_topic_stats(topic: mailbox_topic, out: *mut mailbox_topic_stats) -> c_int;
    pub fn mailbox_set_subscriber_timeout(topic: mailbox_topic, timeout_ms: i64) -> c_int;
    pub fn mailbox_set_subscriber_capacity(topic: mailbox_topic, capacity: usize) -> c_int;
    pub fn isula_mailbox_version() -> *const c_char;
}
