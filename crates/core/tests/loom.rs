//! Model checks of the core's concurrency with loom: every interleaving of
//! a few threads (up to loom's preemption bound) is run.
//!
//! ```sh
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 \
//!     cargo test --release -p isula-mailbox-core --test loom --target-dir target/loom
//! ```
//!
//! Under `cfg(loom)` the core's locks, condition variables, atomics, `Arc`
//! and the pop's spin are loom's (src/sync.rs). Only `timeout: None`
//! pops wait: loom has no clock. Messages here are loom `Arc`s; the
//! C message's own count (`RefCount`) has a model of its own.
#![cfg(loom)]

use std::time::Duration;

use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;

use isula_mailbox_core::blocking_queue::{BlockingQueue, Pop};
use isula_mailbox_core::lease::Lease;
use isula_mailbox_core::message_queue::MessageQueue;
use isula_mailbox_core::refcount::RefCount;
use isula_mailbox_core::shared::Shared;
use isula_mailbox_core::subscriber::SubscriberOptions;

/// A payload that counts how often it is dropped.
#[derive(Debug)]
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A message: a loom-tracked reference to a counted payload.
#[derive(Debug)]
struct Message(Arc<Counted>);

impl Message {
    fn new(payload: Counted) -> Self {
        Message(Arc::new(payload))
    }
}

impl Shared for Message {
    fn share(&self) -> Option<Self> {
        Some(Message(Arc::clone(&self.0)))
    }
}

/// An object freed by hand, as the C layer's message block: holders read
/// the payload, the last one out "frees" it by writing. loom reports a data
/// race if the count's ordering let the write overlap a read.
struct Block {
    refs: RefCount,
    payload: UnsafeCell<u64>,
    freed: AtomicUsize,
}

impl Block {
    fn read(&self) {
        self.payload.with(|p| {
            // SAFETY: loom tracks this access; the block is alive while we
            // hold a reference (the model checks that claim).
            assert_eq!(unsafe { *p }, 7);
        });
    }

    fn release(&self) {
        if self.refs.release() {
            self.payload.with_mut(|p| {
                // SAFETY: loom tracks this access; as the last holder we
                // are alone with the block.
                unsafe { *p = 0 }
            });
            self.freed.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[test]
fn ref_and_unref_racing_with_the_last_unref() {
    loom::model(|| {
        let block = Arc::new(Block {
            refs: RefCount::new(),
            payload: UnsafeCell::new(7),
            freed: AtomicUsize::new(0),
        });
        assert!(block.refs.acquire(usize::MAX)); // for the thread
        let other = Arc::clone(&block);
        let thread = thread::spawn(move || {
            other.read();
            // A new reference made from ours while the main thread lets go.
            assert!(other.refs.acquire(usize::MAX));
            other.read();
            other.release();
            other.release();
        });
        block.read();
        block.release();
        thread.join().unwrap();
        assert_eq!(block.freed.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn push_pop_and_clear_racing() {
    loom::model(|| {
        let queue = Arc::new(BlockingQueue::new());
        let pusher = {
            let queue = Arc::clone(&queue);
            thread::spawn(move || {
                queue.push(1u32).unwrap();
                queue.push(2).unwrap();
            })
        };
        let clearer = {
            let queue = Arc::clone(&queue);
            thread::spawn(move || queue.take_all().into_iter().collect::<Vec<_>>())
        };
        let popper = {
            let queue = Arc::clone(&queue);
            thread::spawn(move || match queue.pop(None) {
                Pop::Item(item) => item,
                other => panic!("{other:?}"),
            })
        };
        pusher.join().unwrap();
        let mut seen = clearer.join().unwrap();
        // The popper may have found nothing left: give it something.
        queue.push(3).unwrap();
        seen.push(popper.join().unwrap());
        seen.extend(queue.take_all());
        seen.sort_unstable();
        assert_eq!(seen, vec![1, 2, 3], "every item exactly once");
    });
}

/// The sleeper/waker protocol: a pop spins, then registers as a sleeper and
/// parks; a push wakes a sleeper only if one is registered. A lost wake-up
/// (a push that saw no sleeper while a pop was about to park) would leave a
/// popper parked forever: loom reports that as a deadlock.
#[test]
fn every_push_wakes_a_waiting_pop() {
    loom::model(|| {
        let queue = Arc::new(BlockingQueue::new());
        let poppers: Vec<_> = (0..2)
            .map(|_| {
                let queue = Arc::clone(&queue);
                thread::spawn(move || match queue.pop(None) {
                    Pop::Item(item) => item,
                    other => panic!("{other:?}"),
                })
            })
            .collect();
        let pusher = {
            let queue = Arc::clone(&queue);
            thread::spawn(move || queue.push(1u32).unwrap())
        };
        queue.push(2).unwrap();
        pusher.join().unwrap();
        let mut got: Vec<u32> = poppers.into_iter().map(|p| p.join().unwrap()).collect();
        got.sort_unstable();
        assert_eq!(got, vec![1, 2], "each item popped once");
    });
}

#[test]
fn close_wakes_a_waiting_pop() {
    loom::model(|| {
        let queue = Arc::new(BlockingQueue::<u32>::new());
        let popper = {
            let queue = Arc::clone(&queue);
            thread::spawn(move || queue.pop(None))
        };
        queue.push(1).unwrap();
        let left = queue.close();
        match popper.join().unwrap() {
            Pop::Item(1) => assert_eq!(left.into_iter().count(), 0),
            Pop::Closed => assert_eq!(left.into_iter().collect::<Vec<_>>(), vec![1]),
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn subscriber_destroyed_while_the_queue_delivers_to_it() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let queue = Arc::new(MessageQueue::new().unwrap());
        let leaving = queue.subscribe(SubscriberOptions::default()).unwrap();
        let staying = queue.subscribe(SubscriberOptions::default()).unwrap();
        let publisher = {
            let queue = Arc::clone(&queue);
            let payload = Counted(Arc::clone(&drops));
            thread::spawn(move || queue.publish(Message::new(payload)).is_ok())
        };
        // Destroyed without unsubscribing, while the publish runs.
        drop(leaving);
        assert!(publisher.join().unwrap());
        match staying.pop_timeout(Some(Duration::ZERO)) {
            Pop::Item(message) => drop(message),
            other => panic!("the staying subscriber lost the message: {other:?}"),
        }
        assert!(queue.has_subscribers());
        drop(staying);
        assert!(!queue.has_subscribers());
        assert_eq!(
            drops.load(Ordering::SeqCst),
            1,
            "payload dropped exactly once"
        );
    });
}

#[test]
fn shutdown_racing_with_publish_and_subscribe() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let queue = Arc::new(MessageQueue::new().unwrap());
        let early = queue.subscribe(SubscriberOptions::default()).unwrap();
        let publisher = {
            let queue = Arc::clone(&queue);
            let payload = Counted(Arc::clone(&drops));
            thread::spawn(move || {
                // Refused after shutdown: the message comes back and drops.
                let _ = queue.publish(Message::new(payload));
            })
        };
        let subscriber = {
            let queue = Arc::clone(&queue);
            thread::spawn(move || queue.subscribe(SubscriberOptions::default()))
        };
        queue.shutdown();
        publisher.join().unwrap();
        let late = subscriber.join().unwrap();
        // Once shut down, every subscriber ends: pending messages dropped.
        assert!(matches!(early.pop_timeout(None), Pop::Closed));
        if let Ok(late) = late {
            assert!(matches!(late.pop_timeout(None), Pop::Closed));
        }
        assert!(!queue.has_subscribers());
        assert_eq!(
            drops.load(Ordering::SeqCst),
            1,
            "payload dropped exactly once"
        );
        drop(early);
    });
}

/// A topic's registration (or the log sink) taken while publishers use it:
/// the taker waits for every borrower, a borrower may borrow again while
/// the taker waits (a generator publishing in turn), and what a borrower
/// saw is never dropped under it. loom reports a deadlock if a nested
/// borrow waited for the taker, or the taker for a borrower that was done.
#[test]
fn take_waits_for_borrowers_and_a_nested_borrow_goes_through() {
    loom::model(|| {
        let lease = Arc::new(Lease::new());
        lease.install(7u64, || ()).unwrap();
        let publisher = {
            let lease = Arc::clone(&lease);
            thread::spawn(move || {
                if let Some(outer) = lease.borrow() {
                    let inner = lease.borrow();
                    assert_eq!(*outer, 7);
                    assert!(inner.is_none_or(|inner| *inner == 7));
                }
            })
        };
        let taken = lease.take(|_| ()).expect("installed");
        assert_eq!(taken, 7);
        publisher.join().unwrap();
        assert!(lease.borrow().is_none());
    });
}

/// A waker for the model: its wake-up is loom's `Notify`, which the
/// executor below waits on, so that loom sees both.
struct ModelWaker(loom::sync::Notify);

impl std::task::Wake for ModelWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.notify();
    }
}

/// Polls `poll_pop` until it is ready, waiting for a wake-up in between:
/// the smallest executor.
fn block_on_pop(queue: &BlockingQueue<u32>) -> Pop<u32> {
    let waker = std::sync::Arc::new(ModelWaker(loom::sync::Notify::new()));
    let task = std::task::Waker::from(std::sync::Arc::clone(&waker));
    let mut cx = std::task::Context::from_waker(&task);
    loop {
        if let std::task::Poll::Ready(popped) = queue.poll_pop(&mut cx) {
            return popped;
        }
        waker.0.wait();
    }
}

/// An awaited pop (a task, not a parked thread) racing with a push and
/// with a close: the task is woken, or finds the item or the end when it
/// polls. A lost wake-up leaves the executor waiting forever, which loom
/// reports as a deadlock.
#[test]
fn an_awaited_pop_is_woken_by_the_push_or_the_close() {
    loom::model(|| {
        let queue = Arc::new(BlockingQueue::<u32>::new());
        let pusher = {
            let queue = Arc::clone(&queue);
            thread::spawn(move || drop(queue.push(1).unwrap()))
        };
        assert_eq!(block_on_pop(&queue), Pop::Item(1));
        pusher.join().unwrap();
    });
    loom::model(|| {
        let queue = Arc::new(BlockingQueue::<u32>::new());
        let closer = {
            let queue = Arc::clone(&queue);
            thread::spawn(move || drop(queue.close()))
        };
        assert_eq!(block_on_pop(&queue), Pop::Closed);
        closer.join().unwrap();
    });
}
