//! Ping-pong latency: the round trip over two queues (thread A pushes on q1
//! and pops q2, thread B pops q1 and pushes on q2), after an idle gap of
//! 0, 20 µs, 100 µs or 1 ms before each round, for crossbeam-channel (the
//! Rust ceiling) and for the library's blocking queue through its C ABI
//! (`blocking_queue_push`/`_pop` called from Rust). The same scenario as
//! `pingpong_*` in `c-bench/latency.c` (run by `scripts/bench-compare`
//! against the original C and GLib), measured the same way: 4,000 rounds
//! after 200 unmeasured ones, the gap slept by nanosleep with the default
//! timer slack, as a real requester sleeps.
//!
//! `cargo bench --bench latency [-- [--loaded] ROUNDS [SAMPLES]]`: p50 and
//! p99 of the round trip in µs, medians over ROUNDS (default 3) alternating
//! runs of SAMPLES (default 4000) round trips each; with `--loaded`, while
//! one busy loop per CPU runs (a daemon's host is busy).

use std::os::raw::c_void;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use isula_mailbox_ffi::blocking_queue::{
    blocking_queue, blocking_queue_create, blocking_queue_destroy, blocking_queue_pop,
    blocking_queue_push,
};

const WARMUP: usize = 200;
const GAPS: [(&str, u64); 4] = [
    ("0", 0),
    ("20 µs", 20_000),
    ("100 µs", 100_000),
    ("1 ms", 1_000_000),
];
const TOKEN: usize = 1;
const STOP: usize = 2;

/// One direction of the ping-pong: a queue of non-zero `usize`.
trait Queue: Send + Sync + 'static {
    fn push(&self, value: usize);
    /// Waits for an item.
    fn pop(&self) -> usize;
}

struct Crossbeam(
    crossbeam_channel::Sender<usize>,
    crossbeam_channel::Receiver<usize>,
);

impl Queue for Crossbeam {
    fn push(&self, value: usize) {
        self.0.send(value).unwrap();
    }
    fn pop(&self) -> usize {
        self.1.recv().unwrap()
    }
}

fn crossbeam() -> Crossbeam {
    let (sender, receiver) = crossbeam_channel::unbounded();
    Crossbeam(sender, receiver)
}

struct CAbi(*mut blocking_queue);

// SAFETY: the C queue is made for use from any thread; the handle is only
// destroyed in Drop, after every thread using it was joined.
unsafe impl Send for CAbi {}
// SAFETY: see Send.
unsafe impl Sync for CAbi {}

fn c_abi() -> CAbi {
    // SAFETY: no release function.
    let queue = unsafe { blocking_queue_create(-1, None) };
    assert!(!queue.is_null());
    CAbi(queue)
}

impl Queue for CAbi {
    fn push(&self, value: usize) {
        // SAFETY: a live queue; any pointer value may be queued.
        assert_eq!(
            unsafe { blocking_queue_push(self.0, value as *mut c_void) },
            0
        );
    }
    fn pop(&self) -> usize {
        let mut out: *mut c_void = std::ptr::null_mut();
        // SAFETY: a live queue and a writable out-pointer.
        assert_eq!(unsafe { blocking_queue_pop(self.0, &mut out) }, 0);
        out as usize
    }
}

impl Drop for CAbi {
    fn drop(&mut self) {
        // SAFETY: made by blocking_queue_create; nobody uses it any more.
        unsafe { blocking_queue_destroy(self.0) }
    }
}

/// Sleeps the idle gap as `sleep_gap` in `c-bench/latency_common.h`: a
/// plain nanosleep with the default timer slack, as a real requester sleeps
/// between two requests (longer than nominal; the median slept is shown).
fn sleep_gap(gap_ns: u64) {
    if gap_ns > 0 {
        thread::sleep(Duration::from_nanos(gap_ns));
    }
}

/// One busy loop per CPU at normal priority, for as long as it lives: the
/// loaded condition, the same for every implementation.
struct Load {
    stop: Arc<AtomicBool>,
    loops: Vec<thread::JoinHandle<()>>,
}

impl Load {
    fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let cpus = thread::available_parallelism().map_or(1, |n| n.get());
        let loops = (0..cpus)
            .map(|_| {
                let stop = Arc::clone(&stop);
                thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::hint::black_box(0u64);
                    }
                })
            })
            .collect();
        Load { stop, loops }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for busy in self.loops.drain(..) {
            let _ = busy.join();
        }
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[u64], p: f64) -> u64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

struct Run {
    p50: f64,
    p99: f64,
    slept: f64,
}

/// One run: `samples` round trips after the warm-up, in ns.
fn ping_pong<Q: Queue>(make: fn() -> Q, gap_ns: u64, samples: usize) -> Run {
    let (q1, q2) = (Arc::new(make()), Arc::new(make()));
    let echo = {
        let (q1, q2) = (Arc::clone(&q1), Arc::clone(&q2));
        thread::spawn(move || loop {
            match q1.pop() {
                STOP => return,
                item => q2.push(item),
            }
        })
    };
    let mut latency = Vec::with_capacity(samples);
    let mut slept = Vec::with_capacity(samples);
    for i in 0..WARMUP + samples {
        let before_gap = Instant::now();
        sleep_gap(gap_ns);
        let start = Instant::now();
        q1.push(TOKEN);
        assert_eq!(q2.pop(), TOKEN);
        let end = Instant::now();
        if i >= WARMUP {
            latency.push((end - start).as_nanos() as u64);
            slept.push((start - before_gap).as_nanos() as u64);
        }
    }
    q1.push(STOP);
    echo.join().unwrap();
    latency.sort_unstable();
    slept.sort_unstable();
    Run {
        p50: percentile(&latency, 50.0) as f64,
        p99: percentile(&latency, 99.0) as f64,
        slept: percentile(&slept, 50.0) as f64,
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let loaded = args.iter().any(|a| a == "--loaded");
    let numbers: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let rounds = numbers.first().copied().unwrap_or(3).max(1);
    let samples = numbers.get(1).copied().unwrap_or(4000).max(1);
    type Measure = fn(u64, usize) -> Run;
    let implementations: [(&str, Measure); 2] = [
        ("crossbeam-channel", |gap, n| ping_pong(crossbeam, gap, n)),
        ("isula-mailbox (C ABI)", |gap, n| ping_pong(c_abi, gap, n)),
    ];
    let _load = loaded.then(Load::start);
    println!(
        "ping-pong round trip over two queues, µs, p50 / p99: medians of {rounds} alternating \
         runs of {samples} round trips, {}",
        if loaded {
            "loaded (one busy loop per CPU)"
        } else {
            "quiet"
        }
    );
    println!(
        "{:<18} {:>24} {:>24}",
        "gap (slept)", implementations[0].0, implementations[1].0
    );
    for (label, gap_ns) in GAPS {
        let mut runs: [Vec<Run>; 2] = [Vec::new(), Vec::new()];
        for round in 0..rounds {
            // Alternate the order so that no implementation always runs
            // on a warm (or a cold) machine.
            let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for i in order {
                runs[i].push((implementations[i].1)(gap_ns, samples));
                thread::sleep(Duration::from_millis(20));
            }
        }
        let slept = median(runs.iter().flatten().map(|r| r.slept).collect());
        let gap = if gap_ns == 0 {
            label.to_string()
        } else {
            format!("{label} ({:.0} µs)", slept / 1000.0)
        };
        let cells = runs.map(|r| {
            let p50 = median(r.iter().map(|r| r.p50).collect()) / 1000.0;
            let p99 = median(r.iter().map(|r| r.p99).collect()) / 1000.0;
            format!("{p50:.2} / {p99:.2}")
        });
        println!("{gap:<18} {:>24} {:>24}", cells[0], cells[1]);
    }
}
