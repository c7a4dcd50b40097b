//! The messages the queues deliver: anything that can hand out another
//! counted reference to itself.

/// A counted reference to a message that several subscribers hold at once.
/// The message goes when the last reference is dropped.
///
/// The C layer's message (`mailbox_message`, whose layout C code reads) is
/// the one the library delivers; any `Arc` works too, which is what the
/// core's own tests and examples use.
pub trait Shared: Sized {
    /// One more reference to the same message, or `None` when it already
    /// has as many as it may.
    fn share(&self) -> Option<Self>;
}

#[cfg(not(loom))]
impl<T> Shared for std::sync::Arc<T> {
    fn share(&self) -> Option<Self> {
        Some(std::sync::Arc::clone(self))
    }
}
