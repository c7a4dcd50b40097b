//! A FIFO queue whose `pop` waits for an item, with an optional time limit,
//! and which can be closed for good.

use std::collections::{vec_deque, VecDeque};
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;

use super::sync::{yield_now, AtomicBool, Condvar, Mutex, MutexGuard};

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
/// Two locks: pushes append at the back, pops take from the front, and a
/// pop that finds the front empty swaps the whole back in. Producers and
/// consumers so share a lock once per batch rather than once per item.
///
/// How a pop waits: it yields its CPU, for up to [`YIELDING`], watching a
/// flag the pushes set, so that a hand-off that comes back quickly costs no
/// system call on either side; then it registers as a sleeper and parks. A
/// push wakes one sleeper at once, unless an earlier push already woke one
/// that has not run yet; it makes no system call when none sleeps. Under a
/// burst, consumers drain whatever they find when they run: batching comes
/// from that, never from ignoring a wake-up.
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
    /// Where pops take items from, oldest first. Locked before `back`.
    front: CachePadded<Mutex<VecDeque<T>>>,
    /// Where pushes append, and the waiting protocol.
    back: CachePadded<Mutex<Back<T>>>,
    not_empty: Condvar,
    /// Whether the back holds something or the queue is closed: written
    /// under `back`'s lock, read without it by waiting pops. A hint: what
    /// the pop then finds under the locks decides.
    ready: AtomicBool,
}

struct Back<T> {
    items: VecDeque<T>,
    closed: bool,
    /// Pops parked on `not_empty`.
    sleepers: usize,
    /// Wake-ups sent to sleepers that have not run yet. A push wakes a
    /// sleeper only if one is left unwoken: while a woken consumer is on
    /// its way, later pushes make no system call, and it finds them all
    /// when it runs.
    waking: usize,
    /// Whether nothing was pushed since the queue was made or since a wait
    /// lasted a whole timeout: a pop then parks at once (a new stream, or an
    /// idle one polling for cancellation, has no hand-off to yield for).
    /// Cleared by a push.
    idle: bool,
}

/// Every item a queue held when it was emptied at once, oldest first.
#[derive(Debug)]
pub struct Drained<T> {
    older: VecDeque<T>,
    newer: VecDeque<T>,
}

impl<T> Drained<T> {
    /// How many items.
    pub fn len(&self) -> usize {
        self.older.len() + self.newer.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T> IntoIterator for Drained<T> {
    type Item = T;
    type IntoIter = std::iter::Chain<vec_deque::IntoIter<T>, vec_deque::IntoIter<T>>;

    fn into_iter(self) -> Self::IntoIter {
        self.older.into_iter().chain(self.newer)
    }
}

/// How long a waiting pop yields its CPU before it parks: several futex
/// wake-ups on a VM (~20 µs each), so that a hand-off that comes back within
/// a request/response's think time costs none. A yielding thread gives the
/// CPU to any runnable one and goes behind it: it only takes CPU time that
/// would be idle. It yields rather than spinning on `PAUSE`: a thread that
/// was just woken is often placed on its waker's CPU, where it runs only
/// once the waker gives the CPU up; and on a VM a `PAUSE` loop ends in an
/// exit to the hypervisor.
pub const YIELDING: Duration = Duration::from_micros(150);

/// Buffers at least this large are given back to the allocator once the
/// queue drains, so one burst does not pin its peak memory forever.
const SHRINK_ABOVE: usize = 4096;

impl<T> BlockingQueue<T> {
    /// An empty, open queue. Allocates nothing until the first push.
    pub fn new() -> Self {
        BlockingQueue {
            front: CachePadded::new(Mutex::new(VecDeque::new())),
            back: CachePadded::new(Mutex::new(Back {
                items: VecDeque::new(),
                closed: false,
                sleepers: 0,
                waking: 0,
                idle: true,
            })),
            not_empty: Condvar::new(),
            ready: AtomicBool::new(false),
        }
    }

    /// Appends `item` and wakes one sleeping `pop`. Gives the item back if
    /// the queue is closed or cannot grow.
    pub fn push(&self, item: T) -> Result<(), PushError<T>> {
        let mut back = self.back.lock();
        if back.closed {
            return Err(PushError::Closed(item));
        }
        if back.items.try_reserve(1).is_err() {
            return Err(PushError::OutOfMemory(item));
        }
        back.items.push_back(item);
        self.wake_one(back);
        Ok(())
    }

    /// Appends `item`, first removing the oldest item if `capacity` items are
    /// already queued; returns the removed one so the caller can dispose of
    /// it outside the lock. Gives the item back if the queue is closed or
    /// cannot grow.
    pub fn push_bounded(&self, item: T, capacity: usize) -> Result<Option<T>, PushError<T>> {
        let mut front = self.front.lock();
        let mut back = self.back.lock();
        if back.closed {
            return Err(PushError::Closed(item));
        }
        let full = front.len() + back.items.len() >= capacity.max(1);
        // Unless the oldest goes from the back itself, the back must grow.
        if !(full && front.is_empty()) && back.items.try_reserve(1).is_err() {
            return Err(PushError::OutOfMemory(item));
        }
        let evicted = if full {
            front.pop_front().or_else(|| back.items.pop_front())
        } else {
            None
        };
        back.items.push_back(item);
        drop(front);
        self.wake_one(back);
        Ok(evicted)
    }

    fn wake_one(&self, mut back: MutexGuard<'_, Back<T>>) {
        self.mark_ready(true);
        back.idle = false;
        self.wake_unwoken_sleeper(back);
    }

    /// Wakes a sleeper, if one is left that no wake-up is on its way to,
    /// after letting go of `back`.
    fn wake_unwoken_sleeper(&self, mut back: MutexGuard<'_, Back<T>>) {
        let wake = back.sleepers > back.waking;
        if wake {
            back.waking += 1;
        }
        drop(back);
        if wake {
            self.not_empty.notify_one();
        }
    }

    /// Removes the oldest item, waiting for one if the queue is empty:
    /// forever when `timeout` is `None`, otherwise at least `timeout`.
    pub fn pop(&self, timeout: Option<Duration>) -> Pop<T> {
        // Read the clock only once the queue is found empty.
        let mut deadline: Option<Option<Instant>> = None;
        let mut waited = false;
        loop {
            let mut front = self.front.lock();
            if let Some(item) = front.pop_front() {
                return Pop::Item(Self::taken(front, item));
            }
            let mut back = self.back.lock();
            if !back.items.is_empty() {
                std::mem::swap(&mut *front, &mut back.items);
                if back.items.capacity() > SHRINK_ABOVE {
                    back.items = VecDeque::new();
                }
                self.mark_ready(back.closed);
                // More than this pop takes: another sleeper may share them.
                if front.len() > 1 {
                    self.wake_unwoken_sleeper(back);
                } else {
                    drop(back);
                }
                if let Some(item) = front.pop_front() {
                    return Pop::Item(Self::taken(front, item));
                }
                continue;
            }
            if back.closed {
                return Pop::Closed;
            }
            // Other consumers may take from the front meanwhile.
            drop(front);
            // A limit too large to add to the clock is as good as forever.
            let deadline = *deadline
                .get_or_insert_with(|| timeout.and_then(|t| Instant::now().checked_add(t)));
            if deadline.is_some_and(|at| Instant::now() >= at) {
                // Only a wait that lasted counts: a zero limit is a poll.
                back.idle |= waited;
                return Pop::TimedOut;
            }
            if !waited && !back.idle {
                waited = true;
                drop(back);
                self.yield_until_ready();
                continue;
            }
            waited = true;
            back.sleepers += 1;
            back = match deadline {
                None => self.not_empty.wait(back),
                Some(at) => self.not_empty.wait_until(back, at),
            };
            // Woken, timed out or spurious: either way one sleeper fewer,
            // and one wake-up fewer on its way (if any was).
            back.sleepers -= 1;
            back.waking = back.waking.saturating_sub(1);
        }
    }

    /// Hands out `item`, the front's oldest; a front left empty gives back
    /// a large buffer.
    fn taken(mut front: MutexGuard<'_, VecDeque<T>>, item: T) -> T {
        if front.is_empty() && front.capacity() > SHRINK_ABOVE {
            *front = VecDeque::new();
        }
        item
    }

    /// Sets `ready` (under `back`'s lock), writing only when it changes: a
    /// waiting consumer reads it, and a write per push would move its cache
    /// line between the cores at every item of a burst.
    fn mark_ready(&self, ready: bool) {
        if self.ready.load(Relaxed) != ready {
            self.ready.store(ready, Relaxed);
        }
    }

    /// Waits a little for a push or a close without parking, yielding the
    /// CPU to whichever thread is runnable (the producer, most likely: a
    /// yielding thread goes behind the others), for up to [`YIELDING`].
    fn yield_until_ready(&self) {
        // loom explores what happens while this thread lets the others
        // run once; it has no clock to bound more.
        #[cfg(loom)]
        {
            yield_now();
        }
        #[cfg(not(loom))]
        {
            let until = Instant::now() + YIELDING;
            while !self.ready.load(Relaxed) && Instant::now() < until {
                yield_now();
            }
        }
    }

    /// Removes every queued item and hands them to the caller, in order, so
    /// they can be disposed of without holding the queue's locks.
    pub fn take_all(&self) -> Drained<T> {
        let mut front = self.front.lock();
        let mut back = self.back.lock();
        self.mark_ready(back.closed);
        Drained {
            older: std::mem::take(&mut *front),
            newer: std::mem::take(&mut back.items),
        }
    }

    /// Closes the queue: every waiting and later `pop` returns
    /// [`Pop::Closed`] at once and every `push` is refused. Returns what was
    /// still queued.
    pub fn close(&self) -> Drained<T> {
        let mut front = self.front.lock();
        let mut back = self.back.lock();
        back.closed = true;
        back.waking = back.sleepers;
        self.mark_ready(true);
        let drained = Drained {
            older: std::mem::take(&mut *front),
            newer: std::mem::take(&mut back.items),
        };
        drop(back);
        drop(front);
        self.not_empty.notify_all();
        drained
    }

    /// How many items are queued now.
    pub(crate) fn len(&self) -> usize {
        let front = self.front.lock();
        let back = self.back.lock();
        front.len() + back.items.len()
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
        assert_eq!(
            queue.take_all().into_iter().collect::<Vec<_>>(),
            vec![2, 3, 4]
        );
    }

    #[test]
    fn order_holds_across_the_two_sides_and_a_bounded_push() {
        let queue = BlockingQueue::new();
        for i in 0..3 {
            queue.push(i).unwrap();
        }
        assert_eq!(queue.pop(None), Pop::Item(0)); // 1, 2 now at the front
        queue.push(3).unwrap(); // at the back
        assert_eq!(
            queue.push_bounded(4, 3),
            Ok(Some(1)),
            "the oldest goes, from the front"
        );
        assert_eq!(queue.len(), 3);
        let drained: Vec<_> = queue.take_all().into_iter().collect();
        assert_eq!(drained, vec![2, 3, 4]);
    }

    #[test]
    fn drained_large_buffer_is_released() {
        let queue = BlockingQueue::new();
        for i in 0..10_000 {
            queue.push(i).unwrap();
        }
        while let Pop::Item(_) = queue.pop(Some(Duration::ZERO)) {}
        assert_eq!(queue.front.lock().capacity(), 0);
        assert_eq!(queue.back.lock().items.capacity(), 0);
    }
}
