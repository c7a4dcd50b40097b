//! `message_queue.h`: fan-out of messages to subscribers.

use std::mem::ManuallyDrop;
use std::os::raw::c_int;
use std::ptr;

use isula_mailbox_broker::message::Message;
use isula_mailbox_core::error::Error;
use isula_mailbox_core::message_queue::MessageQueue;
use isula_mailbox_core::shared::Shared;
use isula_mailbox_core::subscriber::SubscriberOptions;

use crate::blocking_queue::message_release_t;
use crate::boundary::{report_missed, About, Failure};
use crate::handle::{into_handle, take_handle, Handle};
use crate::mailbox_message::mailbox_message;
use crate::message_subscriber::message_subscriber;

/// A message queue (opaque).
pub struct message_queue {
    _private: [u8; 0],
}

impl Handle for message_queue {
    type Target = MessageQueue<Message>;
}

ffi_fn! {
    /// Creates a message queue, ready to deliver. `release` is accepted for
    /// compatibility and unused: queued messages are always disposed of with
    /// `mailbox_message_unref`.
    ///
    /// Returns the queue (free it with `message_queue_destroy`, declared in
    /// `isula_mailbox.h`), or NULL when memory runs out.
    fn message_queue_create(release: message_release_t) -> *mut message_queue {
        // Accepted for compatibility; messages are always unreffed.
        let _ = release;
        Ok(into_handle::<message_queue>(MessageQueue::new()?)?)
    } else ptr::null_mut()
}

ffi_fn! {
    /// Shuts every subscriber down (their pops return NULL; what they held is
    /// dropped, each message destroyed once) and makes later publishes and
    /// subscribes fail. NULL is a no-op. Allocates nothing.
    ///
    /// # Safety
    /// `mq` is NULL or a live message queue.
    unsafe fn message_queue_shutdown(mq: *mut message_queue) {
        if !mq.is_null() {
            handle_arg!(mq).shutdown();
        }
        Ok(())
    }
}

ffi_fn! {
    /// Creates a subscriber (pop timeout 1000 ms) that receives every message
    /// published from now on. `release` is accepted for compatibility and unused.
    ///
    /// Returns the subscriber (free it with `message_subscriber_destroy`), or
    /// NULL if `mq` is NULL or shut down, or when memory runs out.
    ///
    /// # Safety
    /// `mq` is NULL or a live message queue.
    unsafe fn message_queue_subscribe(
        mq: *mut message_queue,
        release: message_release_t,
    ) -> *mut message_subscriber {
        // Accepted for compatibility; messages are always unreffed.
        let _ = release;
        let subscriber = handle_arg!(mq)
            .subscribe(SubscriberOptions::default())
            .map_err(about_the_queue)?;
        Ok(into_handle::<message_subscriber>(subscriber)?)
    } else ptr::null_mut()
}

fn about_the_queue(error: Error) -> Failure {
    Failure::Refused(error, About::MessageQueue)
}

ffi_fn! {
    /// Stops delivering to `sub` (which stays usable and is not freed). A
    /// subscriber not subscribed here (one of another queue, or unsubscribed
    /// already) is logged and ignored. Allocates nothing.
    ///
    /// # Safety
    /// `mq` and `sub` are NULL or live.
    unsafe fn message_queue_unsubscribe(mq: *mut message_queue, sub: *mut message_subscriber) {
        let mq = handle_arg!(mq);
        let sub = handle_arg!(sub);
        if !mq.unsubscribe(sub) {
            return Err(Failure::Refused(Error::NotSubscribed, About::MessageQueue));
        }
        Ok(())
    }
}

ffi_fn! {
    /// Delivers `msg` to every subscriber subscribed when it is published and
    /// still subscribed when it is delivered, taking over the caller's
    /// reference. The publishing thread delivers (no dispatcher thread) and
    /// never waits for a consumer. All subscribers see the messages in one and
    /// the same order, and one thread's messages in the order it published
    /// them.
    ///
    /// Returns 0; or -1 if an argument is NULL, `msg` already has `INT_MAX`
    /// references, the queue is shut down, or memory runs out for a bounded
    /// subscriber's room for what it drops (not possible through this API,
    /// whose subscribers are unbounded), and then the caller keeps its
    /// reference and nothing was delivered. A subscriber that cannot take the
    /// message (shut down but still subscribed; or out of memory, which is
    /// logged) misses it, and a topic counts the miss in `dropped`; the others
    /// still get it.
    ///
    /// # Safety
    /// `mq` is NULL or live; `msg` is NULL or a message the caller holds a
    /// reference to.
    unsafe fn message_queue_publish(mq: *mut message_queue, msg: *mut mailbox_message) -> c_int {
        let mq = handle_arg!(mq);
        // SAFETY: per this function's contract, the caller's reference keeps
        // a non-NULL `msg` alive for the call.
        let callers = unsafe { Message::borrow_raw(msg) }.ok_or(Failure::Null("msg"))?;
        // The queue gets a reference of its own; the caller's is given up
        // only once the publish succeeded, so that a failure (or a contained
        // panic) leaves the caller holding it, as -1 says.
        let copy = callers.share().ok_or(Error::ReferenceLimit)?;
        let leftovers = mq
            .publish(copy)
            .map_err(|refused| about_the_queue(refused.error))?;
        let missed = leftovers.missed();
        drop(leftovers);
        drop(ManuallyDrop::into_inner(callers));
        // The publish went through; what some subscribers missed is logged.
        report_missed(EXPORT, missed);
        Ok(0)
    } else -1
}

ffi_fn! {
    /// Whether any subscriber is subscribed. Takes no lock; allocates nothing.
    ///
    /// Returns false also if `mq` is NULL.
    ///
    /// # Safety
    /// `mq` is NULL or a live message queue.
    unsafe fn message_queue_have_subscribers(mq: *mut message_queue) -> bool {
        Ok(handle_arg!(mq).has_subscribers())
    } else false
}

// Declared in isula_mailbox.h (build.rs): the original header has no way to
// free a message queue, and keeps the original API.
ffi_fn! {
    /// Shuts the queue down (as `message_queue_shutdown`) and frees it; its
    /// subscribers stay valid (shut down) until destroyed. NULL is a no-op.
    /// Allocates nothing.
    ///
    /// # Safety
    /// `mq` is NULL or a live message queue, not used again afterwards.
    unsafe fn message_queue_destroy(mq: *mut message_queue) {
        // SAFETY: per this function's contract, `mq` is NULL or a live
        // handle that nobody uses afterwards. Dropping it shuts the queue
        // down; the little state its subscribers share with it goes with
        // the last of them.
        drop(unsafe { take_handle(mq) });
        Ok(())
    }
}
