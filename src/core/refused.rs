//! Why a queue did not take what it was given. What was given comes back
//! with the reason, so that the caller can dispose of it outside the
//! queue's locks.

use super::oom::OutOfMemory;

/// A push, publish or subscribe that did not happen, and what it was given
/// (nothing, for a subscribe).
#[derive(Debug, PartialEq, Eq)]
pub enum Refused<T = ()> {
    /// The queue is closed (shut down): nothing will be taken any more.
    Closed(T),
    /// The queue could not grow; nothing changed.
    OutOfMemory(T),
}

impl<T> Refused<T> {
    /// What was not taken.
    pub fn into_inner(self) -> T {
        match self {
            Refused::Closed(item) | Refused::OutOfMemory(item) => item,
        }
    }

    /// The same reason, for `other`.
    pub fn with<U>(&self, other: U) -> Refused<U> {
        match self {
            Refused::Closed(_) => Refused::Closed(other),
            Refused::OutOfMemory(_) => Refused::OutOfMemory(other),
        }
    }
}

impl From<OutOfMemory> for Refused {
    fn from(_: OutOfMemory) -> Self {
        Refused::OutOfMemory(())
    }
}
