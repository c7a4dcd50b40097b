//! A Rust module of the daemon, as the next ones of a gradual migration
//! will be, beside the daemon's C code on the CRI container topic:
//!
//! - the daemon's C code registers `CRI_CONTAINER` (its generator makes a
//!   C `ContainerEventResponse`, its release frees it) and runs a
//!   GetContainerEvents stream that pops through the C functions;
//! - the Rust **exporter** reads the same events through the Rust API (its
//!   type promised to be C's: `ForeignEvent`), on a bounded subscription of
//!   its own (it says when it drops), and feeds a bounded pool of worker
//!   threads in batches: a batch goes when it is full or its deadline
//!   passes (`recv_deadline`); it is cancelled by a `Closer`, which wakes
//!   it alone;
//! - a Rust **watcher** awaits events (`recv_async`) together with a
//!   shutdown signal, in the smallest executor: no thread polls for it;
//! - Rust code publishes too, and the C stream reads what it published;
//! - the daemon's shutdown unregisters the topic while the C stream and
//!   the watcher wait: both end, the watcher after what was queued.
//!
//! At the end, every event the C generator made was released once.
//! Everything here through the C functions stands for the daemon's C code
//! (written in Rust only to keep the example one file).
//!
//! `cargo run --example cri_exporter`

use std::ffi::CStr;
use std::future::Future;
use std::os::raw::{c_char, c_int, c_void};
use std::pin::pin;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};

use isula_mailbox::{
    ContainerEventKind, ContainerMessage, CriContainer, Event, ForeignEvent, Published, RecvError,
    SubscriptionOptions, CRI_CONTAINER,
};
use isula_mailbox_ffi::mailbox::mailbox_topic::MAILBOX_TOPIC_CRI_CONTAINER;
use isula_mailbox_ffi::mailbox::{
    cri_container_message_t, mailbox_publish, mailbox_register_topic_handler, mailbox_subscribe,
    mailbox_unregister_topic_handler, RawMessageType,
};
use isula_mailbox_ffi::mailbox_message::mailbox_message_unref;
use isula_mailbox_ffi::message_subscriber::{message_subscriber_destroy, message_subscriber_pop};

const CONTAINERS: usize = 40;
const WORKERS: usize = 3;
const BATCH: usize = 8;
const BATCH_DEADLINE: Duration = Duration::from_millis(20);

// ---- the daemon's C code ---------------------------------------------------

/// The daemon's `ContainerEventResponse`, as its C generator makes it.
#[repr(C)]
struct ContainerEventResponse {
    container_id: [c_char; 64],
    kind: c_int,
}

static MADE: AtomicUsize = AtomicUsize::new(0);
static RELEASED: AtomicUsize = AtomicUsize::new(0);

/// The C generator: a `ContainerEventResponse` from the published message.
unsafe extern "C" fn generate_response(_context: *mut c_void, data: *mut c_void) -> *mut c_void {
    // SAFETY: publishers of the topic pass a `cri_container_message_t`
    // with a valid id, for the call.
    let message = unsafe { &*data.cast::<cri_container_message_t>() };
    // SAFETY: as above.
    let id = unsafe { CStr::from_ptr(message.container_id) }.to_bytes();
    let mut response = ContainerEventResponse {
        container_id: [0; 64],
        kind: message.r#type.0,
    };
    for (to, from) in response
        .container_id
        .iter_mut()
        .zip(&id[..id.len().min(63)])
    {
        *to = *from as c_char;
    }
    MADE.fetch_add(1, Ordering::Relaxed);
    Box::into_raw(Box::new(response)).cast()
}

/// The C release: frees what the generator made.
unsafe extern "C" fn release_response(data: *mut c_void) {
    // SAFETY: `data` is a response `generate_response` made, released once.
    drop(unsafe { Box::from_raw(data.cast::<ContainerEventResponse>()) });
    RELEASED.fetch_add(1, Ordering::Relaxed);
}

fn c_register() {
    // SAFETY: the generator and the release may be called from any thread.
    let registered = unsafe {
        mailbox_register_topic_handler(
            MAILBOX_TOPIC_CRI_CONTAINER.into(),
            Some(generate_response),
            ptr::null_mut(),
            Some(release_response),
            true,
        )
    };
    assert_eq!(registered, 0);
}

/// The executor's C publish of one container event.
fn c_publish(container: &CStr, kind: ContainerEventKind) {
    let message = cri_container_message_t {
        container_id: container.as_ptr(),
        sandbox_id: c"sandbox".as_ptr(),
        r#type: RawMessageType(kind as c_int),
    };
    // SAFETY: the topic's input, valid for the call.
    unsafe {
        mailbox_publish(
            MAILBOX_TOPIC_CRI_CONTAINER.into(),
            ptr::addr_of!(message).cast_mut().cast(),
        )
    };
}

/// A GetContainerEvents stream: pops until the topic ends (NULL); returns
/// how many events it read.
fn c_stream() -> thread::JoinHandle<usize> {
    let sub = mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER.into());
    assert!(!sub.is_null());
    let sub = sub as usize; // handed to the stream's thread
    thread::spawn(move || {
        let sub = sub as *mut isula_mailbox_ffi::message_subscriber::message_subscriber;
        let mut read = 0;
        loop {
            let mut msg = ptr::null_mut();
            // SAFETY: `sub` is live until destroyed below; `msg` writable.
            match unsafe { message_subscriber_pop(sub, &mut msg) } {
                0 if msg.is_null() => break, // the topic was unregistered
                0 => {
                    // SAFETY: a popped message holds a response; ours to unref.
                    let response = unsafe { &*(*msg).data.cast::<ContainerEventResponse>() };
                    assert!(response.kind >= 0);
                    read += 1;
                    // SAFETY: the reference the pop gave.
                    unsafe { mailbox_message_unref(msg) };
                }
                _ => {} // the subscriber's timeout: poll for cancellation
            }
        }
        // SAFETY: destroyed once, by its thread.
        unsafe { message_subscriber_destroy(sub) };
        read
    })
}

// ---- the Rust module --------------------------------------------------------

// SAFETY: the daemon's C generator of CRI_CONTAINER makes a
// `ContainerEventResponse` of this layout (above); a response is not
// changed once made, so any thread may read it at once; the topic's C
// release frees it from whichever thread lets go of it last.
unsafe impl ForeignEvent<CriContainer> for ContainerEventResponse {}

impl ContainerEventResponse {
    fn container(&self) -> String {
        let bytes: Vec<u8> = self
            .container_id
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// What the exporter did.
#[derive(Debug, Default)]
struct Exported {
    events: usize,
    batches: usize,
    lagged: u64,
}

/// The exporter: batches events for a pool of workers until cancelled.
fn exporter(events: isula_mailbox::Subscription<ContainerEventResponse>) -> Exported {
    let (jobs, queue) = mpsc::sync_channel::<Vec<Event<ContainerEventResponse>>>(WORKERS);
    let queue = Arc::new(Mutex::new(queue));
    let exported = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let queue = Arc::clone(&queue);
            let exported = Arc::clone(&exported);
            thread::spawn(move || loop {
                let batch = match queue.lock().unwrap().recv() {
                    Ok(batch) => batch,
                    Err(_) => return, // the exporter is gone
                };
                for event in &batch {
                    assert!(!event.container().is_empty());
                }
                exported.fetch_add(batch.len(), Ordering::Relaxed);
            })
        })
        .collect();

    let mut report = Exported::default();
    let mut batch = Vec::with_capacity(BATCH);
    let mut deadline = Instant::now() + BATCH_DEADLINE;
    loop {
        match events.recv_deadline(deadline) {
            Ok(event) => batch.push(event),
            Err(RecvError::Lagged(dropped)) => report.lagged += dropped,
            Err(RecvError::Timeout) => {}
            Err(RecvError::Closed) => break, // cancelled
            Err(other) => panic!("exporter: {other}"),
        }
        if batch.len() == BATCH || Instant::now() >= deadline {
            if !batch.is_empty() {
                report.batches += 1;
                jobs.send(std::mem::take(&mut batch)).unwrap();
            }
            deadline = Instant::now() + BATCH_DEADLINE;
        }
    }
    if !batch.is_empty() {
        report.batches += 1;
        jobs.send(batch).unwrap();
    }
    drop(jobs);
    for worker in workers {
        worker.join().unwrap();
    }
    report.events = exported.load(Ordering::Relaxed);
    report
}

/// A one-shot signal a future waits on: the watcher's shutdown.
#[derive(Default)]
struct Signal {
    state: Mutex<(bool, Option<Waker>)>,
}

impl Signal {
    fn fire(&self) {
        let waker = {
            let mut state = self.state.lock().unwrap();
            state.0 = true;
            state.1.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    async fn fired(&self) {
        std::future::poll_fn(|cx| {
            let mut state = self.state.lock().unwrap();
            if state.0 {
                return Poll::Ready(());
            }
            state.1 = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }
}

/// The smallest executor: runs `future` on this thread, parked until woken.
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut Context::from_waker(&waker)) {
            return output;
        }
        thread::park();
    }
}

/// Whichever of two futures is ready first.
enum First<A, B> {
    Left(A),
    Right(B),
}

async fn first<A: Future, B: Future>(a: A, b: B) -> First<A::Output, B::Output> {
    let (mut a, mut b) = (pin!(a), pin!(b));
    std::future::poll_fn(|cx| {
        if let Poll::Ready(out) = a.as_mut().poll(cx) {
            return Poll::Ready(First::Left(out));
        }
        if let Poll::Ready(out) = b.as_mut().poll(cx) {
            return Poll::Ready(First::Right(out));
        }
        Poll::Pending
    })
    .await
}

/// The watcher: counts events until the topic ends or shutdown is
/// signalled, whichever comes first.
fn watcher(
    events: isula_mailbox::Subscription<ContainerEventResponse>,
    shutdown: Arc<Signal>,
) -> thread::JoinHandle<(usize, bool)> {
    thread::spawn(move || {
        block_on(async {
            let mut seen = 0;
            loop {
                match first(events.recv_async(), shutdown.fired()).await {
                    First::Left(Ok(_event)) => seen += 1,
                    First::Left(Err(RecvError::Closed)) => return (seen, true),
                    First::Left(Err(other)) => panic!("watcher: {other}"),
                    First::Right(()) => return (seen, false),
                }
            }
        })
    })
}

fn main() {
    c_register();
    let stream = c_stream();

    // The Rust module subscribes to what C registered.
    let exporting = CRI_CONTAINER
        .subscribe_foreign_with::<ContainerEventResponse>(SubscriptionOptions::new().capacity(4096))
        .expect("the exporter's subscription");
    let cancel_exporter = exporting.closer();
    let exporter = thread::spawn(move || exporter(exporting));
    let watching = CRI_CONTAINER
        .subscribe_foreign::<ContainerEventResponse>()
        .expect("the watcher's subscription");
    let shutdown = Arc::new(Signal::default());
    let watcher = watcher(watching, Arc::clone(&shutdown));

    // Executors publish: half the daemon's C code, half Rust code.
    let mut published = 0;
    for c in 0..CONTAINERS {
        let id = std::ffi::CString::new(format!("container-{c}")).unwrap();
        for kind in ContainerEventKind::ALL {
            if c % 2 == 0 {
                c_publish(&id, kind);
            } else {
                let message = ContainerMessage::new(&id, c"sandbox", kind);
                match CRI_CONTAINER.publish(&message) {
                    Ok(Published::Delivered {
                        subscribers: 3,
                        missed: 0,
                    }) => {}
                    other => panic!("publish: {other:?}"),
                }
            }
            published += 1;
        }
    }

    // The exporter is cancelled: its Closer wakes it alone.
    thread::sleep(BATCH_DEADLINE * 2);
    cancel_exporter.close();
    let exported = exporter.join().unwrap();
    println!(
        "exporter: {} events in {} batches ({} dropped)",
        exported.events, exported.batches, exported.lagged
    );
    assert_eq!(exported.events as u64 + exported.lagged, published as u64);

    // The daemon's shutdown: the topic goes while the C stream and the
    // watcher wait for more.
    // SAFETY: not called from inside the generator.
    unsafe { mailbox_unregister_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER.into()) };
    let read = stream.join().unwrap();
    let (seen, ended) = watcher.join().unwrap();
    println!("C stream: {read} events; watcher: {seen} events, then the topic ended: {ended}");
    assert_eq!(read, published);
    assert_eq!((seen, ended), (published, true));
    shutdown.fire(); // nobody waits any more: a no-op

    let (made, released) = (
        MADE.load(Ordering::Relaxed),
        RELEASED.load(Ordering::Relaxed),
    );
    println!("generator made {made} responses, release freed {released}");
    assert_eq!(made, published);
    assert_eq!(released, made);
}
