//! A subscriber: one consumer's inbox of message references, with its pop
//! time limit and an optional bound on what it keeps.

use std::num::NonZeroUsize;
use std::task::{Context, Poll};
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
    /// Whether a shutdown of its queue (a topic unregistered) leaves what it
    /// holds to be popped before [`Pop::Closed`] (`true`), or drops it, and
    /// pops return `Closed` at once (`false`, C's subscribers).
    pub keeps_queued_on_shutdown: bool,
}

impl SubscriberOptions {
    /// The original's default: pops wait one second.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(1000);

    /// Pops wait [`DEFAULT_TIMEOUT`](Self::DEFAULT_TIMEOUT); unbounded.
    pub const DEFAULT: SubscriberOptions = SubscriberOptions {
        timeout: Some(Self::DEFAULT_TIMEOUT),
        capacity: None,
        keeps_queued_on_shutdown: false,
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
            inbox: try_arc(Inbox::new(
                options.capacity,
                options.keeps_queued_on_shutdown,
            ))?,
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
        let (pushed_out, wake) = match self.inbox.deliver(message) {
            Arrival::Queued { pushed_out, wake } => (pushed_out, wake),
            Arrival::Refused(refused) => return Err(refused),
        };
        if let Some(queue) = self.counted_in() {
            queue.counters().count_delivered(1);
            queue
                .counters()
                .count_dropped(usize::from(pushed_out.is_some()));
        }
        // Dropped here, with no lock held: a payload's destructor is the
        // daemon's code and may call back into the library; so is a waker.
        drop(pushed_out);
        drop(wake);
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

    /// The asynchronous pop, for a `Future`: see
    /// [`BlockingQueue::poll_pop`](super::blocking_queue::BlockingQueue::poll_pop).
    /// The subscriber's queue then makes room, at each publish, to wake the
    /// task once its lock is let go.
    pub fn poll_pop(&self, cx: &mut Context<'_>) -> Poll<Pop<M>> {
        if self.inbox.mark_awaited() {
            if let Some(queue) = &self.queue {
                queue.count_awaited(&self.inbox);
            }
        }
        self.inbox.queue.poll_pop(cx)
    }

    /// How many messages the subscriber dropped to make room (it is
    /// bounded) since the last call.
    pub fn take_lagged(&self) -> usize {
        self.inbox.take_lagged()
    }

    /// Ends the subscription: detached from its queue (nothing more is
    /// delivered to it, it no longer counts), what it holds dropped (counted
    /// as dropped), every waiting and later pop [`Pop::Closed`] at once.
    /// Idempotent; dropping it does the same.
    pub fn close(&self) {
        self.closer().close();
    }

    /// A handle that closes this subscriber (see [`close`](Self::close))
    /// from anywhere, for as long as it lives: to wake its consumer, which
    /// waits in a pop, from another thread.
    pub fn closer(&self) -> Closer<M> {
        Closer {
            inbox: Arc::clone(&self.inbox),
            queue: self.queue.clone(),
        }
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
        self.close();
    }
}

/// Closes a [`Subscriber`] from any thread: see [`Subscriber::closer`].
pub struct Closer<M> {
    inbox: Arc<Inbox<M>>,
    queue: Option<Arc<Members<M>>>,
}

impl<M> Closer<M> {
    /// Closes the subscriber: see [`Subscriber::close`].
    pub fn close(&self) {
        let was_attached = self
            .queue
            .as_ref()
            .is_some_and(|queue| queue.detach(&self.inbox));
        let pending = self.inbox.queue.close();
        if let (true, Some(queue)) = (was_attached, &self.queue) {
            queue.counters().count_dropped(pending.len());
        }
        // Dropped with no lock held (see `push`).
        drop(pending);
    }
}

impl<M> Clone for Closer<M> {
    fn clone(&self) -> Self {
        Closer {
            inbox: Arc::clone(&self.inbox),
            queue: self.queue.clone(),
        }
    }
}
