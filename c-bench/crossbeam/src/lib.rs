//! A crossbeam-channel unbounded channel as a C queue of `void *`, for the
//! latency benchmarks: `xbeam_create`, `xbeam_push`, `xbeam_pop` (waits),
//! `xbeam_destroy`.

use std::os::raw::c_void;

use crossbeam_channel::{Receiver, Sender};

/// Both ends of one channel.
pub struct XbeamQueue {
    sender: Sender<usize>,
    receiver: Receiver<usize>,
}

/// A new, empty channel.
#[no_mangle]
pub extern "C" fn xbeam_create() -> *mut XbeamQueue {
    let (sender, receiver) = crossbeam_channel::unbounded();
    Box::into_raw(Box::new(XbeamQueue { sender, receiver }))
}

/// Sends `item`.
///
/// # Safety
/// `queue` came from `xbeam_create` and is not destroyed yet.
#[no_mangle]
pub unsafe extern "C" fn xbeam_push(queue: *mut XbeamQueue, item: *mut c_void) {
    // SAFETY: per this function's contract.
    let queue = unsafe { &*queue };
    // Never disconnected: the queue holds the receiver.
    let _ = queue.sender.send(item as usize);
}

/// Receives the oldest item, waiting for one.
///
/// # Safety
/// As `xbeam_push`.
#[no_mangle]
pub unsafe extern "C" fn xbeam_pop(queue: *mut XbeamQueue) -> *mut c_void {
    // SAFETY: per this function's contract.
    let queue = unsafe { &*queue };
    // Never disconnected: the queue holds the sender.
    queue.receiver.recv().unwrap_or(0) as *mut c_void
}

/// Frees the channel.
///
/// # Safety
/// As `xbeam_push`; nobody uses `queue` afterwards.
#[no_mangle]
pub unsafe extern "C" fn xbeam_destroy(queue: *mut XbeamQueue) {
    // SAFETY: per this function's contract, made by `Box::into_raw`.
    drop(unsafe { Box::from_raw(queue) });
}
