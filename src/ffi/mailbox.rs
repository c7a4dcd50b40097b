//! `mailbox.h`: the process's topics, where publishers and subscribers meet.

use std::os::raw::{c_char, c_int, c_void};
use std::ptr;

use super::handle::into_handle;
use super::message_subscriber::message_subscriber;
use super::{call, handle_arg, Failure};
use crate::core::topics::{Delivery, TopicError};
use crate::foreign::{ForeignGenerator, RawInput};
use crate::global::mailbox;

/// The topics (values as in the original).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum mailbox_topic {
    MAILBOX_TOPIC_INVALID = -1,
    MAILBOX_TOPIC_CRI_CONTAINER = 0,
    MAILBOX_TOPIC_MAX = 1,
}

/// How many topics there are.
pub(crate) const TOPIC_COUNT: usize = mailbox_topic::MAILBOX_TOPIC_MAX as usize;

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
            .filter(|&index| index < TOPIC_COUNT)
            .ok_or_else(|| topic_failure(self, TopicError::Invalid))
    }
}

impl From<mailbox_topic> for RawTopic {
    fn from(topic: mailbox_topic) -> Self {
        RawTopic(topic as c_int)
    }
}

/// The kinds of CRI container event (values as in the original).
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

/// What the daemon publishes on `MAILBOX_TOPIC_CRI_CONTAINER`; the library
/// hands it to the topic's generator and never reads it.
#[repr(C)]
pub struct cri_container_message_t {
    pub container_id: *const c_char,
    pub sandbox_id: *const c_char,
    pub r#type: RawMessageType,
}

/// For an async topic, makes the message to publish from (context, data);
/// for a sync topic, handles the data. NULL: nothing to publish.
pub type message_generator_t =
    Option<unsafe extern "C" fn(*mut c_void, *mut c_void) -> *mut c_void>;

/// Releases what the generator made.
pub type message_release_t = Option<unsafe extern "C" fn(*mut c_void)>;

#[cold]
#[inline(never)]
pub(crate) fn topic_failure(topic: RawTopic, error: TopicError) -> Failure {
    let topic = topic.0;
    match error {
        TopicError::Invalid => Failure::error(format!("invalid topic {topic}")),
        TopicError::NotRegistered => Failure::error(format!("topic {topic} is not registered")),
        TopicError::AlreadyRegistered => {
            Failure::error(format!("topic {topic} is already registered"))
        }
        TopicError::Sync => Failure::error(format!("topic {topic} is synchronous")),
        TopicError::NotSubscribed => {
            Failure::warn(format!("subscriber is not subscribed to topic {topic}"))
        }
        TopicError::EventType => {
            Failure::error(format!("topic {topic} makes events of another type"))
        }
    }
}

/// Registers `topic`. An async topic gets a message queue: `mailbox_publish`
/// calls `generator(context, data)` only when someone subscribes, and
/// publishes its non-NULL result as a message released by `release`. A sync
/// topic calls the generator in the publishing thread and passes a non-NULL
/// result to `release` at once.
///
/// Returns 0, or -1 for an invalid topic, a NULL generator, or a topic
/// already registered.
///
/// # Safety
/// `generator`, `context` and `release` are valid to call and use from any
/// thread until the topic is unregistered.
#[no_mangle]
pub unsafe extern "C" fn mailbox_register_topic_handler(
    topic: RawTopic,
    generator: message_generator_t,
    context: *mut c_void,
    release: message_release_t,
    r#async: bool,
) -> c_int {
    call("mailbox_register_topic_handler", -1, || {
        let index = topic.index()?;
        let generator = generator.ok_or_else(|| Failure::null("generator"))?;
        let generator = ForeignGenerator::new(generator, context, release);
        let delivery = if r#async {
            Delivery::Async
        } else {
            Delivery::Sync
        };
        mailbox()
            .register(
                index,
                Box::new(move |input| generator.generate(input)),
                delivery,
                // What a C generator makes is unknown to Rust.
                None,
            )
            .map_err(|error| topic_failure(topic, error))?;
        Ok(0)
    })
}

/// Unregisters `topic`: its subscribers are shut down (their pops return
/// NULL) and it can be registered again. Returns once no publish is still
/// inside the generator, so its context may be freed afterwards.
///
/// # Safety
/// Must not be called from inside the topic's generator.
#[no_mangle]
pub unsafe extern "C" fn mailbox_unregister_topic_handler(topic: RawTopic) {
    call("mailbox_unregister_topic_handler", (), || {
        let index = topic.index()?;
        mailbox().unregister(index).map_err(|error| match error {
            // The daemon's CRI shutdown unregisters whether or not pod
            // events were enabled: not worth a warning.
            TopicError::NotRegistered => {
                Failure::info(format!("topic {} was not registered", topic.0))
            }
            error => topic_failure(topic, error),
        })
    })
}

/// Publishes `data` on `topic`: see `mailbox_register_topic_handler`. Does
/// nothing for an unregistered topic, and for an async topic nobody
/// subscribes to (without calling the generator, taking a lock or
/// allocating).
///
/// # Safety
/// `data` is whatever the topic's generator expects.
#[no_mangle]
pub unsafe extern "C" fn mailbox_publish(topic: RawTopic, data: *mut c_void) {
    // The daemon publishes on every container event, mostly to nobody. That
    // check is two atomic loads that cannot panic, so it runs before the
    // boundary, keeping this path free of a stack frame; the rest runs
    // inside it.
    if usize::try_from(topic.0).is_ok_and(|index| mailbox().is_quiet(index)) {
        return;
    }
    publish(topic, data);
}

#[inline(never)]
fn publish(topic: RawTopic, data: *mut c_void) {
    call("mailbox_publish", (), || {
        let index = topic.index()?;
        mailbox()
            .publish(index, RawInput(data))
            .map_err(|error| topic_failure(topic, error))?;
        Ok(())
    })
}

/// Subscribes to the async `topic`.
///
/// Returns a subscriber (free it with `message_subscriber_destroy`), or NULL
/// for an invalid, unregistered or sync topic.
#[no_mangle]
pub extern "C" fn mailbox_subscribe(topic: RawTopic) -> *mut message_subscriber {
    call("mailbox_subscribe", ptr::null_mut(), || {
        let index = topic.index()?;
        // C cannot say what it expects: no type check.
        match mailbox().subscribe(index, None) {
            Ok(subscriber) => Ok(into_handle::<message_subscriber>(subscriber)),
            // Sync topics have nothing to subscribe to: not an error.
            Err(TopicError::Sync) => Ok(ptr::null_mut()),
            Err(error) => Err(topic_failure(topic, error)),
        }
    })
}

/// Stops delivering `topic` to `sub`, as `message_queue_unsubscribe`.
///
/// # Safety
/// `sub` is NULL or a live subscriber.
#[no_mangle]
pub unsafe extern "C" fn mailbox_unsubscribe(topic: RawTopic, sub: *mut message_subscriber) {
    call("mailbox_unsubscribe", (), || {
        let sub = handle_arg!(sub);
        let index = topic.index()?;
        mailbox()
            .unsubscribe(index, sub)
            .map_err(|error| match error {
                // Unregistering detached every subscriber already: a stream
                // ending at the same time as the daemon's shutdown lands here.
                TopicError::NotRegistered => {
                    Failure::info(format!("topic {} is not registered any more", topic.0))
                }
                error => topic_failure(topic, error),
            })
    })
}
