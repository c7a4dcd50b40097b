//! A fixed table of topics: each can be registered with a generator,
//! published to, subscribed to and unregistered from any thread.

use std::any::TypeId;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};
use std::time::Duration;

use super::counters::Snapshot;
use super::error::Error;
use super::lease::Lease;
use super::message_queue::{Closing, Leftovers, MessageQueue, Missed};
use super::shared::Shared;
use super::subscriber::{Subscriber, SubscriberOptions};
use super::sync::Mutex;
use super::unwind::catch;

/// Turns what a publisher passes into the message subscribers receive
/// (`Ok(None)`: nothing to publish). For a synchronous topic the message is
/// dropped at once: its `Drop` is the topic's release. [`Error::OutOfMemory`]
/// when the message could not be made (and nothing is left to release). If
/// it panics, the publish fails with [`Error::GeneratorPanicked`].
pub type Generator<I, M> = Box<dyn Fn(I) -> Result<Option<M>, Error> + Send + Sync>;

/// How a topic delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The generator runs in the publishing thread and its result is
    /// dropped; there is nothing to subscribe to.
    Sync,
    /// The generator's result is published to the topic's subscribers.
    Async,
}

/// What a subscriber expects the events of a topic to be, checked against
/// what its registrant said it makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// Whatever they are (C subscribers cannot say).
    Anything,
    /// Exactly this type: the registrant must have said so.
    Exactly(TypeId),
    /// This type, or whatever a registrant that did not say makes (a C
    /// one): the subscriber knows what that is.
    ExactlyOrUnsaid(TypeId),
}

impl Expected {
    fn accepts(self, made: Option<TypeId>) -> bool {
        match self {
            Expected::Anything => true,
            Expected::Exactly(expected) => made == Some(expected),
            Expected::ExactlyOrUnsaid(expected) => made.is_none_or(|made| made == expected),
        }
    }
}

/// What a publish did. (When it failed, the event reached nobody: out of
/// memory, or the generator panicked; see [`Error`].)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// Nothing to publish: the topic is not registered, or nobody subscribes
    /// to the async topic (the generator was not called).
    Quiet,
    /// The generator made nothing.
    Nothing,
    /// The generator's result was released (sync) or published (async);
    /// some subscribers may have missed it.
    Done(Missed),
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
}

struct Topic<I, M> {
    /// What the publish fast path reads: written only under the lease's
    /// lock, as the registration changes.
    state: AtomicU8,
    /// Subscribers of the current registration, kept by its queue: read
    /// here, at a fixed address, by the no-subscriber publish path.
    subscribers: AtomicU32,
    /// Borrowed by every publish while its generator runs (so that
    /// unregister waits for it, and a generator may publish in turn), by
    /// subscribe, unsubscribe and stats.
    registration: Lease<Registration<I, M>>,
    options: Mutex<SubscriberOptions>,
}

/// The topics of one process: `N` topics numbered from 0, in a table made
/// at compile time and meant to live in a `static`. The no-subscriber
/// publish path then reads two atomics at fixed addresses.
///
/// ```
/// use std::sync::Arc;
/// use isula_mailbox_core::blocking_queue::Pop;
/// use isula_mailbox_core::message_queue::Missed;
/// use isula_mailbox_core::topics::{Delivery, Expected, Published, TopicTable};
///
/// static TOPICS: TopicTable<u32, Arc<String>, 1> = TopicTable::new();
///
/// let generate = |id| Ok(Some(Arc::new(format!("container {id}"))));
/// TOPICS.register(0, Box::new(generate), Delivery::Async, None).unwrap();
/// assert_eq!(TOPICS.publish(0, 1), Ok(Published::Quiet));
///
/// let subscriber = TOPICS.subscribe(0, Expected::Anything).unwrap();
/// assert_eq!(TOPICS.publish(0, 2), Ok(Published::Done(Missed::default())));
/// let Pop::Item(message) = subscriber.pop() else { unreachable!() };
/// assert_eq!(*message, "container 2");
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
            subscribers: AtomicU32::new(0),
            registration: Lease::new(),
            options: Mutex::new(SubscriberOptions::DEFAULT),
        }
    }

    /// Whether publishing now would do nothing (see [`Published::Quiet`]),
    /// read without a lock: two atomic loads.
    #[inline]
    fn is_quiet(&self) -> bool {
        match self.state.load(Ordering::Acquire) {
            UNREGISTERED => true,
            ASYNC => self.subscribers.load(Ordering::Relaxed) == 0,
            _ => false,
        }
    }

    /// The publish path with work to do, kept out of line so that the
    /// quiet path stays a few instructions.
    #[inline(never)]
    fn publish(&self, input: I) -> Result<Published, Error>
    where
        M: Shared,
    {
        let (leftovers, published) = {
            // Borrowed while the generator runs, so that unregister waits
            // for it; a generator may publish in turn.
            let Some(registration) = self.registration.borrow() else {
                return Ok(Published::Quiet);
            };
            let message = match registration.generate(input) {
                Ok(Some(message)) => message,
                Ok(None) => return Ok(Published::Nothing),
                Err(error) => {
                    if let Some(queue) = &registration.queue {
                        queue.count_missed();
                    }
                    return Err(error);
                }
            };
            match &registration.queue {
                // A sync topic's result is only released.
                None => (
                    Leftovers::of(message),
                    Ok(Published::Done(Missed::default())),
                ),
                Some(queue) => match queue.publish(message) {
                    Ok(leftovers) => {
                        let missed = leftovers.missed();
                        (leftovers, Ok(Published::Done(missed)))
                    }
                    // Unregistered while this publish ran its generator.
                    Err(refused) if refused.error == Error::Closed => {
                        (Leftovers::of(refused.item), Ok(Published::Quiet))
                    }
                    Err(refused) => (Leftovers::of(refused.item), Err(refused.error)),
                },
            }
        };
        // Released with no lock of this topic held.
        drop(leftovers);
        published
    }
}

impl<I, M> Registration<I, M> {
    /// Runs the generator. It is the registrant's code: a panic there is
    /// stopped here, before it can unwind through the publish (and, from a
    /// C caller, into C), and the publish fails instead. Nothing the
    /// generator was making is half-built when it unwinds: a message is
    /// only made from what it returns.
    fn generate(&self, input: I) -> Result<Option<M>, Error> {
        catch(|| (self.generate)(input)).ok_or(Error::GeneratorPanicked)?
    }
}

impl<I, M, const N: usize> TopicTable<I, M, N> {
    /// A table of `N` unregistered topics.
    pub const fn new() -> Self {
        TopicTable {
            topics: [const { Topic::new() }; N],
        }
    }

    fn topic(&self, topic: usize) -> Result<&Topic<I, M>, Error> {
        self.topics.get(topic).ok_or(Error::InvalidTopic)
    }

    /// Registers `topic`, whose generator makes events of `event_type`
    /// (`None`: not known). Fails if it is registered already.
    pub fn register(
        &'static self,
        topic: usize,
        generate: Generator<I, M>,
        delivery: Delivery,
        event_type: Option<TypeId>,
    ) -> Result<(), Error> {
        let entry = self.topic(topic)?;
        let (queue, state) = match delivery {
            Delivery::Sync => (None, SYNC),
            Delivery::Async => (Some(MessageQueue::for_topic(&entry.subscribers)?), ASYNC),
        };
        let registration = Registration {
            generate,
            queue,
            event_type,
        };
        entry
            .registration
            .install(registration, || entry.state.store(state, Ordering::Release))
    }

    /// Unregisters `topic`: its subscribers are shut down and it can be
    /// registered again. Returns once no publish is still running its
    /// generator, so the generator's context may then be freed; with how
    /// many subscribers were shut down.
    pub fn unregister(&self, topic: usize) -> Result<usize, Error> {
        let entry = self.topic(topic)?;
        let mut closing: Option<Closing<M>> = None;
        let registration = entry
            .registration
            .take(|registration| {
                entry.state.store(UNREGISTERED, Ordering::Release);
                // Detached and counted out as it goes, so that a
                // registration right after starts with no subscriber; shut
                // down below, with no lock held (what they held is
                // released: the daemon's code runs).
                closing = registration
                    .queue
                    .as_ref()
                    .map(MessageQueue::begin_shutdown);
            })
            .ok_or(Error::NotRegistered)?;
        let shut_down = closing.map_or(0, Closing::finish);
        drop(registration);
        Ok(shut_down)
    }

    /// Publishes `input` on `topic`. For an async topic nobody subscribes
    /// to, this reads two atomics and returns: no lock, no allocation, no
    /// generator call.
    #[inline]
    pub fn publish(&self, topic: usize, input: I) -> Result<Published, Error>
    where
        M: Shared,
    {
        let entry = self.topic(topic)?;
        if entry.is_quiet() {
            return Ok(Published::Quiet);
        }
        entry.publish(input)
    }

    /// Whether publishing on `topic` now would do nothing at all (see
    /// [`Published::Quiet`]). Two atomic loads; false for an invalid topic.
    #[inline]
    pub fn is_quiet(&self, topic: usize) -> bool {
        self.topics.get(topic).is_some_and(Topic::is_quiet)
    }

    /// A new subscriber of the async `topic`, made with the topic's
    /// subscriber options, if its events are what it `expects`.
    pub fn subscribe(&self, topic: usize, expects: Expected) -> Result<Subscriber<M>, Error> {
        let entry = self.topic(topic)?;
        let options = *entry.options.lock();
        let registration = entry.registration.borrow().ok_or(Error::NotRegistered)?;
        let queue = registration.queue.as_ref().ok_or(Error::Synchronous)?;
        if !expects.accepts(registration.event_type) {
            return Err(Error::EventType);
        }
        queue.subscribe(options).map_err(|error| match error {
            // Unregistered meanwhile.
            Error::Closed => Error::NotRegistered,
            error => error,
        })
    }

    /// Stops delivering `topic` to `subscriber`.
    pub fn unsubscribe(&self, topic: usize, subscriber: &Subscriber<M>) -> Result<(), Error> {
        let entry = self.topic(topic)?;
        let registration = entry.registration.borrow().ok_or(Error::NotRegistered)?;
        match &registration.queue {
            Some(queue) if queue.unsubscribe(subscriber) => Ok(()),
            _ => Err(Error::NotSubscribed),
        }
    }

    /// How many subscribers `topic` has now (a relaxed read: for logs).
    pub fn subscriber_count(&self, topic: usize) -> u32 {
        self.topics
            .get(topic)
            .map_or(0, |entry| entry.subscribers.load(Ordering::Relaxed))
    }

    /// Whether `topic` is registered.
    pub fn is_registered(&self, topic: usize) -> bool {
        self.topic(topic)
            .is_ok_and(|entry| entry.state.load(Ordering::Acquire) != UNREGISTERED)
    }

    /// The counters of `topic`'s current registration (all zero for a sync
    /// topic: it delivers nothing).
    pub fn stats(&self, topic: usize) -> Result<Snapshot, Error> {
        let entry = self.topic(topic)?;
        let registration = entry.registration.borrow().ok_or(Error::NotRegistered)?;
        Ok(registration
            .queue
            .as_ref()
            .map(MessageQueue::stats)
            .unwrap_or_default())
    }

    /// Sets the pop time limit of subscribers made from now on.
    pub fn set_subscriber_timeout(
        &self,
        topic: usize,
        timeout: Option<Duration>,
    ) -> Result<(), Error> {
        self.topic(topic)?.options.lock().timeout = timeout;
        Ok(())
    }

    /// Sets the bound of subscribers made from now on (`None`: unbounded).
    pub fn set_subscriber_capacity(
        &self,
        topic: usize,
        capacity: Option<NonZeroUsize>,
    ) -> Result<(), Error> {
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
    use crate::blocking_queue::Pop;
    use std::sync::atomic::AtomicUsize;
    type Message<T> = Arc<T>;
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
                Box::new(move |_| Ok(Some(Arc::new(Arc::clone(&handle))))),
                Delivery::Sync,
                None,
            )
            .unwrap();
        assert_eq!(table.publish(0, 1), Ok(Published::Done(Missed::default())));
        assert_eq!(Arc::strong_count(&released), 2, "result dropped, not kept");
        assert_eq!(
            table.subscribe(0, Expected::Anything).err(),
            Some(Error::Synchronous)
        );
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
                    Ok(Some(Arc::new(x)))
                }),
                Delivery::Async,
                None,
            )
            .unwrap();
        assert_eq!(table.publish(0, 1), Ok(Published::Quiet));
        let subscriber = table.subscribe(0, Expected::Anything).unwrap();
        assert_eq!(table.publish(0, 2), Ok(Published::Done(Missed::default())));
        drop(subscriber);
        assert_eq!(table.publish(0, 3), Ok(Published::Quiet));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn register_twice_fails_and_reregister_after_unregister_works() {
        static TABLE: TopicTable<u32, Message<u32>, 2> = TopicTable::new();
        let table = &TABLE;
        let generate = || -> Generator<u32, Message<u32>> { Box::new(|x| Ok(Some(Arc::new(x)))) };
        table
            .register(1, generate(), Delivery::Async, None)
            .unwrap();
        assert_eq!(
            table.register(1, generate(), Delivery::Async, None),
            Err(Error::AlreadyRegistered)
        );
        let old = table.subscribe(1, Expected::Anything).unwrap();
        table.unregister(1).unwrap();
        assert_eq!(table.unregister(1), Err(Error::NotRegistered));
        assert!(matches!(old.pop(), Pop::Closed));
        let typed = Some(TypeId::of::<u32>());
        table
            .register(1, generate(), Delivery::Async, typed)
            .unwrap();
        assert_eq!(
            table
                .subscribe(1, Expected::Exactly(TypeId::of::<i64>()))
                .err(),
            Some(Error::EventType)
        );
        let new = table
            .subscribe(1, Expected::Exactly(TypeId::of::<u32>()))
            .unwrap();
        table.publish(1, 9).unwrap();
        assert!(matches!(new.pop(), Pop::Item(m) if *m == 9));
        assert_eq!(table.stats(1).unwrap().published, 1);
        assert_eq!(table.publish(2, 0), Err(Error::InvalidTopic));
    }
}
