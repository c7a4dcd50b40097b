//! Plays the daemon: executor threads publish container lifecycle events on
//! the CRI container topic, half through the Rust API and half through the
//! C ABI (as `execution.c` does); a GetContainerEvents stream pops them
//! through the C ABI, another through the Rust API, and a slow client with a
//! bounded subscription falls behind and loses its oldest events. At the
//! end: the topic's stats, then shutdown ends every stream.
//!
//! `cargo run --example container_events`

use std::collections::HashMap;
use std::ffi::CString;
use std::os::raw::c_int;
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use isula_mailbox::{ContainerEventKind, ContainerMessage, RecvError, CRI_CONTAINER};
use isula_mailbox_ffi::mailbox::mailbox_topic::MAILBOX_TOPIC_CRI_CONTAINER;
use isula_mailbox_ffi::mailbox::{
    cri_container_message_t, mailbox_publish, mailbox_subscribe, RawMessageType,
};
use isula_mailbox_ffi::mailbox_message::{mailbox_message, mailbox_message_unref};
use isula_mailbox_ffi::message_subscriber::{message_subscriber_destroy, message_subscriber_pop};

const EXECUTORS: usize = 3;
const CONTAINERS_PER_EXECUTOR: usize = 50;
const SLOW_CLIENT_CAPACITY: usize = 16;

/// What the topic's handler makes of each event (the daemon makes a
/// `ContainerEventResponse`). `#[repr(C)]`: the C stream reads it too.
#[repr(C)]
#[derive(Debug)]
struct ContainerEvent {
    container_id: [u8; 32],
    kind: c_int,
    created_at_ns: u64,
}

impl ContainerEvent {
    fn container(&self) -> &str {
        let end = self
            .container_id
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(self.container_id.len());
        std::str::from_utf8(&self.container_id[..end]).unwrap_or("?")
    }
}

fn executor(worker: usize, started: Instant) {
    for c in 0..CONTAINERS_PER_EXECUTOR {
        let id = CString::new(format!("w{worker}-c{c}")).unwrap();
        for kind in ContainerEventKind::ALL {
            if c % 2 == 0 {
                CRI_CONTAINER.publish(&ContainerMessage::new(&id, c"sandbox", kind));
            } else {
                // As the daemon's C code: a message on the stack, by pointer.
                let message = cri_container_message_t {
                    container_id: id.as_ptr(),
                    sandbox_id: c"sandbox".as_ptr(),
                    r#type: RawMessageType(kind as c_int),
                };
                // SAFETY: the topic's input is a `cri_container_message_t`,
                // valid for the call.
                unsafe {
                    mailbox_publish(
                        MAILBOX_TOPIC_CRI_CONTAINER.into(),
                        (&message as *const cri_container_message_t)
                            .cast_mut()
                            .cast(),
                    )
                };
            }
        }
        thread::sleep(Duration::from_micros(200));
    }
    println!("executor {worker}: done after {:?}", started.elapsed());
}

/// A GetContainerEvents stream through the C ABI, as the daemon's CRI
/// service runs it: pop, read `msg->data`, unref; ETIMEDOUT polls for the
/// client going away; NULL means the daemon shuts down.
fn c_stream(cancelled: Arc<AtomicBool>) -> usize {
    // SAFETY: a valid topic.
    let sub = mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER.into());
    assert!(!sub.is_null());
    let mut written = 0;
    loop {
        let mut msg: *mut mailbox_message = ptr::null_mut();
        // SAFETY: `sub` is live until destroyed below; `msg` is writable.
        let ret = unsafe { message_subscriber_pop(sub, &mut msg) };
        if ret == 0 && msg.is_null() {
            break; // the topic was unregistered
        }
        if ret == 0 {
            // SAFETY: the topic's events are `ContainerEvent`s, made by the
            // handler registered in main; we hold a reference to `msg`.
            let event = unsafe { &*(*msg).data.cast::<ContainerEvent>() };
            if event.kind == ContainerEventKind::Deleted as c_int && written < 4 {
                println!("C stream:    {} deleted", event.container());
            }
            written += 1;
            // SAFETY: our reference, given back once.
            unsafe { mailbox_message_unref(msg) };
        } else if ret != libc::ETIMEDOUT || cancelled.load(Ordering::Relaxed) {
            break;
        }
    }
    // SAFETY: made by mailbox_subscribe, destroyed once.
    unsafe { message_subscriber_destroy(sub) };
    written
}

fn main() {
    let started = Instant::now();
    CRI_CONTAINER
        .register(move |message: &ContainerMessage<'_>| {
            let mut event = ContainerEvent {
                container_id: [0; 32],
                kind: message.kind()? as c_int,
                created_at_ns: started.elapsed().as_nanos() as u64,
            };
            let id = message.container_id()?.to_bytes();
            let len = id.len().min(event.container_id.len() - 1);
            event.container_id[..len].copy_from_slice(&id[..len]);
            Some(event)
        })
        .expect("register the CRI container topic");

    // Events published now reach nobody: the handler is not even called.
    executor(99, started);
    assert_eq!(CRI_CONTAINER.stats().unwrap().published, 0);

    let cancelled = Arc::new(AtomicBool::new(false));
    let c_client = {
        let cancelled = Arc::clone(&cancelled);
        thread::spawn(move || c_stream(cancelled))
    };
    let rust_events = CRI_CONTAINER.subscribe::<ContainerEvent>().unwrap();
    let rust_client = thread::spawn(move || {
        let mut received = 0;
        // Each container's events come from one executor thread: in order.
        let mut lifecycle: HashMap<String, c_int> = HashMap::new();
        for event in rust_events.iter() {
            let previous = lifecycle.insert(event.container().to_owned(), event.kind);
            assert_eq!(
                previous.map_or(0, |kind| kind + 1),
                event.kind,
                "{event:?} out of order"
            );
            if event.kind == ContainerEventKind::Created as c_int && received < 4 {
                println!("Rust stream: {} created", event.container());
            }
            received += 1;
        }
        received
    });
    CRI_CONTAINER.set_subscriber_capacity(std::num::NonZeroUsize::new(SLOW_CLIENT_CAPACITY));
    let slow_events = CRI_CONTAINER.subscribe::<ContainerEvent>().unwrap();
    CRI_CONTAINER.set_subscriber_capacity(None);
    let slow_client = thread::spawn(move || {
        let mut received = 0;
        loop {
            match slow_events.recv_timeout(Duration::from_millis(100)) {
                Ok(_event) => received += 1,
                Err(RecvError::Timeout) => continue,
                Err(RecvError::Closed) => return received,
            }
            thread::sleep(Duration::from_millis(5)); // a client on a bad link
        }
    });

    // Wait until the C stream is subscribed too (three subscribers).
    while CRI_CONTAINER.stats().unwrap().subscribers < 3 {
        thread::sleep(Duration::from_millis(1));
    }
    let executors: Vec<_> = (0..EXECUTORS)
        .map(|worker| thread::spawn(move || executor(worker, started)))
        .collect();
    for executor in executors {
        executor.join().unwrap();
    }
    let total = EXECUTORS * CONTAINERS_PER_EXECUTOR * ContainerEventKind::ALL.len();
    while CRI_CONTAINER.stats().unwrap().pending > SLOW_CLIENT_CAPACITY as u64 {
        thread::sleep(Duration::from_millis(1)); // let the two fast streams catch up
    }

    let stats = CRI_CONTAINER.stats().unwrap();
    println!(
        "{}: published={} delivered={} dropped={} pending={} subscribers={}",
        CRI_CONTAINER.name(),
        stats.published,
        stats.delivered,
        stats.dropped,
        stats.pending,
        stats.subscribers
    );

    // The daemon shuts down: every stream ends.
    CRI_CONTAINER.unregister().unwrap();
    cancelled.store(true, Ordering::Relaxed);
    let (c_written, rust_received, slow_received) = (
        c_client.join().unwrap(),
        rust_client.join().unwrap(),
        slow_client.join().unwrap(),
    );
    println!(
        "events: {total} published; C stream {c_written}, Rust stream {rust_received}, \
         slow client {slow_received} (kept at most {SLOW_CLIENT_CAPACITY} pending, dropped the oldest)"
    );
    assert_eq!(c_written, total);
    assert_eq!(rust_received, total);
    assert!(slow_received < total);
}
