//! A subscriber: one consumer's inbox of message references, with its pop
//! time limit and an optional bound on what it keeps.

use std::num::NonZeroUsize;
use std::time::Duration;

use super::blocking_queue::Pop;
use super::error::{Error, Refused};
use super::members::{Arrival, Inbox, Members};
use super::sync::{try_arc, Arc};

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

/// One consumer of messages.
///
/// A subscriber made by [`MessageQueue::subscribe`](super::message_queue::MessageQueue::subscribe)
/// receives what is published there; one made by [`Subscriber::new`] only
/// what is [`push`](Self::push)ed to it. Dropping a subscriber detaches it
/// from its queue and drops every message it still holds.
///
/// ```
/// use std::sync::Arc;
/// use isula_mailbox_core::blocking_queue::Pop;
/// use isula_mailbox_core::subscriber::{Subscriber, SubscriberOptions};
///
/// let subscriber = Subscriber::new(SubscriberOptions::default()).unwrap();
/// subscriber.push(Arc::new(1)).unwrap();
/// match subscriber.pop() {
///     Pop::Item(message) => assert_eq!(*message, 1),
///     other => panic!("{other:?}"),
/// }
/// subscriber.shutdown();
/// assert!(matches!(subscriber.pop(), Pop::Closed));
/// ```
pub struct Subscriber<M> {
    inbox: Arc<Inbox<M>>,
    /// The queue it was subscribed to, if any: it counts what happens to the
    /// subscriber while attached, and is detached from when dropped.
    queue: Option<Arc<Members<M>>>,
    timeout: Option<Duration>,
}

impl<M> Subscriber<M> {
    /// A subscriber attached to no queue.
    pub fn new(options: SubscriberOptions) -> Result<Self, Error> {
        Ok(Subscriber {
            inbox: try_arc(Inbox::new(options.capacity))?,
            queue: None,
            timeout: options.timeout,
        })
    }

    /// A subscriber that `queue` will deliver to; the caller attaches
    /// [`inbox`](Self::inbox) to it.
    pub(crate) fn for_queue(
        options: SubscriberOptions,
        queue: &Arc<Members<M>>,
    ) -> Result<Self, Error> {
        let mut subscriber = Self::new(options)?;
        subscriber.queue = Some(Arc::clone(queue));
        Ok(subscriber)
    }

    pub(crate) fn inbox(&self) -> &Arc<Inbox<M>> {
        &self.inbox
    }

    /// The queue whose counters count this subscriber now: the one it is
    /// subscribed to, while it is.
    fn counted_in(&self) -> Option<&Members<M>> {
        self.queue.as_deref().filter(|_| self.inbox.is_attached())
    }

    /// Queues `message` (a bounded subscriber drops its oldest one to make
    /// room). Gives it back if the subscriber is shut down or cannot grow.
    pub fn push(&self, message: M) -> Result<(), Refused<M>> {
        let (delivered, dropped, pushed_out) = match self.inbox.deliver(message) {
            Arrival::Queued => (1, 0, None),
            Arrival::QueuedPushingOut(oldest) => (1, 1, Some(oldest)),
            Arrival::Refused(refused) => return Err(refused),
        };
        if let Some(queue) = self.counted_in() {
            queue.counters().count_delivered(delivered);
            queue.counters().count_dropped(dropped);
        }
        // Dropped here, with no lock held: a payload's destructor is the
        // daemon's code and may call back into the library.
        drop(pushed_out);
        Ok(())
    }

    /// The oldest message, waiting up to the subscriber's time limit;
    /// [`Pop::Closed`] once it is shut down, at once and every time.
    pub fn pop(&self) -> Pop<M> {
        self.inbox.queue.pop(self.timeout)
    }

    /// As [`pop`](Self::pop), with this time limit (`None`: forever).
    pub fn pop_timeout(&self, timeout: Option<Duration>) -> Pop<M> {
        self.inbox.queue.pop(timeout)
    }

    /// Drops every pending message and makes every later pop return
    /// [`Pop::Closed`].
    pub fn shutdown(&self) {
        let pending = self.inbox.queue.close();
        if let Some(queue) = self.counted_in() {
            queue.counters().count_dropped(pending.len());
        }
        // Dropped with no lock held (see `push`).
        drop(pending);
    }

    /// Whether a message queue delivers to it now.
    pub fn is_subscribed(&self) -> bool {
        self.counted_in().is_some()
    }

    /// How many messages wait to be popped.
    pub fn pending(&self) -> usize {
        self.inbox.queue.len()
    }
}

impl<M> Drop for Subscriber<M> {
    fn drop(&mut self) {
        let Some(queue) = &self.queue else {
            drop(self.inbox.queue.close());
            return;
        };
        let was_attached = queue.detach(&self.inbox);
        let pending = self.inbox.queue.close();
        if was_attached {
            queue.counters().count_dropped(pending.len());
        }
    }
}
