//! The topics as Rust sees them: what a topic's publishers pass (in the C
//! layout of `mailbox.h`, which C publishers pass too) and what its
//! subscribers receive. Everything that reads C data or asserts a type
//! lives here, so that the Rust API itself needs no `unsafe`; it re-exports
//! the public types.

use std::any::TypeId;
use std::ffi::CStr;
use std::marker::PhantomData;
use std::ops::Deref;
use std::os::raw::{c_int, c_void};

use std::os::raw::c_char;

use isula_mailbox_core::error::Error;
use isula_mailbox_core::shared::Shared;
use isula_mailbox_core::subscriber::Subscriber;
use isula_mailbox_core::topics::{Delivery, Expected, Published};

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
/// enum `cri_container_message_type` is checked against these).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
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
    pub const ALL: [ContainerEventKind; 4] = [
        ContainerEventKind::Created,
        ContainerEventKind::Started,
        ContainerEventKind::Stopped,
        ContainerEventKind::Deleted,
    ];

    /// The kind a C value stands for; `None` for anything else.
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
/// ```
#[repr(transparent)]
pub struct ContainerMessage<'a> {
    raw: RawContainerMessage,
    ids: PhantomData<&'a CStr>,
}

impl<'a> ContainerMessage<'a> {
    /// The event `kind` of container `container_id` in sandbox `sandbox_id`.
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
    pub fn container_id(&self) -> Option<&CStr> {
        // SAFETY: the pointer is NULL or a C string valid while the message
        // is borrowed: `new` takes it from a `&'a CStr`, and C publishers
        // pass a stack message with live strings for the call, the topic's
        // convention.
        (!self.raw.container_id.is_null()).then(|| unsafe { CStr::from_ptr(self.raw.container_id) })
    }

    /// The sandbox's id; `None` if a C publisher passed NULL.
    pub fn sandbox_id(&self) -> Option<&CStr> {
        // SAFETY: as `container_id`.
        (!self.raw.sandbox_id.is_null()).then(|| unsafe { CStr::from_ptr(self.raw.sandbox_id) })
    }

    /// What happened; `None` if a C publisher passed a value outside the enum.
    pub fn kind(&self) -> Option<ContainerEventKind> {
        ContainerEventKind::from_c(self.raw.kind)
    }
}

/// The events a C generator makes, as Rust subscribers read them.
///
/// # Safety
/// Implement it only for a type whose every value a C generator of a topic
/// subscribed to with it returns is valid as `Self` for as long as the
/// message lives: the `#[repr(C)]` layout of what the generator returns (or
/// an opaque type used only through `Event::as_ptr`), which the topic's
/// release function frees. A Rust registrant's events are checked instead.
pub unsafe trait ForeignEvent: Send + Sync + 'static {}

/// One reference to an event: a message whose data is an `E`. The event
/// goes when its last reference, here or in any C or Rust subscriber, is
/// dropped. Made by [`Subscription`](crate::Subscription), which checked
/// (or was promised) what its events are.
pub struct Event<E> {
    message: Message,
    event: PhantomData<E>,
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
    /// Another reference to the same event; `None` at the reference limit.
    pub fn try_clone(&self) -> Option<Self> {
        self.message.share().map(|message| Event {
            message,
            event: PhantomData,
        })
    }

    /// The event's data as C sees it (`msg->data`).
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

/// Registers topic `index` (of kind `K`) as asynchronous, with a Rust
/// generator of `E`s: each becomes a message whose data is a boxed `E`.
pub fn register<K, E, G>(index: usize, generator: G) -> Result<(), Error>
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
    topics().register(index, generate, Delivery::Async, Some(TypeId::of::<E>()))
}

/// Registers topic `index` (of kind `K`) as synchronous: `handler` runs in
/// the publishing thread.
pub fn register_handler<K, H>(index: usize, handler: H) -> Result<(), Error>
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
    topics().register(index, generate, Delivery::Sync, None)
}

/// Publishes `input` on topic `index` (of kind `K`), as `mailbox_publish`.
pub fn publish_input<K: TopicKind>(index: usize, input: &K::Input<'_>) -> Result<Published, Error> {
    publish(index, RawInput::of(input))
}

/// A subscriber of topic `index`, whose registrant makes `E`s.
pub fn subscribe<E: Send + Sync + 'static>(
    index: usize,
) -> Result<(Subscriber<Message>, EventsAre<E>), Error> {
    let subscriber = topics().subscribe(index, Expected::Exactly(TypeId::of::<E>()))?;
    // SAFETY: the registrant is a Rust one of `E`s (the type was checked),
    // whose generator boxes each `E` as its message's data (`register`).
    Ok((subscriber, unsafe { EventsAre::new_unchecked() }))
}

/// A subscriber of topic `index`, whose C registrant makes `E`s.
pub fn subscribe_foreign<E: ForeignEvent>(
    index: usize,
) -> Result<(Subscriber<Message>, EventsAre<E>), Error> {
    let subscriber = topics().subscribe(index, Expected::ExactlyOrUnsaid(TypeId::of::<E>()))?;
    // SAFETY: a Rust registrant makes `E`s (the type was checked); a C one
    // makes what `E: ForeignEvent` promises is a valid `E`.
    Ok((subscriber, unsafe { EventsAre::new_unchecked() }))
}
