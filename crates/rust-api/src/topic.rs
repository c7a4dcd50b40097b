//! A topic of the process's mailbox, as Rust sees it.

use std::marker::PhantomData;
use std::num::NonZeroUsize;
use std::time::Duration;

use isula_mailbox_broker::{self as broker, log_debug, log_error, logging, topics, typed};
use isula_mailbox_core::counters::Snapshot;
use isula_mailbox_core::error::Error as CoreError;
use isula_mailbox_core::topics::Published;

use crate::{CriContainer, Error, ForeignEvent, Subscription, TopicKind};

/// The topic `MAILBOX_TOPIC_CRI_CONTAINER`, the same one the C functions
/// use: a C publisher reaches a Rust subscriber and the other way round.
pub const CRI_CONTAINER: Topic<CriContainer> = Topic::new(broker::CRI_CONTAINER, "CRI_CONTAINER");

/// Counters of a topic since it was registered: the `mailbox_topic_stats`
/// of `mailbox_get_topic_stats`.
pub type TopicStats = Snapshot;

/// A topic of the process's mailbox: the same topics the C functions use.
/// Publishing, subscribing and registering here and in C are one and the
/// same.
///
/// Registering from Rust records the type of the events the generator
/// makes, so that [`subscribe`](Self::subscribe) can check it; what a C
/// generator makes is what its implementation of [`ForeignEvent`] says, for
/// [`subscribe_foreign`](Self::subscribe_foreign).
///
/// ```
/// use std::time::Duration;
/// use isula_mailbox::{ContainerEventKind, ContainerMessage, CRI_CONTAINER};
///
/// #[derive(Debug, PartialEq)]
/// struct Event {
///     container: String,
///     kind: ContainerEventKind,
/// }
///
/// CRI_CONTAINER
///     .register(|message: &ContainerMessage<'_>| {
///         Some(Event {
///             container: message.container_id()?.to_string_lossy().into_owned(),
///             kind: message.kind()?,
///         })
///     })
///     .unwrap();
/// let events = CRI_CONTAINER.subscribe::<Event>().unwrap();
/// CRI_CONTAINER.publish(&ContainerMessage::new(c"c1", c"pod", ContainerEventKind::Created));
///
/// let event = events.recv_timeout(Duration::from_secs(1)).unwrap();
/// assert_eq!(event.container, "c1");
/// assert_eq!(event.kind, ContainerEventKind::Created);
/// CRI_CONTAINER.unregister().unwrap();
/// ```
pub struct Topic<K: TopicKind> {
    index: usize,
    name: &'static str,
    kind: PhantomData<fn() -> K>,
}

impl<K: TopicKind> Clone for Topic<K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K: TopicKind> Copy for Topic<K> {}

impl<K: TopicKind> std::fmt::Debug for Topic<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Topic({})", self.name)
    }
}

impl<K: TopicKind> Topic<K> {
    const fn new(index: usize, name: &'static str) -> Self {
        Topic {
            index,
            name,
            kind: PhantomData,
        }
    }

    /// The topic's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Registers the topic as asynchronous: publishing calls `generator`
    /// (only when someone subscribes) and publishes what it returns to
    /// every subscriber, Rust or C. C subscribers read `msg->data` as a
    /// pointer to `E`: make it `#[repr(C)]` if they read it.
    ///
    /// The generator runs in the publishing thread while its publish holds
    /// the topic: [`unregister`](Self::unregister) waits for it, so it must
    /// not unregister this topic itself (publishing is fine).
    pub fn register<E, G>(&self, generator: G) -> Result<(), Error>
    where
        E: Send + Sync + 'static,
        G: for<'a> Fn(&K::Input<'a>) -> Option<E> + Send + Sync + 'static,
    {
        typed::register::<K, E, G>(self.index, generator)?;
        log_debug!(target: "Topic::register", "topic {} registered (async)", self.name);
        Ok(())
    }

    /// Registers the topic as synchronous: publishing calls `handler` in the
    /// publishing thread; there is nothing to subscribe to.
    pub fn register_handler<H>(&self, handler: H) -> Result<(), Error>
    where
        H: for<'a> Fn(&K::Input<'a>) + Send + Sync + 'static,
    {
        typed::register_handler::<K, H>(self.index, handler)?;
        log_debug!(target: "Topic::register_handler", "topic {} registered (sync)", self.name);
        Ok(())
    }

    /// Unregisters the topic, whoever registered it: every subscription
    /// ends ([`RecvError::Closed`](super::RecvError::Closed)). Returns once
    /// no publish is still inside the generator.
    pub fn unregister(&self) -> Result<(), Error> {
        let shut_down = topics().unregister(self.index)?;
        log_debug!(
            target: "Topic::unregister",
            "topic {} unregistered, {shut_down} subscribers shut down",
            self.name
        );
        Ok(())
    }

    /// Whether the topic is registered now.
    pub fn is_registered(&self) -> bool {
        topics().is_registered(self.index)
    }

    /// Publishes `input`: see [`register`](Self::register). Does nothing
    /// for an unregistered topic, or an asynchronous one nobody subscribes
    /// to (two atomic loads). When memory runs out the event reaches nobody
    /// (logged, and counted in each subscriber's `dropped`), as with
    /// `mailbox_publish`.
    pub fn publish(&self, input: &K::Input<'_>) {
        match typed::publish_input::<K>(self.index, input) {
            Err(CoreError::OutOfMemory) => log_error!(
                target: "Topic::publish",
                "out of memory, the event reached no subscriber"
            ),
            Err(CoreError::GeneratorPanicked) => log_error!(
                target: "Topic::publish",
                "the generator of topic {} panicked; the event reached no subscriber",
                self.name
            ),
            Ok(Published::Done(missed)) => logging::report_missed("Topic::publish", missed),
            // Nothing to publish; the topic is valid by construction.
            Ok(Published::Quiet | Published::Nothing) | Err(_) => {}
        }
    }

    /// Subscribes to the events of a topic registered from Rust with
    /// events of type `E`. [`Error::EventType`] for any other registrant.
    pub fn subscribe<E: Send + Sync + 'static>(&self) -> Result<Subscription<E>, Error> {
        let (subscriber, events) = typed::subscribe::<E>(self.index)?;
        Ok(self.subscribed("Topic::subscribe", Subscription::new(subscriber, events)))
    }

    /// Subscribes to the events of a topic registered from C, whose
    /// generator makes what `E` (by implementing [`ForeignEvent`]) says;
    /// or from Rust with events of type `E`.
    pub fn subscribe_foreign<E: ForeignEvent>(&self) -> Result<Subscription<E>, Error> {
        let (subscriber, events) = typed::subscribe_foreign::<E>(self.index)?;
        Ok(self.subscribed(
            "Topic::subscribe_foreign",
            Subscription::new(subscriber, events),
        ))
    }

    /// Logs (at debug) that `subscription` was attached by `function`.
    fn subscribed<E>(&self, function: &str, subscription: Subscription<E>) -> Subscription<E> {
        log_debug!(
            target: function,
            "a subscription attached to topic {} ({} now)",
            self.name,
            topics().subscriber_count(self.index)
        );
        subscription
    }

    /// The topic's counters since it was registered (see
    /// `mailbox_get_topic_stats`).
    pub fn stats(&self) -> Result<TopicStats, Error> {
        Ok(topics().stats(self.index)?)
    }

    /// How long `recv` of subscriptions made from now on waits (`None`:
    /// forever; default one second).
    pub fn set_subscriber_timeout(&self, timeout: Option<Duration>) {
        // Cannot fail: the topic is valid.
        let _ = topics().set_subscriber_timeout(self.index, timeout);
    }

    /// The most events a subscription made from now on keeps (`None`:
    /// unbounded, the default). A full one drops its oldest event.
    pub fn set_subscriber_capacity(&self, capacity: Option<NonZeroUsize>) {
        // Cannot fail: the topic is valid.
        let _ = topics().set_subscriber_capacity(self.index, capacity);
    }
}
