//! What a message queue shares with its subscribers: the inboxes it
//! delivers to, and its counters. A subscriber holds it to detach itself
//! when dropped, so it lives until the queue and its last subscriber are
//! gone (it holds no subscriber back).

use std::num::NonZeroUsize;
use std::sync::atomic::Ordering::Relaxed;

use super::blocking_queue::{BlockingQueue, PushError};
use super::counters::{Counters, Snapshot, SubscriberCount};
use super::oom::OutOfMemory;
use super::shared::Shared;
use super::sync::{Arc, AtomicBool, Mutex};

/// One subscriber's queue of messages.
pub(crate) struct Inbox<M> {
    pub(crate) queue: BlockingQueue<M>,
    /// The most messages it keeps; when full, the oldest goes.
    capacity: Option<NonZeroUsize>,
    /// Whether it is a member now: only then do its deliveries and drops
    /// count in the queue's counters.
    attached: AtomicBool,
}

/// What became of a message handed to an inbox.
pub(crate) enum Delivery<M> {
    Queued,
    /// Queued, and the inbox's oldest message pushed out to make room.
    Evicted(M),
    /// Not queued: the inbox is shut down, or cannot grow.
    Refused(PushError<M>),
}

impl<M> Inbox<M> {
    pub(crate) fn new(capacity: Option<NonZeroUsize>) -> Self {
        Inbox {
            queue: BlockingQueue::new(),
            capacity,
            attached: AtomicBool::new(false),
        }
    }

    pub(crate) fn deliver(&self, message: M) -> Delivery<M> {
        match self.capacity {
            None => match self.queue.push(message) {
                Ok(()) => Delivery::Queued,
                Err(refused) => Delivery::Refused(refused),
            },
            Some(capacity) => match self.queue.push_bounded(message, capacity.get()) {
                Ok(None) => Delivery::Queued,
                Ok(Some(evicted)) => Delivery::Evicted(evicted),
                Err(refused) => Delivery::Refused(refused),
            },
        }
    }

    pub(crate) fn is_attached(&self) -> bool {
        self.attached.load(Relaxed)
    }
}

/// The subscribers of one message queue, and its counters.
pub(crate) struct Members<M> {
    list: Mutex<List<M>>,
    counters: Counters,
    subscribers: SubscriberCount,
}

struct List<M> {
    inboxes: Vec<Arc<Inbox<M>>>,
    /// How many of them are bounded: how many messages one publish may push
    /// out at most.
    bounded: usize,
    shut_down: bool,
}

/// Why a message queue refused a subscriber or a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The queue is shut down.
    ShutDown,
    /// An allocation failed.
    OutOfMemory,
}

impl From<OutOfMemory> for Refusal {
    fn from(_: OutOfMemory) -> Self {
        Refusal::OutOfMemory
    }
}

impl<M> Members<M> {
    pub(crate) fn new(subscribers: SubscriberCount) -> Self {
        Members {
            list: Mutex::new(List {
                inboxes: Vec::new(),
                bounded: 0,
                shut_down: false,
            }),
            counters: Counters::new(),
            subscribers,
        }
    }

    pub(crate) fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Whether any subscriber is attached. Takes no lock: a hint, as a
    /// subscriber attaching at this very moment may or may not be seen,
    /// which is the same as attaching just after or before.
    #[inline]
    pub(crate) fn has_subscribers(&self) -> bool {
        self.subscribers.load(Relaxed) > 0
    }

    pub(crate) fn attach(&self, inbox: &Arc<Inbox<M>>) -> Result<(), Refusal> {
        let mut list = self.list.lock();
        if list.shut_down {
            return Err(Refusal::ShutDown);
        }
        list.inboxes.try_reserve(1).map_err(OutOfMemory::from)?;
        list.inboxes.push(Arc::clone(inbox));
        list.bounded += usize::from(inbox.capacity.is_some());
        inbox.attached.store(true, Relaxed);
        self.subscribers.fetch_add(1, Relaxed);
        Ok(())
    }

    /// Removes `inbox` from the members; whether it was one.
    pub(crate) fn detach(&self, inbox: &Arc<Inbox<M>>) -> bool {
        let mut list = self.list.lock();
        let Some(index) = list.inboxes.iter().position(|m| Arc::ptr_eq(m, inbox)) else {
            return false;
        };
        // Members are unordered: each inbox keeps its own order.
        list.inboxes.swap_remove(index);
        list.bounded -= usize::from(inbox.capacity.is_some());
        inbox.attached.store(false, Relaxed);
        self.subscribers.fetch_sub(1, Relaxed);
        true
    }

    /// Hands `message` to every member inbox, in the caller's thread and
    /// under one lock, so that every member sees the same order. Each gets
    /// its own reference; the caller's is consumed. What must be dropped
    /// comes back in [`Leftovers`], to be dropped once no lock is held.
    pub(crate) fn publish(&self, message: M) -> Result<Leftovers<M>, (Refusal, M)>
    where
        M: Shared,
    {
        let list = self.list.lock();
        if list.shut_down {
            return Err((Refusal::ShutDown, message));
        }
        let mut leftovers = Leftovers::default();
        // Room for what bounded inboxes push out, made before anything is
        // delivered: a publish either fails whole or delivers everywhere.
        if leftovers.evicted.try_reserve(list.bounded).is_err() {
            self.counters.count_dropped(list.inboxes.len());
            return Err((Refusal::OutOfMemory, message));
        }
        self.counters.count_published();
        let (mut delivered, mut dropped, mut out_of_memory) = (0, 0, 0);
        let mut deliver = |inbox: &Inbox<M>, message: M| -> Option<M> {
            match inbox.deliver(message) {
                Delivery::Queued => delivered += 1,
                Delivery::Evicted(oldest) => {
                    delivered += 1;
                    dropped += 1;
                    leftovers.evicted.push(oldest); // within the room made above
                }
                Delivery::Refused(refused) => {
                    dropped += 1;
                    if let PushError::OutOfMemory(_) = refused {
                        out_of_memory += 1;
                    }
                    return Some(refused.into_item());
                }
            }
            None
        };
        let mut over_limit = 0;
        match list.inboxes.split_last() {
            Some((last, others)) => {
                for inbox in others {
                    match message.share() {
                        // A refused copy is never the last reference (the
                        // caller's is still here): dropping it frees nothing.
                        Some(copy) => drop(deliver(inbox, copy)),
                        None => over_limit += 1,
                    }
                }
                leftovers.refused = deliver(last, message);
            }
            None => leftovers.refused = Some(message),
        }
        leftovers.missed = Missed {
            at_limit: over_limit,
            out_of_memory,
        };
        dropped += over_limit;
        self.counters.count_delivered(delivered);
        self.counters.count_dropped(dropped);
        Ok(leftovers)
    }

    /// Counts a message that every member missed (it could not be made).
    pub(crate) fn count_missed(&self) {
        self.counters
            .count_dropped(self.subscribers.load(Relaxed) as usize);
    }

    /// Detaches every member and refuses later subscribers and messages.
    /// The members are shut down by [`Closing::finish`], which the caller
    /// runs once it holds no lock: what they still hold is dropped there.
    pub(crate) fn shut_down(&self) -> Closing<'_, M> {
        let mut list = self.list.lock();
        list.shut_down = true;
        list.bounded = 0;
        let inboxes = std::mem::take(&mut list.inboxes);
        for inbox in &inboxes {
            inbox.attached.store(false, Relaxed);
        }
        self.subscribers.fetch_sub(inboxes.len() as u32, Relaxed);
        Closing {
            members: self,
            inboxes,
        }
    }

    /// The counters, with what the members hold now.
    pub(crate) fn snapshot(&self) -> Snapshot {
        let list = self.list.lock();
        let pending = list.inboxes.iter().map(|inbox| inbox.queue.len()).sum();
        self.counters
            .snapshot(pending, self.subscribers.load(Relaxed))
    }
}

/// Messages a publish took out of the inboxes, to be dropped by the caller
/// once it holds no lock: dropping one may run the daemon's release
/// function, which may call back into the library.
#[must_use = "drop it once no lock is held"]
pub struct Leftovers<M> {
    /// The published message, if the last member refused it (or there was
    /// none).
    refused: Option<M>,
    /// What full bounded members pushed out.
    evicted: Vec<M>,
    missed: Missed,
}

/// Deliveries of one publish that members missed, for the caller to
/// report (each is counted in `dropped` already).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Missed {
    /// The message already had as many references as it may.
    pub at_limit: usize,
    /// The member's inbox could not grow.
    pub out_of_memory: usize,
}

impl<M> Default for Leftovers<M> {
    fn default() -> Self {
        Leftovers {
            refused: None,
            evicted: Vec::new(),
            missed: Missed::default(),
        }
    }
}

impl<M> Leftovers<M> {
    /// Just `message`.
    pub fn of(message: M) -> Self {
        Leftovers {
            refused: Some(message),
            ..Leftovers::default()
        }
    }

    /// The deliveries members missed.
    pub fn missed(&self) -> Missed {
        self.missed
    }
}

/// The members of a queue being shut down: detached already, closed by
/// [`finish`](Self::finish).
#[must_use = "finish it once no lock is held"]
pub(crate) struct Closing<'a, M> {
    members: &'a Members<M>,
    inboxes: Vec<Arc<Inbox<M>>>,
}

impl<M> Closing<'_, M> {
    /// Shuts each member down (its pops return `Closed`) and drops what it
    /// held, counted as dropped.
    pub(crate) fn finish(self) {
        for inbox in self.inboxes {
            let pending = inbox.queue.close();
            self.members.counters.count_dropped(pending.len());
        }
    }
}
