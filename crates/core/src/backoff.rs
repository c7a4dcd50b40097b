//! How a pop that finds its queue empty waits: whether it spins before it
//! parks, for how long, and the spin itself.
//!
//! Parking costs a wake-up: the waker's system call, the sleeper's, and
//! the time until the woken thread runs (tens of microseconds when its CPU
//! must first leave a halt, as a VM's idle vCPU does). A spin saves that
//! only when the item comes within it, and otherwise costs the host the
//! whole spin on top of the park. The waits alone cannot tell which: a
//! producer asleep on a timer that fires every 30 µs and a peer that
//! answers a request in 30 µs look the same. What tells them apart is
//! whether the producer is running for this consumer right now, the rule
//! the kernel's own optimistic spinning follows (spin while the lock owner
//! is on a CPU). A pop spins in two cases only:
//!
//! - **A reply.** This thread's last act was a push to a queue whose
//!   consumer is the very thread that feeds the queue it now waits on: it
//!   handed a request to its peer, which is running (it was spinning) or
//!   was just woken by that push, and the item is that peer's answer. It
//!   spins up to [`REPLY_SPIN`], about what waking a thread on an idle CPU
//!   takes, if its recent waits were that short.
//! - **A stream.** Items came faster than a wake-up lately (the recent
//!   waits average under [`STREAM_SPIN`]): it spins up to twice that.
//!
//! Anything else parks at once, as a condition variable does: a consumer
//! fed by a timer, by an unrelated thread, or after an idle gap costs what
//! a condition variable's wait costs, at every arrival rate.
//!
//! The spin never yields (on a busy host a yield hands the CPU to another
//! thread for a whole time slice), is bounded in iterations and in time,
//! and ends at once when a round took far longer than its iterations
//! should: the spinner lost its CPU to another thread meanwhile, and
//! parking gives it back.

#[cfg(not(loom))]
use std::cell::Cell;
#[cfg(not(loom))]
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;
#[cfg(not(loom))]
use std::time::Instant;

/// How long the pops of one queue have waited lately, as a moving average:
/// whether the next wait is likely to end within a spin.
///
/// ```
/// use std::time::Duration;
/// use isula_mailbox_core::backoff::WaitHistory;
///
/// let mut history = WaitHistory::new();
/// assert_eq!(history.spin_budget(true), None, "a new queue has no hand-off to spin for");
/// for _ in 0..32 {
///     history.record(Duration::from_micros(20));
/// }
/// assert!(history.spin_budget(true).is_some(), "a reply within 20 µs: spin");
/// assert_eq!(history.spin_budget(false), None, "items every 20 µs, from a timer: park");
/// history.record(Duration::from_millis(5));
/// assert_eq!(history.spin_budget(true), None, "one long wait is enough to stop spinning");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitHistory {
    /// Moving average of the waits, in µs, at most [`Self::LONGEST_US`].
    average_us: u32,
}

/// The longest a pop spins for a reply (see the module's head), and the
/// longest its recent waits may be for it to spin: about what it takes to
/// wake a thread whose CPU has gone idle (a VM's halted vCPU included), so
/// that the answer of a peer that is just being woken is caught.
pub const REPLY_SPIN: Duration = Duration::from_micros(50);

/// How short the recent waits must be for a pop to spin for an item that
/// is not a reply: well under what a park and a wake-up cost (a futex
/// wake-up measures 8–18 µs on the benchmarks' hosts, c-bench/primitives.c),
/// so that the spin costs less than the park it saves even when it
/// misses. It spins for twice this at most.
pub const STREAM_SPIN: Duration = Duration::from_micros(4);

impl WaitHistory {
    /// The longest wait counted, in µs: after a long wait, a queue spins
    /// again after a dozen short ones, however long the long one was.
    const LONGEST_US: u32 = 1_000;

    /// No history: as if the last wait had been long, so that a new queue
    /// parks at once (a new stream has no hand-off to spin for).
    pub const fn new() -> Self {
        WaitHistory {
            average_us: Self::LONGEST_US,
        }
    }

    /// How long the next wait should spin before it parks, if at all: for
    /// a reply (`reply`: see the module's head), while the recent waits
    /// were within [`REPLY_SPIN`]; otherwise, while they were within
    /// [`STREAM_SPIN`].
    pub fn spin_budget(&self, reply: bool) -> Option<Duration> {
        let (within, budget) = if reply {
            (REPLY_SPIN, REPLY_SPIN)
        } else {
            (STREAM_SPIN, 2 * STREAM_SPIN)
        };
        (u128::from(self.average_us) < within.as_micros()).then_some(budget)
    }

    /// Adds one wait: the average moves a quarter of the way to it.
    pub fn record(&mut self, waited: Duration) {
        let sample = u32::try_from(waited.as_micros())
            .unwrap_or(u32::MAX)
            .min(Self::LONGEST_US);
        let average = self.average_us;
        self.average_us = if sample >= average {
            average + (sample - average).div_ceil(4)
        } else {
            average - (average - sample).div_ceil(4)
        };
    }
}

impl Default for WaitHistory {
    fn default() -> Self {
        Self::new()
    }
}

/// A thread, as queues remember who pushed and who waited: a number of its
/// own, never 0 (0 is "nobody").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct ThreadToken(u64);

#[cfg(not(loom))]
thread_local! {
    /// This thread's token, given on first use. Const-initialised, without
    /// a destructor: reading it never allocates.
    static THIS_THREAD: Cell<u64> = const { Cell::new(0) };
    /// The consumer of the queue this thread pushed to last, until its next
    /// pop: the thread whose answer that pop may be waiting for.
    static HANDED_TO: Cell<ThreadToken> = const { Cell::new(ThreadToken(0)) };
}

impl ThreadToken {
    /// Nobody: a queue nobody pushed to, or waited on, yet.
    pub(crate) const NOBODY: ThreadToken = ThreadToken(0);

    /// The calling thread.
    #[cfg(not(loom))]
    pub(crate) fn this_thread() -> ThreadToken {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        THIS_THREAD.with(|token| {
            if token.get() == 0 {
                token.set(NEXT.fetch_add(1, Relaxed));
            }
            ThreadToken(token.get())
        })
    }

    /// Under loom threads are models: every pop may spin (see
    /// `spin_budget`'s caller), no one needs telling apart.
    #[cfg(loom)]
    pub(crate) fn this_thread() -> ThreadToken {
        ThreadToken::NOBODY
    }

    /// Records that this thread just pushed to a queue whose consumer is
    /// `consumer`.
    pub(crate) fn handed_to(consumer: ThreadToken) {
        #[cfg(not(loom))]
        HANDED_TO.set(consumer);
        #[cfg(loom)]
        let _ = consumer;
    }

    /// The consumer of the queue this thread pushed to last, if it has not
    /// popped since; forgotten here: only the pop right after a push can
    /// await its reply.
    pub(crate) fn take_handed_to() -> ThreadToken {
        #[cfg(not(loom))]
        return HANDED_TO.replace(ThreadToken::NOBODY);
        #[cfg(loom)]
        ThreadToken::NOBODY
    }

    /// Whether the item a pop waits for is `producer`'s reply to this
    /// thread, which just handed it something: `handed_to` (from
    /// [`take_handed_to`](Self::take_handed_to)) is that producer.
    pub(crate) fn is_reply(handed_to: ThreadToken, producer: ThreadToken) -> bool {
        producer != ThreadToken::NOBODY && handed_to == producer
    }
}

/// Round `n` of a spin polls `2^min(n, 6)` times with a CPU pause hint
/// between two polls (as crossbeam's `Backoff`), then reads the clock.
const LONGEST_ROUND: u32 = 6;

/// No spin polls more than this many rounds (at most 64 polls each),
/// whatever the clock says.
const MAX_ROUNDS: u32 = 128;

/// A round that takes longer than this was not spent spinning: the thread
/// lost its CPU meanwhile (64 pauses take a few microseconds at most).
#[cfg(not(loom))]
const PREEMPTED: Duration = Duration::from_micros(20);

/// Polls `ready` until it says true or `budget` is spent; whether it did.
#[cfg(not(loom))]
pub(crate) fn spin(budget: Duration, ready: impl Fn() -> bool) -> bool {
    let started = Instant::now();
    let mut round_started = started;
    for round in 0..MAX_ROUNDS {
        for _ in 0..1u32 << round.min(LONGEST_ROUND) {
            if ready() {
                return true;
            }
            std::hint::spin_loop();
        }
        let now = Instant::now();
        if now.duration_since(round_started) > PREEMPTED || now.duration_since(started) > budget {
            break;
        }
        round_started = now;
    }
    ready()
}

/// Under loom a spin is one look after letting the other threads run: the
/// model explores what happens meanwhile, and has no clock to bound more.
#[cfg(loom)]
pub(crate) fn spin(_budget: Duration, ready: impl Fn() -> bool) -> bool {
    super::sync::yield_now();
    ready()
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn short_waits_bring_the_spin_back_after_a_long_one() {
        let mut history = WaitHistory::new();
        let mut short_waits = 0;
        while history.spin_budget(true).is_none() {
            history.record(Duration::from_micros(2));
            short_waits += 1;
        }
        // From the longest average, a quarter of the way down at each wait.
        assert!((8..=16).contains(&short_waits), "{short_waits}");
    }

    #[test]
    fn waits_around_the_spin_decide_by_their_average() {
        let mut history = WaitHistory::new();
        for _ in 0..64 {
            history.record(Duration::from_micros(30));
        }
        assert_eq!(history.spin_budget(true), Some(REPLY_SPIN), "{history:?}");
        assert_eq!(history.spin_budget(false), None, "{history:?}");
        history.record(Duration::from_micros(200));
        assert_eq!(history.spin_budget(true), None, "{history:?}");
        for _ in 0..64 {
            history.record(Duration::from_micros(1));
        }
        assert_eq!(history.spin_budget(false), Some(2 * STREAM_SPIN));
    }

    #[test]
    fn a_wait_beyond_the_longest_counts_as_the_longest() {
        let mut history = WaitHistory::new();
        history.record(Duration::MAX);
        assert_eq!(history, WaitHistory::new());
    }

    #[test]
    fn a_spin_ends_when_ready_or_when_it_has_lasted() {
        assert!(spin(REPLY_SPIN, || true));
        let polls = std::cell::Cell::new(0u64);
        let started = Instant::now();
        let ready = spin(REPLY_SPIN, || {
            polls.set(polls.get() + 1);
            false
        });
        assert!(!ready);
        assert!(polls.get() <= u64::from(MAX_ROUNDS) << LONGEST_ROUND);
        // Bounded whatever the machine: by the rounds, or by the clock
        // (plus one round, and whatever preempted this test).
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    /// Only the pop right after a push to the producer's queue awaits a
    /// reply; a thread never known awaits nothing.
    #[test]
    fn a_reply_is_awaited_once_and_only_from_whom_the_push_went_to() {
        let me = ThreadToken::this_thread();
        assert_eq!(me, ThreadToken::this_thread(), "one token per thread");
        let other = std::thread::spawn(ThreadToken::this_thread).join().unwrap();
        assert_ne!(me, other);
        assert_ne!(other, ThreadToken::NOBODY);

        ThreadToken::handed_to(other);
        assert!(!ThreadToken::is_reply(ThreadToken::take_handed_to(), me));
        ThreadToken::handed_to(other);
        assert!(ThreadToken::is_reply(ThreadToken::take_handed_to(), other));
        assert_eq!(
            ThreadToken::take_handed_to(),
            ThreadToken::NOBODY,
            "forgotten"
        );
        assert!(!ThreadToken::is_reply(
            ThreadToken::NOBODY,
            ThreadToken::NOBODY
        ));
    }
}
