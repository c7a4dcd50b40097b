//! A subscriber: one consumer's inbox of message references, with its pop
//! time limit and an optional bound on what it keeps.

use std::collections::VecDeque;
use std::num::NonZeroUsize;
use std::time::Duration;

use super::blocking_queue::{BlockingQueue, Pop};
use super::counters::CountersRef;
use super::message_queue;
use super::sync::Arc;

/// How a new subscriber behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscriberOptions {
    /// How long [`Subscriber::pop`] waits for a message; `None` is forever.
    pub timeout: Option<Duration>,
    /// The most messages it keeps; when full, the oldest is dropped to make
    /// room. `None` is unbounded.
    pub capacity: Option<NonZeroUsize>,
}

impl SubscriberOptions {
    /// The original's default: pops wait one second.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(1000);

    /// Pops wait [`DEFAULT_TIMEOUT`](Self::DEFAULT_TIMEOUT); unbounded.
    pub const DEFAULT: SubscriberOptions = SubscriberOptions {
        timeout: Some(Self::DEFAULT_TIMEOUT),
        capacity: None,
    };
}

impl Default for SubscriberOptions {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The part of a subscriber that its message queue delivers into.
pub(crate) struct Inbox<M> {
    queue: BlockingQueue<M>,
    options: SubscriberOptions,
    counters: Option<CountersRef>,
}

impl<M> Inbox<M> {
    fn new(options: SubscriberOptions, counters: Option<CountersRef>) -> Self {
        Inbox {
            queue: BlockingQueue::new(),
            options,
            counters,
        }
    }

    /// Queues `message`; returns a message the bound pushed out (for the
    /// caller to drop outside its locks), or the message itself if the inbox
    /// is shut down.
    pub(crate) fn deliver(&self, message: M) -> Result<Option<M>, M> {
        if let Some(counters) = &self.counters {
            counters.enqueuing();
        }
        let result = match self.options.capacity {
            None => self.queue.push(message).map(|()| None),
            Some(capacity) => self.queue.push_bounded(message, capacity.get()),
        };
        if let Some(counters) = &self.counters {
            match &result {
                Ok(None) => {}
                Ok(Some(_evicted)) => counters.discarded(1),
                Err(_refused) => counters.refused(),
            }
        }
        result
    }

    fn pop(&self, timeout: Option<Duration>) -> Pop<M> {
        let popped = self.queue.pop(timeout);
        if let (Pop::Item(_), Some(counters)) = (&popped, &self.counters) {
            counters.popped();
        }
        popped
    }

    /// Shuts the inbox down and drops what it still holds.
    pub(crate) fn close(&self) {
        // Dropped here, with no lock held: a payload's destructor is the
        // daemon's code and may call back into the library.
        drop(self.close_deferred());
    }

    /// Shuts the inbox down and hands back what it still held, for the
    /// caller to drop once it holds no lock.
    pub(crate) fn close_deferred(&self) -> VecDeque<M> {
        let pending = self.queue.close();
        if let Some(counters) = &self.counters {
            counters.discarded(pending.len());
        }
        pending
    }
}

/// One consumer of messages.
///
/// A subscriber made by [`MessageQueue::subscribe`](super::message_queue::MessageQueue::subscribe)
/// receives what is published there; one made by [`Subscriber::new`] only
/// what is [`push`](Self::push)ed to it. Dropping a subscriber detaches it
/// from its queue and drops every message it still holds.
///
/// ```
/// use isula_mailbox::core::{message::Message, subscriber::{Subscriber, SubscriberOptions}};
/// use isula_mailbox::core::blocking_queue::Pop;
///
/// let subscriber = Subscriber::new(SubscriberOptions::default());
/// subscriber.push(Message::new(1)).unwrap();
/// match subscriber.pop() {
///     Pop::Item(message) => assert_eq!(*message.payload(), 1),
///     other => panic!("{other:?}"),
/// }
/// subscriber.shutdown();
/// assert!(matches!(subscriber.pop(), Pop::Closed));
/// ```
pub struct Subscriber<M> {
    inbox: Arc<Inbox<M>>,
    /// The queue it was subscribed to, if any: detached from when dropped.
    queue: Option<Arc<message_queue::QueueShared<M>>>,
}

impl<M> Subscriber<M> {
    /// A subscriber attached to no queue.
    pub fn new(options: SubscriberOptions) -> Self {
        Subscriber {
            inbox: Arc::new(Inbox::new(options, None)),
            queue: None,
        }
    }

    /// A subscriber whose inbox `queue` will deliver into; the caller adds
    /// [`inbox`](Self::inbox) to the queue's members.
    pub(crate) fn for_queue(
        options: SubscriberOptions,
        counters: CountersRef,
        queue: Arc<message_queue::QueueShared<M>>,
    ) -> Self {
        Subscriber {
            inbox: Arc::new(Inbox::new(options, Some(counters))),
            queue: Some(queue),
        }
    }

    pub(crate) fn inbox(&self) -> &Arc<Inbox<M>> {
        &self.inbox
    }

    /// Queues a reference to `message`. Gives it back if the subscriber is
    /// shut down.
    pub fn push(&self, message: M) -> Result<(), M> {
        self.inbox.deliver(message).map(drop)
    }

    /// The oldest message, waiting up to the subscriber's time limit;
    /// [`Pop::Closed`] once it is shut down, at once and every time.
    pub fn pop(&self) -> Pop<M> {
        self.inbox.pop(self.inbox.options.timeout)
    }

    /// As [`pop`](Self::pop), with this time limit (`None`: forever).
    pub fn pop_timeout(&self, timeout: Option<Duration>) -> Pop<M> {
        self.inbox.pop(timeout)
    }

    /// Drops every pending message and makes every later pop return
    /// [`Pop::Closed`].
    pub fn shutdown(&self) {
        self.inbox.close();
    }

    /// Whether the subscriber was shut down.
    pub fn is_shut_down(&self) -> bool {
        self.inbox.queue.is_closed()
    }

    /// How many messages wait to be popped.
    pub fn pending(&self) -> usize {
        self.inbox.queue.len()
    }

    /// The options it was made with.
    pub fn options(&self) -> SubscriberOptions {
        self.inbox.options
    }
}

impl<M> Drop for Subscriber<M> {
    fn drop(&mut self) {
        if let Some(queue) = &self.queue {
            queue.detach(&self.inbox);
        }
        self.inbox.close();
    }
}
