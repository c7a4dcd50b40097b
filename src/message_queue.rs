//! `message_queue.h`: fan-out of messages to subscribers.

use std::mem::ManuallyDrop;
use std::os::raw::c_int;
use std::ptr;

use super::blocking_queue::message_release_t;
use super::handle::{into_handle, Handle};
use super::mailbox_message::mailbox_message;
use super::message_subscriber::message_subscriber;
use super::{ffi_body, handle_arg, report_missed, Arg, Failure};
use crate::core::message_queue::MessageQueue;
use crate::core::refused::Refused;
use crate::core::shared::Shared;
use crate::core::subscriber::SubscriberOptions;
use crate::mailbox::message::ForeignMessage;

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
/// `isula_mailbox.h`), or NULL when memory runs out.
#[no_mangle]
pub extern "C" fn message_queue_create(release: message_release_t) -> *mut message_queue {
    ffi_body!(ptr::null_mut(), |_export| {
        // Accepted for compatibility; messages are always unreffed.
        let _ = release;
        Ok(into_handle::<message_queue>(MessageQueue::new()?)?)
    })
}

/// Shuts every subscriber down (their pops return NULL; what they held is
/// dropped, each message destroyed once) and makes later publishes and
/// subscribes fail. NULL is a no-op. Allocates nothing.
///
/// # Safety
/// `mq` is NULL or a live message queue.
#[no_mangle]
pub unsafe extern "C" fn message_queue_shutdown(mq: *mut message_queue) {
    ffi_body!((), |_export| {
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
/// NULL if `mq` is NULL or shut down, or when memory runs out.
///
/// # Safety
/// `mq` is NULL or a live message queue.
#[no_mangle]
pub unsafe extern "C" fn message_queue_subscribe(
    mq: *mut message_queue,
    release: message_release_t,
) -> *mut message_subscriber {
    ffi_body!(ptr::null_mut(), |_export| {
        // Accepted for compatibility; messages are always unreffed.
        let _ = release;
        let subscriber = handle_arg!(mq)
            .subscribe(SubscriberOptions::default())
            .map_err(refused)?;
        Ok(into_handle::<message_subscriber>(subscriber)?)
    })
}

fn refused<T>(refused: Refused<T>) -> Failure {
    match refused {
        Refused::Closed(_) => Failure::QueueShutDown,
        Refused::OutOfMemory(_) => Failure::OutOfMemory,
    }
}

/// Stops delivering to `sub` (which stays usable and is not freed). A
/// subscriber not subscribed here is logged and ignored. Allocates nothing.
///
/// # Safety
/// `mq` and `sub` are NULL or live.
#[no_mangle]
pub unsafe extern "C" fn message_queue_unsubscribe(
    mq: *mut message_queue,
    sub: *mut message_subscriber,
) {
    ffi_body!((), |_export| {
        let mq = handle_arg!(mq);
        let sub = handle_arg!(sub);
        if !mq.unsubscribe(sub) {
            return Err(Failure::NotSubscribedHere);
        }
        Ok(())
    })
}

/// Delivers `msg` to every subscriber subscribed now, taking over the
/// caller's reference. Never waits for a consumer.
///
/// Returns 0; or -1 if an argument is NULL, the queue is shut down, or
/// memory runs out (a bounded subscriber needs room for what it drops), and
/// then the caller keeps its reference and nothing was delivered. A
/// subscriber that cannot take the message (shut down, or out of memory)
/// misses it; the others still get it.
///
/// # Safety
/// `mq` is NULL or live; `msg` is NULL or a message the caller holds a
/// reference to.
#[no_mangle]
pub unsafe extern "C" fn message_queue_publish(
    mq: *mut message_queue,
    msg: *mut mailbox_message,
) -> c_int {
    ffi_body!(-1, |export| {
        let mq = handle_arg!(mq);
        // SAFETY: per this function's contract, the caller's reference keeps
        // a non-NULL `msg` alive for the call.
        let callers = unsafe { ForeignMessage::borrow_raw(msg) }.ok_or(Failure::Null(Arg::msg))?;
        // The queue gets a reference of its own; the caller's is given up
        // only once the publish succeeded, so that a failure (or a contained
        // panic) leaves the caller holding it, as -1 says.
        let copy = callers.share().ok_or(Failure::ReferenceLimit)?;
        let leftovers = mq.publish(copy).map_err(refused)?;
        let missed = leftovers.missed();
        drop(leftovers);
        drop(ManuallyDrop::into_inner(callers));
        // The publish went through; what some subscribers missed is logged.
        report_missed(export, missed);
        Ok(0)
    })
}

/// Whether any subscriber is subscribed. Takes no lock; allocates nothing.
///
/// Returns false also if `mq` is NULL.
///
/// # Safety
/// `mq` is NULL or a live message queue.
#[no_mangle]
pub unsafe extern "C" fn message_queue_have_subscribers(mq: *mut message_queue) -> bool {
    ffi_body!(false, |_export| { Ok(handle_arg!(mq).has_subscribers()) })
}
