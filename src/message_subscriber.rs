//! `message_subscriber.h`: one consumer's queue of message references.

use std::os::raw::c_int;
use std::ptr;

use isula_mailbox_broker::log_debug;
use isula_mailbox_broker::message::Message;
use isula_mailbox_core::blocking_queue::Pop;
use isula_mailbox_core::error::Error;
use isula_mailbox_core::shared::Shared;
use isula_mailbox_core::subscriber::{Subscriber, SubscriberOptions};

use crate::blocking_queue::message_release_t;
use crate::boundary::{millis, About, Failure};
use crate::handle::{into_handle, take_handle, Handle};
use crate::mailbox_message::mailbox_message;

/// A subscriber (opaque).
pub struct message_subscriber {
    _private: [u8; 0],
}

impl Handle for message_subscriber {
    type Target = Subscriber<Message>;
}

ffi_fn! {
    /// Creates a subscriber attached to no message queue: it receives what is
    /// pushed with `message_subscriber_push`.
    ///
    /// `timeout` is how long `message_subscriber_pop` waits, in milliseconds
    /// (negative: forever). `release` is accepted for compatibility and unused:
    /// pending messages are always dropped with `mailbox_message_unref`.
    ///
    /// Returns the subscriber (free it with `message_subscriber_destroy`), or
    /// NULL when memory runs out.
    fn message_subscriber_create(
        timeout: i64,
        release: message_release_t,
    ) -> *mut message_subscriber {
        // Accepted for compatibility; messages are always unreffed.
        let _ = release;
        let options = SubscriberOptions {
            timeout: millis(timeout),
            ..SubscriberOptions::default()
        };
        Ok(into_handle::<message_subscriber>(Subscriber::new(
            options,
        )?)?)
    } else ptr::null_mut()
}

ffi_fn! {
    /// Drops every pending message (with `mailbox_message_unref`) and makes
    /// every later pop return 0 with `*msg == NULL`, at once and every time.
    /// NULL is a no-op. Allocates nothing. A message's release function run
    /// here may call any function of the library except destroying this
    /// subscriber.
    ///
    /// A subscriber shut down but neither unsubscribed nor destroyed stays
    /// subscribed: its message queue still counts it (so a topic still calls
    /// its generator), and it refuses what it is given (a miss, counted in
    /// the topic's `dropped`).
    ///
    /// # Safety
    /// `sub` is NULL or a live subscriber.
    unsafe fn message_subscriber_shutdown(sub: *mut message_subscriber) {
        if !sub.is_null() {
            handle_arg!(sub).shutdown();
        }
        Ok(())
    }
}

ffi_fn! {
    /// Drops what is still queued (with `mailbox_message_unref`) and frees the
    /// subscriber. A subscriber still subscribed to a message queue (or a
    /// topic) is detached from it first: nothing is delivered to it any more.
    /// NULL is a no-op. Allocates nothing.
    ///
    /// # Safety
    /// `sub` is NULL or a live subscriber, not used again afterwards.
    unsafe fn message_subscriber_destroy(sub: *mut message_subscriber) {
        // SAFETY: per this function's contract, `sub` is NULL or a live
        // handle that nobody uses afterwards.
        if let Some(subscriber) = unsafe { take_handle(sub) } {
            if subscriber.is_subscribed() {
                log_debug!(
                    target: EXPORT.name(),
                    "subscriber {sub:p} destroyed while subscribed: detached"
                );
            }
            drop(subscriber);
        }
        Ok(())
    }
}

ffi_fn! {
    /// Queues a reference to `msg`: the subscriber takes its own reference, the
    /// caller keeps theirs.
    ///
    /// Returns 0, or -1 if an argument is NULL, `msg` already has `INT_MAX`
    /// references, the subscriber is shut down (it would never pop it), or it
    /// cannot grow (out of memory); on -1 the subscriber took no reference.
    /// A bounded subscriber (see `mailbox_set_subscriber_capacity`) that is
    /// full drops its oldest message to make room.
    ///
    /// # Safety
    /// `sub` is NULL or a live subscriber; `msg` is NULL or a message the
    /// caller holds a reference to.
    unsafe fn message_subscriber_push(
        sub: *mut message_subscriber,
        msg: *mut mailbox_message,
    ) -> c_int {
        let sub = handle_arg!(sub);
        // SAFETY: per this function's contract, the caller's reference keeps
        // a non-NULL `msg` alive for the call.
        let msg = unsafe { Message::borrow_raw(msg) }.ok_or(Failure::Null("msg"))?;
        let copy = msg.share().ok_or(Error::ReferenceLimit)?;
        match sub.push(copy) {
            Ok(()) => Ok(0),
            // The copy goes back (not the last reference: the caller's is).
            Err(refused) => Err(Failure::Refused(refused.error, About::Subscriber)),
        }
    } else -1
}

ffi_fn! {
    /// Hands the caller the oldest message in `*msg` (one reference: unref it),
    /// waiting up to the subscriber's timeout as `blocking_queue_pop` does.
    ///
    /// Returns 0 with a message; 0 with `*msg == NULL` once the subscriber is
    /// shut down; `ETIMEDOUT` when the timeout passed (`*msg` untouched); -1 if
    /// an argument is NULL. Allocates nothing.
    ///
    /// # Safety
    /// `sub` is NULL or a live subscriber; `msg` is NULL or writable.
    unsafe fn message_subscriber_pop(
        sub: *mut message_subscriber,
        msg: *mut *mut mailbox_message,
    ) -> c_int {
        let sub = handle_arg!(sub);
        if msg.is_null() {
            return Err(Failure::Null("msg"));
        }
        let popped = match sub.pop() {
            Pop::Item(message) => message.into_raw::<mailbox_message>(),
            Pop::Closed => ptr::null_mut(),
            Pop::TimedOut => return Ok(libc::ETIMEDOUT),
        };
        // SAFETY: `msg` is non-NULL and, per this function's contract,
        // points to writable storage for one pointer.
        unsafe { msg.write(popped) };
        Ok(0)
    } else -1
}
