//! Both directions, and a mixed topic: a C generator fed by a Rust
//! publisher and a Rust generator fed by a C publisher.

use std::os::raw::c_int;
use std::sync::Mutex;
use std::time::Duration;

use isula_mailbox::{ContainerEventKind, ContainerMessage, Error, RecvError, CRI_CONTAINER};

use super::*;

/// The topic is process-wide: one test at a time.
static TOPIC: Mutex<()> = Mutex::new(());

const STARTED: c_int = 1;
const STOPPED: c_int = 2;
const SECOND: Duration = Duration::from_secs(1);

#[test]
fn a_c_publisher_reaches_a_rust_subscriber() {
    let _topic = TOPIC.lock().unwrap();
    // SAFETY (whole test): the C functions take and return what interop.h
    // says.
    unsafe {
        assert_eq!(c_register(), 0);
        // A C registrant's events are read as a type promised to be their
        // layout (subscribe_foreign): a plain subscribe says so.
        assert_eq!(
            CRI_CONTAINER.subscribe::<SharedEvent>().err(),
            Some(Error::RegisteredFromC)
        );
        let events = CRI_CONTAINER.subscribe_foreign::<SharedEvent>().unwrap();

        c_publish(c"c1".as_ptr(), STARTED);
        c_publish(c"c2".as_ptr(), STOPPED);
        // A Rust publisher feeds the C generator too.
        let _ = CRI_CONTAINER.publish(&ContainerMessage::new(
            c"c3",
            c"pod",
            ContainerEventKind::Deleted,
        ));

        let received: Vec<(String, c_int)> = (0..3)
            .map(|_| {
                let event = events.recv_timeout(SECOND).unwrap();
                (event.container().to_owned(), event.r#type)
            })
            .collect();
        assert_eq!(
            received,
            vec![
                ("c1".into(), STARTED),
                ("c2".into(), STOPPED),
                ("c3".into(), 3)
            ]
        );
        assert_eq!(c_made(), 3);
        assert_eq!(
            c_released(),
            3,
            "each event freed by the C release once popped and dropped"
        );

        c_unregister();
        assert_eq!(events.recv_timeout(SECOND).err(), Some(RecvError::Closed));
    }
}

#[test]
fn a_rust_publisher_reaches_a_c_subscriber() {
    let _topic = TOPIC.lock().unwrap();
    let registration = CRI_CONTAINER
        .register_foreign(|message: &ContainerMessage<'_>| {
            let id = message.container_id()?.to_str().ok()?;
            Some(SharedEvent::new(id, message.kind()? as c_int))
        })
        .unwrap();
    // SAFETY (whole block): the C functions take and return what interop.h
    // says; `stream` is destroyed once, at the end.
    unsafe {
        let stream = c_subscribe();
        assert!(!stream.is_null());
        let _ = CRI_CONTAINER.publish(&ContainerMessage::new(
            c"r1",
            c"pod",
            ContainerEventKind::Created,
        ));
        // A C publisher feeds the Rust generator too.
        c_publish(c"r2".as_ptr(), STARTED);

        let mut event = SharedEvent::new("", -1);
        assert_eq!(c_pop(stream, &mut event), 1);
        assert_eq!((event.container(), event.r#type), ("r1", 0));
        assert_eq!(c_pop(stream, &mut event), 1);
        assert_eq!((event.container(), event.r#type), ("r2", STARTED));

        let stats = CRI_CONTAINER.stats().unwrap();
        assert_eq!(
            (stats.published, stats.subscribers, stats.pending),
            (2, 1, 0)
        );

        registration.unregister().unwrap();
        assert_eq!(c_pop(stream, &mut event), 0, "the C stream ends with NULL");
        c_destroy(stream);
    }
}

#[test]
fn rust_and_c_subscribers_see_one_order() {
    let _topic = TOPIC.lock().unwrap();
    let registration = CRI_CONTAINER
        .register_foreign(|message: &ContainerMessage<'_>| {
            Some(SharedEvent::new(message.container_id()?.to_str().ok()?, 0))
        })
        .unwrap();
    let rust_stream = CRI_CONTAINER.subscribe::<SharedEvent>().unwrap();
    // SAFETY (whole block): as above.
    unsafe {
        let c_stream = c_subscribe();
        let publishers: Vec<_> = (0..2)
            .map(|p| {
                std::thread::spawn(move || {
                    for i in 0..200 {
                        let id = std::ffi::CString::new(format!("p{p}-{i}")).unwrap();
                        if p == 0 {
                            let _ = CRI_CONTAINER.publish(&ContainerMessage::new(
                                &id,
                                c"pod",
                                ContainerEventKind::Started,
                            ));
                        } else {
                            c_publish(id.as_ptr(), STARTED);
                        }
                    }
                })
            })
            .collect();
        for publisher in publishers {
            publisher.join().unwrap();
        }
        let mut event = SharedEvent::new("", 0);
        for _ in 0..400 {
            assert_eq!(c_pop(c_stream, &mut event), 1);
            let rust_event = rust_stream.recv_timeout(SECOND).unwrap();
            assert_eq!(rust_event.container(), event.container());
        }
        c_destroy(c_stream);
    }
    registration.unregister().unwrap();
}

/// A Rust generator that panics on a C publish, with a C stream reading:
/// the panic stops in the library, the C publish returns, the stream gets
/// the next event, and the process lives.
#[test]
fn a_panicking_rust_generator_under_a_c_publisher_and_a_c_stream() {
    let _topic = TOPIC.lock().unwrap();
    let registration = CRI_CONTAINER
        .register_foreign(|message: &ContainerMessage<'_>| {
            let id = message.container_id()?.to_str().ok()?;
            assert_ne!(id, "panic", "the generator panics");
            Some(SharedEvent::new(id, message.kind()? as c_int))
        })
        .unwrap();
    // SAFETY (whole block): as above.
    unsafe {
        let stream = c_subscribe();
        assert!(!stream.is_null());
        c_publish(c"panic".as_ptr(), STARTED);
        c_publish(c"after".as_ptr(), STOPPED);
        let mut event = SharedEvent::new("", -1);
        assert_eq!(c_pop(stream, &mut event), 1);
        assert_eq!((event.container(), event.r#type), ("after", STOPPED));
        let stats = CRI_CONTAINER.stats().unwrap();
        assert_eq!((stats.published, stats.dropped), (1, 1));
        registration.unregister().unwrap();
        assert_eq!(c_pop(stream, &mut event), 0);
        c_destroy(stream);
    }
}
