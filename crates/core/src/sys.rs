//! The operating system's answers the core needs that std does not give,
//! made safe here so that the core itself has no `unsafe`.

/// The CPU the calling thread runs on now (it may move right after), or
/// `None` where the system cannot tell. Cheap: glibc reads it from the
/// thread's restartable-sequence area, or the vDSO.
#[cfg(not(any(loom, miri)))]
pub(crate) fn current_cpu() -> Option<u32> {
    // SAFETY: sched_getcpu takes no argument and touches no memory of ours.
    u32::try_from(unsafe { libc::sched_getcpu() }).ok()
}

/// Under loom every thread runs on one model CPU of its own: no two are
/// ever seen on the same one. Miri cannot call `sched_getcpu`: the same.
#[cfg(any(loom, miri))]
pub(crate) fn current_cpu() -> Option<u32> {
    None
}
