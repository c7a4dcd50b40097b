//! The topics as Rust sees them: what a topic's publishers pass (in the C
//! layout of `mailbox.h`, which C publishers pass too) and what its
//! subscribers receive. Everything that reads C data or asserts a type
//! lives here, so that the Rust API itself needs no `unsafe`; it re-exports
//! the public types.

use std::any::TypeId;
use std::ffi::CStr;
use std::marker::PhantomData;
use std::ops::Deref;
use std::os::raw::{c_char, c_int, c_void};

use isula_mailbox_core::error::Error;
use isula_mailbox_core::shared::Shared;
use isula_mailbox_core::subscriber::Subscriber;
use isula_mailbox_core::subscriber::SubscriberOptions;
use isula_mailbox_core::topics::{Delivery, Events, Expected, Published, RegistrationId};

use crate::alloc::try_box;
use crate::message::Message;
use crate::{publish, topics, RawInput};

mod sealed {
    pub trait Sealed {}
}

/// What a topic carries: the type its publishers pass, by reference, for
/// the duration of the publish. Each topic of the C enum `mailbox_topic`
/// has one; the input has the layout C publishers of the topic pass.
pub trait TopicKind: sealed::Sealed + 'static {
    /// What publishers pass to the topic's generator.
    type Input<'a>;
}

/// The kind of topic `MAILBOX_TOPIC_CRI_CONTAINER` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CriContainer {}

impl sealed::Sealed for CriContainer {}

impl TopicKind for CriContainer {
    type Input<'a> = ContainerMessage<'a>;
}

/// What happened to a container. `kind as c_int` is the C value (the C
/// enum `cri_container_message_type` is checked against these). A C
/// publisher may pass a kind this library does not know yet: the enum is
/// non-exhaustive, and [`ContainerMessage::kind`] says `None` for it.
///
/// ```
/// use isula_mailbox::ContainerEventKind;
///
/// assert_eq!(ContainerEventKind::from_c(2), Some(ContainerEventKind::Stopped));
/// assert_eq!(ContainerEventKind::Stopped as i32, 2);
/// assert_eq!(ContainerEventKind::from_c(42), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
#[non_exhaustive]
pub enum ContainerEventKind {
    /// `CRI_CONTAINER_MESSAGE_TYPE_CREATED`
    Created = 0,
    /// `CRI_CONTAINER_MESSAGE_TYPE_STARTED`
    Started = 1,
    /// `CRI_CONTAINER_MESSAGE_TYPE_STOPPED`
    Stopped = 2,
    /// `CRI_CONTAINER_MESSAGE_TYPE_DELETED`
    Deleted = 3,
}

impl ContainerEventKind {
    /// Every kind, in lifecycle order.
    ///
    /// ```
    /// use isula_mailbox::ContainerEventKind;
    ///
    /// assert_eq!(ContainerEventKind::ALL.len(), 4);
    /// assert_eq!(ContainerEventKind::ALL[0], ContainerEventKind::Created);
    /// ```
    pub const ALL: [ContainerEventKind; 4] = [
        ContainerEventKind::Created,
        ContainerEventKind::Started,
        ContainerEventKind::Stopped,
        ContainerEventKind::Deleted,
    ];

    /// The kind a C value stands for; `None` for anything else.
    ///
    /// ```
    /// use isula_mailbox::ContainerEventKind;
    ///
    /// assert_eq!(ContainerEventKind::from_c(0), Some(ContainerEventKind::Created));
    /// assert_eq!(ContainerEventKind::from_c(-1), None);
    /// ```
    pub fn from_c(value: c_int) -> Option<Self> {
        ContainerEventKind::ALL
            .into_iter()
            .find(|&kind| kind as c_int == value)
    }
}

/// The daemon's `cri_container_message_t`, as C publishers pass it (the C
/// type, in `mailbox.h`, is checked against this layout).
#[repr(C)]
pub struct RawContainerMessage {
    /// The container's id: a C string, or NULL.
    pub container_id: *const c_char,
    /// The sandbox's id: a C string, or NULL.
    pub sandbox_id: *const c_char,
    /// A `cri_container_message_type`.
    pub kind: c_int,
}

/// One container event as published on `CRI_CONTAINER`: laid out as the
/// daemon's `cri_container_message_t`, which C publishers pass, borrowing
/// the two ids for the publish.
///
/// ```
/// use isula_mailbox::{ContainerEventKind, ContainerMessage};
///
/// let message = ContainerMessage::new(c"c1", c"pod1", ContainerEventKind::Started);
/// assert_eq!(message.container_id(), Some(c"c1"));
/// assert_eq!(message.kind(), Some(ContainerEventKind::Started));
/// assert_eq!(
///     format!("{message:?}"),
///     r#"ContainerMessage { container_id: Some("c1"), sandbox_id: Some("pod1"), kind: Some(Started) }"#
/// );
/// ```
#[repr(transparent)]
pub struct ContainerMessage<'a> {
    raw: RawContainerMessage,
    ids: PhantomData<&'a CStr>,
}

impl<'a> ContainerMessage<'a> {
    /// The event `kind` of container `container_id` in sandbox `sandbox_id`.
    ///
    /// ```
    /// use isula_mailbox::{ContainerEventKind, ContainerMessage};
    ///
    /// let message = ContainerMessage::new(c"c1", c"pod1", ContainerEventKind::Deleted);
    /// assert_eq!(message.sandbox_id(), Some(c"pod1"));
    /// ```
    pub fn new(container_id: &'a CStr, sandbox_id: &'a CStr, kind: ContainerEventKind) -> Self {
        ContainerMessage {
            raw: RawContainerMessage {
                container_id: container_id.as_ptr(),
                sandbox_id: sandbox_id.as_ptr(),
                kind: kind as c_int,
            },
            ids: PhantomData,
        }
    }

    /// The container's id; `None` if a C publisher passed NULL.
    ///
    /// ```
    /// use isula_mailbox::{ContainerEventKind, ContainerMessage};
    ///
    /// let message = ContainerMessage::new(c"c1", c"pod1", ContainerEventKind::Created);
    /// assert_eq!(message.container_id().unwrap().to_str(), Ok("c1"));
    /// ```
    pub fn container_id(&self) -> Option<&CStr> {
        // SAFETY: the pointer is NULL or a C string valid while the message
        // is borrowed: `new` takes it from a `&'a CStr`, and C publishers
        // pass a stack message with live strings for the call, the topic's
        // convention.
        (!self.raw.container_id.is_null()).then(|| unsafe { CStr::from_ptr(self.raw.container_id) })
    }

    /// The sandbox's id; `None` if a C publisher passed NULL.
    ///
    /// ```
    /// use isula_mailbox::{ContainerEventKind, ContainerMessage};
    ///
    /// let message = ContainerMessage::new(c"c1", c"pod1", ContainerEventKind::Created);
    /// assert_eq!(message.sandbox_id(), Some(c"pod1"));
    /// ```
    pub fn sandbox_id(&self) -> Option<&CStr> {
        // SAFETY: as `container_id`.
        (!self.raw.sandbox_id.is_null()).then(|| unsafe { CStr::from_ptr(self.raw.sandbox_id) })
    }

    /// What happened; `None` if a C publisher passed a value outside the
    /// enum (a kind a newer daemon added, say).
    ///
    /// ```
    /// use isula_mailbox::{ContainerEventKind, ContainerMessage};
    ///
    /// let message = ContainerMessage::new(c"c1", c"pod1", ContainerEventKind::Stopped);
    /// assert_eq!(message.kind(), Some(ContainerEventKind::Stopped));
    /// ```
    pub fn kind(&self) -> Option<ContainerEventKind> {
        ContainerEventKind::from_c(self.raw.kind)
    }
}

impl std::fmt::Debug for ContainerMessage<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContainerMessage")
            .field("container_id", &self.container_id())
            .field("sandbox_id", &self.sandbox_id())
            .field("kind", &self.kind())
            .finish()
    }
}

/// The events of topic `K` as C makes and reads them, as a Rust type: the
/// promise that lets Rust read what a C generator makes
/// ([`Topic::subscribe_foreign`](../isula_mailbox/struct.Topic.html#method.subscribe_foreign)),
/// and lets C subscribers read what a Rust generator makes
/// ([`Topic::register_foreign`](../isula_mailbox/struct.Topic.html#method.register_foreign)).
/// The promise is per topic: the same type may be a topic's events and
/// not another's.
///
/// The daemon registers `CRI_CONTAINER` from C: its generator makes a
/// `ContainerEventResponse` (a protobuf message, whose C++ type Rust
/// reads only through pointers) and its release deletes it. A Rust module
/// reads those events with an opaque type:
///
/// ```
/// use isula_mailbox::{CriContainer, ForeignEvent, CRI_CONTAINER};
///
/// /// The daemon's `ContainerEventResponse`: opaque, read through
/// /// `Event::as_ptr` and the daemon's own C accessors.
/// #[repr(C)]
/// struct ContainerEventResponse {
///     _opaque: [u8; 0],
/// }
///
/// // SAFETY: what the daemon's C generator of CRI_CONTAINER makes is a
/// // ContainerEventResponse (this opaque type reads nothing of it by
/// // itself); an event is not changed once made, so it may be read from
/// // any thread at once; the topic's release deletes it, from whichever
/// // thread lets go of it last, which the daemon allows.
/// unsafe impl ForeignEvent<CriContainer> for ContainerEventResponse {}
///
/// // Not registered here (the daemon's C code registers it): the error
/// // says so; in the daemon this is a subscription.
/// assert!(CRI_CONTAINER.subscribe_foreign::<ContainerEventResponse>().is_err());
/// ```
///
/// # Safety
/// Implement it only for a type whose layout is what the topic's C
/// generator returns as its message's `data` and C subscribers read there
/// (a `#[repr(C)]` struct; or an opaque type used only through
/// [`Event::as_ptr`]). By implementing it you also promise what Rust
/// cannot check of C data, and which `Send` and `Sync` would otherwise
/// say: an event is read, never changed, once made, from any number of
/// threads at once, and the topic's release function (C's, or the Rust
/// generator's `Drop`) may free it from whichever thread lets go of it
/// last. A raw pointer in the type does not need `unsafe impl Send`: this
/// promise covers it.
pub unsafe trait ForeignEvent<K: TopicKind>: 'static {}

/// One reference to an event: a message whose data is an `E`. The event
/// goes when its last reference, here or in any C or Rust subscriber, is
/// dropped. Received from a subscription, which checked (or was promised,
/// [`ForeignEvent`]) what its events are.
///
/// ```
/// use std::time::Duration;
/// use isula_mailbox::{ContainerEventKind, ContainerMessage, CRI_CONTAINER};
///
/// let _registration = CRI_CONTAINER
///     .register(|message: &ContainerMessage<'_>| message.kind())
///     .unwrap();
/// let events = CRI_CONTAINER.subscribe::<ContainerEventKind>().unwrap();
/// CRI_CONTAINER
///     .publish(&ContainerMessage::new(c"c1", c"pod", ContainerEventKind::Started))
///     .unwrap();
/// let event = events.recv_timeout(Duration::from_secs(1)).unwrap();
/// assert_eq!(*event, ContainerEventKind::Started); // derefs to the event
/// ```
pub struct Event<E> {
    message: Message,
    // Send and Sync whatever `E` is: every way to make an `Event<E>` checked
    // that an `E` is (`E: Send + Sync` of a Rust registrant) or was promised
    // to be (`ForeignEvent`) shared and freed from any thread.
    event: PhantomData<fn() -> E>,
}

/// Proof that every message of a subscription is an `E`: what makes
/// [`Event<E>`]'s `Deref` sound. Made by `subscribe` below, which checked
/// the registrant's event type, or by `subscribe_foreign`, for an
/// `E: ForeignEvent`.
pub struct EventsAre<E>(PhantomData<fn() -> E>);

impl<E> EventsAre<E> {
    /// # Safety
    /// Every message this proof will be used with has a valid `E` as its
    /// data for as long as the message lives.
    pub unsafe fn new_unchecked() -> Self {
        EventsAre(PhantomData)
    }

    /// `message` as the `E` it holds.
    pub fn event(&self, message: Message) -> Event<E> {
        Event {
            message,
            event: PhantomData,
        }
    }
}

impl<E> Event<E> {
    /// Another reference to the same event; `None` at the reference limit
    /// (`INT_MAX` references, the C API's).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use isula_mailbox::{ContainerEventKind, ContainerMessage, CRI_CONTAINER};
    /// # let _registration = CRI_CONTAINER.register(|m: &ContainerMessage<'_>| m.kind()).unwrap();
    /// # let events = CRI_CONTAINER.subscribe::<ContainerEventKind>().unwrap();
    /// # CRI_CONTAINER.publish(&ContainerMessage::new(c"c1", c"p", ContainerEventKind::Created)).unwrap();
    /// let event = events.recv_timeout(Duration::from_secs(1)).unwrap();
    /// let kept = event.try_clone().unwrap();
    /// drop(event);
    /// assert_eq!(*kept, ContainerEventKind::Created);
    /// ```
    pub fn try_clone(&self) -> Option<Self> {
        self.message.share().map(|message| Event {
            message,
            event: PhantomData,
        })
    }

    /// The event's data as C sees it (`msg->data`): for the daemon's C
    /// accessors of an opaque [`ForeignEvent`].
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use isula_mailbox::{ContainerEventKind, ContainerMessage, CRI_CONTAINER};
    /// # let _registration = CRI_CONTAINER.register(|m: &ContainerMessage<'_>| m.kind()).unwrap();
    /// # let events = CRI_CONTAINER.subscribe::<ContainerEventKind>().unwrap();
    /// # CRI_CONTAINER.publish(&ContainerMessage::new(c"c1", c"p", ContainerEventKind::Created)).unwrap();
    /// let event = events.recv_timeout(Duration::from_secs(1)).unwrap();
    /// assert_eq!(event.as_ptr().cast_const(), (&*event as *const ContainerEventKind).cast());
    /// ```
    pub fn as_ptr(&self) -> *mut c_void {
        self.message.data()
    }
}

impl<E> Deref for Event<E> {
    type Target = E;

    fn deref(&self) -> &E {
        // SAFETY: an `Event<E>` is only made by `EventsAre<E>::event`, whose
        // maker guaranteed the data is an `E`; the message keeps it alive
        // while this reference exists.
        unsafe { &*self.message.data().cast::<E>() }
    }
}

impl<E: std::fmt::Debug> std::fmt::Debug for Event<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}

impl RawInput {
    /// What a Rust publisher passes.
    fn of<I>(input: &I) -> Self {
        RawInput((input as *const I).cast_mut().cast())
    }
}

/// What a Rust registrant's events are to C subscribers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForC {
    /// Laid out as the topic's C type ([`ForeignEvent`]): C reads them too.
    Readable,
    /// Rust's own: a C subscriber is refused.
    Unreadable,
}

/// Registers topic `index` (of kind `K`) as asynchronous, with a Rust
/// generator of `E`s: each becomes a message whose data is a boxed `E`.
///
/// # Safety
/// With [`ForC::Readable`], `E` is laid out as the C type of topic `K`'s
/// events (`E: ForeignEvent<K>` says so).
pub unsafe fn register<K, E, G>(
    index: usize,
    generator: G,
    for_c: ForC,
) -> Result<RegistrationId, Error>
where
    K: TopicKind,
    E: Send + Sync + 'static,
    G: for<'a> Fn(&K::Input<'a>) -> Option<E> + Send + Sync + 'static,
{
    let generate = try_box(move |input: RawInput| {
        // SAFETY: every publisher of this topic passes its input type,
        // valid for the publish: Rust ones by `publish` below, C ones by
        // the topic's convention (the one C generators rely on too).
        match unsafe { input.0.cast::<K::Input<'_>>().as_ref() } {
            Some(input) => Message::make_boxed(|| generator(input)),
            None => Ok(None),
        }
    })?;
    let events = match for_c {
        ForC::Readable => Events::RustForC(TypeId::of::<E>()),
        ForC::Unreadable => Events::Rust(TypeId::of::<E>()),
    };
    topics().register(index, generate, Delivery::Async, events)
}

/// A Rust registrant of events of a type C reads, made by a generator
/// that makes plain Rust values: `E: ForeignEvent<K>` promises the layout.
pub fn register_foreign<K, E, G>(index: usize, generator: G) -> Result<RegistrationId, Error>
where
    K: TopicKind,
    E: ForeignEvent<K> + Send + Sync,
    G: for<'a> Fn(&K::Input<'a>) -> Option<E> + Send + Sync + 'static,
{
    // SAFETY: `E: ForeignEvent<K>` is the promise `ForC::Readable` needs.
    unsafe { register::<K, E, G>(index, generator, ForC::Readable) }
}

/// A Rust registrant of Rust events, which C subscribers cannot read.
pub fn register_rust<K, E, G>(index: usize, generator: G) -> Result<RegistrationId, Error>
where
    K: TopicKind,
    E: Send + Sync + 'static,
    G: for<'a> Fn(&K::Input<'a>) -> Option<E> + Send + Sync + 'static,
{
    // SAFETY: C subscribers are refused: no layout is promised.
    unsafe { register::<K, E, G>(index, generator, ForC::Unreadable) }
}

/// Registers topic `index` (of kind `K`) as synchronous: `handler` runs in
/// the publishing thread.
pub fn register_handler<K, H>(index: usize, handler: H) -> Result<RegistrationId, Error>
where
    K: TopicKind,
    H: for<'a> Fn(&K::Input<'a>) + Send + Sync + 'static,
{
    let generate = try_box(move |input: RawInput| {
        // SAFETY: as in `register`.
        if let Some(input) = unsafe { input.0.cast::<K::Input<'_>>().as_ref() } {
            handler(input);
        }
        Ok(None)
    })?;
    // A sync topic makes nothing to read: any type will do.
    topics().register(
        index,
        generate,
        Delivery::Sync,
        Events::Rust(TypeId::of::<()>()),
    )
}

/// Publishes `input` on topic `index` (of kind `K`), as `mailbox_publish`.
pub fn publish_input<K: TopicKind>(index: usize, input: &K::Input<'_>) -> Result<Published, Error> {
    publish(index, RawInput::of(input))
}

/// A subscriber of topic `index`, whose registrant is a Rust one of `E`s,
/// made with `options`.
pub fn subscribe<E: Send + Sync + 'static>(
    index: usize,
    options: SubscriberOptions,
) -> Result<(Subscriber<Message>, EventsAre<E>), Error> {
    let subscriber = topics().subscribe_with(index, Expected::Rust(TypeId::of::<E>()), options)?;
    // SAFETY: the registrant is a Rust one of `E`s (the type was checked),
    // whose generator boxes each `E` as its message's data (`register`).
    Ok((subscriber, unsafe { EventsAre::new_unchecked() }))
}

/// A subscriber of topic `index` (of kind `K`), whose registrant makes the
/// topic's C events, which `E` reads, made with `options`.
pub fn subscribe_foreign<K: TopicKind, E: ForeignEvent<K>>(
    index: usize,
    options: SubscriberOptions,
) -> Result<(Subscriber<Message>, EventsAre<E>), Error> {
    let subscriber =
        topics().subscribe_with(index, Expected::Foreign(TypeId::of::<E>()), options)?;
    // SAFETY: a Rust registrant makes `E`s (the type was checked); a C one
    // makes what `E: ForeignEvent<K>` promises is a valid `E`.
    Ok((subscriber, unsafe { EventsAre::new_unchecked() }))
}
