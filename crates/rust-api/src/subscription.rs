//! Subscriptions: a topic's events, from subscribing on.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use isula_mailbox_broker::log_debug;
use isula_mailbox_broker::message::Message;
use isula_mailbox_broker::typed::{Event, EventsAre};
use isula_mailbox_core::blocking_queue::Pop;
use isula_mailbox_core::subscriber::{Closer as SubscriberCloser, Subscriber};

use crate::RecvError;

/// Events of a topic, from when it was made, until it is closed, dropped,
/// or its topic unregistered.
///
/// Made by [`Topic::subscribe`](crate::Topic::subscribe) and its
/// siblings. Events come in the order every other subscriber, C or Rust,
/// sees them. Nothing is lost without a word: a bounded subscription that
/// dropped events says how many ([`RecvError::Lagged`]); when its topic is
/// unregistered, the events queued before are received first, then
/// [`RecvError::Closed`]. Dropped, it unsubscribes. `Send` and `Sync`: a
/// subscription may be shared by threads, and closed from another one
/// ([`closer`](Self::closer)).
///
/// ```
/// use std::time::Duration;
/// use isula_mailbox::{ContainerEventKind, ContainerMessage, RecvError, CRI_CONTAINER};
///
/// let registration = CRI_CONTAINER.register(|m: &ContainerMessage<'_>| m.kind()).unwrap();
/// let events = CRI_CONTAINER.subscribe::<ContainerEventKind>().unwrap();
/// for kind in [ContainerEventKind::Created, ContainerEventKind::Started] {
///     CRI_CONTAINER.publish(&ContainerMessage::new(c"c1", c"pod", kind)).unwrap();
/// }
/// drop(registration); // the topic ends: what was queued is still received
/// let received: Vec<_> = events.iter().map(|event| *event).collect();
/// assert_eq!(received, [ContainerEventKind::Created, ContainerEventKind::Started]);
/// assert_eq!(events.recv().unwrap_err(), RecvError::Closed);
/// ```
pub struct Subscription<E> {
    subscriber: Subscriber<Message>,
    events: EventsAre<E>,
}

impl<E> Subscription<E> {
    pub(crate) fn new(subscriber: Subscriber<Message>, events: EventsAre<E>) -> Self {
        Subscription { subscriber, events }
    }

    /// What a pop got, as the API says it: first, any events the
    /// subscription dropped since it last said so.
    fn received(&self, popped: Pop<Message>) -> Result<Event<E>, RecvError> {
        match popped {
            Pop::Item(message) => Ok(self.events.event(message)),
            Pop::TimedOut => Err(RecvError::Timeout),
            Pop::Closed => Err(RecvError::Closed),
        }
    }

    /// The events dropped to make room since last said, as an error.
    fn lagged(&self) -> Result<(), RecvError> {
        match self.subscriber.take_lagged() {
            0 => Ok(()),
            dropped => Err(RecvError::Lagged(dropped as u64)),
        }
    }

    /// The next event, waiting for it as long as it takes;
    /// [`RecvError::Lagged`] first if the subscription dropped events,
    /// [`RecvError::Closed`] once it ended.
    ///
    /// ```
    /// # use isula_mailbox::{ContainerEventKind, ContainerMessage, CRI_CONTAINER};
    /// # let _registration = CRI_CONTAINER.register(|m: &ContainerMessage<'_>| m.kind()).unwrap();
    /// let events = CRI_CONTAINER.subscribe::<ContainerEventKind>().unwrap();
    /// std::thread::scope(|scope| {
    ///     scope.spawn(|| {
    ///         let message = ContainerMessage::new(c"c1", c"pod", ContainerEventKind::Deleted);
    ///         CRI_CONTAINER.publish(&message).unwrap();
    ///     });
    ///     assert_eq!(*events.recv().unwrap(), ContainerEventKind::Deleted);
    /// });
    /// ```
    pub fn recv(&self) -> Result<Event<E>, RecvError> {
        self.lagged()?;
        self.received(self.subscriber.pop_timeout(None))
    }

    /// The next event, waiting up to `timeout`: [`RecvError::Timeout`] if
    /// none came.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use isula_mailbox::{ContainerEventKind, ContainerMessage, RecvError, CRI_CONTAINER};
    /// # let _registration = CRI_CONTAINER.register(|m: &ContainerMessage<'_>| m.kind()).unwrap();
    /// let events = CRI_CONTAINER.subscribe::<ContainerEventKind>().unwrap();
    /// let waited = events.recv_timeout(Duration::from_millis(10));
    /// assert_eq!(waited.unwrap_err(), RecvError::Timeout);
    /// ```
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Event<E>, RecvError> {
        self.lagged()?;
        self.received(self.subscriber.pop_timeout(Some(timeout)))
    }

    /// The next event, waiting until `deadline` at the latest:
    /// [`RecvError::Timeout`] if none came by then.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use isula_mailbox::{ContainerEventKind, ContainerMessage, RecvError, CRI_CONTAINER};
    /// # let _registration = CRI_CONTAINER.register(|m: &ContainerMessage<'_>| m.kind()).unwrap();
    /// let events = CRI_CONTAINER.subscribe::<ContainerEventKind>().unwrap();
    /// let deadline = Instant::now() + Duration::from_millis(10);
    /// assert_eq!(events.recv_deadline(deadline).unwrap_err(), RecvError::Timeout);
    /// assert!(Instant::now() >= deadline);
    /// ```
    pub fn recv_deadline(&self, deadline: Instant) -> Result<Event<E>, RecvError> {
        self.recv_timeout(deadline.saturating_duration_since(Instant::now()))
    }

    /// The next event if one is there: [`RecvError::Empty`] if none is,
    /// [`RecvError::Closed`] if none will come.
    ///
    /// ```
    /// # use isula_mailbox::{ContainerEventKind, ContainerMessage, RecvError, CRI_CONTAINER};
    /// # let _registration = CRI_CONTAINER.register(|m: &ContainerMessage<'_>| m.kind()).unwrap();
    /// let events = CRI_CONTAINER.subscribe::<ContainerEventKind>().unwrap();
    /// assert_eq!(events.try_recv().unwrap_err(), RecvError::Empty);
    /// events.close();
    /// assert_eq!(events.try_recv().unwrap_err(), RecvError::Closed);
    /// ```
    pub fn try_recv(&self) -> Result<Event<E>, RecvError> {
        self.lagged()?;
        match self.subscriber.pop_timeout(Some(Duration::ZERO)) {
            Pop::TimedOut => Err(RecvError::Empty),
            popped => self.received(popped),
        }
    }

    /// The next event, awaited: a future that the push of the event wakes,
    /// as a push wakes a blocked [`recv`](Self::recv). No thread waits for
    /// it and nothing polls; any executor runs it, and it combines with
    /// other futures (a shutdown signal, a timer) in the executor's
    /// `select`. Its outputs are `recv`'s.
    ///
    /// ```
    /// use std::future::Future;
    /// use std::pin::pin;
    /// use std::sync::Arc;
    /// use std::task::{Context, Poll, Wake, Waker};
    /// use isula_mailbox::{ContainerEventKind, ContainerMessage, CRI_CONTAINER};
    ///
    /// /// The smallest executor: park the thread until woken.
    /// struct Unpark(std::thread::Thread);
    /// impl Wake for Unpark {
    ///     fn wake(self: Arc<Self>) {
    ///         self.0.unpark();
    ///     }
    /// }
    /// fn block_on<F: Future>(future: F) -> F::Output {
    ///     let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    ///     let mut future = pin!(future);
    ///     loop {
    ///         if let Poll::Ready(output) = future.as_mut().poll(&mut Context::from_waker(&waker)) {
    ///             return output;
    ///         }
    ///         std::thread::park();
    ///     }
    /// }
    ///
    /// let _registration = CRI_CONTAINER.register(|m: &ContainerMessage<'_>| m.kind()).unwrap();
    /// let events = CRI_CONTAINER.subscribe::<ContainerEventKind>().unwrap();
    /// std::thread::scope(|scope| {
    ///     scope.spawn(|| {
    ///         let message = ContainerMessage::new(c"c1", c"pod", ContainerEventKind::Started);
    ///         CRI_CONTAINER.publish(&message).unwrap();
    ///     });
    ///     let event = block_on(events.recv_async()).unwrap();
    ///     assert_eq!(*event, ContainerEventKind::Started);
    /// });
    /// ```
    pub fn recv_async(&self) -> Recv<'_, E> {
        Recv { subscription: self }
    }

    /// The events, waiting for each, until the subscription ends (closed,
    /// or its topic unregistered and what was queued received). Drops are
    /// not reported here: read them with [`take_lagged`](Self::take_lagged),
    /// or receive with [`recv`](Self::recv), which reports them.
    ///
    /// ```
    /// # use isula_mailbox::{ContainerEventKind, ContainerMessage, CRI_CONTAINER};
    /// let registration = CRI_CONTAINER.register(|m: &ContainerMessage<'_>| m.kind()).unwrap();
    /// let events = CRI_CONTAINER.subscribe::<ContainerEventKind>().unwrap();
    /// CRI_CONTAINER.publish(&ContainerMessage::new(c"c1", c"p", ContainerEventKind::Created)).unwrap();
    /// registration.unregister().unwrap();
    /// assert_eq!(events.iter().count(), 1);
    /// ```
    pub fn iter(&self) -> Iter<'_, E> {
        Iter { subscription: self }
    }

    /// The events there now, without waiting.
    ///
    /// ```
    /// # use isula_mailbox::{ContainerEventKind, ContainerMessage, CRI_CONTAINER};
    /// # let _registration = CRI_CONTAINER.register(|m: &ContainerMessage<'_>| m.kind()).unwrap();
    /// let events = CRI_CONTAINER.subscribe::<ContainerEventKind>().unwrap();
    /// for kind in ContainerEventKind::ALL {
    ///     CRI_CONTAINER.publish(&ContainerMessage::new(c"c1", c"p", kind)).unwrap();
    /// }
    /// assert_eq!(events.try_iter().count(), 4);
    /// assert_eq!(events.try_iter().count(), 0);
    /// ```
    pub fn try_iter(&self) -> TryIter<'_, E> {
        TryIter { subscription: self }
    }

    /// Ends the subscription now: unsubscribed (nothing more is delivered
    /// to it), what it held dropped (counted in the topic's `dropped`), a
    /// waiting receive and every later one [`RecvError::Closed`]. Only this
    /// subscription: the topic and its other subscribers go on. Idempotent;
    /// dropping the subscription does the same.
    ///
    /// ```
    /// # use isula_mailbox::{ContainerEventKind, ContainerMessage, RecvError, CRI_CONTAINER};
    /// # let _registration = CRI_CONTAINER.register(|m: &ContainerMessage<'_>| m.kind()).unwrap();
    /// let closed = CRI_CONTAINER.subscribe::<ContainerEventKind>().unwrap();
    /// let other = CRI_CONTAINER.subscribe::<ContainerEventKind>().unwrap();
    /// closed.close();
    /// CRI_CONTAINER.publish(&ContainerMessage::new(c"c1", c"p", ContainerEventKind::Created)).unwrap();
    /// assert_eq!(closed.recv().unwrap_err(), RecvError::Closed);
    /// assert!(other.try_recv().is_ok());
    /// ```
    pub fn close(&self) {
        self.subscriber.close();
    }

    /// A handle that [`close`](Self::close)s this subscription from
    /// anywhere: another thread's shutdown or cancellation wakes a receive
    /// waiting here, and only it.
    ///
    /// ```
    /// # use isula_mailbox::{ContainerEventKind, ContainerMessage, RecvError, CRI_CONTAINER};
    /// # let _registration = CRI_CONTAINER.register(|m: &ContainerMessage<'_>| m.kind()).unwrap();
    /// let events = CRI_CONTAINER.subscribe::<ContainerEventKind>().unwrap();
    /// let cancel = events.closer();
    /// std::thread::scope(|scope| {
    ///     let waiting = scope.spawn(|| events.recv());
    ///     cancel.close();
    ///     assert_eq!(waiting.join().unwrap().unwrap_err(), RecvError::Closed);
    /// });
    /// ```
    pub fn closer(&self) -> Closer {
        Closer {
            closer: self.subscriber.closer(),
        }
    }

    /// How many events the subscription dropped to make room (see
    /// [`SubscriptionOptions::capacity`](crate::SubscriptionOptions::capacity))
    /// since it last said so, here or in [`RecvError::Lagged`].
    ///
    /// ```
    /// use isula_mailbox::{ContainerEventKind, ContainerMessage, SubscriptionOptions, CRI_CONTAINER};
    ///
    /// let _registration = CRI_CONTAINER.register(|m: &ContainerMessage<'_>| m.kind()).unwrap();
    /// let events = CRI_CONTAINER
    ///     .subscribe_with::<ContainerEventKind>(SubscriptionOptions::new().capacity(1))
    ///     .unwrap();
    /// for kind in ContainerEventKind::ALL {
    ///     CRI_CONTAINER.publish(&ContainerMessage::new(c"c1", c"p", kind)).unwrap();
    /// }
    /// assert_eq!(events.take_lagged(), 3);
    /// assert_eq!(*events.recv().unwrap(), ContainerEventKind::Deleted);
    /// ```
    pub fn take_lagged(&self) -> u64 {
        self.subscriber.take_lagged() as u64
    }

    /// How many events wait to be received.
    ///
    /// ```
    /// # use isula_mailbox::{ContainerEventKind, ContainerMessage, CRI_CONTAINER};
    /// # let _registration = CRI_CONTAINER.register(|m: &ContainerMessage<'_>| m.kind()).unwrap();
    /// let events = CRI_CONTAINER.subscribe::<ContainerEventKind>().unwrap();
    /// CRI_CONTAINER.publish(&ContainerMessage::new(c"c1", c"p", ContainerEventKind::Created)).unwrap();
    /// assert_eq!(events.pending(), 1);
    /// ```
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
            .field("subscribed", &self.subscriber.is_subscribed())
            .field("pending", &self.pending())
            .finish()
    }
}

/// Closes a [`Subscription`] from anywhere: see
/// [`Subscription::closer`]. Cheap to clone; closing a subscription that
/// ended, or was dropped, does nothing.
///
/// ```
/// # use isula_mailbox::{ContainerEventKind, ContainerMessage, CRI_CONTAINER};
/// # let _registration = CRI_CONTAINER.register(|m: &ContainerMessage<'_>| m.kind()).unwrap();
/// let events = CRI_CONTAINER.subscribe::<ContainerEventKind>().unwrap();
/// let closer = events.closer();
/// drop(events);
/// closer.close(); // nothing left to close
/// ```
#[derive(Clone)]
pub struct Closer {
    closer: SubscriberCloser<Message>,
}

impl Closer {
    /// Closes the subscription: see [`Subscription::close`].
    ///
    /// ```
    /// # use isula_mailbox::{ContainerEventKind, ContainerMessage, RecvError, CRI_CONTAINER};
    /// # let _registration = CRI_CONTAINER.register(|m: &ContainerMessage<'_>| m.kind()).unwrap();
    /// let events = CRI_CONTAINER.subscribe::<ContainerEventKind>().unwrap();
    /// events.closer().close();
    /// assert_eq!(events.recv().unwrap_err(), RecvError::Closed);
    /// ```
    pub fn close(&self) {
        self.closer.close();
    }
}

impl std::fmt::Debug for Closer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Closer")
    }
}

/// The future of [`Subscription::recv_async`].
///
/// ```
/// # use isula_mailbox::{ContainerEventKind, ContainerMessage, CRI_CONTAINER};
/// # let _registration = CRI_CONTAINER.register(|m: &ContainerMessage<'_>| m.kind()).unwrap();
/// # let events = CRI_CONTAINER.subscribe::<ContainerEventKind>().unwrap();
/// let next = events.recv_async(); // does nothing until polled
/// # drop(next);
/// ```
#[must_use = "a future does nothing unless polled"]
pub struct Recv<'a, E> {
    subscription: &'a Subscription<E>,
}

impl<E> Future for Recv<'_, E> {
    type Output = Result<Event<E>, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let subscription = self.subscription;
        if let Err(lagged) = subscription.lagged() {
            return Poll::Ready(Err(lagged));
        }
        subscription
            .subscriber
            .poll_pop(cx)
            .map(|popped| subscription.received(popped))
    }
}

impl<E> std::fmt::Debug for Recv<'_, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Recv")
    }
}

/// The iterator of [`Subscription::iter`].
///
/// ```
/// # use isula_mailbox::{ContainerEventKind, ContainerMessage, CRI_CONTAINER};
/// # let registration = CRI_CONTAINER.register(|m: &ContainerMessage<'_>| m.kind()).unwrap();
/// # let events = CRI_CONTAINER.subscribe::<ContainerEventKind>().unwrap();
/// # drop(registration);
/// let mut iter = events.iter();
/// assert!(iter.next().is_none(), "ended: the topic was unregistered");
/// ```
#[derive(Debug)]
pub struct Iter<'a, E> {
    subscription: &'a Subscription<E>,
}

impl<E> Iterator for Iter<'_, E> {
    type Item = Event<E>;

    fn next(&mut self) -> Option<Event<E>> {
        let subscriber = &self.subscription.subscriber;
        loop {
            match subscriber.pop_timeout(None) {
                Pop::Item(message) => return Some(self.subscription.events.event(message)),
                Pop::Closed => return None,
                Pop::TimedOut => continue, // cannot be: no time limit
            }
        }
    }
}

/// The iterator of [`Subscription::try_iter`].
///
/// ```
/// # use isula_mailbox::{ContainerEventKind, ContainerMessage, CRI_CONTAINER};
/// # let _registration = CRI_CONTAINER.register(|m: &ContainerMessage<'_>| m.kind()).unwrap();
/// # let events = CRI_CONTAINER.subscribe::<ContainerEventKind>().unwrap();
/// assert_eq!(events.try_iter().next().map(|event| *event), None);
/// ```
#[derive(Debug)]
pub struct TryIter<'a, E> {
    subscription: &'a Subscription<E>,
}

impl<E> Iterator for TryIter<'_, E> {
    type Item = Event<E>;

    fn next(&mut self) -> Option<Event<E>> {
        match self
            .subscription
            .subscriber
            .pop_timeout(Some(Duration::ZERO))
        {
            Pop::Item(message) => Some(self.subscription.events.event(message)),
            Pop::Closed | Pop::TimedOut => None,
        }
    }
}
