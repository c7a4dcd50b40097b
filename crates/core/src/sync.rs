//! The lock, condition variable and `Arc` the core uses, with one API
//! whether they are the real ones or loom's models (`cfg(loom)`, so that
//! the model checker of `tests/loom.rs` sees every synchronisation).
//!
//! The real ones are chosen so that no wait and no lock ever allocates,
//! and shared state is made without aborting when memory runs out:
//! - `Mutex`, `Condvar`: std's, futex-based (parking_lot's allocate their
//!   parking data the first time a thread waits). Poisoning is ignored: the
//!   core never panics while holding a lock. What needs a readers-writer
//!   lock uses a [`Lease`](crate::lease::Lease), built on these.
//! - `Arc`: triomphe's, the one stable `Arc` whose constructor can fail.
//!
//! Under loom, time does not exist: a timed wait is an untimed one, which
//! the models only use where a notification is sure to come.

#[cfg(not(loom))]
pub(crate) use real::*;

#[cfg(loom)]
pub(crate) use model::*;

#[cfg(not(loom))]
mod real {
    use std::sync::PoisonError;
    use std::time::Instant;

    use crate::error::Error;

    pub(crate) use std::sync::atomic::{AtomicBool, AtomicUsize};
    pub(crate) use std::sync::MutexGuard;
    pub(crate) use triomphe::Arc;

    /// Shared state, or [`Error::OutOfMemory`] instead of an abort.
    pub(crate) fn try_arc<T>(value: T) -> Result<Arc<T>, Error> {
        Arc::try_new(value).map_err(|_| Error::OutOfMemory)
    }

    pub(crate) struct Mutex<T>(std::sync::Mutex<T>);

    impl<T> Mutex<T> {
        pub(crate) const fn new(value: T) -> Self {
            Mutex(std::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            self.0.lock().unwrap_or_else(PoisonError::into_inner)
        }
    }

    pub(crate) struct Condvar(std::sync::Condvar);

    impl Condvar {
        pub(crate) const fn new() -> Self {
            Condvar(std::sync::Condvar::new())
        }

        pub(crate) fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
            self.0.wait(guard).unwrap_or_else(PoisonError::into_inner)
        }

        /// Waits for a notification or until `deadline`, whichever comes
        /// first (or spuriously: the caller checks again).
        pub(crate) fn wait_until<'a, T>(
            &self,
            guard: MutexGuard<'a, T>,
            deadline: Instant,
        ) -> MutexGuard<'a, T> {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return guard;
            };
            match self.0.wait_timeout(guard, left) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            }
        }

        pub(crate) fn notify_one(&self) {
            self.0.notify_one();
        }

        pub(crate) fn notify_all(&self) {
            self.0.notify_all();
        }
    }
}

#[cfg(loom)]
mod model {
    use std::ops::Deref;
    use std::sync::PoisonError;
    use std::time::Instant;

    use crate::error::Error;

    pub(crate) use loom::sync::atomic::{AtomicBool, AtomicUsize};
    pub(crate) use loom::sync::MutexGuard;
    pub(crate) use loom::thread::yield_now;

    /// loom's `Arc` behind triomphe's API, the part the core uses.
    pub(crate) struct Arc<T>(loom::sync::Arc<T>);

    pub(crate) fn try_arc<T>(value: T) -> Result<Arc<T>, Error> {
        Ok(Arc(loom::sync::Arc::new(value)))
    }

    impl<T> Arc<T> {
        pub(crate) fn ptr_eq(a: &Self, b: &Self) -> bool {
            loom::sync::Arc::ptr_eq(&a.0, &b.0)
        }

        pub(crate) fn try_unwrap(this: Self) -> Result<T, Self> {
            loom::sync::Arc::try_unwrap(this.0).map_err(Arc)
        }
    }

    impl<T> Clone for Arc<T> {
        fn clone(&self) -> Self {
            Arc(loom::sync::Arc::clone(&self.0))
        }
    }

    impl<T> Deref for Arc<T> {
        type Target = T;
        fn deref(&self) -> &T {
            &self.0
        }
    }

    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Self {
            Mutex(loom::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            self.0.lock().unwrap_or_else(PoisonError::into_inner)
        }
    }

    pub(crate) struct Condvar(loom::sync::Condvar);

    impl Condvar {
        pub(crate) fn new() -> Self {
            Condvar(loom::sync::Condvar::new())
        }

        pub(crate) fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
            self.0.wait(guard).unwrap_or_else(PoisonError::into_inner)
        }

        pub(crate) fn wait_until<'a, T>(
            &self,
            guard: MutexGuard<'a, T>,
            _deadline: Instant,
        ) -> MutexGuard<'a, T> {
            self.wait(guard)
        }

        pub(crate) fn notify_one(&self) {
            self.0.notify_one();
        }

        pub(crate) fn notify_all(&self) {
            self.0.notify_all();
        }
    }
}
