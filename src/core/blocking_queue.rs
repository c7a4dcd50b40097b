//! A FIFO queue whose `pop` waits for an item, with an optional time limit,
//! and which can be closed for good.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::sync::{Condvar, Mutex};

/// What [`BlockingQueue::pop`] got.
#[derive(Debug, PartialEq, Eq)]
pub enum Pop<T> {
    /// The oldest item.
    Item(T),
    /// The queue was closed: no item will ever come.
    Closed,
    /// The queue stayed empty for the whole time limit.
    TimedOut,
}

/// Why a push did not queue its item; the item comes back with it.
#[derive(Debug, PartialEq, Eq)]
pub enum PushError<T> {
    /// The queue is closed.
    Closed(T),
    /// The queue could not grow.
    OutOfMemory(T),
}

impl<T> PushError<T> {
    /// The item that was not queued.
    pub fn into_item(self) -> T {
        match self {
            PushError::Closed(item) | PushError::OutOfMemory(item) => item,
        }
    }
}

/// A queue of `T` that any number of threads push to and pop from.
///
/// `pop` on an empty queue waits until an item is pushed, the time limit
/// passes (on the monotonic clock; spurious wake-ups neither cut nor restart
/// the wait) or the queue is closed.
///
/// A waiting pop first takes [`NAPS`] short naps of [`NAP`], during which a
/// push does not wake it (it looks again when the nap ends), and only then
/// sleeps until a push wakes it. During a burst, consumers so drain batches
/// instead of one item per wake-up, and producers make no wake-up system
/// call; an item pushed during a nap waits for the nap to end.
///
/// ```
/// use std::time::Duration;
/// use isula_mailbox::core::blocking_queue::{BlockingQueue, Pop};
///
/// let queue = BlockingQueue::new();
/// queue.push("a").unwrap();
/// queue.push("b").unwrap();
/// assert_eq!(queue.pop(None), Pop::Item("a"));
/// assert_eq!(queue.pop(Some(Duration::ZERO)), Pop::Item("b"));
/// assert_eq!(queue.pop(Some(Duration::from_millis(5))), Pop::TimedOut);
/// ```
pub struct BlockingQueue<T> {
    state: Mutex<State<T>>,
    not_empty: Condvar,
}

struct State<T> {
    items: VecDeque<T>,
    closed: bool,
    /// Pops past their naps: a push must wake one of them.
    sleepers: usize,
}

/// How long a nap lasts.
pub const NAP: Duration = Duration::from_micros(50);

/// How many naps a waiting pop takes before it needs a push to wake it.
/// None under loom, which has no clock: a timed wait there is an untimed
/// one, and only a sleeper is woken.
pub const NAPS: u32 = if cfg!(loom) { 0 } else { 4 };

/// Buffers at least this large are given back to the allocator once the
/// queue drains, so one burst does not pin its peak memory forever.
const SHRINK_ABOVE: usize = 4096;

impl<T> BlockingQueue<T> {
    /// An empty, open queue. Allocates nothing until the first push.
    pub fn new() -> Self {
        BlockingQueue {
            state: Mutex::new(State {
                items: VecDeque::new(),
                closed: false,
                sleepers: 0,
            }),
            not_empty: Condvar::new(),
        }
    }

    /// Appends `item` and wakes one sleeping `pop`. Gives the item back if
    /// the queue is closed or cannot grow.
    pub fn push(&self, item: T) -> Result<(), PushError<T>> {
        let mut state = self.state.lock();
        if state.closed {
            return Err(PushError::Closed(item));
        }
        if state.items.try_reserve(1).is_err() {
            return Err(PushError::OutOfMemory(item));
        }
        state.items.push_back(item);
        self.wake_one(state);
        Ok(())
    }

    /// Appends `item`, first removing the oldest item if `capacity` items are
    /// already queued; returns the removed one so the caller can dispose of
    /// it outside the lock. Gives the item back if the queue is closed or
    /// cannot grow.
    pub fn push_bounded(&self, item: T, capacity: usize) -> Result<Option<T>, PushError<T>> {
        let mut state = self.state.lock();
        if state.closed {
            return Err(PushError::Closed(item));
        }
        let evicted = if state.items.len() >= capacity.max(1) {
            // Makes room in a buffer that holds `capacity` already.
            state.items.pop_front()
        } else {
            if state.items.try_reserve(1).is_err() {
                return Err(PushError::OutOfMemory(item));
            }
            None
        };
        state.items.push_back(item);
        self.wake_one(state);
        Ok(evicted)
    }

    fn wake_one(&self, state: super::sync::MutexGuard<'_, State<T>>) {
        let wake = state.sleepers > 0;
        drop(state);
        if wake {
            self.not_empty.notify_one();
        }
    }

    /// Removes the oldest item, waiting for one if the queue is empty:
    /// forever when `timeout` is `None`, otherwise at least `timeout`.
    pub fn pop(&self, timeout: Option<Duration>) -> Pop<T> {
        let mut state = self.state.lock();
        // Read the clock only once the queue is found empty.
        let mut deadline: Option<Option<Instant>> = None;
        let mut naps = NAPS;
        loop {
            if let Some(item) = state.items.pop_front() {
                if state.items.is_empty() && state.items.capacity() > SHRINK_ABOVE {
                    state.items = VecDeque::new();
                }
                return Pop::Item(item);
            }
            if state.closed {
                return Pop::Closed;
            }
            // A limit too large to add to the clock is as good as forever.
            let deadline = *deadline
                .get_or_insert_with(|| timeout.and_then(|t| Instant::now().checked_add(t)));
            let now = Instant::now();
            if deadline.is_some_and(|at| now >= at) {
                return Pop::TimedOut;
            }
            if naps > 0 {
                naps -= 1;
                let wake_at = now + NAP;
                let wake_at = deadline.map_or(wake_at, |at| at.min(wake_at));
                state = self.not_empty.wait_until(state, wake_at);
                continue;
            }
            state.sleepers += 1;
            state = match deadline {
                None => self.not_empty.wait(state),
                Some(at) => self.not_empty.wait_until(state, at),
            };
            state.sleepers -= 1;
        }
    }

    /// Removes every queued item and hands them to the caller, in order, so
    /// they can be disposed of without holding the queue's lock.
    pub fn take_all(&self) -> VecDeque<T> {
        std::mem::take(&mut self.state.lock().items)
    }

    /// Closes the queue: every waiting and later `pop` returns
    /// [`Pop::Closed`] at once and every `push` is refused. Returns what was
    /// still queued.
    pub fn close(&self) -> VecDeque<T> {
        let mut state = self.state.lock();
        state.closed = true;
        let items = std::mem::take(&mut state.items);
        drop(state);
        self.not_empty.notify_all();
        items
    }

    /// How many items are queued now.
    pub(crate) fn len(&self) -> usize {
        self.state.lock().items.len()
    }
}

impl<T> Default for BlockingQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::thread;

    #[test]
    fn timed_pop_waits_at_least_the_limit() {
        let queue = BlockingQueue::<u32>::new();
        let start = Instant::now();
        assert_eq!(queue.pop(Some(Duration::from_millis(30))), Pop::TimedOut);
        assert!(start.elapsed() >= Duration::from_millis(30));
    }

    #[test]
    fn huge_limit_means_forever_and_push_wakes_it() {
        let queue = Arc::new(BlockingQueue::new());
        let popper = {
            let queue = queue.clone();
            thread::spawn(move || queue.pop(Some(Duration::MAX)))
        };
        thread::sleep(Duration::from_millis(20));
        queue.push(7).unwrap();
        assert_eq!(popper.join().unwrap(), Pop::Item(7));
    }

    #[test]
    fn close_wakes_waiters_and_refuses_pushes() {
        let queue = Arc::new(BlockingQueue::new());
        queue.push(1).unwrap();
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let queue = queue.clone();
                thread::spawn(move || {
                    let mut last = queue.pop(None);
                    while let Pop::Item(_) = last {
                        last = queue.pop(None);
                    }
                    last
                })
            })
            .collect();
        thread::sleep(Duration::from_millis(20));
        assert!(queue.close().len() <= 1);
        for waiter in waiters {
            assert_eq!(waiter.join().unwrap(), Pop::Closed);
        }
        assert_eq!(queue.push(2), Err(PushError::Closed(2)));
        assert_eq!(queue.pop(None), Pop::Closed);
    }

    #[test]
    fn bounded_push_evicts_the_oldest_and_keeps_order() {
        let queue = BlockingQueue::new();
        for i in 0..5 {
            let evicted = queue.push_bounded(i, 3).unwrap();
            assert_eq!(evicted, if i >= 3 { Some(i - 3) } else { None });
        }
        assert_eq!(Vec::from(queue.take_all()), vec![2, 3, 4]);
    }

    #[test]
    fn drained_large_buffer_is_released() {
        let queue = BlockingQueue::new();
        for i in 0..10_000 {
            queue.push(i).unwrap();
        }
        while let Pop::Item(_) = queue.pop(Some(Duration::ZERO)) {}
        assert_eq!(queue.state.lock().items.capacity(), 0);
    }
}
