//! `message_queue.h`: fan-out of messages to subscribers.

use std::mem::ManuallyDrop;
use std::os::raw::{c_int, c_void};
use std::ptr;

use super::handle::{into_handle, Handle};
use super::mailbox_message::mailbox_message;
use super::message_subscriber::message_subscriber;
use super::{call, handle_arg, Failure};
use crate::core::message::Shared;
use crate::core::message_queue::MessageQueue;
use crate::core::subscriber::SubscriberOptions;
use crate::foreign::ForeignMessage;

/// A message queue (opaque).
pub struct message_queue {
    _private: [u8; 0],
}

impl Handle for message_queue {
    type Target = MessageQueue<ForeignMessage>;
}

/// Creates a message queue, ready to deliver. `release` is accepted for
/// compatibility and unused: queued messages are always disposed of with
/// `mailbox_message_unref`.
///
/// Returns the queue (free it with `message_queue_destroy`, declared in
/// `isula_mailbox.h`).
#[no_mangle]
pub extern "C" fn message_queue_create(
    release: Option<unsafe extern "C" fn(*mut c_void)>,
) -> *mut message_queue {
    let _ = release;
    call("message_queue_create", ptr::null_mut(), || {
        Ok(into_handle::<message_queue>(MessageQueue::new()))
    })
}

/// Shuts every subscriber down (their pops return NULL; what they held is
/// dropped, each message destroyed once) and makes later publishes and
/// subscribes fail. NULL is a no-op.
///
/// # Safety
/// `mq` is NULL or a live message queue.
#[no_mangle]
pub unsafe extern "C" fn message_queue_shutdown(mq: *mut message_queue) {
    call("message_queue_shutdown", (), || {
        if !mq.is_null() {
            handle_arg!(mq).shutdown();
        }
        Ok(())
    })
}

/// Creates a subscriber (pop timeout 1000 ms) that receives every message
/// published from now on. `release` is accepted for compatibility and unused.
///
/// Returns the subscriber (free it with `message_subscriber_destroy`), or
/// NULL if `mq` is NULL or shut down.
///
/// # Safety
/// `mq` is NULL or a live message queue.
#[no_mangle]
pub unsafe extern "C" fn message_queue_subscribe(
    mq: *mut message_queue,
    release: Option<unsafe extern "C" fn(*mut c_void)>,
) -> *mut message_subscriber {
    let _ = release;
    call("message_queue_subscribe", ptr::null_mut(), || {
        let subscriber = handle_arg!(mq)
            .subscribe(SubscriberOptions::default())
            .ok_or_else(|| Failure::error("message queue is shut down"))?;
        Ok(into_handle::<message_subscriber>(subscriber))
    })
}

/// Stops delivering to `sub` (which stays usable and is not freed). A
/// subscriber not subscribed here is logged and ignored.
///
/// # Safety
/// `mq` and `sub` are NULL or live.
#[no_mangle]
pub unsafe extern "C" fn message_queue_unsubscribe(
    mq: *mut message_queue,
    sub: *mut message_subscriber,
) {
    call("message_queue_unsubscribe", (), || {
        let mq = handle_arg!(mq);
        let sub = handle_arg!(sub);
        if !mq.unsubscribe(sub) {
            return Err(Failure::warn("subscriber is not subscribed to this queue"));
        }
        Ok(())
    })
}

/// Delivers `msg` to every subscriber subscribed now, taking over the
/// caller's reference. Never waits for a consumer.
///
/// Returns 0; or -1 if an argument is NULL or the queue is shut down, and
/// then the caller keeps its reference.
///
/// # Safety
/// `mq` is NULL or live; `msg` is NULL or a message the caller holds a
/// reference to.
#[no_mangle]
pub unsafe extern "C" fn message_queue_publish(
    mq: *mut message_queue,
    msg: *mut mailbox_message,
) -> c_int {
    call("message_queue_publish", -1, || {
        let mq = handle_arg!(mq);
        // SAFETY: per this function's contract, the caller's reference keeps
        // a non-NULL `msg` alive for the call.
        let callers =
            unsafe { ForeignMessage::borrow_raw(msg) }.ok_or_else(|| Failure::null("msg"))?;
        // The queue gets a reference of its own; the caller's is given up
        // only once the publish succeeded, so that a failure (or a contained
        // panic) leaves the caller holding it, as -1 says.
        let copy = callers
            .share()
            .ok_or_else(|| Failure::error("reference count overflow"))?;
        let leftovers = mq
            .publish(copy)
            .map_err(|_refused| Failure::error("message queue is shut down"))?;
        drop(leftovers);
        drop(ManuallyDrop::into_inner(callers));
        Ok(0)
    })
}

/// Whether any subscriber is subscribed. Takes no lock.
///
/// Returns false also if `mq` is NULL.
///
/// # Safety
/// `mq` is NULL or a live message queue.
#[no_mangle]
pub unsafe extern "C" fn message_queue_have_subscribers(mq: *mut message_queue) -> bool {
    call("message_queue_have_subscribers", false, || {
        Ok(handle_arg!(mq).has_subscribers())
    })
}
