//! What the core asks of the operating system: the CPU a thread runs on.

/// The CPU the calling thread runs on now (it may move right after), or
/// `None` where the system cannot tell. Cheap: glibc reads it from the
/// thread's restartable-sequence area, or the vDSO.
#[cfg(not(any(loom, miri)))]
pub(crate) fn current_cpu() -> Option<u32> {
    nix::sched::sched_getcpu()
        .ok()
        .and_then(|cpu| u32::try_from(cpu).ok())
}

/// Under loom every thread runs on one model CPU of its own: no two are
/// ever seen on the same one. Miri cannot call `sched_getcpu`: the same.
#[cfg(any(loom, miri))]
pub(crate) fn current_cpu() -> Option<u32> {
    None
}
