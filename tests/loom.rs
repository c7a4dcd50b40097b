//! Model checks of the core's concurrency with loom: every interleaving of
//! a few threads (up to loom's preemption bound) is run.
//!
//! ```sh
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 \
//!     cargo test --release --test loom --target-dir target/loom
//! ```
//!
//! Under `cfg(loom)` the core's locks, condition variables, atomics and
//! `Arc` are loom's (src/core/sync.rs). Only `timeout: None` pops wait:
//! loom has no clock.
#![cfg(loom)]

use std::time::Duration;

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;

use isula_mailbox::core::blocking_queue::{BlockingQueue, Pop};
use isula_mailbox::core::message_queue::MessageQueue;
use isula_mailbox::core::shared::Shared;
use isula_mailbox::core::subscriber::SubscriberOptions;

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
            Pop::Item(1) => assert!(left.is_empty()),
            Pop::Closed => assert_eq!(Vec::from(left), vec![1]),
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
