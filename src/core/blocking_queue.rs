//! A FIFO queue whose `pop` waits for an item, with an optional time limit,
//! and which can be closed for good.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use std::sync::atomic::Ordering::Relaxed;

use super::sync::{yield_now, AtomicBool, Backoff, Condvar, Mutex, MutexGuard};

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
/// How a pop waits: it first spins a few microseconds (backing off, and
/// yielding its CPU towards the end, as crossbeam-channel's receivers do),
/// watching a flag the pushes set, so that a hand-off that comes quickly
/// costs no system call on either side. Then it registers as a sleeper and
/// parks on a condition variable; a push wakes one sleeper at once, and
/// makes no system call when none sleeps. Under a burst, consumers drain
/// whatever they find when they run: batching comes from that, never from
/// ignoring a wake-up.
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
    /// Whether a pop would find something (an item, or the queue closed):
    /// written under the lock, read without it by spinning pops. A hint:
    /// what the pop then finds under the lock decides.
    ready: AtomicBool,
}

struct State<T> {
    items: VecDeque<T>,
    closed: bool,
    /// Pops parked on `not_empty`.
    sleepers: usize,
    /// Wake-ups sent to sleepers that have not run yet. A push wakes a
    /// sleeper only if one is left unwoken: while a woken consumer is on
    /// its way, later pushes make no system call, and it finds them all
    /// when it runs.
    waking: usize,
    /// Whether the last wait ended with nothing pushed for a whole timeout:
    /// the next pop parks at once (an idle stream polling for cancellation
    /// spins for nothing). Cleared by a push.
    idle: bool,
}

/// How many rounds a waiting pop spins before it yields: `Backoff::spin`
/// doubles each round, 127 spin-loop hints in all (a few microseconds).
const SPINS: u32 = 7;

/// How long a waiting pop then yields before it parks: about two futex
/// wake-ups on a VM, so that a hand-off that comes back within that costs
/// no wake-up.
const YIELDING: Duration = Duration::from_micros(50);

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
                waking: 0,
                idle: false,
            }),
            not_empty: Condvar::new(),
            ready: AtomicBool::new(false),
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

    fn wake_one(&self, mut state: MutexGuard<'_, State<T>>) {
        self.ready.store(true, Relaxed);
        state.idle = false;
        let wake = state.sleepers > state.waking;
        if wake {
            state.waking += 1;
        }
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
        let mut waited = false;
        loop {
            if let Some(item) = state.items.pop_front() {
                if state.items.is_empty() {
                    self.ready.store(state.closed, Relaxed);
                    if state.items.capacity() > SHRINK_ABOVE {
                        state.items = VecDeque::new();
                    }
                }
                return Pop::Item(item);
            }
            if state.closed {
                return Pop::Closed;
            }
            // A limit too large to add to the clock is as good as forever.
            let deadline = *deadline
                .get_or_insert_with(|| timeout.and_then(|t| Instant::now().checked_add(t)));
            if deadline.is_some_and(|at| Instant::now() >= at) {
                // Only a wait that lasted counts: a zero limit is a poll.
                state.idle |= waited;
                return Pop::TimedOut;
            }
            if !waited && !state.idle {
                waited = true;
                drop(state);
                self.spin_until_ready();
                state = self.state.lock();
                continue;
            }
            waited = true;
            state.sleepers += 1;
            state = match deadline {
                None => self.not_empty.wait(state),
                Some(at) => self.not_empty.wait_until(state, at),
            };
            // Woken, timed out or spurious: either way one sleeper fewer,
            // and one wake-up fewer on its way (if any was).
            state.sleepers -= 1;
            state.waking = state.waking.saturating_sub(1);
        }
    }

    /// Waits a little for a push or a close without parking: spins a few
    /// microseconds (`Backoff::spin`), then yields its CPU, for up to
    /// [`YIELDING`], to whichever thread is runnable (the producer, most
    /// likely: a yielding thread goes behind the others). A consumer that
    /// keeps up with its producer so takes its items without either making
    /// a system call, and a burst reaches it in batches.
    fn spin_until_ready(&self) {
        let backoff = Backoff::new();
        for _ in 0..SPINS {
            if self.ready.load(Relaxed) {
                return;
            }
            backoff.spin();
        }
        let until = Instant::now() + YIELDING;
        while !self.ready.load(Relaxed) && Instant::now() < until {
            yield_now();
        }
    }

    /// Removes every queued item and hands them to the caller, in order, so
    /// they can be disposed of without holding the queue's lock.
    pub fn take_all(&self) -> VecDeque<T> {
        let mut state = self.state.lock();
        self.ready.store(state.closed, Relaxed);
        std::mem::take(&mut state.items)
    }

    /// Closes the queue: every waiting and later `pop` returns
    /// [`Pop::Closed`] at once and every `push` is refused. Returns what was
    /// still queued.
    pub fn close(&self) -> VecDeque<T> {
        let mut state = self.state.lock();
        state.closed = true;
        state.waking = state.sleepers;
        self.ready.store(true, Relaxed);
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
