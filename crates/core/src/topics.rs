//! A fixed table of topics: each can be registered with a generator,
//! published to, subscribed to and unregistered from any thread.

use std::any::TypeId;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};
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

/// What a registrant's generator makes, as subscribers are checked against
/// it: a subscriber must read what the generator makes, and a C subscriber
/// reads the topic's C type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Events {
    /// A C generator's: the topic's C type, which Rust knows only by the
    /// promise of a foreign subscriber.
    C,
    /// A Rust generator's, of this type, which its registrant promised is
    /// laid out as the topic's C type: C subscribers may read them too.
    RustForC(TypeId),
    /// A Rust generator's, of this type, for Rust subscribers only: a C
    /// subscriber is refused.
    Rust(TypeId),
}

/// What a subscriber reads the events of a topic as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// The topic's C type: a C subscriber.
    C,
    /// Exactly this Rust type: a Rust registrant's.
    Rust(TypeId),
    /// This type, which its subscriber promised is laid out as the topic's
    /// C type: a C registrant's, or a Rust one's of this very type.
    Foreign(TypeId),
}

impl Expected {
    /// Whether a subscriber expecting this reads what the registrant makes.
    fn check(self, made: Events) -> Result<(), Error> {
        match (self, made) {
            (Expected::C, Events::C | Events::RustForC(_)) => Ok(()),
            (Expected::C, Events::Rust(_)) => Err(Error::RustOnly),
            (Expected::Rust(_), Events::C) => Err(Error::RegisteredFromC),
            (Expected::Foreign(_), Events::C) => Ok(()),
            (
                Expected::Rust(expected) | Expected::Foreign(expected),
                Events::Rust(made) | Events::RustForC(made),
            ) if made == expected => Ok(()),
            _ => Err(Error::EventType),
        }
    }
}

/// What a publish did. (When it failed, the event reached nobody: out of
/// memory, or the generator panicked; see [`Error`].)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// Nothing done: the topic is not registered.
    NotRegistered,
    /// Nothing done: the topic is asynchronous and nobody subscribes (the
    /// generator was not called).
    NobodySubscribed,
    /// The asynchronous topic's generator made nothing.
    Nothing,
    /// The synchronous topic's generator ran (its result, if any, was
    /// released).
    Handled,
    /// The generator's result reached `delivered` subscribers; `missed`
    /// says why others did not.
    Delivered {
        /// Subscribers that received it.
        delivered: usize,
        /// Subscribers that missed it, and why.
        missed: Missed,
    },
}

/// Which registration of a topic: a topic registered again is another one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistrationId(u64);

/// A topic's state, as the publish fast path reads it without a lock.
const UNREGISTERED: u8 = 0;
const SYNC: u8 = 1;
const ASYNC: u8 = 2;

struct Registration<I, M> {
    generate: Generator<I, M>,
    queue: Option<MessageQueue<M>>,
    /// What the generator makes.
    events: Events,
    id: RegistrationId,
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
    /// The options of subscribers that do not give their own (C's).
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
/// use isula_mailbox_core::topics::{Delivery, Events, Expected, Published, TopicTable};
///
/// static TOPICS: TopicTable<u32, Arc<String>, 1> = TopicTable::new();
///
/// let generate = |id| Ok(Some(Arc::new(format!("container {id}"))));
/// TOPICS.register(0, Box::new(generate), Delivery::Async, Events::C).unwrap();
/// assert_eq!(TOPICS.publish(0, 1), Ok(Published::NobodySubscribed));
///
/// let subscriber = TOPICS.subscribe(0, Expected::C).unwrap();
/// let reached = Published::Delivered { delivered: 1, missed: Missed::default() };
/// assert_eq!(TOPICS.publish(0, 2), Ok(reached));
/// let Pop::Item(message) = subscriber.pop() else { unreachable!() };
/// assert_eq!(*message, "container 2");
///
/// TOPICS.unregister(0, None).unwrap();
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

    /// What publishing now would do, if it would do nothing at all (not
    /// registered, nobody subscribed), read without a lock: two atomic
    /// loads.
    #[inline]
    fn quiet(&self) -> Option<Published> {
        match self.state.load(Ordering::Acquire) {
            UNREGISTERED => Some(Published::NotRegistered),
            ASYNC if self.subscribers.load(Ordering::Relaxed) == 0 => {
                Some(Published::NobodySubscribed)
            }
            _ => None,
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
                return Ok(Published::NotRegistered);
            };
            let message = match registration.generate(input) {
                Ok(Some(message)) => message,
                // A sync topic's generator handles the input itself.
                Ok(None) if registration.queue.is_none() => return Ok(Published::Handled),
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
                None => (Leftovers::of(message), Ok(Published::Handled)),
                Some(queue) => match queue.publish(message) {
                    Ok(leftovers) => {
                        let published = Published::Delivered {
                            delivered: leftovers.delivered(),
                            missed: leftovers.missed(),
                        };
                        (leftovers, Ok(published))
                    }
                    // Unregistered while this publish ran its generator.
                    Err(refused) if refused.error == Error::Closed => {
                        (Leftovers::of(refused.item), Ok(Published::NotRegistered))
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

    /// Registers `topic`, whose generator makes `events`. Fails if it is
    /// registered already. Returns which registration it is.
    pub fn register(
        &'static self,
        topic: usize,
        generate: Generator<I, M>,
        delivery: Delivery,
        events: Events,
    ) -> Result<RegistrationId, Error> {
        static REGISTRATIONS: AtomicU64 = AtomicU64::new(0);
        let entry = self.topic(topic)?;
        let (queue, state) = match delivery {
            Delivery::Sync => (None, SYNC),
            Delivery::Async => (Some(MessageQueue::for_topic(&entry.subscribers)?), ASYNC),
        };
        let id = RegistrationId(REGISTRATIONS.fetch_add(1, Ordering::Relaxed));
        let registration = Registration {
            generate,
            queue,
            events,
            id,
        };
        entry
            .registration
            .install(registration, || entry.state.store(state, Ordering::Release))?;
        Ok(id)
    }

    /// Unregisters `topic` (only if it is still registration `only`, when
    /// given; otherwise [`Error::NotRegistered`]): its subscribers are shut
    /// down and it can be registered again. Returns once no publish is
    /// still running its generator, so the generator's context may then be
    /// freed; with how many subscribers were shut down.
    pub fn unregister(&self, topic: usize, only: Option<RegistrationId>) -> Result<usize, Error> {
        let entry = self.topic(topic)?;
        let mut closing: Option<Closing<M>> = None;
        let registration = entry
            .registration
            .take_if(
                |registration| only.is_none_or(|id| registration.id == id),
                |registration| {
                    entry.state.store(UNREGISTERED, Ordering::Release);
                    // Detached and counted out as it goes, so that a
                    // registration right after starts with no subscriber;
                    // shut down below, with no lock held (what they held is
                    // released: the daemon's code runs).
                    closing = registration
                        .queue
                        .as_ref()
                        .map(MessageQueue::begin_shutdown);
                },
            )
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
        if let Some(quiet) = entry.quiet() {
            return Ok(quiet);
        }
        entry.publish(input)
    }

    /// Whether publishing on `topic` now would do nothing at all (see
    /// [`Published::Quiet`]). Two atomic loads; false for an invalid topic.
    #[inline]
    pub fn is_quiet(&self, topic: usize) -> bool {
        self.topics
            .get(topic)
            .is_some_and(|entry| entry.quiet().is_some())
    }

    /// A new subscriber of the async `topic`, made with the topic's
    /// subscriber options, if its events are what it `expects`.
    pub fn subscribe(&self, topic: usize, expects: Expected) -> Result<Subscriber<M>, Error> {
        let options = *self.topic(topic)?.options.lock();
        self.subscribe_with(topic, expects, options)
    }

    /// A new subscriber of the async `topic`, made with `options`, if its
    /// events are what it `expects`.
    pub fn subscribe_with(
        &self,
        topic: usize,
        expects: Expected,
        options: SubscriberOptions,
    ) -> Result<Subscriber<M>, Error> {
        let entry = self.topic(topic)?;
        let registration = entry.registration.borrow().ok_or(Error::NotRegistered)?;
        let queue = registration.queue.as_ref().ok_or(Error::Synchronous)?;
        expects.check(registration.events)?;
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
                Events::C,
            )
            .unwrap();
        assert_eq!(table.publish(0, 1), Ok(Published::Handled));
        assert_eq!(Arc::strong_count(&released), 2, "result dropped, not kept");
        assert_eq!(
            table.subscribe(0, Expected::C).err(),
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
                Events::C,
            )
            .unwrap();
        assert_eq!(table.publish(0, 1), Ok(Published::NobodySubscribed));
        let subscriber = table.subscribe(0, Expected::C).unwrap();
        let reached = Published::Delivered {
            delivered: 1,
            missed: Missed::default(),
        };
        assert_eq!(table.publish(0, 2), Ok(reached));
        drop(subscriber);
        assert_eq!(table.publish(0, 3), Ok(Published::NobodySubscribed));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn register_twice_fails_and_reregister_after_unregister_works() {
        static TABLE: TopicTable<u32, Message<u32>, 2> = TopicTable::new();
        let table = &TABLE;
        let generate = || -> Generator<u32, Message<u32>> { Box::new(|x| Ok(Some(Arc::new(x)))) };
        let first = table
            .register(1, generate(), Delivery::Async, Events::C)
            .unwrap();
        assert_eq!(
            table.register(1, generate(), Delivery::Async, Events::C),
            Err(Error::AlreadyRegistered)
        );
        let old = table.subscribe(1, Expected::C).unwrap();
        table.unregister(1, Some(first)).unwrap();
        assert_eq!(table.unregister(1, None), Err(Error::NotRegistered));
        assert!(matches!(old.pop(), Pop::Closed));
        let typed = Events::Rust(TypeId::of::<u32>());
        let second = table
            .register(1, generate(), Delivery::Async, typed)
            .unwrap();
        assert_eq!(
            table.unregister(1, Some(first)),
            Err(Error::NotRegistered),
            "the first registration's owner cannot end the second"
        );
        assert_eq!(
            table
                .subscribe(1, Expected::Rust(TypeId::of::<i64>()))
                .err(),
            Some(Error::EventType)
        );
        assert_eq!(
            table.subscribe(1, Expected::C).err(),
            Some(Error::RustOnly),
            "C reads the topic's C type, which a Rust-only registrant does not make"
        );
        let new = table
            .subscribe(1, Expected::Rust(TypeId::of::<u32>()))
            .unwrap();
        table.publish(1, 9).unwrap();
        assert!(matches!(new.pop(), Pop::Item(m) if *m == 9));
        assert_eq!(table.stats(1).unwrap().published, 1);
        assert_eq!(table.publish(2, 0), Err(Error::InvalidTopic));
        table.unregister(1, Some(second)).unwrap();
    }
}
