//! What a message queue has done, kept with relaxed atomics so that
//! counting adds no lock and no ordering constraint to the paths it counts.

use std::ops::Deref;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};

/// Running totals of one message queue (for a topic: of one registration).
#[derive(Debug, Default)]
pub struct Counters {
    published: AtomicU64,
    delivered: AtomicU64,
    dropped: AtomicU64,
}

/// How many subscribers a message queue has: its own count, or the count
/// of a topic (in the static topic table, where publishing to nobody reads
/// it without a lock).
#[derive(Debug)]
pub(crate) enum SubscriberCount {
    Own(AtomicU32),
    Topic(&'static AtomicU32),
}

impl Deref for SubscriberCount {
    type Target = AtomicU32;

    #[inline]
    fn deref(&self) -> &AtomicU32 {
        match self {
            SubscriberCount::Own(count) => count,
            SubscriberCount::Topic(count) => count,
        }
    }
}

/// A message queue's counters at one moment: `mailbox_topic_stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Messages published.
    pub published: u64,
    /// (message, subscriber) deliveries enqueued.
    pub delivered: u64,
    /// Deliveries dropped: a full subscriber's oldest, a subscriber shut
    /// down or destroyed while subscribed, the reference limit, or out of
    /// memory.
    pub dropped: u64,
    /// What the subscribers hold now, delivered and not yet popped.
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
        }
    }

    pub(crate) fn count_published(&self) {
        self.published.fetch_add(1, Relaxed);
    }

    pub(crate) fn count_delivered(&self, deliveries: usize) {
        if deliveries > 0 {
            self.delivered.fetch_add(deliveries as u64, Relaxed);
        }
    }

    pub(crate) fn count_dropped(&self, deliveries: usize) {
        if deliveries > 0 {
            self.dropped.fetch_add(deliveries as u64, Relaxed);
        }
    }

    /// The totals, with what is `pending` and how many `subscribers` there
    /// are now.
    pub(crate) fn snapshot(&self, pending: usize, subscribers: u32) -> Snapshot {
        Snapshot {
            published: self.published.load(Relaxed),
            delivered: self.delivered.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
            pending: pending as u64,
            subscribers,
        }
    }
}
