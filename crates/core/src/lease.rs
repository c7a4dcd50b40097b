//! A value that many threads use at once while one may take it away,
//! waiting until nobody still uses it: a topic's registration (unregister
//! returns once no publish runs its generator), the log sink (a new sink is
//! set once no thread still logs through the old one).
//!
//! Made of a futex mutex and condition variable, so that neither using nor
//! waiting ever allocates. A thread may borrow again while it borrows (a
//! generator that publishes, a sink that logs), and a borrower never waits
//! for a thread that wants to take the value: it waits only for the
//! mutex's short critical sections.

use std::ops::Deref;

use crate::error::Error;
use crate::sync::{try_arc, Arc, Condvar, Mutex, MutexGuard};

/// A value, borrowed by any number of threads at once, replaced or taken
/// by one that then waits for the borrowers to give it back.
///
/// ```
/// use isula_mailbox_core::lease::Lease;
///
/// let lease = Lease::new();
/// assert!(lease.borrow().is_none());
/// lease.install(String::from("generator"), || ()).unwrap();
/// let borrowed = lease.borrow().unwrap();
/// assert_eq!(*borrowed, "generator");
/// drop(borrowed); // take() would wait for it
/// assert_eq!(lease.take(|_| ()).as_deref(), Some("generator"));
/// # let _: Lease<String> = lease;
/// ```
pub struct Lease<T> {
    slot: Mutex<Slot<T>>,
    /// Signalled when a borrower gives back a value being taken.
    returned: Condvar,
}

struct Slot<T> {
    current: Option<Arc<T>>,
    /// Threads waiting in `take` or `replace` for their old value's
    /// borrowers: only then does giving a value back signal.
    taking: usize,
}

/// A borrowed value; given back when dropped.
pub struct Borrowed<'a, T> {
    lease: &'a Lease<T>,
    value: Option<Arc<T>>,
}

impl<T> Lease<T> {
    /// A lease holding nothing.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        Lease {
            slot: Mutex::new(Slot {
                current: None,
                taking: 0,
            }),
            returned: Condvar::new(),
        }
    }

    /// A lease holding nothing.
    #[cfg(loom)]
    pub fn new() -> Self {
        Lease {
            slot: Mutex::new(Slot {
                current: None,
                taking: 0,
            }),
            returned: Condvar::new(),
        }
    }

    /// The value, until the result is dropped; `None` when there is none.
    /// Two atomic operations and a short lock; never waits for a taker.
    pub fn borrow(&self) -> Option<Borrowed<'_, T>> {
        let value = self.slot.lock().current.clone()?;
        Some(Borrowed {
            lease: self,
            value: Some(value),
        })
    }

    /// Installs `value` if the lease holds nothing, then calls `installed`
    /// while no other thread can borrow or take (the lease's lock is held:
    /// `installed` must not use the lease). Otherwise `value` is dropped,
    /// with no lock held, and the error is [`Error::AlreadyRegistered`]
    /// (a lease holds a topic's registration), or [`Error::OutOfMemory`].
    pub fn install(&self, value: T, installed: impl FnOnce()) -> Result<(), Error> {
        let value = try_arc(value)?;
        let mut slot = self.slot.lock();
        if slot.current.is_some() {
            drop(slot);
            drop(value);
            return Err(Error::AlreadyRegistered);
        }
        slot.current = Some(value);
        installed();
        Ok(())
    }

    /// Takes the value out, calls `taken` on it while no other thread can
    /// borrow or install (the lease's lock is held: `taken` must not use
    /// the lease), then waits until every borrower gave it back.
    pub fn take(&self, taken: impl FnOnce(&T)) -> Option<T> {
        self.take_if(|_| true, taken)
    }

    /// [`take`](Self::take), if the value is one `which` picks; otherwise
    /// nothing changes and `None` is returned.
    pub fn take_if(&self, which: impl FnOnce(&T) -> bool, taken: impl FnOnce(&T)) -> Option<T> {
        let mut slot = self.slot.lock();
        if !which(slot.current.as_deref()?) {
            return None;
        }
        let value = slot.current.take()?;
        taken(&value);
        Some(self.wait_for_borrowers(slot, value))
    }

    /// Puts `value` (or nothing) in place of the current value and calls
    /// `replaced` under the lease's lock, as `install` does; returns the
    /// old value once every borrower gave it back. Changes nothing when
    /// memory runs out.
    pub fn replace(&self, value: Option<T>, replaced: impl FnOnce()) -> Result<Option<T>, Error> {
        let value = value.map(try_arc).transpose()?;
        let mut slot = self.slot.lock();
        let old = std::mem::replace(&mut slot.current, value);
        replaced();
        Ok(old.map(|old| self.wait_for_borrowers(slot, old)))
    }

    fn wait_for_borrowers(&self, mut slot: MutexGuard<'_, Slot<T>>, mut value: Arc<T>) -> T {
        // Borrowers give their clone back under the lock, so the count read
        // here cannot miss one between the check and the wait.
        slot.taking += 1;
        let value = loop {
            match Arc::try_unwrap(value) {
                Ok(value) => break value,
                Err(shared) => value = shared,
            }
            slot = self.returned.wait(slot);
        };
        slot.taking -= 1;
        value
    }
}

impl<T> Default for Lease<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Deref for Borrowed<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // Some until dropped.
        self.value.as_deref().expect("a borrowed value")
    }
}

impl<T> Drop for Borrowed<'_, T> {
    fn drop(&mut self) {
        let slot = self.lease.slot.lock();
        // Given back under the lock: see `wait_for_borrowers`.
        drop(self.value.take());
        if slot.taking > 0 {
            self.lease.returned.notify_all();
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    #[test]
    fn take_waits_for_every_borrower_and_a_nested_borrow_does_not_block() {
        static LEASE: Lease<u32> = Lease::new();
        LEASE.install(7, || ()).unwrap();
        assert_eq!(LEASE.install(8, || ()), Err(Error::AlreadyRegistered));
        let taken = AtomicBool::new(false);
        std::thread::scope(|scope| {
            let outer = LEASE.borrow().unwrap();
            let taker = scope.spawn(|| {
                let value = LEASE.take(|_| ());
                taken.store(true, Ordering::SeqCst);
                value
            });
            while LEASE.slot.lock().taking == 0 {
                std::thread::yield_now();
            }
            // Taken out already: a new borrow finds nothing, and the taker
            // still waits for the outer borrow.
            assert!(LEASE.borrow().is_none());
            std::thread::sleep(Duration::from_millis(20));
            assert!(!taken.load(Ordering::SeqCst));
            assert_eq!(*outer, 7);
            drop(outer);
            assert_eq!(taker.join().unwrap(), Some(7));
        });
        assert!(LEASE.borrow().is_none());
    }

    #[test]
    fn a_borrower_borrows_again_while_a_taker_waits() {
        let lease = Lease::new();
        lease.install(1, || ()).unwrap();
        let outer = lease.borrow().unwrap();
        let inner = lease.borrow().unwrap(); // a nested publish
        assert_eq!((*outer, *inner), (1, 1));
        drop(inner);
        drop(outer);
        assert_eq!(lease.replace(None, || ()).unwrap(), Some(1));
    }
}
