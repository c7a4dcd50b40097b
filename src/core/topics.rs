//! A fixed table of topics: each can be registered with a generator,
//! published to, subscribed to and unregistered from any thread.

use std::any::TypeId;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use super::sync::{Mutex, RwLock};

use super::counters::{Counters, Snapshot};
use super::message::Shared;
use super::message_queue::{Leftovers, MessageQueue};
use super::subscriber::{Subscriber, SubscriberOptions};

/// Turns what a publisher passes into the message subscribers receive
/// (`None`: nothing to publish). For a synchronous topic the message is
/// dropped at once: its `Drop` is the topic's release.
pub type Generator<I, M> = Box<dyn Fn(I) -> Option<M> + Send + Sync>;

/// How a topic delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The generator runs in the publishing thread and its result is
    /// dropped; there is nothing to subscribe to.
    Sync,
    /// The generator's result is published to the topic's subscribers.
    Async,
}

/// Why a topic call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicError {
    /// No such topic in the table.
    Invalid,
    /// The topic is not registered.
    NotRegistered,
    /// The topic is registered already.
    AlreadyRegistered,
    /// The topic is synchronous: it has no subscribers.
    Sync,
    /// The subscriber is not subscribed to this topic.
    NotSubscribed,
    /// The topic's registrant makes events of another type.
    EventType,
}

/// What a publish did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// The topic is not registered: nothing happened.
    NotRegistered,
    /// Nobody subscribes to the async topic: the generator was not called.
    NoSubscribers,
    /// The generator produced nothing.
    Nothing,
    /// The generator's result was handled (sync) or published (async).
    Done,
}

/// A topic's state, as the publish fast path reads it without a lock.
const UNREGISTERED: u8 = 0;
const SYNC: u8 = 1;
const ASYNC: u8 = 2;

struct Registration<I, M> {
    generate: Generator<I, M>,
    queue: Option<MessageQueue<M>>,
    /// The type of the events the generator makes, when its registrant
    /// said (a Rust one does; a C one cannot).
    event_type: Option<TypeId>,
    /// Counters when registered: stats count from here.
    base: Snapshot,
}

struct Topic<I, M> {
    state: AtomicU8,
    counters: Counters,
    registration: RwLock<Option<Registration<I, M>>>,
    options: Mutex<SubscriberOptions>,
}

/// The topics of one process: `N` topics numbered from 0, in a table made
/// at compile time and meant to live in a `static`. The no-subscriber
/// publish path then reads two atomics at fixed addresses.
///
/// ```
/// use isula_mailbox::core::topics::{Delivery, Published, TopicTable};
/// use isula_mailbox::core::{blocking_queue::Pop, message::Message};
///
/// static TOPICS: TopicTable<u32, Message<String>, 1> = TopicTable::new();
///
/// let generate = |id| Some(Message::new(format!("container {id}")));
/// TOPICS.register(0, Box::new(generate), Delivery::Async, None).unwrap();
/// assert_eq!(TOPICS.publish(0, 1), Ok(Published::NoSubscribers));
///
/// let subscriber = TOPICS.subscribe(0, None).unwrap();
/// assert_eq!(TOPICS.publish(0, 2), Ok(Published::Done));
/// let Pop::Item(message) = subscriber.pop() else { unreachable!() };
/// assert_eq!(message.payload(), "container 2");
///
/// TOPICS.unregister(0).unwrap();
/// assert!(matches!(subscriber.pop(), Pop::Closed));
/// ```
pub struct TopicTable<I, M, const N: usize> {
    topics: [Topic<I, M>; N],
}

impl<I, M> Topic<I, M> {
    const fn new() -> Self {
        Topic {
            state: AtomicU8::new(UNREGISTERED),
            counters: Counters::new(),
            registration: RwLock::new(None),
            options: Mutex::new(SubscriberOptions::DEFAULT),
        }
    }

    /// Why publishing now would do nothing, read without a lock (two
    /// atomic loads); `None` when there is work to do.
    #[inline]
    fn idle(&self) -> Option<Published> {
        match self.state.load(Ordering::Acquire) {
            UNREGISTERED => Some(Published::NotRegistered),
            ASYNC if !self.counters.has_subscribers() => Some(Published::NoSubscribers),
            _ => None,
        }
    }

    /// The publish path with work to do, kept out of line so that the
    /// no-subscriber path stays a few instructions.
    #[inline(never)]
    fn publish(&self, input: I) -> Published
    where
        M: Shared,
    {
        let leftovers = {
            // Held while the generator runs, so that unregister waits for
            // it; recursive so that a generator may publish in turn.
            let registration = self.registration.read_recursive();
            let Some(registration) = registration.as_ref() else {
                return Published::NotRegistered;
            };
            let Some(message) = (registration.generate)(input) else {
                return Published::Nothing;
            };
            match &registration.queue {
                // A sync topic's result is only released.
                None => Leftovers::of(message),
                // Only refused once shut down, which needs the write lock.
                Some(queue) => queue.publish(message).unwrap_or_else(Leftovers::of),
            }
        };
        // Released with no lock held: the daemon's release function may
        // call back into the library, even unregister.
        drop(leftovers);
        Published::Done
    }
}

impl<I, M, const N: usize> TopicTable<I, M, N> {
    /// A table of `N` unregistered topics.
    pub const fn new() -> Self {
        TopicTable {
            topics: [const { Topic::new() }; N],
        }
    }

    fn topic(&self, topic: usize) -> Result<&Topic<I, M>, TopicError> {
        self.topics.get(topic).ok_or(TopicError::Invalid)
    }

    /// Registers `topic`, whose generator makes events of `event_type`
    /// (`None`: not known). Fails if it is registered already.
    pub fn register(
        &'static self,
        topic: usize,
        generate: Generator<I, M>,
        delivery: Delivery,
        event_type: Option<TypeId>,
    ) -> Result<(), TopicError> {
        let entry = self.topic(topic)?;
        let mut registration = entry.registration.write();
        if registration.is_some() {
            return Err(TopicError::AlreadyRegistered);
        }
        let queue = match delivery {
            Delivery::Sync => None,
            Delivery::Async => Some(MessageQueue::for_topic(&entry.counters)),
        };
        *registration = Some(Registration {
            generate,
            queue,
            event_type,
            base: entry.counters.snapshot(),
        });
        let state = match delivery {
            Delivery::Sync => SYNC,
            Delivery::Async => ASYNC,
        };
        entry.state.store(state, Ordering::Release);
        Ok(())
    }

    /// Unregisters `topic`: its subscribers are shut down and it can be
    /// registered again. Returns once no publish is still running its
    /// generator, so the generator's context may then be freed.
    pub fn unregister(&self, topic: usize) -> Result<(), TopicError> {
        let entry = self.topic(topic)?;
        // Closes the door first so that a stream of publishers cannot keep
        // the write lock away, then again under the lock, where a register
        // that slipped in between is undone with the registration it made.
        entry.state.store(UNREGISTERED, Ordering::Release);
        let mut slot = entry.registration.write();
        let registration = slot.take().ok_or(TopicError::NotRegistered)?;
        entry.state.store(UNREGISTERED, Ordering::Release);
        // Detached and counted out under the lock, so that a registration
        // right after starts with no subscriber; what they held is released
        // below, with no lock held (the daemon's release function runs).
        let leftovers = registration
            .queue
            .as_ref()
            .map(MessageQueue::shutdown_deferred);
        drop(slot);
        drop(leftovers);
        drop(registration);
        Ok(())
    }

    /// Publishes `input` on `topic`. For an async topic nobody subscribes
    /// to, this reads two atomics and returns: no lock, no allocation, no
    /// generator call.
    #[inline]
    pub fn publish(&self, topic: usize, input: I) -> Result<Published, TopicError>
    where
        M: Shared,
    {
        let entry = self.topic(topic)?;
        Ok(entry.idle().unwrap_or_else(|| entry.publish(input)))
    }

    /// Whether publishing on `topic` now would do nothing at all: it is
    /// registered and nobody subscribes to it, or it is not registered.
    /// Two atomic loads; false for an invalid topic.
    #[inline]
    pub fn is_quiet(&self, topic: usize) -> bool {
        self.topics
            .get(topic)
            .is_some_and(|entry| entry.idle().is_some())
    }

    /// A new subscriber of the async `topic`, made with the topic's
    /// subscriber options. With `event_type`, only if the registrant said
    /// its events are of that type.
    pub fn subscribe(
        &self,
        topic: usize,
        event_type: Option<TypeId>,
    ) -> Result<Subscriber<M>, TopicError> {
        let entry = self.topic(topic)?;
        let options = *entry.options.lock();
        let registration = entry.registration.read_recursive();
        let registration = registration.as_ref().ok_or(TopicError::NotRegistered)?;
        let queue = registration.queue.as_ref().ok_or(TopicError::Sync)?;
        if event_type.is_some() && event_type != registration.event_type {
            return Err(TopicError::EventType);
        }
        // A registered topic's queue is never shut down.
        queue.subscribe(options).ok_or(TopicError::NotRegistered)
    }

    /// Stops delivering `topic` to `subscriber`.
    pub fn unsubscribe(&self, topic: usize, subscriber: &Subscriber<M>) -> Result<(), TopicError> {
        let entry = self.topic(topic)?;
        let registration = entry.registration.read_recursive();
        let registration = registration.as_ref().ok_or(TopicError::NotRegistered)?;
        match &registration.queue {
            Some(queue) if queue.unsubscribe(subscriber) => Ok(()),
            _ => Err(TopicError::NotSubscribed),
        }
    }

    /// Whether `topic` is registered.
    pub fn is_registered(&self, topic: usize) -> bool {
        self.topic(topic)
            .map(|entry| entry.state.load(Ordering::Acquire) != UNREGISTERED)
            .unwrap_or(false)
    }

    /// The counters of `topic` since it was registered.
    pub fn stats(&self, topic: usize) -> Result<Snapshot, TopicError> {
        let entry = self.topic(topic)?;
        let registration = entry.registration.read_recursive();
        let registration = registration.as_ref().ok_or(TopicError::NotRegistered)?;
        Ok(entry.counters.snapshot().since(registration.base))
    }

    /// Sets the pop time limit of subscribers made from now on.
    pub fn set_subscriber_timeout(
        &self,
        topic: usize,
        timeout: Option<Duration>,
    ) -> Result<(), TopicError> {
        self.topic(topic)?.options.lock().timeout = timeout;
        Ok(())
    }

    /// Sets the bound of subscribers made from now on (`None`: unbounded).
    pub fn set_subscriber_capacity(
        &self,
        topic: usize,
        capacity: Option<NonZeroUsize>,
    ) -> Result<(), TopicError> {
        self.topic(topic)?.options.lock().capacity = capacity;
        Ok(())
    }
}

impl<I, M, const N: usize> Default for TopicTable<I, M, N> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::blocking_queue::Pop;
    use crate::core::message::Message;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    #[test]
    fn sync_topic_drops_the_result_in_the_publishing_thread() {
        static TABLE: TopicTable<u32, Message<Arc<AtomicUsize>>, 1> = TopicTable::new();
        let table = &TABLE;
        let released = Arc::new(AtomicUsize::new(0));
        let handle = Arc::clone(&released);
        table
            .register(
                0,
                Box::new(move |_| Some(Message::new(Arc::clone(&handle)))),
                Delivery::Sync,
                None,
            )
            .unwrap();
        assert_eq!(table.publish(0, 1), Ok(Published::Done));
        assert_eq!(Arc::strong_count(&released), 2, "result dropped, not kept");
        assert_eq!(table.subscribe(0, None).err(), Some(TopicError::Sync));
    }

    #[test]
    fn no_subscriber_means_no_generator_call() {
        let calls = Arc::new(AtomicUsize::new(0));
        static TABLE: TopicTable<u32, Message<u32>, 1> = TopicTable::new();
        let table = &TABLE;
        let counted = Arc::clone(&calls);
        table
            .register(
                0,
                Box::new(move |x| {
                    counted.fetch_add(1, Ordering::SeqCst);
                    Some(Message::new(x))
                }),
                Delivery::Async,
                None,
            )
            .unwrap();
        assert_eq!(table.publish(0, 1), Ok(Published::NoSubscribers));
        let subscriber = table.subscribe(0, None).unwrap();
        assert_eq!(table.publish(0, 2), Ok(Published::Done));
        drop(subscriber);
        assert_eq!(table.publish(0, 3), Ok(Published::NoSubscribers));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn register_twice_fails_and_reregister_after_unregister_works() {
        static TABLE: TopicTable<u32, Message<u32>, 2> = TopicTable::new();
        let table = &TABLE;
        let generate = || -> Generator<u32, Message<u32>> { Box::new(|x| Some(Message::new(x))) };
        table
            .register(1, generate(), Delivery::Async, None)
            .unwrap();
        assert_eq!(
            table.register(1, generate(), Delivery::Async, None),
            Err(TopicError::AlreadyRegistered)
        );
        let old = table.subscribe(1, None).unwrap();
        table.unregister(1).unwrap();
        assert_eq!(table.unregister(1), Err(TopicError::NotRegistered));
        assert!(matches!(old.pop(), Pop::Closed));
        let typed = Some(TypeId::of::<u32>());
        table
            .register(1, generate(), Delivery::Async, typed)
            .unwrap();
        assert_eq!(
            table.subscribe(1, Some(TypeId::of::<i64>())).err(),
            Some(TopicError::EventType)
        );
        let new = table.subscribe(1, typed).unwrap();
        table.publish(1, 9).unwrap();
        assert!(matches!(new.pop(), Pop::Item(m) if *m.payload() == 9));
        assert_eq!(table.stats(1).unwrap().published, 1);
        assert_eq!(table.publish(2, 0), Err(TopicError::Invalid));
    }
}
