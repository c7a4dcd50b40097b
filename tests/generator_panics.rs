//! A Rust generator that panics, on every path a publish takes: async and
//! sync topics, with and without subscribers, published from Rust and from
//! C, and from inside another generator. Each publish fails (one log line,
//! each subscriber's miss counted in `dropped`), nothing is leaked or
//! released twice, and the next publish works. Runs under Miri too.
//! (Its own binary: the topic and the log callback are process-wide.)

use std::ffi::CStr;
use std::os::raw::{c_char, c_void};
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use isula_mailbox::{
    ContainerEventKind, ContainerMessage, CriContainer, Error, ForeignEvent, RecvError,
    CRI_CONTAINER,
};
use isula_mailbox_ffi::isula_mailbox::mailbox_log_level::{MAILBOX_LOG_ERROR, MAILBOX_LOG_WARN};
use isula_mailbox_ffi::isula_mailbox::{
    mailbox_get_topic_stats, mailbox_set_log_callback, mailbox_topic_stats, RawLogLevel,
};
use isula_mailbox_ffi::mailbox::cri_container_message_type::CRI_CONTAINER_MESSAGE_TYPE_STARTED;
use isula_mailbox_ffi::mailbox::mailbox_topic::MAILBOX_TOPIC_CRI_CONTAINER;
use isula_mailbox_ffi::mailbox::{cri_container_message_t, mailbox_publish, mailbox_subscribe};
use isula_mailbox_ffi::mailbox_message::mailbox_message_unref;
use isula_mailbox_ffi::message_subscriber::{message_subscriber_destroy, message_subscriber_pop};

/// One test at a time: the topic is process-wide.
static TOPIC: Mutex<()> = Mutex::new(());

static MADE: AtomicUsize = AtomicUsize::new(0);
static DROPPED: AtomicUsize = AtomicUsize::new(0);

/// An event that counts how many were made and dropped.
#[derive(Debug)]
struct Counted {
    container: String,
}

impl Counted {
    fn new(container: &CStr) -> Self {
        MADE.fetch_add(1, Ordering::SeqCst);
        Counted {
            container: container.to_string_lossy().into_owned(),
        }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        DROPPED.fetch_add(1, Ordering::SeqCst);
    }
}

// SAFETY: this test's C subscriber (Rust code through the C functions)
// reads the data as a `Counted`; it is not changed once made, and its
// release (its `Drop`) may run on any thread.
unsafe impl ForeignEvent<CriContainer> for Counted {}

/// A panic payload whose own `Drop` panics.
struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("the payload's Drop panics");
    }
}

/// Makes a `Counted` for the container, then panics for the containers
/// named so (the event it made is dropped by the unwind); "outer" first
/// publishes "panic" from inside the generator.
fn generate(message: &ContainerMessage<'_>) -> Option<Counted> {
    let id = message.container_id()?;
    let event = Counted::new(id);
    match id.to_bytes() {
        b"panic" => panic!("the generator panics"),
        b"panic-payload" => std::panic::panic_any(PanicsOnDrop),
        b"outer" => assert_eq!(
            CRI_CONTAINER.publish(&message_of(c"panic")),
            Err(Error::GeneratorPanicked),
            "the nested publish fails, alone"
        ),
        _ => {}
    }
    Some(event)
}

fn message_of(id: &CStr) -> ContainerMessage<'_> {
    ContainerMessage::new(id, c"pod", ContainerEventKind::Started)
}

/// Publishes through the C ABI, as the daemon's executor does.
fn c_publish(id: &CStr) {
    let mut message = cri_container_message_t {
        container_id: id.as_ptr(),
        sandbox_id: c"pod".as_ptr(),
        r#type: CRI_CONTAINER_MESSAGE_TYPE_STARTED.into(),
    };
    // SAFETY: the topic's generator reads a `cri_container_message_t`,
    // valid for the call.
    unsafe {
        mailbox_publish(
            MAILBOX_TOPIC_CRI_CONTAINER.into(),
            ptr::addr_of_mut!(message).cast(),
        )
    };
}

fn stats() -> mailbox_topic_stats {
    let mut stats = mailbox_topic_stats::default();
    // SAFETY: `stats` is writable.
    assert_eq!(
        unsafe { mailbox_get_topic_stats(MAILBOX_TOPIC_CRI_CONTAINER.into(), &mut stats) },
        0
    );
    stats
}

static ERRORS: Mutex<Vec<String>> = Mutex::new(Vec::new());

unsafe extern "C" fn collect_errors(
    _level: RawLogLevel,
    message: *const c_char,
    _user: *mut c_void,
) {
    // SAFETY: the library passes a NUL-terminated string valid for the call.
    let message = unsafe { CStr::from_ptr(message) };
    ERRORS
        .lock()
        .unwrap()
        .push(message.to_string_lossy().into_owned());
}

/// Runs `test` with the topic registered with `generate` and the ERROR
/// records collected; then checks every event made was dropped once.
fn with_topic(test: impl FnOnce()) {
    let _topic = TOPIC.lock().unwrap_or_else(|e| e.into_inner());
    ERRORS.lock().unwrap().clear();
    // SAFETY: `collect_errors` may be called from any thread.
    unsafe {
        mailbox_set_log_callback(
            Some(collect_errors),
            MAILBOX_LOG_ERROR.into(),
            ptr::null_mut(),
        )
    };
    let made = MADE.load(Ordering::SeqCst);
    let dropped = DROPPED.load(Ordering::SeqCst);
    let registration = CRI_CONTAINER.register_foreign(generate).unwrap();
    test();
    registration.unregister().unwrap();
    // SAFETY: no callback.
    unsafe { mailbox_set_log_callback(None, MAILBOX_LOG_WARN.into(), ptr::null_mut()) };
    assert_eq!(
        MADE.load(Ordering::SeqCst) - made,
        DROPPED.load(Ordering::SeqCst) - dropped,
        "every event made was dropped, once"
    );
}

fn errors() -> Vec<String> {
    std::mem::take(&mut *ERRORS.lock().unwrap())
}

/// What C's publish logs; the Rust API names the topic.
const PANICKED: &str = "the generator of topic 0 panicked; the event reached no subscriber";
const RUST_PANICKED: &str =
    "Topic::publish: the generator of topic CRI_CONTAINER panicked; the event reached no subscriber";

#[test]
fn async_topic_rust_subscriber_rust_and_c_publishers() {
    with_topic(|| {
        let events = CRI_CONTAINER.subscribe::<Counted>().unwrap();
        assert_eq!(
            CRI_CONTAINER.publish(&message_of(c"panic")),
            Err(Error::GeneratorPanicked)
        );
        assert_eq!(errors(), [RUST_PANICKED]);
        c_publish(c"panic");
        assert_eq!(errors(), [format!("mailbox_publish: {PANICKED}")]);
        assert_eq!(stats().dropped, 2, "each subscriber's miss counted");
        assert_eq!(stats().published, 0);

        // The next publishes work, from both sides.
        let _ = CRI_CONTAINER.publish(&message_of(c"after-rust"));
        c_publish(c"after-c");
        assert_eq!(events.try_recv().unwrap().container, "after-rust");
        assert_eq!(events.try_recv().unwrap().container, "after-c");
        assert_eq!(events.try_recv().err(), Some(RecvError::Empty));
    });
}

#[test]
fn async_topic_c_subscriber() {
    with_topic(|| {
        // SAFETY: the topic is registered; the subscriber is destroyed below.
        let sub = mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER.into());
        assert!(!sub.is_null());
        c_publish(c"panic");
        let _ = CRI_CONTAINER.publish(&message_of(c"panic"));
        c_publish(c"ok");
        let mut msg = ptr::null_mut();
        // SAFETY: `sub` is live, `msg` writable; the popped reference is
        // ours and given back; its data is a `Counted` (the generator's).
        unsafe {
            assert_eq!(message_subscriber_pop(sub, &mut msg), 0);
            assert_eq!((*(*msg).data.cast::<Counted>()).container, "ok");
            mailbox_message_unref(msg);
            message_subscriber_destroy(sub);
        }
        assert_eq!(errors().len(), 2);
    });
}

#[test]
fn async_topic_without_subscribers_calls_no_generator() {
    with_topic(|| {
        let made = MADE.load(Ordering::SeqCst);
        let _ = CRI_CONTAINER.publish(&message_of(c"panic"));
        c_publish(c"panic");
        assert_eq!(MADE.load(Ordering::SeqCst), made);
        assert!(errors().is_empty());
    });
}

#[test]
fn a_panic_in_a_nested_publish_fails_that_publish_only() {
    with_topic(|| {
        let events = CRI_CONTAINER.subscribe::<Counted>().unwrap();
        let _ = CRI_CONTAINER.publish(&message_of(c"outer"));
        c_publish(c"outer");
        assert_eq!(events.try_recv().unwrap().container, "outer");
        assert_eq!(events.try_recv().unwrap().container, "outer");
        assert_eq!(events.try_recv().err(), Some(RecvError::Empty));
        assert_eq!(errors(), [RUST_PANICKED, RUST_PANICKED]);
        assert_eq!((stats().published, stats().dropped), (2, 2));
    });
}

#[test]
fn a_panic_whose_payload_panics_when_dropped_is_contained() {
    with_topic(|| {
        let events = CRI_CONTAINER.subscribe::<Counted>().unwrap();
        let _ = CRI_CONTAINER.publish(&message_of(c"panic-payload"));
        c_publish(c"panic-payload");
        c_publish(c"ok");
        assert_eq!(events.try_recv().unwrap().container, "ok");
        assert_eq!(errors().len(), 2);
    });
}

#[test]
fn sync_topic_handler_panics_from_rust_and_c() {
    let _topic = TOPIC.lock().unwrap_or_else(|e| e.into_inner());
    static HANDLED: AtomicUsize = AtomicUsize::new(0);
    let registration = CRI_CONTAINER
        .register_handler(|message: &ContainerMessage<'_>| {
            HANDLED.fetch_add(1, Ordering::SeqCst);
            if message.container_id() == Some(c"panic") {
                panic!("the handler panics");
            }
        })
        .unwrap();
    let _ = CRI_CONTAINER.publish(&message_of(c"panic"));
    c_publish(c"panic");
    let _ = CRI_CONTAINER.publish(&message_of(c"ok"));
    c_publish(c"ok");
    assert_eq!(HANDLED.load(Ordering::SeqCst), 4, "each publish ran it");
    registration.unregister().unwrap();
}

/// A generator panicking in one thread while others publish and receive:
/// the topic stays usable by all.
#[test]
fn panics_in_several_threads_leave_the_topic_usable() {
    let rounds = if cfg!(miri) { 3 } else { 200 };
    with_topic(|| {
        let events = CRI_CONTAINER.subscribe::<Counted>().unwrap();
        std::thread::scope(|scope| {
            for thread in 0..2 {
                scope.spawn(move || {
                    for i in 0..rounds {
                        if (i + thread) % 2 == 0 {
                            let _ = CRI_CONTAINER.publish(&message_of(c"panic"));
                        } else {
                            c_publish(c"ok");
                        }
                    }
                });
            }
        });
        let mut received = 0;
        while let Ok(event) = events.recv_timeout(Duration::ZERO) {
            assert_eq!(event.container, "ok");
            received += 1;
        }
        assert_eq!(received, rounds);
        assert_eq!(stats().dropped as usize, rounds);
        errors();
    });
}
