//! What can fail below the C ABI and the Rust API: one error for the whole
//! core, which the C library maps to its failure values and log lines and
//! the Rust API to its own error type.

use std::collections::TryReserveError;
use std::fmt;

/// Why a call of the core did nothing. Whatever it was given is handed back
/// (see [`Refused`]) or dropped; nothing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// An allocation failed.
    OutOfMemory,
    /// The queue or subscriber is closed (shut down): it takes nothing any
    /// more.
    Closed,
    /// No such topic in the table.
    InvalidTopic,
    /// The topic is not registered.
    NotRegistered,
    /// The topic is registered already.
    AlreadyRegistered,
    /// The topic is synchronous: it has no subscribers.
    Synchronous,
    /// The subscriber is not subscribed there.
    NotSubscribed,
    /// The topic's registrant makes events of another type.
    EventType,
    /// The topic's registrant is C: a Rust subscriber reads its events only
    /// through a type promised to be their layout (a foreign subscriber).
    RegisteredFromC,
    /// The topic's registrant is Rust, with events C cannot read: a C
    /// subscriber is refused.
    RustOnly,
    /// The topic's generator panicked: the event reached no subscriber
    /// (each one's miss is counted in `dropped`).
    GeneratorPanicked,
    /// A message has as many references as it may.
    ReferenceLimit,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::OutOfMemory => "out of memory",
            Error::Closed => "closed",
            Error::InvalidTopic => "no such topic",
            Error::NotRegistered => "the topic is not registered",
            Error::AlreadyRegistered => "the topic is registered already",
            Error::Synchronous => "the topic is synchronous",
            Error::NotSubscribed => "not subscribed",
            Error::EventType => "the topic's registrant makes events of another type",
            Error::RegisteredFromC => {
                "the topic is registered from C: its events need a foreign subscriber"
            }
            Error::RustOnly => "the topic's registrant makes Rust events, which C cannot read",
            Error::GeneratorPanicked => "the topic's generator panicked",
            Error::ReferenceLimit => "reference count overflow",
        })
    }
}

impl std::error::Error for Error {}

impl From<TryReserveError> for Error {
    fn from(_: TryReserveError) -> Self {
        Error::OutOfMemory
    }
}

/// A push, publish or subscribe that did not happen: why, and what it was
/// given, back to the caller, to dispose of outside the queue's locks.
#[derive(Debug, PartialEq, Eq)]
pub struct Refused<T> {
    /// Why: [`Error::Closed`] or [`Error::OutOfMemory`].
    pub error: Error,
    /// What was not taken.
    pub item: T,
}

impl<T> Refused<T> {
    pub(crate) fn new(error: Error, item: T) -> Self {
        Refused { error, item }
    }
}
