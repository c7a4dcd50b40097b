//! A reference count for an object freed by hand (the C layer's message
//! block): the counting, and the memory ordering that lets the last holder
//! free the object, without the freeing itself. The same protocol as `Arc`,
//! with a limit and without weak references: one atomic per reference
//! taken or given back, which is all `mailbox_message_ref`/`_unref` cost.

use super::sync::AtomicUsize;
use std::sync::atomic::Ordering;

/// How many holders an object has.
///
/// ```
/// use isula_mailbox_core::refcount::RefCount;
///
/// let refs = RefCount::new();
/// assert!(refs.acquire(10));
/// assert!(!refs.release()); // one holder left
/// assert!(refs.release()); // the last: free the object now
/// ```
#[derive(Debug)]
pub struct RefCount {
    refs: AtomicUsize,
}

impl RefCount {
    /// One holder: whoever creates the object.
    pub fn new() -> Self {
        RefCount {
            refs: AtomicUsize::new(1),
        }
    }

    /// Adds a holder, unless `limit` holders exist already. The caller must
    /// be a holder itself (a reference is made from a reference), so the
    /// object cannot go meanwhile and no ordering is needed. Threads racing
    /// at the limit may each add one before taking it back: the count
    /// overshoots by their number, far from overflowing.
    pub fn acquire(&self, limit: usize) -> bool {
        let before = self.refs.fetch_add(1, Ordering::Relaxed);
        if before >= limit {
            self.refs.fetch_sub(1, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// Removes a holder. Returns true for the last one, which may then free
    /// the object: everything the other holders did with it happened
    /// before (their release pairs with this acquire).
    #[inline]
    pub fn release(&self) -> bool {
        // The only holder: nobody else can add one (a reference is made from
        // a reference), so the count need not be written at all. Acquire, to
        // follow every other holder's release as below. The common case of a
        // message made, delivered once and dropped saves its one atomic
        // read-modify-write.
        if self.refs.load(Ordering::Acquire) == 1 {
            return true;
        }
        if self.refs.fetch_sub(1, Ordering::Release) != 1 {
            return false;
        }
        // Reads from the release sequence of every earlier decrement, so it
        // synchronizes with each: what `Arc` does with a fence, but as a
        // load, which ThreadSanitizer understands (it ignores fences; std's
        // `Arc` switches to this load under TSan for that reason). On x86
        // both are a plain instruction.
        self.refs.load(Ordering::Acquire);
        true
    }

    /// How many holders there are now (a relaxed read): for tests.
    #[doc(hidden)]
    pub fn get_for_test(&self) -> usize {
        self.refs.load(Ordering::Relaxed)
    }

    /// Counts `n` more holders that do not exist: for the tests (of the
    /// crates above too) that reach the limit without taking `i32::MAX`
    /// references.
    #[doc(hidden)]
    pub fn add_for_test(&self, n: usize) {
        self.refs.fetch_add(n, Ordering::Relaxed);
    }

    /// Takes back what `add_for_test` added.
    #[doc(hidden)]
    pub fn remove_for_test(&self, n: usize) {
        self.refs.fetch_sub(n, Ordering::Relaxed);
    }
}

impl Default for RefCount {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn acquire_is_refused_at_the_limit_and_the_count_restored() {
        let refs = RefCount::new();
        assert!(refs.acquire(2));
        assert!(!refs.acquire(2));
        assert_eq!(refs.get_for_test(), 2);
        assert!(!refs.release());
        assert!(refs.acquire(2));
    }
}
