//! What a Rust module of the daemon relies on, through the Rust API (and
//! the C functions where C's side is the point): subscriptions closed on
//! their own, awaited, configured on their own, saying what they dropped;
//! registrations with an owner; publish saying what happened. Runs under
//! Miri too. (One binary, one test at a time: the topic is process-wide.)

use std::future::Future;
use std::pin::pin;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::Duration;

use isula_mailbox::{
    ContainerEventKind, ContainerMessage, CriContainer, Error, ForeignEvent, Published, RecvError,
    SubscriptionOptions, CRI_CONTAINER,
};
use isula_mailbox_ffi::mailbox::mailbox_topic::MAILBOX_TOPIC_CRI_CONTAINER;
use isula_mailbox_ffi::mailbox::{
    mailbox_register_topic_handler, mailbox_subscribe, mailbox_unregister_topic_handler,
};
use isula_mailbox_ffi::message_subscriber::message_subscriber_destroy;

static TOPIC: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    TOPIC.lock().unwrap_or_else(|e| e.into_inner())
}

fn message(kind: ContainerEventKind) -> ContainerMessage<'static> {
    ContainerMessage::new(c"c1", c"pod", kind)
}

fn publish(kind: ContainerEventKind) -> Published {
    CRI_CONTAINER.publish(&message(kind)).unwrap()
}

/// A Rust registrant of the kinds, for the tests that need any.
fn register_kinds() -> isula_mailbox::Registration<CriContainer> {
    CRI_CONTAINER
        .register(|message: &ContainerMessage<'_>| message.kind())
        .unwrap()
}

#[test]
fn closing_one_subscription_wakes_it_alone() {
    let _one = one_at_a_time();
    let _registration = register_kinds();
    let closed = CRI_CONTAINER.subscribe::<ContainerEventKind>().unwrap();
    let other = CRI_CONTAINER.subscribe::<ContainerEventKind>().unwrap();
    let closer = closed.closer();
    let woken = AtomicBool::new(false);
    thread::scope(|scope| {
        let waiting_closed = scope.spawn(|| {
            let got = closed.recv();
            woken.store(true, Ordering::SeqCst);
            got
        });
        let waiting_other = scope.spawn(|| other.recv_timeout(Duration::from_secs(30)));
        thread::sleep(Duration::from_millis(20));
        closer.close();
        assert_eq!(
            waiting_closed.join().unwrap().unwrap_err(),
            RecvError::Closed
        );
        assert!(woken.load(Ordering::SeqCst));
        // The other one still waits, and gets the next event.
        assert_eq!(
            publish(ContainerEventKind::Started),
            Published::Delivered {
                subscribers: 1,
                missed: 0
            }
        );
        assert_eq!(
            *waiting_other.join().unwrap().unwrap(),
            ContainerEventKind::Started
        );
    });
    assert_eq!(CRI_CONTAINER.stats().unwrap().subscribers, 1);
}

/// Unparks a thread: the waker of the smallest executor; counts wake-ups.
struct Unpark {
    thread: thread::Thread,
    wakes: AtomicUsize,
}

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
        self.thread.unpark();
    }
}

/// Runs `future` on this thread, parked until woken; with the wake-ups.
fn block_on<F: Future>(future: F) -> (F::Output, usize) {
    let unpark = Arc::new(Unpark {
        thread: thread::current(),
        wakes: AtomicUsize::new(0),
    });
    let waker = Waker::from(Arc::clone(&unpark));
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut Context::from_waker(&waker)) {
            return (output, unpark.wakes.load(Ordering::SeqCst));
        }
        thread::park();
    }
}

/// An awaited receive is woken by the push itself (no thread waits for it,
/// nothing polls): the executor is woken once and the event is there.
#[test]
fn an_awaited_receive_is_woken_by_the_push() {
    let _one = one_at_a_time();
    let _registration = register_kinds();
    let events = CRI_CONTAINER.subscribe::<ContainerEventKind>().unwrap();
    thread::scope(|scope| {
        let publisher = scope.spawn(|| {
            thread::sleep(Duration::from_millis(20));
            publish(ContainerEventKind::Deleted)
        });
        let (event, wakes) = block_on(events.recv_async());
        assert_eq!(*event.unwrap(), ContainerEventKind::Deleted);
        assert!(wakes >= 1, "woken by the push, not found by polling");
        assert!(matches!(
            publisher.join().unwrap(),
            Published::Delivered { subscribers: 1, .. }
        ));
    });
    // Closing wakes an awaiting task too.
    let closer = events.closer();
    thread::scope(|scope| {
        scope.spawn(|| {
            thread::sleep(Duration::from_millis(20));
            closer.close();
        });
        let (ended, _) = block_on(events.recv_async());
        assert_eq!(ended.unwrap_err(), RecvError::Closed);
    });
}

/// The race the process-wide settings had: one thread subscribes bounded
/// over and over while another subscribes unbounded; the unbounded one
/// must never lose an event. Options belong to their subscription alone.
#[test]
fn one_subscriptions_options_never_touch_another() {
    let _one = one_at_a_time();
    let _registration = register_kinds();
    let rounds = if cfg!(miri) { 4 } else { 2000 };
    let done = AtomicBool::new(false);
    thread::scope(|scope| {
        scope.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                let bounded = CRI_CONTAINER
                    .subscribe_with::<ContainerEventKind>(SubscriptionOptions::new().capacity(1))
                    .unwrap();
                drop(bounded);
            }
        });
        let mut lost = 0;
        for _ in 0..rounds {
            let events = CRI_CONTAINER.subscribe::<ContainerEventKind>().unwrap();
            for kind in ContainerEventKind::ALL {
                publish(kind);
            }
            let received = events.try_iter().count();
            lost += 4 - received;
            assert_eq!(events.take_lagged(), 0);
        }
        done.store(true, Ordering::Relaxed);
        assert_eq!(lost, 0, "events lost by unbounded subscriptions");
    });
}

#[test]
fn a_bounded_subscription_says_how_many_it_dropped() {
    let _one = one_at_a_time();
    let _registration = register_kinds();
    let events = CRI_CONTAINER
        .subscribe_with::<ContainerEventKind>(SubscriptionOptions::new().capacity(2))
        .unwrap();
    for _ in 0..3 {
        for kind in ContainerEventKind::ALL {
            publish(kind);
        }
    }
    // 12 published, 2 kept: 10 dropped, said once, before the kept ones.
    assert_eq!(events.recv().unwrap_err(), RecvError::Lagged(10));
    assert_eq!(*events.recv().unwrap(), ContainerEventKind::Stopped);
    assert_eq!(*events.recv().unwrap(), ContainerEventKind::Deleted);
    assert_eq!(events.try_recv().unwrap_err(), RecvError::Empty);
    assert_eq!(CRI_CONTAINER.stats().unwrap().dropped, 10);
}

/// Unregistered with events queued: a Rust subscription receives them,
/// then `Closed`; a C one (the C contract) returns NULL at once.
#[test]
fn events_queued_when_the_topic_ends_are_received_first() {
    let _one = one_at_a_time();
    let registration = register_kinds();
    let events = CRI_CONTAINER.subscribe::<ContainerEventKind>().unwrap();
    for kind in ContainerEventKind::ALL {
        publish(kind);
    }
    registration.unregister().unwrap();
    let received: Vec<ContainerEventKind> = events.iter().map(|event| *event).collect();
    assert_eq!(received, ContainerEventKind::ALL);
    assert_eq!(events.recv().unwrap_err(), RecvError::Closed);
    assert_eq!(
        publish(ContainerEventKind::Created),
        Published::NotRegistered
    );
}

#[test]
fn publish_says_what_happened() {
    let _one = one_at_a_time();
    assert_eq!(
        publish(ContainerEventKind::Created),
        Published::NotRegistered
    );
    let registration = CRI_CONTAINER
        .register(|message: &ContainerMessage<'_>| {
            // Nothing for a deletion.
            message
                .kind()
                .filter(|&kind| kind != ContainerEventKind::Deleted)
        })
        .unwrap();
    assert_eq!(
        publish(ContainerEventKind::Created),
        Published::NobodySubscribed
    );
    let _a = CRI_CONTAINER.subscribe::<ContainerEventKind>().unwrap();
    let _b = CRI_CONTAINER.subscribe::<ContainerEventKind>().unwrap();
    assert_eq!(
        publish(ContainerEventKind::Started),
        Published::Delivered {
            subscribers: 2,
            missed: 0
        }
    );
    assert_eq!(publish(ContainerEventKind::Deleted), Published::NothingMade);
    drop(registration);
    let handled = CRI_CONTAINER
        .register_handler(|_: &ContainerMessage<'_>| {})
        .unwrap();
    assert_eq!(publish(ContainerEventKind::Started), Published::Handled);
    drop(handled);
    let panicking = CRI_CONTAINER
        .register(|_: &ContainerMessage<'_>| -> Option<u8> { panic!("a generator's bug") })
        .unwrap();
    let _c = CRI_CONTAINER.subscribe::<u8>().unwrap();
    assert_eq!(
        CRI_CONTAINER.publish(&message(ContainerEventKind::Started)),
        Err(Error::GeneratorPanicked)
    );
    drop(panicking);
}

/// The daemon's C generator: makes a `CEvent` from the message.
unsafe extern "C" fn c_generate(
    _context: *mut std::os::raw::c_void,
    data: *mut std::os::raw::c_void,
) -> *mut std::os::raw::c_void {
    // SAFETY: the topic's publishers pass a `cri_container_message_t`.
    let message = unsafe { &*data.cast::<isula_mailbox_ffi::mailbox::cri_container_message_t>() };
    Box::into_raw(Box::new(CEvent {
        kind: message.r#type.0,
    }))
    .cast()
}

unsafe extern "C" fn c_release(data: *mut std::os::raw::c_void) {
    // SAFETY: what `c_generate` made, released once.
    drop(unsafe { Box::from_raw(data.cast::<CEvent>()) });
}

/// The C type of the topic's events, in this test.
#[repr(C)]
struct CEvent {
    kind: i32,
}

// SAFETY: `c_generate` makes a `CEvent`; it is never changed once made, and
// `c_release` may free it from any thread.
unsafe impl ForeignEvent<CriContainer> for CEvent {}

/// Registrations have owners: a Rust module cannot take over C's topic by
/// accident; ending another's registration is the explicit `shut_down`;
/// and once it did, Rust events C cannot read never reach a C subscriber
/// (it is refused), while a Rust owner's drop leaves a later registration
/// alone.
#[test]
fn a_safe_rust_call_never_replaces_cs_registration_under_c_subscribers() {
    let _one = one_at_a_time();
    // SAFETY (whole test): the C functions take what mailbox.h says; the
    // generator and release may be called from any thread.
    unsafe {
        assert_eq!(
            mailbox_register_topic_handler(
                MAILBOX_TOPIC_CRI_CONTAINER.into(),
                Some(c_generate),
                ptr::null_mut(),
                Some(c_release),
                true,
            ),
            0
        );
    }
    assert_eq!(register_kinds_err(), Error::AlreadyRegistered);
    assert_eq!(
        CRI_CONTAINER.subscribe::<ContainerEventKind>().unwrap_err(),
        Error::RegisteredFromC,
        "the error names the way: subscribe_foreign"
    );
    let foreign = CRI_CONTAINER.subscribe_foreign::<CEvent>().unwrap();
    publish(ContainerEventKind::Stopped);
    assert_eq!(foreign.recv().unwrap().kind, 2);

    // Shutting C's registration down is explicit; then a Rust registrant
    // of Rust events: a C subscriber is refused, never fed them.
    assert_eq!(CRI_CONTAINER.shut_down(), Ok(1));
    let rust = register_kinds();
    let c_subscriber = mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER.into());
    assert!(c_subscriber.is_null(), "C cannot read Rust's events");

    // An owner's registration ended by someone else: its drop leaves the
    // registration that came after alone.
    assert_eq!(CRI_CONTAINER.shut_down(), Ok(0));
    let after = CRI_CONTAINER
        .register_foreign(|m: &ContainerMessage<'_>| {
            Some(CEvent {
                kind: m.kind()? as i32,
            })
        })
        .unwrap();
    drop(rust);
    assert!(CRI_CONTAINER.is_registered());
    let c_subscriber = mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER.into());
    assert!(!c_subscriber.is_null(), "C reads events laid out for it");
    // SAFETY: a live subscriber, destroyed once.
    unsafe { message_subscriber_destroy(c_subscriber) };
    after.unregister().unwrap();
    // SAFETY: not registered: logged and ignored.
    unsafe { mailbox_unregister_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER.into()) };
}

fn register_kinds_err() -> Error {
    CRI_CONTAINER
        .register(|message: &ContainerMessage<'_>| message.kind())
        .unwrap_err()
}
