//! A topic of the process's broker, as Rust sees it.

use std::marker::PhantomData;
use std::num::NonZeroUsize;

use isula_mailbox_broker::typed::{self, CriContainer, ForeignEvent, TopicKind};
use isula_mailbox_broker::{self as broker, log_debug, log_error, logging, topics};
use isula_mailbox_core::error::Error as CoreError;
use isula_mailbox_core::subscriber::SubscriberOptions;
use isula_mailbox_core::topics::{Published as CorePublished, RegistrationId};

use crate::{Error, Subscription};

/// The topic `MAILBOX_TOPIC_CRI_CONTAINER`, the same one the C functions
/// use: a C publisher reaches a Rust subscriber and the other way round.
///
/// ```
/// use isula_mailbox::CRI_CONTAINER;
///
/// assert_eq!(CRI_CONTAINER.name(), "CRI_CONTAINER");
/// ```
pub const CRI_CONTAINER: Topic<CriContainer> = Topic::new(broker::CRI_CONTAINER, "CRI_CONTAINER");

/// A topic of the process: the same topics the C functions use. Publishing,
/// subscribing and registering here and in C are one and the same.
///
/// Its registrant, C or Rust, decides what its events are, and every
/// subscriber is checked against that:
/// - a Rust registrant of Rust events ([`register`](Self::register)): Rust
///   subscribers of that type ([`subscribe`](Self::subscribe)); a C
///   subscriber is refused (NULL, logged);
/// - a C registrant (the daemon registers `CRI_CONTAINER` from C), or a
///   Rust one of events laid out as the topic's C type
///   ([`register_foreign`](Self::register_foreign)): C subscribers, and
///   Rust ones of a type promised to be that layout
///   ([`subscribe_foreign`](Self::subscribe_foreign), [`ForeignEvent`]).
///
/// ```
/// use std::time::Duration;
/// use isula_mailbox::{ContainerEventKind, ContainerMessage, Published, CRI_CONTAINER};
///
/// #[derive(Debug, PartialEq)]
/// struct Event {
///     container: String,
///     kind: ContainerEventKind,
/// }
///
/// let registration = CRI_CONTAINER
///     .register(|message: &ContainerMessage<'_>| {
///         Some(Event {
///             container: message.container_id()?.to_string_lossy().into_owned(),
///             kind: message.kind()?,
///         })
///     })
///     .unwrap();
/// let events = CRI_CONTAINER.subscribe::<Event>().unwrap();
/// let message = ContainerMessage::new(c"c1", c"pod", ContainerEventKind::Created);
/// let published = CRI_CONTAINER.publish(&message).unwrap();
/// assert_eq!(published, Published::Delivered { subscribers: 1, missed: 0 });
///
/// let event = events.recv_timeout(Duration::from_secs(1)).unwrap();
/// assert_eq!(event.container, "c1");
/// assert_eq!(event.kind, ContainerEventKind::Created);
/// registration.unregister().unwrap();
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

    /// The topic's name, as its C enum value names it after
    /// `MAILBOX_TOPIC_`.
    ///
    /// ```
    /// assert_eq!(isula_mailbox::CRI_CONTAINER.name(), "CRI_CONTAINER");
    /// ```
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Registers the topic as asynchronous, with events of Rust's own:
    /// publishing calls `generator` (only when someone subscribes) and
    /// publishes what it returns to the topic's Rust subscribers of `E`. C
    /// cannot read them: a C subscriber is refused (see
    /// [`register_foreign`](Self::register_foreign) for events C reads).
    ///
    /// The generator runs in the publishing thread while its publish holds
    /// the topic: [`Registration::unregister`] waits for it, so it must not
    /// unregister this topic itself (publishing is fine). If it panics, that
    /// publish fails ([`Error::GeneratorPanicked`]) and nothing leaks.
    ///
    /// ```
    /// use isula_mailbox::{ContainerMessage, Error, CRI_CONTAINER};
    ///
    /// let registration = CRI_CONTAINER.register(|m: &ContainerMessage<'_>| m.kind()).unwrap();
    /// let again = CRI_CONTAINER.register(|m: &ContainerMessage<'_>| m.kind());
    /// assert_eq!(again.unwrap_err(), Error::AlreadyRegistered);
    /// drop(registration); // unregisters
    /// assert!(!CRI_CONTAINER.is_registered());
    /// ```
    pub fn register<E, G>(&self, generator: G) -> Result<Registration<K>, Error>
    where
        E: Send + Sync + 'static,
        G: for<'a> Fn(&K::Input<'a>) -> Option<E> + Send + Sync + 'static,
    {
        let id = typed::register_rust::<K, E, G>(self.index, generator)?;
        Ok(self.registered("Topic::register", id, "async, Rust events"))
    }

    /// Registers the topic as asynchronous with events laid out as the
    /// topic's C type (`E: ForeignEvent<K>` promises it): C subscribers
    /// read them, as they read a C generator's, and so do Rust subscribers
    /// of `E` ([`subscribe_foreign`](Self::subscribe_foreign) or
    /// [`subscribe`](Self::subscribe)). Otherwise as
    /// [`register`](Self::register).
    ///
    /// ```
    /// use isula_mailbox::{ContainerMessage, CriContainer, ForeignEvent, CRI_CONTAINER};
    ///
    /// /// What the topic's C subscribers read (in this example, not the
    /// /// daemon's `ContainerEventResponse`).
    /// #[repr(C)]
    /// struct CEvent {
    ///     kind: i32,
    /// }
    /// // SAFETY: the topic's C subscribers of this example read `CEvent`;
    /// // it holds no pointer and is never changed once made.
    /// unsafe impl ForeignEvent<CriContainer> for CEvent {}
    ///
    /// let _registration = CRI_CONTAINER
    ///     .register_foreign(|m: &ContainerMessage<'_>| Some(CEvent { kind: m.kind()? as i32 }))
    ///     .unwrap();
    /// let events = CRI_CONTAINER.subscribe_foreign::<CEvent>().unwrap();
    /// # drop(events);
    /// ```
    pub fn register_foreign<E, G>(&self, generator: G) -> Result<Registration<K>, Error>
    where
        E: ForeignEvent<K> + Send + Sync,
        G: for<'a> Fn(&K::Input<'a>) -> Option<E> + Send + Sync + 'static,
    {
        let id = typed::register_foreign::<K, E, G>(self.index, generator)?;
        Ok(self.registered("Topic::register_foreign", id, "async, C events"))
    }

    /// Registers the topic as synchronous: publishing calls `handler` in the
    /// publishing thread; there is nothing to subscribe to.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use isula_mailbox::{ContainerEventKind, ContainerMessage, Published, CRI_CONTAINER};
    ///
    /// static HANDLED: AtomicUsize = AtomicUsize::new(0);
    /// let _registration = CRI_CONTAINER
    ///     .register_handler(|_: &ContainerMessage<'_>| {
    ///         HANDLED.fetch_add(1, Ordering::Relaxed);
    ///     })
    ///     .unwrap();
    /// let message = ContainerMessage::new(c"c1", c"pod", ContainerEventKind::Created);
    /// assert_eq!(CRI_CONTAINER.publish(&message), Ok(Published::Handled));
    /// assert_eq!(HANDLED.load(Ordering::Relaxed), 1);
    /// ```
    pub fn register_handler<H>(&self, handler: H) -> Result<Registration<K>, Error>
    where
        H: for<'a> Fn(&K::Input<'a>) + Send + Sync + 'static,
    {
        let id = typed::register_handler::<K, H>(self.index, handler)?;
        Ok(self.registered("Topic::register_handler", id, "sync"))
    }

    fn registered(&self, function: &str, id: RegistrationId, how: &str) -> Registration<K> {
        log_debug!(target: function, "topic {} registered ({how})", self.name);
        Registration { topic: *self, id }
    }

    /// Ends the topic's registration, whoever made it (C or Rust): every
    /// subscription, C or Rust, ends. Meant for the daemon's shutdown, where
    /// the module that owns the topic is gone; a module ends its own
    /// registration through its [`Registration`]. Returns once no publish
    /// is still inside the generator, with how many subscriptions ended.
    ///
    /// ```
    /// use isula_mailbox::{ContainerMessage, Error, CRI_CONTAINER};
    ///
    /// let registration = CRI_CONTAINER.register(|m: &ContainerMessage<'_>| m.kind()).unwrap();
    /// assert_eq!(CRI_CONTAINER.shut_down(), Ok(0));
    /// assert_eq!(CRI_CONTAINER.shut_down(), Err(Error::NotRegistered));
    /// // Ended already: unregistering through it says so.
    /// assert_eq!(registration.unregister(), Err(Error::NotRegistered));
    /// ```
    pub fn shut_down(&self) -> Result<usize, Error> {
        let shut_down = topics().unregister(self.index, None)?;
        log_debug!(
            target: "Topic::shut_down",
            "topic {} unregistered, {shut_down} subscribers shut down",
            self.name
        );
        Ok(shut_down)
    }

    /// Whether the topic is registered now.
    ///
    /// ```
    /// assert!(!isula_mailbox::CRI_CONTAINER.is_registered());
    /// ```
    pub fn is_registered(&self) -> bool {
        topics().is_registered(self.index)
    }

    /// Publishes `input`: the topic's generator makes the event and every
    /// subscriber, C or Rust, receives it (see [`Published`] for what
    /// happened). Does nothing, and says so, for an unregistered topic or
    /// an asynchronous one nobody subscribes to (two atomic loads). Fails
    /// when memory runs out or the generator panics: the event reached
    /// nobody (logged, and counted in each subscriber's `dropped`).
    ///
    /// ```
    /// use isula_mailbox::{ContainerEventKind, ContainerMessage, Published, CRI_CONTAINER};
    ///
    /// let message = ContainerMessage::new(c"c1", c"pod", ContainerEventKind::Created);
    /// assert_eq!(CRI_CONTAINER.publish(&message), Ok(Published::NotRegistered));
    /// let _registration = CRI_CONTAINER.register(|m: &ContainerMessage<'_>| m.kind()).unwrap();
    /// assert_eq!(CRI_CONTAINER.publish(&message), Ok(Published::NobodySubscribed));
    /// ```
    pub fn publish(&self, input: &K::Input<'_>) -> Result<Published, Error> {
        match typed::publish_input::<K>(self.index, input) {
            Ok(published) => {
                if let CorePublished::Delivered { missed, .. } = published {
                    logging::report_missed("Topic::publish", missed);
                }
                Ok(Published::from(published))
            }
            Err(error) => {
                match error {
                    CoreError::OutOfMemory => log_error!(
                        target: "Topic::publish",
                        "out of memory, the event reached no subscriber"
                    ),
                    CoreError::GeneratorPanicked => log_error!(
                        target: "Topic::publish",
                        "the generator of topic {} panicked; the event reached no subscriber",
                        self.name
                    ),
                    _ => {}
                }
                Err(error.into())
            }
        }
    }

    /// Subscribes to the events of a topic registered from Rust with
    /// events of type `E`; unbounded (see
    /// [`subscribe_with`](Self::subscribe_with)).
    /// [`Error::RegisteredFromC`] for a C registrant: read those with
    /// [`subscribe_foreign`](Self::subscribe_foreign).
    ///
    /// ```
    /// use isula_mailbox::{ContainerEventKind, ContainerMessage, Error, CRI_CONTAINER};
    ///
    /// let _registration = CRI_CONTAINER.register(|m: &ContainerMessage<'_>| m.kind()).unwrap();
    /// assert!(CRI_CONTAINER.subscribe::<ContainerEventKind>().is_ok());
    /// assert_eq!(CRI_CONTAINER.subscribe::<String>().unwrap_err(), Error::EventType);
    /// ```
    pub fn subscribe<E: Send + Sync + 'static>(&self) -> Result<Subscription<E>, Error> {
        self.subscribe_with(SubscriptionOptions::new())
    }

    /// [`subscribe`](Self::subscribe), with `options`.
    ///
    /// ```
    /// use isula_mailbox::{ContainerEventKind, ContainerMessage, SubscriptionOptions, CRI_CONTAINER};
    ///
    /// let _registration = CRI_CONTAINER.register(|m: &ContainerMessage<'_>| m.kind()).unwrap();
    /// let options = SubscriptionOptions::new().capacity(100);
    /// let events = CRI_CONTAINER.subscribe_with::<ContainerEventKind>(options).unwrap();
    /// # drop(events);
    /// ```
    pub fn subscribe_with<E: Send + Sync + 'static>(
        &self,
        options: SubscriptionOptions,
    ) -> Result<Subscription<E>, Error> {
        let (subscriber, events) = typed::subscribe::<E>(self.index, options.core())?;
        Ok(self.subscribed("Topic::subscribe", Subscription::new(subscriber, events)))
    }

    /// Subscribes to the events of a topic registered from C (the daemon
    /// registers `CRI_CONTAINER` from C), or from Rust with
    /// [`register_foreign`](Self::register_foreign), read as `E`, which
    /// implements [`ForeignEvent`] for this topic; unbounded (see
    /// [`subscribe_foreign_with`](Self::subscribe_foreign_with)). See
    /// [`ForeignEvent`] for the daemon's case.
    ///
    /// ```
    /// use isula_mailbox::{ContainerMessage, CriContainer, Error, ForeignEvent, CRI_CONTAINER};
    ///
    /// #[repr(C)]
    /// struct Opaque {
    ///     _private: [u8; 0],
    /// }
    /// // SAFETY: read only through `Event::as_ptr`; see `ForeignEvent`.
    /// unsafe impl ForeignEvent<CriContainer> for Opaque {}
    ///
    /// // A Rust registrant of Rust events: not C's layout.
    /// let _registration = CRI_CONTAINER.register(|m: &ContainerMessage<'_>| m.kind()).unwrap();
    /// assert_eq!(CRI_CONTAINER.subscribe_foreign::<Opaque>().unwrap_err(), Error::EventType);
    /// ```
    pub fn subscribe_foreign<E: ForeignEvent<K>>(&self) -> Result<Subscription<E>, Error> {
        self.subscribe_foreign_with(SubscriptionOptions::new())
    }

    /// [`subscribe_foreign`](Self::subscribe_foreign), with `options`.
    ///
    /// ```
    /// use isula_mailbox::{CriContainer, ForeignEvent, SubscriptionOptions, CRI_CONTAINER};
    ///
    /// #[repr(C)]
    /// struct Opaque {
    ///     _private: [u8; 0],
    /// }
    /// // SAFETY: read only through `Event::as_ptr`; see `ForeignEvent`.
    /// unsafe impl ForeignEvent<CriContainer> for Opaque {}
    ///
    /// let bounded = SubscriptionOptions::new().capacity(64);
    /// assert!(CRI_CONTAINER.subscribe_foreign_with::<Opaque>(bounded).is_err()); // not registered
    /// ```
    pub fn subscribe_foreign_with<E: ForeignEvent<K>>(
        &self,
        options: SubscriptionOptions,
    ) -> Result<Subscription<E>, Error> {
        let (subscriber, events) = typed::subscribe_foreign::<K, E>(self.index, options.core())?;
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

    /// The topic's counters since it was registered (as
    /// `mailbox_get_topic_stats`).
    ///
    /// ```
    /// use isula_mailbox::{ContainerEventKind, ContainerMessage, CRI_CONTAINER};
    ///
    /// let _registration = CRI_CONTAINER.register(|m: &ContainerMessage<'_>| m.kind()).unwrap();
    /// let _events = CRI_CONTAINER.subscribe::<ContainerEventKind>().unwrap();
    /// CRI_CONTAINER.publish(&ContainerMessage::new(c"c1", c"p", ContainerEventKind::Created)).unwrap();
    /// let stats = CRI_CONTAINER.stats().unwrap();
    /// assert_eq!((stats.published, stats.delivered, stats.pending, stats.subscribers), (1, 1, 1, 1));
    /// ```
    pub fn stats(&self) -> Result<TopicStats, Error> {
        let stats = topics().stats(self.index)?;
        Ok(TopicStats {
            published: stats.published,
            delivered: stats.delivered,
            dropped: stats.dropped,
            pending: stats.pending,
            subscribers: stats.subscribers,
        })
    }
}

/// A topic's registration, owned by whoever registered it: unregistered
/// when dropped, or through [`unregister`](Self::unregister), which says
/// how it went. It ends only its own registration: once the topic was
/// shut down ([`Topic::shut_down`]) and registered again by someone else,
/// it leaves that one alone.
///
/// ```
/// use isula_mailbox::{ContainerMessage, CRI_CONTAINER};
///
/// {
///     let _registration = CRI_CONTAINER.register(|m: &ContainerMessage<'_>| m.kind()).unwrap();
///     assert!(CRI_CONTAINER.is_registered());
/// }
/// assert!(!CRI_CONTAINER.is_registered());
/// ```
#[must_use = "dropped, it unregisters the topic at once"]
pub struct Registration<K: TopicKind> {
    topic: Topic<K>,
    id: RegistrationId,
}

impl<K: TopicKind> Registration<K> {
    /// The topic registered.
    ///
    /// ```
    /// # use isula_mailbox::{ContainerMessage, CRI_CONTAINER};
    /// let registration = CRI_CONTAINER.register(|m: &ContainerMessage<'_>| m.kind()).unwrap();
    /// assert_eq!(registration.topic().name(), "CRI_CONTAINER");
    /// ```
    pub fn topic(&self) -> Topic<K> {
        self.topic
    }

    /// Unregisters the topic: its subscriptions end (a Rust one receives
    /// what was queued first). Returns once no publish is still inside the
    /// generator. [`Error::NotRegistered`] if this registration ended
    /// already.
    ///
    /// ```
    /// # use isula_mailbox::{ContainerMessage, CRI_CONTAINER};
    /// let registration = CRI_CONTAINER.register(|m: &ContainerMessage<'_>| m.kind()).unwrap();
    /// assert_eq!(registration.unregister(), Ok(()));
    /// assert!(!CRI_CONTAINER.is_registered());
    /// ```
    pub fn unregister(self) -> Result<(), Error> {
        let registration = std::mem::ManuallyDrop::new(self);
        registration.end()
    }

    fn end(&self) -> Result<(), Error> {
        let shut_down = topics().unregister(self.topic.index, Some(self.id))?;
        log_debug!(
            target: "Registration::unregister",
            "topic {} unregistered, {shut_down} subscribers shut down",
            self.topic.name
        );
        Ok(())
    }
}

impl<K: TopicKind> Drop for Registration<K> {
    fn drop(&mut self) {
        // Ended already (the topic was shut down): nothing to do.
        let _ = self.end();
    }
}

impl<K: TopicKind> std::fmt::Debug for Registration<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Registration({})", self.topic.name)
    }
}

/// What a [`Topic::publish`] did.
///
/// ```
/// use isula_mailbox::{ContainerEventKind, ContainerMessage, Published, CRI_CONTAINER};
///
/// let _registration = CRI_CONTAINER.register(|m: &ContainerMessage<'_>| m.kind()).unwrap();
/// let _a = CRI_CONTAINER.subscribe::<ContainerEventKind>().unwrap();
/// let _b = CRI_CONTAINER.subscribe::<ContainerEventKind>().unwrap();
/// let message = ContainerMessage::new(c"c1", c"pod", ContainerEventKind::Started);
/// match CRI_CONTAINER.publish(&message).unwrap() {
///     Published::Delivered { subscribers, missed } => assert_eq!((subscribers, missed), (2, 0)),
///     other => panic!("{other:?}"),
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Published {
    /// The event reached this many subscribers; `missed` more were
    /// subscribed but missed it (each counted in the topic's `dropped`).
    Delivered {
        /// Subscribers that received it.
        subscribers: usize,
        /// Subscribers that missed it: out of memory, or the message's
        /// reference limit.
        missed: usize,
    },
    /// The topic is synchronous: its handler ran.
    Handled,
    /// The generator made nothing (it returned `None`).
    NothingMade,
    /// Nobody subscribes to the topic: the generator was not called.
    NobodySubscribed,
    /// The topic is not registered.
    NotRegistered,
}

impl From<CorePublished> for Published {
    fn from(published: CorePublished) -> Self {
        match published {
            CorePublished::Delivered { delivered, missed } => Published::Delivered {
                subscribers: delivered,
                missed: missed.at_limit + missed.out_of_memory,
            },
            CorePublished::Handled => Published::Handled,
            CorePublished::Nothing => Published::NothingMade,
            CorePublished::NobodySubscribed => Published::NobodySubscribed,
            CorePublished::NotRegistered => Published::NotRegistered,
        }
    }
}

/// How a new subscription behaves: given when subscribing, and only to that
/// subscription (the C functions' process-wide settings do not apply to
/// Rust).
///
/// ```
/// use isula_mailbox::SubscriptionOptions;
///
/// let options = SubscriptionOptions::new().capacity(256);
/// assert_eq!(options, SubscriptionOptions::default().capacity(256));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SubscriptionOptions {
    capacity: Option<NonZeroUsize>,
}

impl SubscriptionOptions {
    /// Unbounded.
    ///
    /// ```
    /// let unbounded = isula_mailbox::SubscriptionOptions::new();
    /// # drop(unbounded);
    /// ```
    pub fn new() -> Self {
        SubscriptionOptions::default()
    }

    /// Keeps at most `capacity` events (0 means unbounded): when full, the
    /// oldest is dropped to make room and the subscription says so
    /// ([`RecvError::Lagged`](crate::RecvError::Lagged)), so that a
    /// stalled consumer holds no more than that.
    ///
    /// ```
    /// let bounded = isula_mailbox::SubscriptionOptions::new().capacity(64);
    /// # drop(bounded);
    /// ```
    pub fn capacity(self, capacity: usize) -> Self {
        SubscriptionOptions {
            capacity: NonZeroUsize::new(capacity),
        }
    }

    /// The core's options: no time limit (each receive says its own), and
    /// what was queued when the topic ends is received before `Closed`.
    fn core(self) -> SubscriberOptions {
        SubscriberOptions {
            timeout: None,
            capacity: self.capacity,
            keeps_queued_on_shutdown: true,
        }
    }
}

/// Counters of a topic since it was registered: what
/// `mailbox_get_topic_stats` reads, as [`Topic::stats`] returns it.
///
/// ```
/// # use isula_mailbox::{ContainerMessage, CRI_CONTAINER};
/// let _registration = CRI_CONTAINER.register(|m: &ContainerMessage<'_>| m.kind()).unwrap();
/// let stats = CRI_CONTAINER.stats().unwrap();
/// assert_eq!(stats.published, 0);
/// println!("{stats:?}");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TopicStats {
    /// Events generated and published.
    pub published: u64,
    /// (event, subscriber) deliveries enqueued.
    pub delivered: u64,
    /// Deliveries dropped: a full subscription's oldest, a subscription
    /// closed while it held events, the reference limit, out of memory.
    pub dropped: u64,
    /// What the subscriptions hold now, delivered and not yet received.
    pub pending: u64,
    /// Subscriptions now, C and Rust.
    pub subscribers: u32,
}
