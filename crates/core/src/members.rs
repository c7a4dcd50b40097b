//! What a message queue shares with its subscribers: who is a member (the
//! inboxes it delivers to) and its counters. A subscriber holds it to
//! detach itself when dropped, so it lives until the queue and its last
//! subscriber are gone (it holds no subscriber back). The delivering itself
//! is the message queue's.

use std::num::NonZeroUsize;
use std::sync::atomic::Ordering::Relaxed;

use super::blocking_queue::{BlockingQueue, Drained, Wake};
use super::counters::{Counters, Snapshot, SubscriberCount};
use super::error::{Error, Refused};
use super::sync::{Arc, AtomicBool, AtomicUsize, Mutex, MutexGuard};

/// One subscriber's queue of messages.
pub(crate) struct Inbox<M> {
    pub(crate) queue: BlockingQueue<M>,
    /// The most messages it keeps; when full, the oldest goes.
    capacity: Option<NonZeroUsize>,
    /// What a shutdown of its queue does with the messages it holds: drop
    /// them (C's pops then return NULL at once), or leave them to be popped.
    keeps_queued_on_shutdown: bool,
    /// Whether it is a member now: only then do its deliveries and drops
    /// count in the queue's counters.
    attached: AtomicBool,
    /// Whether a task awaited it once: publishes make room to wake it.
    awaited: AtomicBool,
    /// Messages it pushed out to make room, not yet reported to its
    /// consumer (see [`Subscriber::take_lagged`](super::subscriber::Subscriber::take_lagged)).
    lagged: AtomicUsize,
}

/// What an inbox did with a message handed to it.
pub(crate) enum Arrival<M> {
    /// Queued; the inbox's oldest message pushed out to make room, if it
    /// was full; the awaiting task to wake.
    Queued { pushed_out: Option<M>, wake: Wake },
    /// Not queued: the inbox is shut down, or cannot grow.
    Refused(Refused<M>),
}

impl<M> Inbox<M> {
    pub(crate) fn new(capacity: Option<NonZeroUsize>, keeps_queued_on_shutdown: bool) -> Self {
        Inbox {
            queue: BlockingQueue::new(),
            capacity,
            keeps_queued_on_shutdown,
            attached: AtomicBool::new(false),
            awaited: AtomicBool::new(false),
            lagged: AtomicUsize::new(0),
        }
    }

    pub(crate) fn deliver(&self, message: M) -> Arrival<M> {
        let pushed = match self.capacity {
            None => self.queue.push(message).map(|wake| (None, wake)),
            Some(capacity) => self.queue.push_bounded(message, capacity.get()),
        };
        match pushed {
            Ok((pushed_out, wake)) => {
                if pushed_out.is_some() {
                    self.lagged.fetch_add(1, Relaxed);
                }
                Arrival::Queued { pushed_out, wake }
            }
            Err(refused) => Arrival::Refused(refused),
        }
    }

    pub(crate) fn is_attached(&self) -> bool {
        self.attached.load(Relaxed)
    }

    /// The messages pushed out since the last call.
    pub(crate) fn take_lagged(&self) -> usize {
        self.lagged.swap(0, Relaxed)
    }

    /// Marks the inbox as awaited by a task; whether it was not before.
    pub(crate) fn mark_awaited(&self) -> bool {
        !self.awaited.swap(true, Relaxed)
    }

    /// Ends the inbox as its queue shuts down: what it held is dropped, or
    /// kept for its consumer to pop first. Returns what was dropped.
    pub(crate) fn shut_down(&self) -> Option<Drained<M>> {
        if self.keeps_queued_on_shutdown {
            self.queue.close_keeping();
            None
        } else {
            Some(self.queue.close())
        }
    }
}

/// The subscribers of one message queue, and its counters.
pub(crate) struct Members<M> {
    list: Mutex<List<M>>,
    counters: Counters,
    subscribers: SubscriberCount,
}

/// The member inboxes, as a publish or a shutdown sees them under the lock.
pub(crate) struct List<M> {
    pub(crate) inboxes: Vec<Arc<Inbox<M>>>,
    /// How many of them are bounded: how many messages one publish may push
    /// out at most.
    pub(crate) bounded: usize,
    /// How many of them a task awaited once: how many tasks one publish
    /// may have to wake.
    pub(crate) awaited: usize,
    pub(crate) shut_down: bool,
}

impl<M> Members<M> {
    pub(crate) fn new(subscribers: SubscriberCount) -> Self {
        Members {
            list: Mutex::new(List {
                inboxes: Vec::new(),
                bounded: 0,
                awaited: 0,
                shut_down: false,
            }),
            counters: Counters::new(),
            subscribers,
        }
    }

    pub(crate) fn counters(&self) -> &Counters {
        &self.counters
    }

    /// How many members there are. Takes no lock: a hint, as a subscriber
    /// attaching at this very moment may or may not be counted, which is
    /// the same as attaching just after or before.
    #[inline]
    pub(crate) fn count(&self) -> u32 {
        self.subscribers.load(Relaxed)
    }

    /// The members, locked: every publish delivers under this lock, so
    /// that all members see one order.
    pub(crate) fn lock(&self) -> MutexGuard<'_, List<M>> {
        self.list.lock()
    }

    pub(crate) fn attach(&self, inbox: &Arc<Inbox<M>>) -> Result<(), Error> {
        let mut list = self.list.lock();
        if list.shut_down {
            return Err(Error::Closed);
        }
        list.inboxes.try_reserve(1)?;
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
        list.awaited -= usize::from(inbox.awaited.load(Relaxed));
        inbox.attached.store(false, Relaxed);
        self.subscribers.fetch_sub(1, Relaxed);
        true
    }

    /// Counts `inbox`, which a task awaits for the first time, among the
    /// awaited members, if it is one.
    pub(crate) fn count_awaited(&self, inbox: &Inbox<M>) {
        let mut list = self.list.lock();
        if inbox.is_attached() {
            list.awaited += 1;
        }
    }

    /// Detaches every member and refuses later ones; returns them.
    pub(crate) fn detach_all(&self) -> Vec<Arc<Inbox<M>>> {
        let mut list = self.list.lock();
        list.shut_down = true;
        list.bounded = 0;
        list.awaited = 0;
        let inboxes = std::mem::take(&mut list.inboxes);
        for inbox in &inboxes {
            inbox.attached.store(false, Relaxed);
        }
        self.subscribers.fetch_sub(inboxes.len() as u32, Relaxed);
        inboxes
    }

    /// The counters, with what the members hold now.
    pub(crate) fn snapshot(&self) -> Snapshot {
        let list = self.list.lock();
        let pending = list.inboxes.iter().map(|inbox| inbox.queue.len()).sum();
        self.counters.snapshot(pending, self.count())
    }
}
