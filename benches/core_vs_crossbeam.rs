//! The safe core's blocking queue against crossbeam-channel used raw (the
//! ceiling for an MPMC queue in Rust), and the same operations through the
//! C ABI (`blocking_queue_push`/`_pop` called from Rust), so the cost of
//! each layer is visible.
//!
//! `cargo bench --bench core_vs_crossbeam [-- ROUNDS]`: medians of
//! alternating rounds, in ns per item.

use std::hint::black_box;
use std::os::raw::c_void;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use isula_mailbox_core::blocking_queue::{BlockingQueue, Pop};
use isula_mailbox_ffi::blocking_queue::{
    blocking_queue, blocking_queue_create, blocking_queue_destroy, blocking_queue_pop,
    blocking_queue_push,
};

const ONE_THREAD: usize = 2_000_000;
const THREADED: usize = 1_000_000;

/// One implementation of "a queue of usize" for the scenarios below.
trait Queue: Send + Sync + 'static {
    fn push(&self, value: usize);
    /// Blocks; `None` means the producers are done.
    fn pop(&self) -> Option<usize>;
    /// Called once per consumer after the producers finished.
    fn finish(&self);
}

struct Core(BlockingQueue<usize>);

impl Queue for Core {
    fn push(&self, value: usize) {
        self.0.push(value).unwrap();
    }
    fn pop(&self) -> Option<usize> {
        match self.0.pop(None) {
            Pop::Item(0) | Pop::Closed | Pop::TimedOut => None,
            Pop::Item(value) => Some(value),
        }
    }
    fn finish(&self) {
        self.0.push(0).unwrap();
    }
}

struct Crossbeam(
    crossbeam_channel::Sender<usize>,
    crossbeam_channel::Receiver<usize>,
);

impl Queue for Crossbeam {
    fn push(&self, value: usize) {
        self.0.send(value).unwrap();
    }
    fn pop(&self) -> Option<usize> {
        self.1.recv().ok().filter(|&v| v != 0)
    }
    fn finish(&self) {
        self.0.send(0).unwrap();
    }
}

struct CAbi(*mut blocking_queue);

// SAFETY: the C queue is made for use from any thread; the handle is only
// destroyed in Drop, after every thread using it was joined.
unsafe impl Send for CAbi {}
// SAFETY: see Send.
unsafe impl Sync for CAbi {}

impl CAbi {
    fn new() -> Self {
        // SAFETY: no release function.
        CAbi(unsafe { blocking_queue_create(-1, None) })
    }
}

impl Queue for CAbi {
    fn push(&self, value: usize) {
        // SAFETY: a live queue; any pointer value may be queued.
        assert_eq!(
            unsafe { blocking_queue_push(self.0, value as *mut c_void) },
            0
        );
    }
    fn pop(&self) -> Option<usize> {
        let mut out: *mut c_void = std::ptr::null_mut();
        // SAFETY: a live queue and a writable out-pointer.
        assert_eq!(unsafe { blocking_queue_pop(self.0, &mut out) }, 0);
        Some(out as usize).filter(|&v| v != 0)
    }
    fn finish(&self) {
        self.push(0);
    }
}

impl Drop for CAbi {
    fn drop(&mut self) {
        // SAFETY: made by blocking_queue_create; nobody uses it any more.
        unsafe { blocking_queue_destroy(self.0) }
    }
}

fn one_thread(queue: impl Queue) -> f64 {
    let start = Instant::now();
    for i in 1..=ONE_THREAD {
        queue.push(i);
        black_box(queue.pop());
    }
    start.elapsed().as_nanos() as f64 / ONE_THREAD as f64
}

fn threaded(queue: impl Queue, producers: usize, consumers: usize) -> f64 {
    let queue = Arc::new(queue);
    let start = Instant::now();
    let consumer_threads: Vec<_> = (0..consumers)
        .map(|_| {
            let queue = Arc::clone(&queue);
            thread::spawn(move || {
                let mut count = 0usize;
                while queue.pop().is_some() {
                    count += 1;
                }
                count
            })
        })
        .collect();
    let per_producer = THREADED / producers;
    let producer_threads: Vec<_> = (0..producers)
        .map(|_| {
            let queue = Arc::clone(&queue);
            thread::spawn(move || {
                for i in 1..=per_producer {
                    queue.push(i);
                }
            })
        })
        .collect();
    for producer in producer_threads {
        producer.join().unwrap();
    }
    for _ in 0..consumers {
        queue.finish();
    }
    let popped: usize = consumer_threads
        .into_iter()
        .map(|c| c.join().unwrap())
        .sum();
    assert_eq!(popped, per_producer * producers);
    start.elapsed().as_nanos() as f64 / popped as f64
}

fn crossbeam() -> Crossbeam {
    let (sender, receiver) = crossbeam_channel::unbounded();
    Crossbeam(sender, receiver)
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn main() {
    let rounds: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5);
    type Run = fn() -> f64;
    let scenarios: [(&str, [(&str, Run); 3]); 3] = [
        (
            "push+pop, 1 thread",
            [
                ("core", || one_thread(Core(BlockingQueue::new()))),
                ("crossbeam", || one_thread(crossbeam())),
                ("C ABI", || one_thread(CAbi::new())),
            ],
        ),
        (
            "1 producer / 1 consumer",
            [
                ("core", || threaded(Core(BlockingQueue::new()), 1, 1)),
                ("crossbeam", || threaded(crossbeam(), 1, 1)),
                ("C ABI", || threaded(CAbi::new(), 1, 1)),
            ],
        ),
        (
            "2 producers / 2 consumers",
            [
                ("core", || threaded(Core(BlockingQueue::new()), 2, 2)),
                ("crossbeam", || threaded(crossbeam(), 2, 2)),
                ("C ABI", || threaded(CAbi::new(), 2, 2)),
            ],
        ),
    ];
    println!("ns per item, median of {rounds} alternating rounds");
    println!(
        "{:<28} {:>10} {:>10} {:>10}",
        "scenario", "core", "crossbeam", "C ABI"
    );
    for (name, runs) in scenarios {
        let mut samples = [Vec::new(), Vec::new(), Vec::new()];
        for round in 0..rounds {
            // Alternate the order so that no implementation always runs
            // on a warm (or a cold) machine.
            let order: Vec<usize> = if round % 2 == 0 {
                vec![0, 1, 2]
            } else {
                vec![2, 1, 0]
            };
            for i in order {
                samples[i].push((runs[i].1)());
                thread::sleep(Duration::from_millis(20));
            }
        }
        let [core, crossbeam, c_abi] = samples.map(median);
        println!("{name:<28} {core:>10.2} {crossbeam:>10.2} {c_abi:>10.2}");
    }
}
