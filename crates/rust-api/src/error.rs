//! Why a call of the Rust API failed.

use std::fmt;

use isula_mailbox_core::error::Error as CoreError;

/// Why registering, publishing, subscribing or reading stats failed.
///
/// ```
/// use isula_mailbox::{Error, CRI_CONTAINER};
///
/// // Nobody registered the topic in this process.
/// let refused = CRI_CONTAINER.subscribe::<u32>().unwrap_err();
/// assert_eq!(refused, Error::NotRegistered);
/// assert_eq!(refused.to_string(), "the topic is not registered");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The topic is not registered.
    NotRegistered,
    /// The topic is registered already (by C or by Rust).
    AlreadyRegistered,
    /// The topic is synchronous: its handler runs in the publisher, there
    /// is nothing to subscribe to.
    Synchronous,
    /// The topic's Rust registrant makes events of another type than the
    /// one asked for.
    EventType,
    /// The topic is registered from C (in the daemon, `CRI_CONTAINER` is):
    /// read its events with `subscribe_foreign::<E>()`, for a type `E`
    /// that implements [`ForeignEvent`](crate::ForeignEvent) for it.
    RegisteredFromC,
    /// An allocation failed; nothing changed.
    OutOfMemory,
    /// The topic's generator panicked: the event reached no subscriber.
    GeneratorPanicked,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::NotRegistered => "the topic is not registered",
            Error::AlreadyRegistered => "the topic is registered already",
            Error::Synchronous => "the topic is synchronous: nothing to subscribe to",
            Error::EventType => "the topic's registrant makes events of another type",
            Error::RegisteredFromC => {
                "the topic is registered from C: read its events with subscribe_foreign, \
                 for a type that implements ForeignEvent for the topic"
            }
            Error::OutOfMemory => "out of memory",
            Error::GeneratorPanicked => {
                "the topic's generator panicked; the event reached no subscriber"
            }
        })
    }
}

impl std::error::Error for Error {}

impl From<CoreError> for Error {
    fn from(error: CoreError) -> Self {
        match error {
            CoreError::AlreadyRegistered => Error::AlreadyRegistered,
            CoreError::Synchronous => Error::Synchronous,
            CoreError::EventType | CoreError::RustOnly => Error::EventType,
            CoreError::RegisteredFromC => Error::RegisteredFromC,
            CoreError::OutOfMemory => Error::OutOfMemory,
            CoreError::GeneratorPanicked => Error::GeneratorPanicked,
            // The API's topics are valid by construction, it only
            // unsubscribes its own subscribers (by dropping them), and what
            // it publishes and subscribes is closed only by unregistering.
            CoreError::NotRegistered
            | CoreError::InvalidTopic
            | CoreError::NotSubscribed
            | CoreError::Closed
            | CoreError::ReferenceLimit => Error::NotRegistered,
        }
    }
}

/// Why a subscription returned no event.
///
/// ```
/// use isula_mailbox::{ContainerEventKind, ContainerMessage, RecvError, CRI_CONTAINER};
///
/// let registration = CRI_CONTAINER.register(|m: &ContainerMessage<'_>| m.kind()).unwrap();
/// let events = CRI_CONTAINER.subscribe::<ContainerEventKind>().unwrap();
/// assert_eq!(events.try_recv().unwrap_err(), RecvError::Empty);
/// drop(registration); // unregisters: the subscription ends
/// assert_eq!(events.recv().unwrap_err(), RecvError::Closed);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecvError {
    /// `try_recv`: no event is there now.
    Empty,
    /// `recv_timeout`, `recv_deadline`: nothing came in time.
    Timeout,
    /// The subscription is bounded and dropped this many of its oldest
    /// events to make room since it last said so; the next call returns
    /// the oldest event it kept.
    Lagged(u64),
    /// The subscription ended: closed, or its topic unregistered (once the
    /// events queued before that were received). No event will ever come.
    Closed,
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Empty => f.write_str("no event now"),
            RecvError::Timeout => f.write_str("no event within the time limit"),
            RecvError::Lagged(n) => write!(f, "{n} events dropped to make room"),
            RecvError::Closed => f.write_str("the subscription ended"),
        }
    }
}

impl std::error::Error for RecvError {}
