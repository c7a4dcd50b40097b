//! A FIFO queue whose `pop` waits for an item, with an optional time limit,
//! and which can be closed for good.

use std::collections::{vec_deque, VecDeque};
use std::sync::atomic::Ordering::Relaxed;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;

use super::backoff::{self, ThreadToken, WaitHistory};
use super::error::{Error, Refused};
use super::sync::{AtomicBool, Condvar, Mutex, MutexGuard};
use super::sys::current_cpu;
use super::unwind::catch;

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
/// How a pop waits: it parks on a condition variable, as a plain mutex and
/// condvar queue does, and a push wakes one parked pop at once (unless an
/// earlier push already woke one that has not run yet; a push makes no
/// system call when no pop is parked). Before it parks, a pop spins for a
/// while, watching for an item, only where a spin costs less than the park
/// it saves (see [`backoff`]): when it awaits the reply of the thread it
/// just pushed a request to, or when items have come faster than a wake-up
/// lately; and only when the last producer ran on another CPU (one on this
/// CPU could not push while this pop spins). A hand-off that comes back at
/// once then costs no system call on either side; a consumer fed by a
/// timer or an unrelated thread parks as a condition variable's would. The
/// spin never yields and is bounded; a spinner that loses its CPU parks at
/// once. Under a burst, consumers drain whatever they find when they run:
/// batching comes from that, never from ignoring a wake-up.
///
/// ```
/// use std::time::Duration;
/// use isula_mailbox_core::blocking_queue::{BlockingQueue, Pop};
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
    front: CachePadded<Mutex<Front<T>>>,
    /// Where pushes append, and the parked pops.
    back: CachePadded<Mutex<Back<T>>>,
    not_empty: Condvar,
    /// Whether the back holds something or the queue is closed: written
    /// under `back`'s lock, read without it by spinning pops. A hint: what
    /// the pop then finds under the locks decides.
    back_ready: AtomicBool,
    /// Whether the front holds something: written under `front`'s lock,
    /// read without it by spinning pops (a pop that swapped a batch in
    /// leaves the rest there for the others).
    front_ready: AtomicBool,
}

struct Front<T> {
    items: VecDeque<T>,
    /// How long pops waited lately: whether the next one spins.
    waits: WaitHistory,
}

struct Back<T> {
    items: VecDeque<T>,
    closed: bool,
    /// The CPU the last push that found the back empty ran on: where the
    /// producer a waiting pop would spin for was running.
    pushed_on: Option<u32>,
    /// The thread of that push: whether a waiting pop awaits its reply.
    pushed_by: ThreadToken,
    /// The thread that last waited for an item here: whom a push hands its
    /// item to.
    consumer: ThreadToken,
    /// Pops parked on `not_empty`.
    parked: usize,
    /// Wake-ups sent to parked pops that have not run yet. A push wakes a
    /// parked pop only if one is left unwoken: while a woken consumer is on
    /// its way, later pushes make no system call, and it finds them all
    /// when it runs.
    waking: usize,
    /// The task of a pop awaited asynchronously ([`BlockingQueue::poll_pop`])
    /// that found the queue empty: the next push or the close wakes it, as
    /// it wakes a parked pop. One task at a time: a second one that waits
    /// takes its place and wakes the first, which polls again.
    task: Option<Waker>,
}

/// A task to wake, taken from the queue under its lock and woken when this
/// is dropped. A caller that holds a lock of its own keeps it until it let
/// go (a waker is someone else's code). Empty for every queue no task
/// awaits.
#[derive(Debug, Default)]
pub struct Wake(Option<Waker>);

impl Wake {
    /// Whether there is a task to wake.
    pub fn is_some(&self) -> bool {
        self.0.is_some()
    }
}

impl Drop for Wake {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            // An executor's code: a panic there stops here.
            catch(move || task.wake());
        }
    }
}

/// Every item a queue held when it was emptied at once, oldest first.
#[derive(Debug)]
pub struct Drained<T> {
    older: VecDeque<T>,
    newer: VecDeque<T>,
}

impl<T> Drained<T> {
    /// How many items.
    pub(crate) fn len(&self) -> usize {
        self.older.len() + self.newer.len()
    }
}

impl<T> IntoIterator for Drained<T> {
    type Item = T;
    type IntoIter = std::iter::Chain<vec_deque::IntoIter<T>, vec_deque::IntoIter<T>>;

    fn into_iter(self) -> Self::IntoIter {
        self.older.into_iter().chain(self.newer)
    }
}

/// Buffers at least this large are given back to the allocator once the
/// queue drains, so one burst does not pin its peak memory forever.
const SHRINK_ABOVE: usize = 4096;

/// One pop's wait, from when it first found the queue empty.
struct Wait {
    started: Instant,
    /// When the pop gives up; `None`: never.
    deadline: Option<Instant>,
    /// Whether it has spun or parked already: it spins at most once, and
    /// only before it first parks.
    has_waited: bool,
}

impl Wait {
    fn new(timeout: Option<Duration>) -> Self {
        let started = Instant::now();
        Wait {
            started,
            // A limit too large to add to the clock is as good as forever.
            deadline: timeout.and_then(|limit| started.checked_add(limit)),
            has_waited: false,
        }
    }

    fn is_over(&self) -> bool {
        self.deadline.is_some_and(|at| Instant::now() >= at)
    }
}

impl<T> BlockingQueue<T> {
    /// An empty, open queue. Allocates nothing until the first push.
    pub fn new() -> Self {
        BlockingQueue {
            front: CachePadded::new(Mutex::new(Front {
                items: VecDeque::new(),
                waits: WaitHistory::new(),
            })),
            back: CachePadded::new(Mutex::new(Back {
                items: VecDeque::new(),
                closed: false,
                pushed_on: None,
                pushed_by: ThreadToken::NOBODY,
                consumer: ThreadToken::NOBODY,
                parked: 0,
                waking: 0,
                task: None,
            })),
            not_empty: Condvar::new(),
            back_ready: AtomicBool::new(false),
            front_ready: AtomicBool::new(false),
        }
    }

    /// Appends `item` and wakes one parked `pop`; a task awaiting
    /// [`poll_pop`](Self::poll_pop) comes back as the [`Wake`], for the
    /// caller to drop once it holds no lock. Gives the item back if the
    /// queue is closed or cannot grow.
    pub fn push(&self, item: T) -> Result<Wake, Refused<T>> {
        let mut back = self.back.lock();
        if back.closed {
            return Err(Refused::new(Error::Closed, item));
        }
        if back.items.try_reserve(1).is_err() {
            return Err(Refused::new(Error::OutOfMemory, item));
        }
        Self::note_producer(&mut back);
        back.items.push_back(item);
        set_hint(&self.back_ready, true);
        Ok(self.wake_one(back))
    }

    /// Who pushes, for the pops that wait: where it runs when it starts a
    /// batch, and whom this thread has handed an item to.
    fn note_producer(back: &mut Back<T>) {
        if back.items.is_empty() {
            back.pushed_on = current_cpu();
            back.pushed_by = ThreadToken::this_thread();
        }
        ThreadToken::handed_to(back.consumer);
    }

    /// Appends `item`, first removing the oldest item if `capacity` items are
    /// already queued; returns the removed one so the caller can dispose of
    /// it outside the lock, with the task to wake (see [`push`](Self::push)).
    /// Gives the item back if the queue is closed or cannot grow.
    pub fn push_bounded(&self, item: T, capacity: usize) -> Result<(Option<T>, Wake), Refused<T>> {
        let mut front = self.front.lock();
        let mut back = self.back.lock();
        if back.closed {
            return Err(Refused::new(Error::Closed, item));
        }
        let full = front.items.len() + back.items.len() >= capacity.max(1);
        // Unless the oldest goes from the back itself, the back must grow.
        if !(full && front.items.is_empty()) && back.items.try_reserve(1).is_err() {
            return Err(Refused::new(Error::OutOfMemory, item));
        }
        let evicted = if full {
            self.take_front(&mut front)
                .or_else(|| back.items.pop_front())
        } else {
            None
        };
        Self::note_producer(&mut back);
        back.items.push_back(item);
        set_hint(&self.back_ready, true);
        drop(front);
        Ok((evicted, self.wake_one(back)))
    }

    /// Wakes a parked pop, if one is left that no wake-up is on its way to,
    /// after letting go of `back`; hands back the awaiting task, if any.
    fn wake_one(&self, mut back: MutexGuard<'_, Back<T>>) -> Wake {
        let wake = back.parked > back.waking;
        if wake {
            back.waking += 1;
        }
        let task = Wake(back.task.take());
        drop(back);
        if wake {
            self.not_empty.notify_one();
        }
        task
    }

    /// Removes the oldest item, waiting for one if the queue is empty:
    /// forever when `timeout` is `None`, otherwise at least `timeout`.
    pub fn pop(&self, timeout: Option<Duration>) -> Pop<T> {
        // Made (and the clock read) only once the queue is found empty.
        let mut wait: Option<Wait> = None;
        // Taken now: only the pop right after a push can await its reply.
        let handed_to = ThreadToken::take_handed_to();
        loop {
            // Declared first, dropped last: a task woken once no lock is held.
            let task;
            let mut front = self.front.lock();
            if let Some(item) = self.take_front(&mut front) {
                return Pop::Item(self.hand_out(front, item, wait));
            }
            let mut back = self.back.lock();
            if !back.items.is_empty() {
                task = self.swap_in(&mut front, back);
                if let Some(item) = self.take_front(&mut front) {
                    return Pop::Item(self.hand_out(front, item, wait));
                }
                drop(task);
                continue;
            }
            if back.closed {
                return Pop::Closed;
            }
            let wait = wait.get_or_insert_with(|| Wait::new(timeout));
            if wait.is_over() {
                // A wait that lasted its whole limit was long; a zero
                // limit is a poll, not a wait.
                if wait.has_waited {
                    front.waits.record(timeout.unwrap_or_default());
                }
                return Pop::TimedOut;
            }
            let spin = if wait.has_waited {
                None
            } else {
                Self::spin_budget(&front, &back, handed_to)
            };
            back.consumer = ThreadToken::this_thread();
            // Other consumers may take from the front meanwhile.
            drop(front);
            wait.has_waited = true;
            if let Some(budget) = spin {
                drop(back);
                backoff::spin(budget, || {
                    self.back_ready.load(Relaxed) || self.front_ready.load(Relaxed)
                });
                continue;
            }
            back.parked += 1;
            back = match wait.deadline {
                None => self.not_empty.wait(back),
                Some(at) => self.not_empty.wait_until(back, at),
            };
            // Woken, timed out or spurious: either way one parked pop fewer,
            // and one wake-up fewer on its way (if any was).
            back.parked -= 1;
            back.waking = back.waking.saturating_sub(1);
        }
    }

    /// Moves the back's batch to the front, which the caller found empty;
    /// when there is more than one item, another consumer may share them: a
    /// parked pop is woken, and an awaiting task handed back.
    fn swap_in(&self, front: &mut Front<T>, mut back: MutexGuard<'_, Back<T>>) -> Wake {
        std::mem::swap(&mut front.items, &mut back.items);
        if back.items.capacity() > SHRINK_ABOVE {
            back.items = VecDeque::new();
        }
        set_hint(&self.back_ready, back.closed);
        if front.items.len() > 1 {
            set_hint(&self.front_ready, true);
            self.wake_one(back)
        } else {
            Wake::default()
        }
    }

    /// The asynchronous [`pop`](Self::pop), for a `Future`: the oldest item
    /// now, or [`Pop::Closed`], or else `Pending`, the task of `cx` to be
    /// woken by the next push or the close (which wake a parked pop the
    /// same way). It never spins and never parks the thread.
    pub fn poll_pop(&self, cx: &mut Context<'_>) -> Poll<Pop<T>> {
        // Declared first, dropped last: woken once no lock is held.
        let task;
        let mut front = self.front.lock();
        if let Some(item) = self.take_front(&mut front) {
            return Poll::Ready(Pop::Item(self.hand_out(front, item, None)));
        }
        let mut back = self.back.lock();
        if !back.items.is_empty() {
            task = self.swap_in(&mut front, back);
            let item = self.take_front(&mut front);
            drop(task);
            return Poll::Ready(match item {
                Some(item) => Pop::Item(self.hand_out(front, item, None)),
                None => Pop::Closed, // cannot be: the batch was not empty
            });
        }
        if back.closed {
            return Poll::Ready(Pop::Closed);
        }
        // Another task that waited here is woken to poll again: two tasks
        // never both wait for a wake-up only one of them gets.
        task = match &back.task {
            Some(waiting) if waiting.will_wake(cx.waker()) => Wake::default(),
            _ => Wake(back.task.replace(cx.waker().clone())),
        };
        drop(back);
        drop(front);
        drop(task);
        Poll::Pending
    }

    /// How long a pop that found the queue empty should spin before it
    /// parks, if at all (see [`backoff`]): for the reply of the thread this
    /// one handed an item to (`handed_to`), or for a stream of items, as the
    /// recent waits say; and only if the last producer ran on another CPU
    /// (one on this CPU, or woken onto it, could not run while this pop
    /// spins). Under loom, always: the model explores the spin.
    fn spin_budget(front: &Front<T>, back: &Back<T>, handed_to: ThreadToken) -> Option<Duration> {
        if cfg!(loom) {
            return Some(backoff::REPLY_SPIN);
        }
        let reply = ThreadToken::is_reply(handed_to, back.pushed_by);
        let budget = front.waits.spin_budget(reply)?;
        back.pushed_on
            .is_some_and(|cpu| Some(cpu) != current_cpu())
            .then_some(budget)
    }

    /// The front's oldest item, keeping `front_ready` true while more are
    /// left there.
    fn take_front(&self, front: &mut Front<T>) -> Option<T> {
        let item = front.items.pop_front()?;
        if front.items.is_empty() {
            set_hint(&self.front_ready, false);
        }
        Some(item)
    }

    /// Hands out `item`, taken from the front: records how long the pop
    /// waited, if it did, and gives back a large buffer the front left
    /// empty.
    fn hand_out(&self, mut front: MutexGuard<'_, Front<T>>, item: T, wait: Option<Wait>) -> T {
        if let Some(wait) = wait {
            front.waits.record(wait.started.elapsed());
        }
        if front.items.is_empty() && front.items.capacity() > SHRINK_ABOVE {
            front.items = VecDeque::new();
        }
        item
    }

    /// Removes every queued item and hands them to the caller, in order, so
    /// they can be disposed of without holding the queue's locks.
    pub fn take_all(&self) -> Drained<T> {
        let mut front = self.front.lock();
        let mut back = self.back.lock();
        set_hint(&self.back_ready, back.closed);
        set_hint(&self.front_ready, false);
        Drained {
            older: std::mem::take(&mut front.items),
            newer: std::mem::take(&mut back.items),
        }
    }

    /// Closes the queue: every waiting and later `pop` returns
    /// [`Pop::Closed`] at once and every `push` is refused. Returns what was
    /// still queued.
    pub fn close(&self) -> Drained<T> {
        let mut front = self.front.lock();
        let mut back = self.back.lock();
        let drained = Drained {
            older: std::mem::take(&mut front.items),
            newer: std::mem::take(&mut back.items),
        };
        set_hint(&self.front_ready, false);
        self.mark_closed(front, back);
        drained
    }

    /// Closes the queue but keeps what it holds: pops take the items still
    /// queued, then return [`Pop::Closed`]; pushes are refused at once.
    pub fn close_keeping(&self) {
        let front = self.front.lock();
        let back = self.back.lock();
        self.mark_closed(front, back);
    }

    /// Marks the queue closed and wakes every waiting pop and the awaiting
    /// task, once its locks are let go.
    fn mark_closed(&self, front: MutexGuard<'_, Front<T>>, mut back: MutexGuard<'_, Back<T>>) {
        back.closed = true;
        back.waking = back.parked;
        set_hint(&self.back_ready, true);
        let task = Wake(back.task.take());
        drop(back);
        drop(front);
        self.not_empty.notify_all();
        drop(task);
    }

    /// How many items are queued now.
    pub(crate) fn len(&self) -> usize {
        let front = self.front.lock();
        let back = self.back.lock();
        front.items.len() + back.items.len()
    }
}

/// Sets a hint that spinning pops read (under the lock that guards what it
/// stands for), writing only when it changes: a write per item would move
/// its cache line between the cores at every item of a burst.
fn set_hint(hint: &AtomicBool, value: bool) {
    if hint.load(Relaxed) != value {
        hint.store(value, Relaxed);
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
        assert_eq!(queue.push(2).err(), Some(Refused::new(Error::Closed, 2)));
        assert_eq!(queue.pop(None), Pop::Closed);
    }

    #[test]
    fn bounded_push_evicts_the_oldest_and_keeps_order() {
        let queue = BlockingQueue::new();
        for i in 0..5 {
            let (evicted, _) = queue.push_bounded(i, 3).unwrap();
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
            queue.push_bounded(4, 3).map(|(evicted, _)| evicted).ok(),
            Some(Some(1)),
            "the oldest goes, from the front"
        );
        assert_eq!(queue.len(), 3);
        let drained: Vec<_> = queue.take_all().into_iter().collect();
        assert_eq!(drained, vec![2, 3, 4]);
    }

    /// What a spinning pop watches: an item left in the front by another
    /// consumer counts as much as one pushed at the back.
    #[test]
    fn the_hints_follow_both_sides() {
        let queue = BlockingQueue::new();
        let ready =
            |q: &BlockingQueue<u32>| (q.back_ready.load(Relaxed), q.front_ready.load(Relaxed));
        assert_eq!(ready(&queue), (false, false));
        queue.push(1).unwrap();
        queue.push(2).unwrap();
        queue.push(3).unwrap();
        assert_eq!(ready(&queue), (true, false));
        assert_eq!(queue.pop(None), Pop::Item(1)); // swapped in: 2, 3 left
        assert_eq!(ready(&queue), (false, true));
        assert_eq!(queue.pop(None), Pop::Item(2));
        assert_eq!(ready(&queue), (false, true));
        assert_eq!(queue.pop(None), Pop::Item(3));
        assert_eq!(ready(&queue), (false, false));
        queue.push(4).unwrap();
        drop(queue.take_all());
        assert_eq!(ready(&queue), (false, false));
        drop(queue.close());
        assert_eq!(ready(&queue), (true, false), "closed: a spinner must look");
    }

    /// A pop spins only for a producer on another CPU, and only once the
    /// queue's waits have been short: for a reply while they were within a
    /// wake-up, for anything else while they were far shorter; a new queue
    /// parks at once.
    #[test]
    fn a_pop_spins_only_when_a_spin_pays() {
        let queue = BlockingQueue::<u32>::new();
        let peer = std::thread::spawn(ThreadToken::this_thread).join().unwrap();
        let decide = |pushed_on: Option<u32>, waited_us: Option<u64>, reply: bool| {
            let mut front = queue.front.lock();
            let mut back = queue.back.lock();
            front.waits = WaitHistory::new();
            for _ in 0..waited_us.map_or(0, |_| 32) {
                front
                    .waits
                    .record(Duration::from_micros(waited_us.unwrap()));
            }
            back.pushed_on = pushed_on;
            back.pushed_by = peer;
            let handed_to = if reply { peer } else { ThreadToken::NOBODY };
            BlockingQueue::spin_budget(&front, &back, handed_to)
        };
        let here = current_cpu();
        let elsewhere = here.map(|cpu| cpu.wrapping_add(1));
        assert_eq!(decide(elsewhere, None, true), None, "no history");
        assert_eq!(decide(None, Some(0), true), None, "no producer known");
        assert_eq!(
            decide(here, Some(0), true),
            None,
            "the producer runs on this CPU"
        );
        assert_eq!(decide(elsewhere, Some(30), false), None, "a timer's item");
        assert_eq!(decide(elsewhere, Some(100), true), None, "a slow reply");
        if here.is_some() {
            assert_eq!(decide(elsewhere, Some(30), true), Some(backoff::REPLY_SPIN));
            assert!(decide(elsewhere, Some(0), false).is_some(), "a stream");
        }
    }

    /// A zero limit is a poll: however often, it never makes a queue spin.
    #[test]
    fn polls_are_not_waits() {
        let queue = BlockingQueue::<u32>::new();
        for _ in 0..100 {
            assert_eq!(queue.pop(Some(Duration::ZERO)), Pop::TimedOut);
        }
        assert_eq!(queue.front.lock().waits, WaitHistory::new());
    }

    /// A waker that counts its wake-ups.
    struct CountingWaker(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Relaxed);
        }
    }

    fn counting_waker() -> (Arc<CountingWaker>, Waker) {
        let count = Arc::new(CountingWaker(std::sync::atomic::AtomicUsize::new(0)));
        (Arc::clone(&count), Waker::from(count))
    }

    /// An awaited pop is woken by the push that wakes a parked one, once
    /// the push has let go of the queue; then it gets the item.
    #[test]
    fn an_awaited_pop_is_woken_by_the_push_and_by_the_close() {
        let queue = BlockingQueue::new();
        let (count, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        assert_eq!(queue.poll_pop(&mut cx), Poll::Pending);
        let wake = queue.push(5).unwrap();
        assert_eq!(
            count.0.load(Relaxed),
            0,
            "not while the caller may hold a lock"
        );
        drop(wake);
        assert_eq!(count.0.load(Relaxed), 1);
        assert_eq!(queue.poll_pop(&mut cx), Poll::Ready(Pop::Item(5)));
        assert_eq!(queue.poll_pop(&mut cx), Poll::Pending);
        drop(queue.close());
        assert_eq!(count.0.load(Relaxed), 2, "the close wakes it too");
        assert_eq!(queue.poll_pop(&mut cx), Poll::Ready(Pop::Closed));
    }

    /// Two tasks awaiting one queue: the second takes the first's place
    /// and wakes it, so that neither waits for a wake-up only one gets.
    #[test]
    fn a_second_awaiting_task_wakes_the_first() {
        let queue = BlockingQueue::<u32>::new();
        let (first, first_waker) = counting_waker();
        let (second, second_waker) = counting_waker();
        assert!(queue
            .poll_pop(&mut Context::from_waker(&first_waker))
            .is_pending());
        assert!(queue
            .poll_pop(&mut Context::from_waker(&second_waker))
            .is_pending());
        assert_eq!(first.0.load(Relaxed), 1);
        drop(queue.push(1).unwrap());
        assert_eq!(second.0.load(Relaxed), 1);
    }

    /// Closed but kept: pops take what is left, then return `Closed`;
    /// pushes are refused.
    #[test]
    fn a_queue_closed_keeping_hands_out_what_it_held() {
        let queue = BlockingQueue::new();
        drop(queue.push(1).unwrap());
        drop(queue.push(2).unwrap());
        queue.close_keeping();
        assert!(queue.push(3).is_err());
        assert_eq!(queue.pop(None), Pop::Item(1));
        assert_eq!(queue.pop(Some(Duration::ZERO)), Pop::Item(2));
        assert_eq!(queue.pop(None), Pop::Closed);
    }

    #[test]
    fn drained_large_buffer_is_released() {
        let queue = BlockingQueue::new();
        for i in 0..10_000 {
            queue.push(i).unwrap();
        }
        while let Pop::Item(_) = queue.pop(Some(Duration::ZERO)) {}
        assert_eq!(queue.front.lock().items.capacity(), 0);
        assert_eq!(queue.back.lock().items.capacity(), 0);
    }
}
