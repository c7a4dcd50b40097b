//! The safe Rust API over the process's topics: the same topics the C
//! functions of `mailbox.h` use, so Rust code in the daemon publishes to C
//! subscribers and subscribes to C publishers.
//!
//! - [`Topic`]: register, publish, subscribe, stats and settings;
//!   [`CRI_CONTAINER`] is the one topic there is.
//! - [`Subscription`]: events from subscribing on; unsubscribes when dropped.
//! - [`Event`]: one reference to an event; dereferences to its data.
//! - [`Error`], [`RecvError`]: why a call failed.
//!
//! Safe Rust only (the `forbid` below): what reads C data or asserts a
//! type is in `mailbox/events.rs`, below both this API and the C ABI.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod subscription;
mod topic;

pub use error::{Error, RecvError};
pub use isula_mailbox_broker::typed::{
    ContainerEventKind, ContainerMessage, CriContainer, Event, ForeignEvent, TopicKind,
};
pub use subscription::Subscription;
pub use topic::{Topic, TopicStats, CRI_CONTAINER};
