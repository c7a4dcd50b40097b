//! The CRI container topic: what the daemon's executor, supervisor and
//! sandbox manager publish on every container create, start, stop and
//! delete, and what each kubelet `GetContainerEvents` stream receives.

use std::ffi::CStr;
use std::marker::PhantomData;
use std::os::raw::c_int;

use super::topic::{Topic, TopicKind};
use crate::ffi::mailbox::{
    cri_container_message_t, cri_container_message_type, mailbox_topic, RawMessageType,
};

/// The topic `MAILBOX_TOPIC_CRI_CONTAINER`, the same one the C functions
/// use: a C publisher reaches a Rust subscriber and the other way round.
pub const CRI_CONTAINER: Topic<CriContainer> = Topic::new(
    mailbox_topic::MAILBOX_TOPIC_CRI_CONTAINER as usize,
    "CRI_CONTAINER",
);

/// The kind of topic [`CRI_CONTAINER`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CriContainer {}

impl TopicKind for CriContainer {
    type Input<'a> = ContainerMessage<'a>;
}

/// What happened to a container. `kind as c_int` is the C value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum ContainerEventKind {
    /// `CRI_CONTAINER_MESSAGE_TYPE_CREATED`
    Created = cri_container_message_type::CRI_CONTAINER_MESSAGE_TYPE_CREATED as i32,
    /// `CRI_CONTAINER_MESSAGE_TYPE_STARTED`
    Started = cri_container_message_type::CRI_CONTAINER_MESSAGE_TYPE_STARTED as i32,
    /// `CRI_CONTAINER_MESSAGE_TYPE_STOPPED`
    Stopped = cri_container_message_type::CRI_CONTAINER_MESSAGE_TYPE_STOPPED as i32,
    /// `CRI_CONTAINER_MESSAGE_TYPE_DELETED`
    Deleted = cri_container_message_type::CRI_CONTAINER_MESSAGE_TYPE_DELETED as i32,
}

impl ContainerEventKind {
    /// Every kind, in lifecycle order.
    pub const ALL: [ContainerEventKind; 4] = [
        ContainerEventKind::Created,
        ContainerEventKind::Started,
        ContainerEventKind::Stopped,
        ContainerEventKind::Deleted,
    ];

    /// The kind a C value stands for; `None` for anything else.
    pub fn from_c(value: c_int) -> Option<Self> {
        ContainerEventKind::ALL
            .into_iter()
            .find(|&kind| kind as c_int == value)
    }
}

/// One container event as published on [`CRI_CONTAINER`]: laid out as the
/// daemon's `cri_container_message_t`, which C publishers pass, borrowing
/// the two ids for the publish.
///
/// ```
/// use isula_mailbox::{ContainerEventKind, ContainerMessage};
///
/// let message = ContainerMessage::new(c"c1", c"pod1", ContainerEventKind::Started);
/// assert_eq!(message.container_id(), Some(c"c1"));
/// assert_eq!(message.kind(), Some(ContainerEventKind::Started));
/// ```
#[repr(transparent)]
pub struct ContainerMessage<'a> {
    raw: cri_container_message_t,
    ids: PhantomData<&'a CStr>,
}

impl<'a> ContainerMessage<'a> {
    /// The event `kind` of container `container_id` in sandbox `sandbox_id`.
    pub fn new(container_id: &'a CStr, sandbox_id: &'a CStr, kind: ContainerEventKind) -> Self {
        ContainerMessage {
            raw: cri_container_message_t {
                container_id: container_id.as_ptr(),
                sandbox_id: sandbox_id.as_ptr(),
                r#type: RawMessageType(kind as c_int),
            },
            ids: PhantomData,
        }
    }

    /// The container's id; `None` if a C publisher passed NULL.
    pub fn container_id(&self) -> Option<&CStr> {
        // SAFETY: the pointer is NULL or a C string valid while the message
        // is borrowed: `new` takes it from a `&'a CStr`, and C publishers
        // pass a stack message with live strings for the call, the topic's
        // convention.
        (!self.raw.container_id.is_null()).then(|| unsafe { CStr::from_ptr(self.raw.container_id) })
    }

    /// The sandbox's id; `None` if a C publisher passed NULL.
    pub fn sandbox_id(&self) -> Option<&CStr> {
        // SAFETY: as `container_id`.
        (!self.raw.sandbox_id.is_null()).then(|| unsafe { CStr::from_ptr(self.raw.sandbox_id) })
    }

    /// What happened; `None` if a C publisher passed a value outside the enum.
    pub fn kind(&self) -> Option<ContainerEventKind> {
        ContainerEventKind::from_c(self.raw.r#type.0)
    }
}
