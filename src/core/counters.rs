//! Per-topic counters, kept with relaxed atomics so that counting adds no
//! lock and no ordering constraint to the paths it counts.

use super::sync::Arc;
use std::ops::Deref;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};

/// Live counters of one message queue (for a topic: shared by all its
/// registrations).
#[derive(Debug)]
pub struct Counters {
    published: AtomicU64,
    delivered: AtomicU64,
    dropped: AtomicU64,
    pending: AtomicU64,
    subscribers: AtomicU32,
}

/// Where a message queue and its subscribers count: in a topic's counters,
/// which live as long as the (static) topic table, or in counters of the
/// queue's own.
#[derive(Debug, Clone)]
pub(crate) enum CountersRef {
    Topic(&'static Counters),
    Own(Arc<Counters>),
}

impl Deref for CountersRef {
    type Target = Counters;

    #[inline]
    fn deref(&self) -> &Counters {
        match self {
            CountersRef::Topic(counters) => counters,
            CountersRef::Own(counters) => counters,
        }
    }
}

/// A copy of [`Counters`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Messages published.
    pub published: u64,
    /// (message, subscriber) deliveries enqueued.
    pub delivered: u64,
    /// Deliveries dropped: subscriber full, or shut down.
    pub dropped: u64,
    /// Deliveries enqueued and not yet popped.
    pub pending: u64,
    /// Subscribers now.
    pub subscribers: u32,
}

impl Counters {
    /// All zero.
    pub const fn new() -> Self {
        Counters {
            published: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            pending: AtomicU64::new(0),
            subscribers: AtomicU32::new(0),
        }
    }

    pub(crate) fn published(&self) {
        self.published.fetch_add(1, Relaxed);
    }

    /// Counted before the item is queued, so that the consumer's
    /// [`popped`](Self::popped) can never be ordered before it and `pending`
    /// never wraps below zero.
    pub(crate) fn enqueuing(&self) {
        self.delivered.fetch_add(1, Relaxed);
        self.pending.fetch_add(1, Relaxed);
    }

    /// An enqueued item was taken by its consumer.
    pub(crate) fn popped(&self) {
        self.pending.fetch_sub(1, Relaxed);
    }

    /// `count` enqueued items were thrown away before anyone popped them.
    pub(crate) fn discarded(&self, count: usize) {
        if count > 0 {
            self.dropped.fetch_add(count as u64, Relaxed);
            self.pending.fetch_sub(count as u64, Relaxed);
        }
    }

    /// A delivery counted by [`enqueuing`](Self::enqueuing) did not happen
    /// after all (the subscriber was shut down meanwhile).
    pub(crate) fn refused(&self) {
        self.delivered.fetch_sub(1, Relaxed);
        self.discarded(1);
    }

    /// A delivery that could not even be attempted.
    pub(crate) fn dropped(&self) {
        self.dropped.fetch_add(1, Relaxed);
    }

    pub(crate) fn subscribed(&self) {
        self.subscribers.fetch_add(1, Relaxed);
    }

    pub(crate) fn unsubscribed(&self, count: usize) {
        self.subscribers.fetch_sub(count as u32, Relaxed);
    }

    /// Whether any subscriber is attached: the whole cost of publishing to
    /// nobody. A hint: a subscriber attaching at this very moment may or may
    /// not be seen, which is the same as attaching just after or before.
    #[inline]
    pub fn has_subscribers(&self) -> bool {
        self.subscribers.load(Relaxed) > 0
    }

    /// The counters now.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            published: self.published.load(Relaxed),
            delivered: self.delivered.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
            pending: self.pending.load(Relaxed),
            subscribers: self.subscribers.load(Relaxed),
        }
    }
}

impl Default for Counters {
    fn default() -> Self {
        Self::new()
    }
}

impl Snapshot {
    /// The monotonic counters counted since `base`; `pending` and
    /// `subscribers` describe the present and are kept as they are.
    pub fn since(self, base: Snapshot) -> Snapshot {
        Snapshot {
            published: self.published.wrapping_sub(base.published),
            delivered: self.delivered.wrapping_sub(base.delivered),
            dropped: self.dropped.wrapping_sub(base.dropped),
            ..self
        }
    }
}
