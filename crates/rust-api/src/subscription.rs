//! Subscriptions: a topic's events, from subscribing on.

use std::time::Duration;

use isula_mailbox_broker::log_debug;
use isula_mailbox_broker::message::Message;
use isula_mailbox_broker::typed::{Event, EventsAre};
use isula_mailbox_core::blocking_queue::Pop;
use isula_mailbox_core::subscriber::Subscriber;

use crate::RecvError;

/// Events of a topic, from when it was made; dropped, it unsubscribes.
///
/// Made by [`Topic::subscribe`](super::Topic::subscribe). Events come in
/// the order every other subscriber, C or Rust, sees them.
pub struct Subscription<E> {
    subscriber: Subscriber<Message>,
    events: EventsAre<E>,
}

impl<E> Subscription<E> {
    pub(crate) fn new(subscriber: Subscriber<Message>, events: EventsAre<E>) -> Self {
        Subscription { subscriber, events }
    }

    fn received(&self, popped: Pop<Message>) -> Result<Event<E>, RecvError> {
        match popped {
            Pop::Item(message) => Ok(self.events.event(message)),
            Pop::TimedOut => Err(RecvError::Timeout),
            Pop::Closed => Err(RecvError::Closed),
        }
    }

    /// The next event, waiting up to the topic's subscriber timeout.
    pub fn recv(&self) -> Result<Event<E>, RecvError> {
        self.received(self.subscriber.pop())
    }

    /// The next event, waiting up to `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Event<E>, RecvError> {
        self.received(self.subscriber.pop_timeout(Some(timeout)))
    }

    /// The next event if one is there.
    pub fn try_recv(&self) -> Result<Event<E>, RecvError> {
        self.recv_timeout(Duration::ZERO)
    }

    /// The events, waiting for each, until the topic is unregistered.
    pub fn iter(&self) -> impl Iterator<Item = Event<E>> + '_ {
        std::iter::from_fn(move || loop {
            match self.received(self.subscriber.pop_timeout(None)) {
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

impl<E> Drop for Subscription<E> {
    fn drop(&mut self) {
        if self.subscriber.is_subscribed() {
            log_debug!(target: "Subscription::drop", "a subscription detached");
        }
    }
}

impl<E> std::fmt::Debug for Subscription<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("pending", &self.pending())
            .finish()
    }
}
