//! A message queue: publishes each message to every subscriber attached at
//! that moment, in one order for all of them.

use std::sync::atomic::AtomicU32;

use super::blocking_queue::Wake;
use super::counters::{Snapshot, SubscriberCount};
use super::error::{Error, Refused};
use super::members::{Arrival, Inbox, Members};
use super::shared::Shared;
use super::subscriber::{Subscriber, SubscriberOptions};
use super::sync::{try_arc, Arc};

/// Fan-out of messages to subscribers.
///
/// `publish` hands the message to every attached subscriber in the
/// publishing thread, under one lock: every subscriber sees all messages in
/// the same order, the order in which the publishes took that lock (so one
/// thread's messages in the order it published them). No dispatcher thread
/// sits in between, and publishing never waits for a consumer.
///
/// ```
/// use std::sync::Arc;
/// use isula_mailbox_core::blocking_queue::Pop;
/// use isula_mailbox_core::message_queue::MessageQueue;
/// use isula_mailbox_core::error::Error;
/// use isula_mailbox_core::subscriber::SubscriberOptions;
///
/// let queue = MessageQueue::new().unwrap();
/// let subscriber = queue.subscribe(SubscriberOptions::default()).unwrap();
/// drop(queue.publish(Arc::new("started")).unwrap());
/// let Pop::Item(message) = subscriber.pop() else { unreachable!() };
/// assert_eq!(*message, "started");
///
/// queue.shutdown();
/// assert!(matches!(subscriber.pop(), Pop::Closed));
/// assert!(matches!(queue.publish(Arc::new("late")), Err(refused) if refused.error == Error::Closed));
/// ```
pub struct MessageQueue<M> {
    members: Arc<Members<M>>,
}

impl<M> MessageQueue<M> {
    /// A queue that counts its subscribers itself.
    pub fn new() -> Result<Self, Error> {
        Self::with(SubscriberCount::Own(AtomicU32::new(0)))
    }

    /// A queue for a topic, whose subscribers are counted in the topic's
    /// `subscribers` (read without a lock by publishers).
    pub(crate) fn for_topic(subscribers: &'static AtomicU32) -> Result<Self, Error> {
        Self::with(SubscriberCount::Topic(subscribers))
    }

    fn with(subscribers: SubscriberCount) -> Result<Self, Error> {
        Ok(MessageQueue {
            members: try_arc(Members::new(subscribers))?,
        })
    }

    /// A new subscriber that receives every message published from now on.
    pub fn subscribe(&self, options: SubscriberOptions) -> Result<Subscriber<M>, Error> {
        let subscriber = Subscriber::for_queue(options, &self.members)?;
        self.members.attach(subscriber.inbox())?;
        Ok(subscriber)
    }

    /// Stops delivering to `subscriber` (which stays usable: it keeps what
    /// it has, and no longer counts in [`stats`](Self::stats)). Whether it
    /// was subscribed here.
    pub fn unsubscribe(&self, subscriber: &Subscriber<M>) -> bool {
        self.members.detach(subscriber.inbox())
    }

    /// Delivers `message` to every subscriber attached now, in the caller's
    /// thread and under one lock, so that every subscriber sees the same
    /// order; each gets its own reference and the caller's is consumed. On
    /// refusal the message comes back, nothing delivered. What must be
    /// dropped comes back as [`Leftovers`], for the caller to drop once it
    /// holds no lock: dropping a message may run the daemon's release
    /// function, which may call back into the library.
    ///
    /// A subscriber that cannot take the message (shut down, or out of
    /// memory) misses it, counted in `dropped`: the others still get it.
    pub fn publish(&self, message: M) -> Result<Leftovers<M>, Refused<M>>
    where
        M: Shared,
    {
        let list = self.members.lock();
        let counters = self.members.counters();
        if list.shut_down {
            return Err(Refused::new(Error::Closed, message));
        }
        let mut leftovers = Leftovers::default();
        // Room for what bounded inboxes push out, and for the tasks to
        // wake, made before anything is delivered: a publish either fails
        // whole or delivers everywhere.
        if leftovers.pushed_out.try_reserve(list.bounded).is_err()
            || leftovers.wakes.try_reserve(list.awaited).is_err()
        {
            counters.count_dropped(list.inboxes.len());
            return Err(Refused::new(Error::OutOfMemory, message));
        }
        counters.count_published();
        let (mut delivered, mut dropped, mut out_of_memory) = (0, 0, 0);
        let mut deliver = |inbox: &Inbox<M>, message: M| -> Option<M> {
            match inbox.deliver(message) {
                Arrival::Queued { pushed_out, wake } => {
                    delivered += 1;
                    if let Some(oldest) = pushed_out {
                        dropped += 1;
                        leftovers.pushed_out.push(oldest); // within the room made above
                    }
                    if wake.is_some() {
                        // Woken with the leftovers, once the members' lock
                        // is let go; within the room made above (only an
                        // inbox awaited since could exceed it: woken here).
                        if leftovers.wakes.len() < leftovers.wakes.capacity() {
                            leftovers.wakes.push(wake);
                        }
                    }
                }
                Arrival::Refused(refused) => {
                    dropped += 1;
                    out_of_memory += usize::from(refused.error == Error::OutOfMemory);
                    return Some(refused.item);
                }
            }
            None
        };
        let mut over_limit = 0;
        match list.inboxes.split_last() {
            Some((last, others)) => {
                for inbox in others {
                    match message.share() {
                        // A refused copy is never the last reference (the
                        // caller's is still here): dropping it frees nothing.
                        Some(copy) => drop(deliver(inbox, copy)),
                        None => over_limit += 1,
                    }
                }
                leftovers.refused = deliver(last, message);
            }
            None => leftovers.refused = Some(message),
        }
        leftovers.missed = Missed {
            at_limit: over_limit,
            out_of_memory,
        };
        leftovers.delivered = delivered;
        counters.count_delivered(delivered);
        counters.count_dropped(dropped + over_limit);
        Ok(leftovers)
    }

    /// Counts, as dropped, a message every subscriber missed because it
    /// could not be made.
    pub(crate) fn count_missed(&self) {
        self.members
            .counters()
            .count_dropped(self.members.count() as usize);
    }

    /// Whether any subscriber is attached. Takes no lock.
    pub fn has_subscribers(&self) -> bool {
        self.members.count() > 0
    }

    /// Detaches and shuts down every subscriber (their pops return
    /// [`Pop::Closed`](super::blocking_queue::Pop::Closed), what they held is
    /// dropped) and refuses later subscribes and publishes. Idempotent.
    pub fn shutdown(&self) {
        self.begin_shutdown().finish();
    }

    /// [`shutdown`](Self::shutdown) in two steps: when this returns, no
    /// subscriber is attached or counted any more; [`Closing::finish`],
    /// called once the caller holds no lock, shuts them down.
    pub(crate) fn begin_shutdown(&self) -> Closing<M> {
        Closing {
            members: Arc::clone(&self.members),
            inboxes: self.members.detach_all(),
        }
    }

    /// What the queue has done, and what its subscribers hold now.
    pub fn stats(&self) -> Snapshot {
        self.members.snapshot()
    }
}

impl<M> Drop for MessageQueue<M> {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Messages a publish took out of the inboxes, to be dropped by the caller
/// once it holds no lock: dropping one may run the daemon's release
/// function, which may call back into the library.
#[must_use = "drop it once no lock is held"]
pub struct Leftovers<M> {
    /// The published message, if the last member refused it (or there was
    /// none).
    refused: Option<M>,
    /// What full bounded members pushed out.
    pushed_out: Vec<M>,
    /// The tasks awaiting the members that received the message.
    wakes: Vec<Wake>,
    delivered: usize,
    missed: Missed,
}

/// Deliveries of one publish that members missed, for the caller to
/// report (each is counted in `dropped` already).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Missed {
    /// The message already had as many references as it may.
    pub at_limit: usize,
    /// The member's inbox could not grow.
    pub out_of_memory: usize,
}

impl<M> Default for Leftovers<M> {
    fn default() -> Self {
        Leftovers {
            refused: None,
            pushed_out: Vec::new(),
            wakes: Vec::new(),
            delivered: 0,
            missed: Missed::default(),
        }
    }
}

impl<M> Leftovers<M> {
    /// Just `message`.
    pub fn of(message: M) -> Self {
        Leftovers {
            refused: Some(message),
            ..Leftovers::default()
        }
    }

    /// The deliveries members missed.
    pub fn missed(&self) -> Missed {
        self.missed
    }

    /// How many members received the message.
    pub fn delivered(&self) -> usize {
        self.delivered
    }
}

/// The members of a queue being shut down: detached already, closed by
/// [`finish`](Self::finish).
#[must_use = "finish it once no lock is held"]
pub(crate) struct Closing<M> {
    members: Arc<Members<M>>,
    inboxes: Vec<Arc<Inbox<M>>>,
}

impl<M> Closing<M> {
    /// Shuts each member down (its pops return `Closed`) and drops what it
    /// held, counted as dropped; how many members there were.
    pub(crate) fn finish(self) -> usize {
        let members = self.inboxes.len();
        for inbox in self.inboxes {
            if let Some(pending) = inbox.shut_down() {
                self.members.counters().count_dropped(pending.len());
            }
        }
        members
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::blocking_queue::Pop;
    use std::num::NonZeroUsize;
    use std::sync::Arc;
    use std::thread;
    use std::time::Duration;

    type Message = Arc<u32>;

    fn pop_value(subscriber: &Subscriber<Message>) -> Option<u32> {
        match subscriber.pop_timeout(Some(Duration::ZERO)) {
            Pop::Item(message) => Some(*message),
            _ => None,
        }
    }

    #[test]
    fn dropping_a_subscriber_detaches_it() {
        let queue = MessageQueue::<Message>::new().unwrap();
        let subscriber = queue.subscribe(SubscriberOptions::default()).unwrap();
        assert!(queue.has_subscribers());
        drop(subscriber);
        assert!(!queue.has_subscribers());
        drop(queue.publish(Arc::new(1)).unwrap());
        assert_eq!(queue.stats().delivered, 0);
    }

    #[test]
    fn all_subscribers_see_one_order_under_concurrent_publishers() {
        let queue = Arc::new(MessageQueue::<Message>::new().unwrap());
        let subscribers: Vec<_> = (0..3)
            .map(|_| queue.subscribe(SubscriberOptions::default()).unwrap())
            .collect();
        let publishers: Vec<_> = (0..4)
            .map(|p| {
                let queue = Arc::clone(&queue);
                thread::spawn(move || {
                    for i in 0..500 {
                        drop(queue.publish(Arc::new(p * 1000 + i)).unwrap());
                    }
                })
            })
            .collect();
        for publisher in publishers {
            publisher.join().unwrap();
        }
        let orders: Vec<Vec<u32>> = subscribers
            .iter()
            .map(|s| std::iter::from_fn(|| pop_value(s)).collect())
            .collect();
        assert_eq!(orders[0].len(), 2000);
        assert!(orders.iter().all(|order| order == &orders[0]));
        for p in 0..4 {
            let own: Vec<_> = orders[0].iter().filter(|v| *v / 1000 == p).collect();
            assert!(own.windows(2).all(|w| w[0] < w[1]));
        }
    }

    #[test]
    fn full_subscriber_drops_its_oldest_and_counts_it() {
        let queue = MessageQueue::<Message>::new().unwrap();
        let options = SubscriberOptions {
            capacity: NonZeroUsize::new(2),
            ..SubscriberOptions::default()
        };
        let bounded = queue.subscribe(options).unwrap();
        let unbounded = queue.subscribe(SubscriberOptions::default()).unwrap();
        for i in 0..5 {
            drop(queue.publish(Arc::new(i)).unwrap());
        }
        assert_eq!(pop_value(&bounded), Some(3));
        assert_eq!(pop_value(&bounded), Some(4));
        assert_eq!(unbounded.pending(), 5);
        let stats = queue.stats();
        assert_eq!(
            (stats.published, stats.delivered, stats.dropped),
            (5, 10, 3)
        );
        assert_eq!(stats.pending, 5);
    }

    /// A bounded subscriber tells how many it dropped, once.
    #[test]
    fn a_bounded_subscriber_counts_what_it_pushed_out() {
        let queue = MessageQueue::<Message>::new().unwrap();
        let options = SubscriberOptions {
            capacity: NonZeroUsize::new(2),
            ..SubscriberOptions::default()
        };
        let bounded = queue.subscribe(options).unwrap();
        for i in 0..5 {
            drop(queue.publish(Arc::new(i)).unwrap());
        }
        assert_eq!(bounded.take_lagged(), 3);
        assert_eq!(bounded.take_lagged(), 0, "told once");
        assert_eq!(pop_value(&bounded), Some(3));
    }

    /// Shut down (its topic unregistered), a subscriber that keeps what it
    /// holds hands it out before `Closed`; one that does not returns
    /// `Closed` at once.
    #[test]
    fn a_subscriber_that_keeps_its_messages_hands_them_out_after_shutdown() {
        let queue = MessageQueue::<Message>::new().unwrap();
        let keeping = queue
            .subscribe(SubscriberOptions {
                keeps_queued_on_shutdown: true,
                ..SubscriberOptions::default()
            })
            .unwrap();
        let dropping = queue.subscribe(SubscriberOptions::default()).unwrap();
        for i in 0..3 {
            drop(queue.publish(Arc::new(i)).unwrap());
        }
        queue.shutdown();
        assert!(matches!(dropping.pop(), Pop::Closed));
        let kept: Vec<u32> = std::iter::from_fn(|| pop_value(&keeping)).collect();
        assert_eq!(kept, vec![0, 1, 2]);
        assert!(matches!(keeping.pop(), Pop::Closed));
        assert_eq!(queue.stats().dropped, 3, "only the dropped ones count");
    }

    /// A closer ends its subscriber from another thread, waking its pop;
    /// the others carry on.
    #[test]
    fn a_closer_wakes_its_subscriber_alone() {
        let queue = Arc::new(MessageQueue::<Message>::new().unwrap());
        let closed = queue.subscribe(SubscriberOptions::default()).unwrap();
        let other = queue.subscribe(SubscriberOptions::default()).unwrap();
        let closer = closed.closer();
        let waiter = thread::spawn(move || matches!(closed.pop_timeout(None), Pop::Closed));
        thread::sleep(Duration::from_millis(20));
        closer.close();
        assert!(waiter.join().unwrap(), "woken with Closed");
        drop(queue.publish(Arc::new(7)).unwrap());
        assert_eq!(pop_value(&other), Some(7));
        assert_eq!(queue.stats().subscribers, 1, "the closed one is detached");
    }

    #[test]
    fn a_detached_subscriber_no_longer_counts() {
        let queue = MessageQueue::<Message>::new().unwrap();
        let subscriber = queue.subscribe(SubscriberOptions::default()).unwrap();
        drop(queue.publish(Arc::new(1)).unwrap());
        assert_eq!(queue.stats().pending, 1);
        assert!(queue.unsubscribe(&subscriber));
        subscriber.push(Arc::new(2)).unwrap();
        let stats = queue.stats();
        assert_eq!(
            (stats.delivered, stats.pending, stats.subscribers),
            (1, 0, 0)
        );
        assert_eq!(subscriber.pending(), 2, "it keeps what it has");
    }
}
