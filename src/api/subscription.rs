//! Subscriptions and the events they receive.

use std::marker::PhantomData;
use std::ops::Deref;
use std::os::raw::c_void;
use std::time::Duration;

use super::RecvError;
use crate::core::blocking_queue::Pop;
use crate::core::message::Shared;
use crate::core::subscriber::Subscriber;
use crate::foreign::ForeignMessage;

/// Events of a topic, from when it was made; dropped, it unsubscribes.
///
/// Made by [`Topic::subscribe`](super::Topic::subscribe). Events come in
/// the order every other subscriber, C or Rust, sees them.
pub struct Subscription<E> {
    subscriber: Subscriber<ForeignMessage>,
    event: PhantomData<fn() -> E>,
}

impl<E> Subscription<E> {
    pub(crate) fn new(subscriber: Subscriber<ForeignMessage>) -> Self {
        Subscription {
            subscriber,
            event: PhantomData,
        }
    }

    fn received(popped: Pop<ForeignMessage>) -> Result<Event<E>, RecvError> {
        match popped {
            Pop::Item(message) => Ok(Event {
                message,
                event: PhantomData,
            }),
            Pop::TimedOut => Err(RecvError::Timeout),
            Pop::Closed => Err(RecvError::Closed),
        }
    }

    /// The next event, waiting up to the topic's subscriber timeout.
    pub fn recv(&self) -> Result<Event<E>, RecvError> {
        Self::received(self.subscriber.pop())
    }

    /// The next event, waiting up to `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Event<E>, RecvError> {
        Self::received(self.subscriber.pop_timeout(Some(timeout)))
    }

    /// The next event if one is there.
    pub fn try_recv(&self) -> Result<Event<E>, RecvError> {
        self.recv_timeout(Duration::ZERO)
    }

    /// The events, waiting for each, until the topic is unregistered.
    pub fn iter(&self) -> impl Iterator<Item = Event<E>> + '_ {
        std::iter::from_fn(move || loop {
            match Self::received(self.subscriber.pop_timeout(None)) {
                Ok(event) => return Some(event),
                Err(RecvError::Closed) => return None,
                Err(RecvError::Timeout) => continue,
            }
        })
    }

    /// How many events wait to be received.
    pub fn pending(&self) -> usize {
        self.subscriber.pending()
    }
}

impl<E> std::fmt::Debug for Subscription<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("pending", &self.pending())
            .finish()
    }
}

/// One reference to an event; the event goes when its last reference,
/// here or in any C or Rust subscriber, is dropped.
pub struct Event<E> {
    message: ForeignMessage,
    event: PhantomData<E>,
}

impl<E> Event<E> {
    /// Another reference to the same event; `None` at the reference limit.
    pub fn try_clone(&self) -> Option<Self> {
        self.message.share().map(|message| Event {
            message,
            event: PhantomData,
        })
    }

    /// The event's data as C sees it (`msg->data`).
    pub fn as_ptr(&self) -> *mut c_void {
        self.message.data()
    }
}

impl<E> Deref for Event<E> {
    type Target = E;

    fn deref(&self) -> &E {
        // SAFETY: the subscription was made for events of type `E`: checked
        // against the registrant's type by `Topic::subscribe`, or promised
        // by the caller of `Topic::subscribe_foreign`; the message keeps the
        // data alive while this reference exists.
        unsafe { &*self.message.data().cast::<E>() }
    }
}

impl<E: std::fmt::Debug> std::fmt::Debug for Event<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}
