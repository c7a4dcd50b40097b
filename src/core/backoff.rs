//! How a pop that finds its queue empty waits: whether it spins before it
//! parks, and the spin itself.
//!
//! Parking costs a wake-up: the waker's system call, and the time until the
//! woken thread runs (tens of microseconds when its CPU must first leave a
//! halt, as a VM's idle vCPU does). A spin saves that only when the item
//! comes within it, so a queue remembers how long its pops have waited
//! lately ([`WaitHistory`]) and a pop spins only when those waits were
//! short. The spin never yields (on a busy host a yield hands the CPU to
//! another thread for a whole time slice), is bounded in iterations and in
//! time, and ends at once when a round took far longer than its iterations
//! should: the spinner lost its CPU to another thread meanwhile, and
//! parking gives it back.

use std::time::Duration;
#[cfg(not(loom))]
use std::time::Instant;

/// How long the pops of one queue have waited lately, as a moving average:
/// whether the next wait is likely to end within a spin.
///
/// ```
/// use std::time::Duration;
/// use isula_mailbox::core::backoff::WaitHistory;
///
/// let mut history = WaitHistory::new();
/// assert!(!history.spin_pays(), "a new queue has no hand-off to spin for");
/// for _ in 0..32 {
///     history.record(Duration::from_micros(1));
/// }
/// assert!(history.spin_pays());
/// history.record(Duration::from_millis(5));
/// assert!(!history.spin_pays(), "one long wait is enough to stop spinning");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitHistory {
    /// Moving average of the waits, in µs, at most [`Self::LONGEST_US`].
    average_us: u32,
}

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

    /// Whether the next wait should spin before it parks: the waits of late
    /// ended, on average, within what a spin lasts.
    pub fn spin_pays(&self) -> bool {
        u64::from(self.average_us) < SPIN_FOR.as_micros() as u64
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

/// The longest a spin lasts: about what it takes to wake a thread whose
/// CPU has gone idle (a VM's halted vCPU included), so that a hand-off to a
/// producer that is just being woken is caught.
const SPIN_FOR: Duration = Duration::from_micros(50);

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

/// Polls `ready` until it says true or the spin is over; whether it did.
#[cfg(not(loom))]
pub(crate) fn spin(ready: impl Fn() -> bool) -> bool {
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
        if now.duration_since(round_started) > PREEMPTED || now.duration_since(started) > SPIN_FOR {
            break;
        }
        round_started = now;
    }
    ready()
}

/// Under loom a spin is one look after letting the other threads run: the
/// model explores what happens meanwhile, and has no clock to bound more.
#[cfg(loom)]
pub(crate) fn spin(ready: impl Fn() -> bool) -> bool {
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
        while !history.spin_pays() {
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
        assert!(history.spin_pays(), "{history:?}");
        history.record(Duration::from_micros(200));
        assert!(!history.spin_pays(), "{history:?}");
    }

    #[test]
    fn a_wait_beyond_the_longest_counts_as_the_longest() {
        let mut history = WaitHistory::new();
        history.record(Duration::MAX);
        assert_eq!(history, WaitHistory::new());
    }

    #[test]
    fn a_spin_ends_when_ready_or_when_it_has_lasted() {
        assert!(spin(|| true));
        let polls = std::cell::Cell::new(0u64);
        let started = Instant::now();
        let ready = spin(|| {
            polls.set(polls.get() + 1);
            false
        });
        assert!(!ready);
        assert!(polls.get() <= u64::from(MAX_ROUNDS) << LONGEST_ROUND);
        // Bounded whatever the machine: by the rounds, or by the clock
        // (plus one round, and whatever preempted this test).
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
