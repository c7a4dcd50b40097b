//! # isula-mailbox: the Rust API
//!
//! iSulad's in-process pub/sub for Rust code in the daemon: the same
//! topics its C code publishes to and subscribes to through the C library
//! (`isula-mailbox-ffi`, the `mailbox_*` functions), one broker per
//! process. A C publisher reaches a Rust subscriber, and the other way
//! round.
//!
//! - [`Topic`]: register (owned by a [`Registration`]), publish (which says
//!   what happened: [`Published`]), subscribe, stats; [`CRI_CONTAINER`] is
//!   the one topic there is.
//! - [`Subscription`]: the events from subscribing on, received blocking,
//!   with a time limit, without waiting, as an iterator or awaited
//!   ([`Subscription::recv_async`], no runtime needed); closed on its own
//!   ([`Closer`]); options of its own ([`SubscriptionOptions`]). A bounded
//!   subscription says what it dropped ([`RecvError::Lagged`]); when the
//!   topic ends, what was queued is received first.
//! - [`Event`]: one reference to an event; dereferences to its data.
//! - [`ForeignEvent`]: the promise that a Rust type is a topic's C events
//!   (the daemon registers `CRI_CONTAINER` from C).
//! - [`Error`], [`RecvError`]: why a call failed.
//!
//! The daemon's case, C registers and Rust subscribes, in
//! `examples/cri_exporter.rs`. A Rust registrant, publisher and subscriber:
//!
//! ```
//! use isula_mailbox::{ContainerEventKind, ContainerMessage, RecvError, CRI_CONTAINER};
//!
//! #[derive(Debug)]
//! struct MyEvent {
//!     container: String,
//!     kind: ContainerEventKind,
//! }
//!
//! fn handle(event: &MyEvent) {
//!     println!("{} {:?}", event.container, event.kind);
//! }
//!
//! # fn main() -> Result<(), isula_mailbox::Error> {
//! // The topic's generator: called only when someone subscribes; the
//! // registration is the module's (dropped, it unregisters).
//! let registration = CRI_CONTAINER.register(|message: &ContainerMessage<'_>| {
//!     Some(MyEvent {
//!         container: message.container_id()?.to_string_lossy().into_owned(),
//!         kind: message.kind()?,
//!     })
//! })?;
//! let events = CRI_CONTAINER.subscribe::<MyEvent>()?; // unsubscribes when dropped
//! CRI_CONTAINER.publish(&ContainerMessage::new(c"c1", c"pod", ContainerEventKind::Started))?;
//! registration.unregister()?; // the subscription gets what was queued, then Closed
//! loop {
//!     match events.recv() {
//!         Ok(event) => handle(&event), // Event<MyEvent> derefs to MyEvent
//!         Err(RecvError::Lagged(n)) => eprintln!("{n} events dropped"),
//!         Err(RecvError::Closed) => break,
//!         Err(other) => unreachable!("{other}"),
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Safe Rust only (the `forbid` below): what reads C data or asserts a
//! type is in the broker (`isula-mailbox-broker`), below both this API and
//! the C library.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod subscription;
mod topic;

/// The README's Rust examples, compiled and run as doctests.
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

pub use error::{Error, RecvError};
pub use isula_mailbox_broker::typed::{
    ContainerEventKind, ContainerMessage, CriContainer, Event, ForeignEvent, TopicKind,
};
pub use subscription::{Closer, Iter, Recv, Subscription, TryIter};
pub use topic::{Published, Registration, SubscriptionOptions, Topic, TopicStats, CRI_CONTAINER};
