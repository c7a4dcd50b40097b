//! An awaited receive against a blocking one: publish → receive latency,
//! p50 and p99, with a publisher that sleeps between events (the receiver
//! waits each time, as a daemon's consumer does), medians of alternating
//! rounds. The awaited one runs on the smallest executor (the thread
//! parks; the waker unparks it): what it adds is a waker's unpark where
//! the blocking one is woken through its condition variable.
//!
//! `cargo bench -p isula-mailbox --bench recv_async [-- ROUNDS]`

use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};

use isula_mailbox::{ContainerEventKind, ContainerMessage, Subscription, CRI_CONTAINER};

const EVENTS: usize = 2_000;
const WARMUP: usize = 100;
const GAP: Duration = Duration::from_micros(100);

/// When the bench started: events carry their publish time from it.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_ns() -> u64 {
    epoch().elapsed().as_nanos() as u64
}

struct Unpark(thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

fn block_on<F: Future>(future: F) -> F::Output {
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut Context::from_waker(&waker)) {
            return output;
        }
        thread::park();
    }
}

/// One run: a publisher thread publishes `EVENTS` events `GAP` apart; the
/// receiver takes each with `receive`; the latencies in ns, sorted.
fn run(receive: Receive) -> Vec<u64> {
    let events = CRI_CONTAINER.subscribe::<u64>().unwrap();
    let mut latencies = Vec::with_capacity(EVENTS);
    thread::scope(|scope| {
        scope.spawn(|| {
            for _ in 0..WARMUP + EVENTS {
                thread::sleep(GAP);
                let id = std::ffi::CString::new(now_ns().to_string()).unwrap();
                CRI_CONTAINER
                    .publish(&ContainerMessage::new(
                        &id,
                        c"pod",
                        ContainerEventKind::Started,
                    ))
                    .unwrap();
            }
        });
        for i in 0..WARMUP + EVENTS {
            let published = receive(&events);
            if i >= WARMUP {
                latencies.push(now_ns() - published);
            }
        }
    });
    latencies.sort_unstable();
    latencies
}

/// How a run receives each event.
type Receive = fn(&Subscription<u64>) -> u64;

fn blocking(events: &Subscription<u64>) -> u64 {
    *events.recv().unwrap()
}

fn awaited(events: &Subscription<u64>) -> u64 {
    *block_on(events.recv_async()).unwrap()
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    sorted[((sorted.len() as f64 * p / 100.0).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn median(mut values: Vec<u64>) -> u64 {
    values.sort_unstable();
    values[values.len() / 2]
}

fn main() {
    let rounds: usize = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse().ok())
        .unwrap_or(5);
    epoch();
    let _registration = CRI_CONTAINER
        .register(|message: &ContainerMessage<'_>| {
            message.container_id()?.to_str().ok()?.parse::<u64>().ok()
        })
        .unwrap();
    let (mut blocking_p50, mut blocking_p99, mut awaited_p50, mut awaited_p99) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let order: [(Receive, bool); 2] = if round % 2 == 0 {
            [(blocking, false), (awaited, true)]
        } else {
            [(awaited, true), (blocking, false)]
        };
        for (receive, is_awaited) in order {
            let latencies = run(receive);
            let (p50, p99) = (percentile(&latencies, 50.0), percentile(&latencies, 99.0));
            if is_awaited {
                awaited_p50.push(p50);
                awaited_p99.push(p99);
            } else {
                blocking_p50.push(p50);
                blocking_p99.push(p99);
            }
        }
    }
    let (bp50, bp99, ap50, ap99) = (
        median(blocking_p50),
        median(blocking_p99),
        median(awaited_p50),
        median(awaited_p99),
    );
    println!("publish -> receive, {EVENTS} events {GAP:?} apart, medians of {rounds} rounds:");
    println!(
        "  recv (blocking)    p50 {:>8.2} µs  p99 {:>8.2} µs",
        bp50 as f64 / 1e3,
        bp99 as f64 / 1e3
    );
    println!(
        "  recv_async         p50 {:>8.2} µs  p99 {:>8.2} µs",
        ap50 as f64 / 1e3,
        ap99 as f64 / 1e3
    );
    println!(
        "  awaited / blocking p50 {:.2}x (target <= 2x)",
        ap50 as f64 / bp50 as f64
    );
}
