//! A message queue: publishes each message to every subscriber attached at
//! that moment, in one order for all of them.

use super::counters::{Counters, CountersRef};
use super::message::Shared;
use super::subscriber::{Inbox, Subscriber, SubscriberOptions};
use super::sync::{Arc, Mutex};

/// Fan-out of messages to subscribers.
///
/// `publish` hands the message to every attached subscriber's inbox in the
/// publishing thread, under one lock: every subscriber sees all messages in
/// the same order, the order in which the publishes took that lock (so one
/// thread's messages in the order it published them). No dispatcher thread
/// sits in between, and publishing never waits for a consumer.
///
/// ```
/// use isula_mailbox::core::{blocking_queue::Pop, message::Message};
/// use isula_mailbox::core::message_queue::MessageQueue;
/// use isula_mailbox::core::subscriber::SubscriberOptions;
///
/// let queue = MessageQueue::new();
/// let subscriber = queue.subscribe(SubscriberOptions::default()).unwrap();
/// drop(queue.publish(Message::new("started")).unwrap());
/// let Pop::Item(message) = subscriber.pop() else { unreachable!() };
/// assert_eq!(*message.payload(), "started");
///
/// queue.shutdown();
/// assert!(matches!(subscriber.pop(), Pop::Closed));
/// assert!(queue.publish(Message::new("late")).is_err());
/// ```
pub struct MessageQueue<M> {
    shared: Arc<QueueShared<M>>,
}

/// What the queue and its subscribers share: a subscriber holds it to
/// detach itself when dropped, so it lives until the queue and its last
/// subscriber are gone (it holds no subscriber back).
pub(crate) struct QueueShared<M> {
    members: Mutex<Members<M>>,
    counters: CountersRef,
}

struct Members<M> {
    inboxes: Vec<Arc<Inbox<M>>>,
    shut_down: bool,
}

impl<M> QueueShared<M> {
    /// Removes `inbox` from the members; whether it was one.
    pub(crate) fn detach(&self, inbox: &Arc<Inbox<M>>) -> bool {
        let mut members = self.members.lock();
        let Some(index) = members.inboxes.iter().position(|m| Arc::ptr_eq(m, inbox)) else {
            return false;
        };
        // Members are unordered: each inbox keeps its own order.
        members.inboxes.swap_remove(index);
        self.counters.unsubscribed(1);
        true
    }
}

impl<M> MessageQueue<M> {
    /// A queue with counters of its own.
    pub fn new() -> Self {
        Self::with_counters(CountersRef::Own(Arc::default()))
    }

    /// A queue that counts into a topic's counters, shared by the topic's
    /// successive registrations.
    pub(crate) fn for_topic(counters: &'static Counters) -> Self {
        Self::with_counters(CountersRef::Topic(counters))
    }

    fn with_counters(counters: CountersRef) -> Self {
        MessageQueue {
            shared: Arc::new(QueueShared {
                members: Mutex::new(Members {
                    inboxes: Vec::new(),
                    shut_down: false,
                }),
                counters,
            }),
        }
    }

    /// A new subscriber that receives every message published from now on,
    /// or `None` once the queue is shut down.
    pub fn subscribe(&self, options: SubscriberOptions) -> Option<Subscriber<M>> {
        let subscriber = Subscriber::for_queue(
            options,
            self.shared.counters.clone(),
            Arc::clone(&self.shared),
        );
        let mut members = self.shared.members.lock();
        if members.shut_down {
            return None;
        }
        members.inboxes.push(Arc::clone(subscriber.inbox()));
        self.shared.counters.subscribed();
        Some(subscriber)
    }

    /// Stops delivering to `subscriber` (which stays usable: it keeps what
    /// it has). Whether it was subscribed here.
    pub fn unsubscribe(&self, subscriber: &Subscriber<M>) -> bool {
        self.shared.detach(subscriber.inbox())
    }

    /// Delivers `message` to every subscriber attached now; each gets its
    /// own reference and the caller's reference is consumed. Gives the
    /// message back once the queue is shut down. What must be dropped
    /// comes back as [`Leftovers`], for the caller to drop once it holds no
    /// lock: dropping a message may run the daemon's release function.
    pub fn publish(&self, message: M) -> Result<Leftovers<M>, M>
    where
        M: Shared,
    {
        let mut leftovers = Leftovers::default();
        let members = self.shared.members.lock();
        if members.shut_down {
            return Err(message);
        }
        let counters = &self.shared.counters;
        counters.published();
        if let Some((last, others)) = members.inboxes.split_last() {
            for inbox in others {
                match message.share() {
                    Some(copy) => leftovers.keep(inbox.deliver(copy)),
                    None => {
                        leftovers.over_limit += 1;
                        counters.dropped();
                    }
                }
            }
            leftovers.keep(last.deliver(message));
        } else {
            leftovers.first = Some(message);
        }
        drop(members);
        Ok(leftovers)
    }

    /// Whether any subscriber is attached. Takes no lock.
    pub fn has_subscribers(&self) -> bool {
        self.shared.counters.has_subscribers()
    }

    /// Detaches and shuts down every subscriber (their pops return
    /// [`Pop::Closed`](super::blocking_queue::Pop::Closed), what they held is
    /// dropped) and refuses later subscribes and publishes. Idempotent.
    pub fn shutdown(&self) {
        drop(self.shutdown_deferred());
    }

    /// [`shutdown`](Self::shutdown), handing back what the subscribers
    /// held for the caller to drop once it holds no lock. When it returns,
    /// no subscriber is attached or counted any more.
    pub fn shutdown_deferred(&self) -> Leftovers<M> {
        let mut leftovers = Leftovers::default();
        let mut members = self.shared.members.lock();
        members.shut_down = true;
        let inboxes = std::mem::take(&mut members.inboxes);
        self.shared.counters.unsubscribed(inboxes.len());
        for inbox in inboxes {
            leftovers.rest.extend(inbox.close_deferred());
        }
        leftovers
    }

    /// Whether [`shutdown`](Self::shutdown) was called.
    pub fn is_shut_down(&self) -> bool {
        self.shared.members.lock().shut_down
    }

    /// The queue's counters.
    pub fn counters(&self) -> &Counters {
        &self.shared.counters
    }
}

impl<M> Default for MessageQueue<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M> Drop for MessageQueue<M> {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Messages a call took out of the queues, to be dropped by the caller once
/// it holds no lock: dropping one may run the daemon's release function,
/// which may call back into the library. Dropping this drops them (and
/// logs deliveries refused at the reference limit).
#[must_use = "drop it once no lock is held"]
pub struct Leftovers<M> {
    first: Option<M>,
    rest: Vec<M>,
    over_limit: usize,
}

impl<M> Default for Leftovers<M> {
    fn default() -> Self {
        Leftovers {
            first: None,
            rest: Vec::new(),
            over_limit: 0,
        }
    }
}

impl<M> Leftovers<M> {
    /// Just `message`.
    pub fn of(message: M) -> Self {
        Leftovers {
            first: Some(message),
            rest: Vec::new(),
            over_limit: 0,
        }
    }

    fn keep(&mut self, delivery: Result<Option<M>, M>) {
        match delivery {
            Ok(None) => {}
            // Pushed out of a full inbox, or refused by one shut down but not
            // yet detached (the inbox counted both).
            Ok(Some(message)) | Err(message) => self.rest.push(message),
        }
    }
}

impl<M> Drop for Leftovers<M> {
    fn drop(&mut self) {
        if self.over_limit > 0 {
            log_error!(
                "message_queue: message reference limit reached, {} deliveries dropped",
                self.over_limit
            );
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::core::blocking_queue::Pop;
    use crate::core::message::Message;
    use std::num::NonZeroUsize;
    use std::thread;
    use std::time::Duration;

    fn pop_value(subscriber: &Subscriber<Message<u32>>) -> Option<u32> {
        match subscriber.pop_timeout(Some(Duration::ZERO)) {
            Pop::Item(message) => Some(*message.payload()),
            _ => None,
        }
    }

    #[test]
    fn dropping_a_subscriber_detaches_it() {
        let queue = MessageQueue::<Message<u32>>::new();
        let subscriber = queue.subscribe(SubscriberOptions::default()).unwrap();
        assert!(queue.has_subscribers());
        drop(subscriber);
        assert!(!queue.has_subscribers());
        drop(queue.publish(Message::new(1)).unwrap());
        assert_eq!(queue.counters().snapshot().delivered, 0);
    }

    #[test]
    fn all_subscribers_see_one_order_under_concurrent_publishers() {
        let queue = Arc::new(MessageQueue::<Message<u32>>::new());
        let subscribers: Vec<_> = (0..3)
            .map(|_| queue.subscribe(SubscriberOptions::default()).unwrap())
            .collect();
        let publishers: Vec<_> = (0..4)
            .map(|p| {
                let queue = Arc::clone(&queue);
                thread::spawn(move || {
                    for i in 0..500 {
                        drop(queue.publish(Message::new(p * 1000 + i)).unwrap());
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
        let queue = MessageQueue::<Message<u32>>::new();
        let options = SubscriberOptions {
            capacity: NonZeroUsize::new(2),
            ..SubscriberOptions::default()
        };
        let bounded = queue.subscribe(options).unwrap();
        let unbounded = queue.subscribe(SubscriberOptions::default()).unwrap();
        for i in 0..5 {
            drop(queue.publish(Message::new(i)).unwrap());
        }
        assert_eq!(pop_value(&bounded), Some(3));
        assert_eq!(pop_value(&bounded), Some(4));
        assert_eq!(unbounded.pending(), 5);
        let stats = queue.counters().snapshot();
        assert_eq!(
            (stats.published, stats.delivered, stats.dropped),
            (5, 10, 3)
        );
        assert_eq!(stats.pending, 5);
    }
}
