//! `mailbox.h`: the process's topics, where publishers and subscribers meet
//! (the table itself is the broker's, shared with the Rust API).

use std::mem::{align_of, offset_of, size_of};
use std::os::raw::{c_char, c_int, c_void};
use std::ptr;

use isula_mailbox_broker::alloc::try_box;
use isula_mailbox_broker::message::Message;
use isula_mailbox_broker::typed::{ContainerEventKind, RawContainerMessage};
use isula_mailbox_broker::{self as broker, log_debug, publish, topics, RawInput};
use isula_mailbox_core::error::Error;
use isula_mailbox_core::topics::{Delivery, Events, Expected, Published};

use crate::blocking_queue::message_release_t;
use crate::boundary::{report_missed, About, Failure};
use crate::handle::into_handle;
use crate::message_subscriber::message_subscriber;

/// The topics (values as in the original).
// Declared for the header: C passes any `int` (see `RawTopic`).
#[allow(dead_code)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum mailbox_topic {
    MAILBOX_TOPIC_INVALID = -1,
    MAILBOX_TOPIC_CRI_CONTAINER = 0,
    MAILBOX_TOPIC_MAX = 1,
}

// The C enum and the broker's topics are the same numbers.
const _: () = assert!(
    mailbox_topic::MAILBOX_TOPIC_CRI_CONTAINER as usize == broker::CRI_CONTAINER
        && mailbox_topic::MAILBOX_TOPIC_MAX as usize == broker::TOPIC_COUNT
);

/// A `mailbox_topic` as C passes it: any `int`, checked before use (a Rust
/// enum holding a value it does not list would be undefined behaviour).
/// Spelled `mailbox_topic` in the header.
#[repr(transparent)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawTopic(pub c_int);

impl RawTopic {
    /// The topic's index in the table.
    pub(crate) fn index(self) -> Result<usize, Failure> {
        usize::try_from(self.0)
            .ok()
            .filter(|&index| index < broker::TOPIC_COUNT)
            .ok_or(Failure::Refused(Error::InvalidTopic, About::Topic(self.0)))
    }
}

impl From<mailbox_topic> for RawTopic {
    fn from(topic: mailbox_topic) -> Self {
        RawTopic(topic as c_int)
    }
}

/// The kinds of CRI container event (values as in the original).
// Declared for the header: C stores any `int` (see `RawMessageType`).
#[allow(dead_code)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum cri_container_message_type {
    CRI_CONTAINER_MESSAGE_TYPE_INVALID = -1,
    CRI_CONTAINER_MESSAGE_TYPE_CREATED = 0,
    CRI_CONTAINER_MESSAGE_TYPE_STARTED = 1,
    CRI_CONTAINER_MESSAGE_TYPE_STOPPED = 2,
    CRI_CONTAINER_MESSAGE_TYPE_DELETED = 3,
    CRI_CONTAINER_MESSAGE_TYPE_MAX = 4,
}

/// A `cri_container_message_type` as C stores it: any `int`. Spelled
/// `cri_container_message_type` in the header.
#[repr(transparent)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawMessageType(pub c_int);

// The C enum and the Rust API's kinds are the same numbers.
const _: () = {
    use cri_container_message_type::*;
    assert!(
        CRI_CONTAINER_MESSAGE_TYPE_CREATED as i32 == ContainerEventKind::Created as i32
            && CRI_CONTAINER_MESSAGE_TYPE_STARTED as i32 == ContainerEventKind::Started as i32
            && CRI_CONTAINER_MESSAGE_TYPE_STOPPED as i32 == ContainerEventKind::Stopped as i32
            && CRI_CONTAINER_MESSAGE_TYPE_DELETED as i32 == ContainerEventKind::Deleted as i32
    );
};

impl From<cri_container_message_type> for RawMessageType {
    fn from(kind: cri_container_message_type) -> Self {
        RawMessageType(kind as c_int)
    }
}

/// What the daemon publishes on `MAILBOX_TOPIC_CRI_CONTAINER`; the library
/// hands it to the topic's generator and never reads it.
#[repr(C)]
pub struct cri_container_message_t {
    pub container_id: *const c_char,
    pub sandbox_id: *const c_char,
    pub r#type: RawMessageType,
}

// Rust publishers pass the same layout (`ContainerMessage`).
const _: () = assert!(
    size_of::<cri_container_message_t>() == size_of::<RawContainerMessage>()
        && align_of::<cri_container_message_t>() == align_of::<RawContainerMessage>()
        && offset_of!(cri_container_message_t, container_id)
            == offset_of!(RawContainerMessage, container_id)
        && offset_of!(cri_container_message_t, sandbox_id)
            == offset_of!(RawContainerMessage, sandbox_id)
        && offset_of!(cri_container_message_t, r#type) == offset_of!(RawContainerMessage, kind)
);

/// For an async topic, makes the message to publish from (context, data);
/// for a sync topic, handles the data. NULL: nothing to publish.
pub type message_generator_t =
    Option<unsafe extern "C" fn(*mut c_void, *mut c_void) -> *mut c_void>;

/// A topic's C generator with its context and release function.
struct ForeignGenerator {
    generator: unsafe extern "C" fn(*mut c_void, *mut c_void) -> *mut c_void,
    context: *mut c_void,
    release: message_release_t,
}

// SAFETY: the generator is called from whichever thread publishes, with the
// context registered with it; the daemon registers it for exactly that (the
// original calls it the same way). The library never reads through `context`.
unsafe impl Send for ForeignGenerator {}
// SAFETY: see `Send`; calls only read the three fields.
unsafe impl Sync for ForeignGenerator {}

impl ForeignGenerator {
    /// Calls the generator; a non-NULL result becomes a message that the
    /// topic's release function will release. The message is allocated
    /// first: out of memory, the generator is not called.
    fn generate(&self, input: RawInput) -> Result<Option<Message>, Error> {
        // SAFETY: `generator`, `context` and `release` were registered
        // together by the daemon, which promises that the generator may be
        // called from any thread and that `release` releases what it makes.
        unsafe { Message::make(|| (self.generator)(self.context, input.0), self.release) }
    }
}

ffi_fn! {
    /// Registers `topic`. An async topic gets a message queue: `mailbox_publish`
    /// calls `generator(context, data)` once, only when someone subscribes,
    /// and publishes its non-NULL result as a message released by `release`
    /// (delivered as by `message_queue_publish`). A sync topic calls the
    /// generator in the publishing thread and passes a non-NULL result to
    /// `release` at once.
    ///
    /// The topics are one table per process: registering and unregistering
    /// are safe while other threads publish or subscribe.
    ///
    /// Returns 0, or -1 for an invalid topic, a NULL generator, a topic already
    /// registered, or when memory runs out (then nothing is registered).
    ///
    /// # Safety
    /// `generator`, `context` and `release` are valid to call and use from any
    /// thread until the topic is unregistered.
    unsafe fn mailbox_register_topic_handler(
        topic: RawTopic,
        generator: message_generator_t,
        context: *mut c_void,
        release: message_release_t,
        r#async: bool,
    ) -> c_int {
        let index = topic.index()?;
        let generator = ForeignGenerator {
            generator: generator.ok_or(Failure::Null("generator"))?,
            context,
            release,
        };
        let generate = try_box(move |input| generator.generate(input))?;
        let delivery = if r#async {
            Delivery::Async
        } else {
            Delivery::Sync
        };
        // What a C generator makes is the topic's C type.
        topics()
            .register(index, generate, delivery, Events::C)
            .map_err(Failure::topic(topic.0))?;
        log_debug!(target: EXPORT.name(), "topic {} registered ({delivery:?})", topic.0);
        Ok(0)
    } else -1
}

ffi_fn! {
    /// Unregisters `topic`: its subscribers are shut down (their pops return
    /// NULL), its message queue is freed, and it can be registered again (a
    /// new registration starts with no subscriber). Returns once no publish is
    /// still inside the generator, so its context may be freed afterwards.
    /// Unregistering a topic not registered logs at info level (the daemon
    /// does it at every shutdown when pod events are off). Allocates nothing.
    ///
    /// # Safety
    /// Must not be called from inside the topic's generator.
    unsafe fn mailbox_unregister_topic_handler(topic: RawTopic) {
        let shut_down = topics()
            .unregister(topic.index()?, None)
            .map_err(|error| Failure::Refused(error, About::Unregistering(topic.0)))?;
        log_debug!(
            target: EXPORT.name(),
            "topic {} unregistered, {shut_down} subscribers shut down",
            topic.0
        );
        Ok(())
    }
}

ffi_fn! {
    /// Publishes `data` on `topic`: see `mailbox_register_topic_handler`. Does
    /// nothing for an invalid topic (logged) or an unregistered one, and for
    /// an async topic nobody subscribes to (without calling the generator,
    /// taking a lock or allocating: two atomic loads). When memory runs out,
    /// the event reaches nobody (the generator is not called, the message
    /// being allocated first; or what it made is released once): it is logged
    /// and each subscriber's miss is counted in `mailbox_topic_stats.dropped`.
    /// A subscriber that cannot grow misses the event alone (logged, counted).
    ///
    /// # Safety
    /// `data` is whatever the topic's generator expects.
    unsafe fn mailbox_publish(topic: RawTopic, data: *mut c_void)
    // The daemon publishes on every container event, mostly to nobody.
    // That check is two atomic loads that cannot panic, so it runs before
    // the boundary, keeping this path free of a stack frame.
    before {
        if usize::try_from(topic.0).is_ok_and(|index| topics().is_quiet(index)) {
            return;
        }
    }
    {
        match publish(topic.index()?, RawInput(data)).map_err(Failure::topic(topic.0))? {
            Published::Delivered { missed, .. } => {
                report_missed(EXPORT, missed);
                Ok(())
            }
            Published::NotRegistered
            | Published::NobodySubscribed
            | Published::Nothing
            | Published::Handled => Ok(()),
        }
    }
}

ffi_fn! {
    /// Subscribes to the async `topic`.
    ///
    /// Returns a subscriber (free it with `message_subscriber_destroy`), or NULL
    /// for an invalid or unregistered topic (logged), a sync topic (silently:
    /// it has nothing to subscribe to), a topic registered from Rust with
    /// events of Rust's own, which C cannot read (logged), or when memory
    /// runs out (logged).
    fn mailbox_subscribe(topic: RawTopic) -> *mut message_subscriber {
        let index = topic.index()?;
        // A C subscriber reads the topic's C type.
        match topics().subscribe(index, Expected::C) {
            Ok(subscriber) => {
                let sub = into_handle::<message_subscriber>(subscriber)?;
                log_debug!(
                    target: EXPORT.name(),
                    "subscriber {sub:p} attached to topic {index} ({} now)",
                    topics().subscriber_count(index)
                );
                Ok(sub)
            }
            // Sync topics have nothing to subscribe to: not an error.
            Err(Error::Synchronous) => Ok(ptr::null_mut()),
            Err(error) => Err(Failure::topic(topic.0)(error)),
        }
    } else ptr::null_mut()
}

ffi_fn! {
    /// Stops delivering `topic` to `sub`, as `message_queue_unsubscribe` (`sub`
    /// is not freed). For a topic unregistered meanwhile it logs at info level
    /// and does nothing: unregistering detached `sub` already (a stream ending
    /// during the daemon's shutdown does it). Allocates nothing.
    ///
    /// # Safety
    /// `sub` is NULL or a live subscriber.
    unsafe fn mailbox_unsubscribe(topic: RawTopic, sub: *mut message_subscriber) {
        let subscriber = handle_arg!(sub);
        let index = topic.index()?;
        topics()
            .unsubscribe(index, subscriber)
            .map_err(|error| Failure::Refused(error, About::Unsubscribing(topic.0)))?;
        log_debug!(
            target: EXPORT.name(),
            "subscriber {sub:p} detached from topic {index} ({} now)",
            topics().subscriber_count(index)
        );
        Ok(())
    }
}
