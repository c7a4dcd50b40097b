//! Why a call of the Rust API failed.

use std::fmt;

use isula_mailbox_core::error::Error as CoreError;

/// Why registering, subscribing or reading stats failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The topic is not registered.
    NotRegistered,
    /// The topic is registered already.
    AlreadyRegistered,
    /// The topic is synchronous: its handler runs in the publisher, there
    /// is nothing to subscribe to.
    Synchronous,
    /// The topic's registrant makes events of another type than the one
    /// asked for (or did not say which: a C registrant).
    EventType,
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
            Error::OutOfMemory => "out of memory",
            Error::GeneratorPanicked => "the topic's generator panicked",
        })
    }
}

impl std::error::Error for Error {}

impl From<CoreError> for Error {
    fn from(error: CoreError) -> Self {
        match error {
            CoreError::AlreadyRegistered => Error::AlreadyRegistered,
            CoreError::Synchronous => Error::Synchronous,
            CoreError::EventType => Error::EventType,
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

/// Why [`Subscription::recv`](crate::Subscription::recv) returned no event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecvError {
    /// Nothing came within the time limit; later calls may get events.
    Timeout,
    /// The topic was unregistered: no event will ever come.
    Closed,
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RecvError::Timeout => "no event within the time limit",
            RecvError::Closed => "the topic was unregistered",
        })
    }
}

impl std::error::Error for RecvError {}
