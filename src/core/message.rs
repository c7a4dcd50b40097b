//! Messages shared by subscribers: the [`Shared`] trait the queues deliver
//! through, and [`Message`], a reference-counted payload that implements it.

use super::sync::Arc;

/// A counted reference to a message that several subscribers hold at once.
/// The message goes when the last reference is dropped.
///
/// The queues of this crate deliver any `Shared` type; the C layer uses its
/// own, whose layout C code reads directly.
pub trait Shared: Sized {
    /// One more reference to the same message, or `None` when it already
    /// has as many as it may.
    fn share(&self) -> Option<Self>;
}

/// One reference to a shared payload `P`.
///
/// Cloning is explicit and can fail: a message holds at most
/// [`Message::MAX_REFS`] references, like the original C counter (`INT_MAX`),
/// so that a runaway `ref` loop gets an error instead of aborting the daemon.
///
/// ```
/// use isula_mailbox::core::message::Message;
///
/// let first = Message::new(String::from("container created"));
/// let second = first.try_clone().unwrap();
/// assert_eq!(second.ref_count(), 2);
/// drop(first);
/// assert_eq!(second.payload(), "container created");
/// ```
#[derive(Debug)]
pub struct Message<P> {
    shared: Arc<P>,
}

impl<P> Message<P> {
    /// The most references one message may have at once.
    pub const MAX_REFS: usize = i32::MAX as usize;

    /// A message with one reference.
    pub fn new(payload: P) -> Self {
        Message {
            shared: Arc::new(payload),
        }
    }

    /// The shared payload.
    pub fn payload(&self) -> &P {
        &self.shared
    }

    /// A second reference, or `None` if the message already has
    /// [`MAX_REFS`](Self::MAX_REFS). The limit is checked and then taken in
    /// two steps, so racing threads may overshoot it by their number: far
    /// below the point (`isize::MAX`) where the count itself could overflow.
    pub fn try_clone(&self) -> Option<Self> {
        self.try_clone_below(Self::MAX_REFS)
    }

    fn try_clone_below(&self, limit: usize) -> Option<Self> {
        if Arc::strong_count(&self.shared) >= limit {
            return None;
        }
        Some(Message {
            shared: Arc::clone(&self.shared),
        })
    }

    /// How many references exist now.
    pub fn ref_count(&self) -> usize {
        Arc::strong_count(&self.shared)
    }

    /// Whether two references are to the same message.
    pub fn same(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

impl<P> Shared for Message<P> {
    fn share(&self) -> Option<Self> {
        self.try_clone()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct CountsDrops<'a>(&'a AtomicUsize);

    impl Drop for CountsDrops<'_> {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn payload_is_dropped_once_after_the_last_reference() {
        let drops = AtomicUsize::new(0);
        let first = Message::new(CountsDrops(&drops));
        let clones: Vec<_> = (0..10).map(|_| first.try_clone().unwrap()).collect();
        drop(first);
        assert_eq!(drops.load(Ordering::SeqCst), 0);
        drop(clones);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn clone_is_refused_at_the_limit() {
        // MAX_REFS real references would take minutes to make; the same
        // check is exercised with a small limit.
        let message = Message::new(());
        let second = message.try_clone_below(3).unwrap();
        let third = message.try_clone_below(3).unwrap();
        assert!(message.try_clone_below(3).is_none());
        assert_eq!(message.ref_count(), 3);
        drop((second, third));
        assert!(message.try_clone_below(3).is_some());
    }
}
