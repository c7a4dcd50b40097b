//! Random sequences of C API calls against a model of what they must do.
//!
//! Every payload the library is given (queue items, messages, generated
//! events) is a tracked id. The model knows how many references to each
//! exist and where (held by the harness, queued in a subscriber); after
//! every call, every id must have been released exactly once if nothing
//! refers to it any more, and never otherwise. Return values, popped ids,
//! their order, and whether the generator ran are checked against the model
//! too. Single-threaded, so runs are reproducible; the concurrency is
//! covered by loom, the churn test and the sanitizers.
//!
//! `cargo +nightly fuzz run api_sequences -- -max_total_time=60`
#![no_main]

use std::collections::VecDeque;
use std::os::raw::c_void;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

use isula_mailbox_ffi::blocking_queue::*;
use isula_mailbox_ffi::isula_mailbox::*;
use isula_mailbox_ffi::mailbox::*;
use isula_mailbox_ffi::mailbox_message::*;
use isula_mailbox_ffi::message_queue::*;
use isula_mailbox_ffi::message_subscriber::*;

const ETIMEDOUT: i32 = 110;
const TOPIC: RawTopic = RawTopic(mailbox_topic::MAILBOX_TOPIC_CRI_CONTAINER as i32);

#[derive(Arbitrary, Debug)]
enum Op {
    QueueCreate,
    QueuePush(u8),
    QueuePop(u8),
    QueueClear(u8),
    QueueDestroy(u8),
    MessageCreate,
    MessageRef(u8),
    MessageUnref(u8),
    SubscriberCreate,
    SubscriberPush(u8, u8),
    SubscriberPop(u8),
    SubscriberShutdown(u8),
    SubscriberDestroy(u8),
    QueueOfMessagesCreate,
    MqSubscribe(u8),
    MqUnsubscribe(u8, u8),
    MqPublish(u8, u8),
    MqShutdown(u8),
    MqDestroy(u8),
    TopicRegister(bool),
    TopicPublish,
    TopicSubscribe,
    TopicUnsubscribe(u8),
    TopicUnregister,
    TopicCapacity(u8),
}

// --- tracked payloads ------------------------------------------------------

static NEXT_ID: AtomicUsize = AtomicUsize::new(1);
static RELEASES: Mutex<Vec<u32>> = Mutex::new(Vec::new());
static GENERATED: AtomicUsize = AtomicUsize::new(0);

fn new_payload() -> (usize, *mut c_void) {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let mut releases = RELEASES.lock().unwrap();
    if releases.len() <= id {
        releases.resize(id + 1, 0);
    }
    (id, Box::into_raw(Box::new(id)).cast())
}

unsafe extern "C" fn release(data: *mut c_void) {
    assert!(!data.is_null(), "release(NULL)");
    // SAFETY: every pointer handed to the library with this release is a
    // `Box<usize>` from `new_payload`; a second release would be a double
    // free, which the count below catches before ASan-less builds crash.
    let id = unsafe { *data.cast::<usize>() };
    RELEASES.lock().unwrap()[id] += 1;
    // SAFETY: see above; freed once, as the model checks.
    drop(unsafe { Box::from_raw(data.cast::<usize>()) });
}

unsafe extern "C" fn generate(_context: *mut c_void, _data: *mut c_void) -> *mut c_void {
    GENERATED.fetch_add(1, Ordering::Relaxed);
    new_payload().1
}

fn released(id: usize) -> u32 {
    RELEASES.lock().unwrap()[id]
}

// --- the model ---------------------------------------------------------------

struct Queue {
    handle: *mut blocking_queue,
    items: VecDeque<usize>,
}

struct Subscriber {
    handle: *mut message_subscriber,
    pending: VecDeque<usize>,
    shut_down: bool,
    /// Where it is subscribed: a message queue or the topic.
    owner: Owner,
    capacity: usize,
    /// Its pops wait (a message queue's subscriber: one second).
    waits: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Owner {
    None,
    Mq(*mut message_queue),
    Topic,
}

struct Mq {
    handle: *mut message_queue,
    shut_down: bool,
}

struct Message {
    raw: *mut mailbox_message,
    id: usize,
}

#[derive(Default)]
struct Model {
    queues: Vec<Queue>,
    messages: Vec<Message>,
    subscribers: Vec<Subscriber>,
    mqs: Vec<Mq>,
    /// References to each message id: held here or pending in subscribers.
    refs: Vec<(usize, usize)>,
    /// Every id given to the library that it has not released yet, with
    /// whether it may be released now.
    topic: Option<bool>,
    topic_capacity: usize,
    live: Vec<usize>,
}

fn pick<T>(items: &[T], index: u8) -> Option<usize> {
    (!items.is_empty()).then(|| usize::from(index) % items.len())
}

impl Model {
    fn refs(&mut self, id: usize) -> &mut usize {
        if let Some(i) = self.refs.iter().position(|(i, _)| *i == id) {
            return &mut self.refs[i].1;
        }
        self.refs.push((id, 0));
        &mut self.refs.last_mut().unwrap().1
    }

    fn add_ref(&mut self, id: usize) {
        *self.refs(id) += 1;
    }

    /// Drops a reference; the last one makes the id due for release.
    fn drop_ref(&mut self, id: usize) {
        let refs = self.refs(id);
        *refs -= 1;
        if *refs == 0 {
            self.refs.retain(|(i, _)| *i != id);
            self.live.retain(|i| *i != id);
        }
    }

    /// The library must have released exactly the ids nothing refers to.
    fn check_releases(&self, first_id: usize) {
        let last = NEXT_ID.load(Ordering::Relaxed);
        for id in first_id..last {
            let expected = u32::from(!self.live.contains(&id));
            assert_eq!(
                released(id),
                expected,
                "payload {id}: released {} times",
                released(id)
            );
        }
    }

    /// Queues a reference to `id` in subscriber `index`, which, when full,
    /// drops its oldest first.
    fn push_to(&mut self, index: usize, id: usize) {
        let sub = &mut self.subscribers[index];
        let evicted = (sub.capacity > 0 && sub.pending.len() >= sub.capacity)
            .then(|| sub.pending.pop_front().unwrap());
        sub.pending.push_back(id);
        self.add_ref(id);
        if let Some(evicted) = evicted {
            self.drop_ref(evicted);
        }
    }

    fn deliver(&mut self, owner: Owner, id: usize) {
        for index in 0..self.subscribers.len() {
            let sub = &self.subscribers[index];
            if sub.owner == owner && !sub.shut_down {
                self.push_to(index, id);
            }
        }
    }

    fn end_subscriber(&mut self, index: usize) {
        let pending: Vec<usize> = self.subscribers[index].pending.drain(..).collect();
        self.subscribers[index].shut_down = true;
        for id in pending {
            self.drop_ref(id);
        }
    }

    fn end_owner(&mut self, owner: Owner) {
        for i in 0..self.subscribers.len() {
            if self.subscribers[i].owner == owner {
                self.end_subscriber(i);
                self.subscribers[i].owner = Owner::None;
            }
        }
    }

    // SAFETY (all calls below): the model holds exactly the handles the
    // library gave out and not yet destroyed, and the message pointers the
    // harness holds a reference to; nothing else is ever passed.
    fn apply(&mut self, op: &Op) {
        match *op {
            Op::QueueCreate => {
                // SAFETY: `release` takes every payload the harness makes.
                let handle = unsafe { blocking_queue_create(0, Some(release)) };
                self.queues.push(Queue {
                    handle,
                    items: VecDeque::new(),
                });
            }
            Op::QueuePush(q) => {
                let Some(q) = pick(&self.queues, q) else {
                    return;
                };
                let (id, data) = new_payload();
                self.live.push(id);
                // SAFETY: see `apply`.
                assert_eq!(
                    unsafe { blocking_queue_push(self.queues[q].handle, data) },
                    0
                );
                self.queues[q].items.push_back(id);
            }
            Op::QueuePop(q) => {
                let Some(q) = pick(&self.queues, q) else {
                    return;
                };
                let mut out: *mut c_void = ptr::null_mut();
                // SAFETY: see `apply`.
                let ret = unsafe { blocking_queue_pop(self.queues[q].handle, &mut out) };
                match self.queues[q].items.pop_front() {
                    None => assert_eq!(ret, ETIMEDOUT),
                    Some(id) => {
                        assert_eq!(ret, 0);
                        // SAFETY: the popped item is one of our payloads.
                        assert_eq!(unsafe { *out.cast::<usize>() }, id, "FIFO");
                        // SAFETY: popped items are the caller's to release.
                        unsafe { release(out) };
                        self.live.retain(|i| *i != id);
                    }
                }
            }
            Op::QueueClear(q) | Op::QueueDestroy(q) => {
                let Some(q) = pick(&self.queues, q) else {
                    return;
                };
                for id in self.queues[q].items.drain(..) {
                    self.live.retain(|i| *i != id);
                }
                if matches!(op, Op::QueueClear(_)) {
                    // SAFETY: see `apply`.
                    unsafe { blocking_queue_clear(self.queues[q].handle) };
                } else {
                    // SAFETY: see `apply`; removed from the model below.
                    unsafe { blocking_queue_destroy(self.queues[q].handle) };
                    self.queues.swap_remove(q);
                }
            }
            Op::MessageCreate => {
                let (id, data) = new_payload();
                // SAFETY: `release` takes every payload the harness makes.
                let raw = unsafe { mailbox_message_create(data, Some(release)) };
                self.live.push(id);
                self.add_ref(id);
                self.messages.push(Message { raw, id });
            }
            Op::MessageRef(m) => {
                let Some(m) = pick(&self.messages, m) else {
                    return;
                };
                let (raw, id) = (self.messages[m].raw, self.messages[m].id);
                // SAFETY: see `apply`.
                assert_eq!(unsafe { mailbox_message_ref(raw) }, 0);
                self.add_ref(id);
                self.messages.push(Message { raw, id });
            }
            Op::MessageUnref(m) => {
                let Some(m) = pick(&self.messages, m) else {
                    return;
                };
                let message = self.messages.swap_remove(m);
                // SAFETY: see `apply`; the reference is given back once.
                unsafe { mailbox_message_unref(message.raw) };
                self.drop_ref(message.id);
            }
            Op::SubscriberCreate => {
                let handle = message_subscriber_create(0, Some(release));
                self.subscribers.push(Subscriber {
                    handle,
                    pending: VecDeque::new(),
                    shut_down: false,
                    owner: Owner::None,
                    capacity: 0,
                    waits: false,
                });
            }
            Op::SubscriberPush(s, m) => {
                let (Some(s), Some(m)) = (pick(&self.subscribers, s), pick(&self.messages, m))
                else {
                    return;
                };
                let (raw, id) = (self.messages[m].raw, self.messages[m].id);
                // SAFETY: see `apply`.
                let ret = unsafe { message_subscriber_push(self.subscribers[s].handle, raw) };
                if self.subscribers[s].shut_down {
                    assert_eq!(ret, -1);
                } else {
                    assert_eq!(ret, 0);
                    self.push_to(s, id);
                }
            }
            Op::SubscriberPop(s) => {
                let Some(s) = pick(&self.subscribers, s) else {
                    return;
                };
                let sub = &mut self.subscribers[s];
                if !sub.shut_down && sub.pending.is_empty() && sub.waits {
                    return; // its pop would wait a second for nothing
                }
                let mut out: *mut mailbox_message = ptr::null_mut();
                // SAFETY: see `apply`.
                let ret = unsafe { message_subscriber_pop(sub.handle, &mut out) };
                if sub.shut_down {
                    assert_eq!((ret, out.is_null()), (0, true), "NULL after shutdown");
                } else if let Some(id) = sub.pending.pop_front() {
                    assert_eq!(ret, 0);
                    // SAFETY: a popped message's data is one of our payloads.
                    assert_eq!(
                        unsafe { *(*out).data.cast::<usize>() },
                        id,
                        "subscriber order"
                    );
                    self.messages.push(Message { raw: out, id });
                } else {
                    assert_eq!(ret, ETIMEDOUT);
                }
            }
            Op::SubscriberShutdown(s) => {
                let Some(s) = pick(&self.subscribers, s) else {
                    return;
                };
                // SAFETY: see `apply`.
                unsafe { message_subscriber_shutdown(self.subscribers[s].handle) };
                self.end_subscriber(s);
            }
            Op::SubscriberDestroy(s) => {
                let Some(s) = pick(&self.subscribers, s) else {
                    return;
                };
                // SAFETY: see `apply`; removed from the model below.
                unsafe { message_subscriber_destroy(self.subscribers[s].handle) };
                self.end_subscriber(s);
                self.subscribers.swap_remove(s);
            }
            Op::QueueOfMessagesCreate => {
                let handle = message_queue_create(Some(release));
                self.mqs.push(Mq {
                    handle,
                    shut_down: false,
                });
            }
            Op::MqSubscribe(q) => {
                let Some(q) = pick(&self.mqs, q) else { return };
                // SAFETY: see `apply`.
                let handle = unsafe { message_queue_subscribe(self.mqs[q].handle, Some(release)) };
                if self.mqs[q].shut_down {
                    assert!(handle.is_null());
                } else {
                    assert!(!handle.is_null());
                    self.subscribers.push(Subscriber {
                        handle,
                        pending: VecDeque::new(),
                        shut_down: false,
                        owner: Owner::Mq(self.mqs[q].handle),
                        capacity: 0,
                        waits: true,
                    });
                }
            }
            Op::MqUnsubscribe(q, s) => {
                let (Some(q), Some(s)) = (pick(&self.mqs, q), pick(&self.subscribers, s)) else {
                    return;
                };
                let mq = self.mqs[q].handle;
                // SAFETY: see `apply`.
                unsafe { message_queue_unsubscribe(mq, self.subscribers[s].handle) };
                if self.subscribers[s].owner == Owner::Mq(mq) {
                    self.subscribers[s].owner = Owner::None;
                }
            }
            Op::MqPublish(q, m) => {
                let (Some(q), Some(m)) = (pick(&self.mqs, q), pick(&self.messages, m)) else {
                    return;
                };
                let (mq, shut_down) = (self.mqs[q].handle, self.mqs[q].shut_down);
                let message = self.messages.swap_remove(m);
                // SAFETY: see `apply`; on success the reference is the queue's.
                let ret = unsafe { message_queue_publish(mq, message.raw) };
                if shut_down {
                    assert_eq!(ret, -1);
                    self.messages.push(message); // still ours
                } else {
                    assert_eq!(ret, 0);
                    self.deliver(Owner::Mq(mq), message.id);
                    self.drop_ref(message.id);
                }
            }
            Op::MqShutdown(q) | Op::MqDestroy(q) => {
                let Some(q) = pick(&self.mqs, q) else { return };
                let mq = self.mqs[q].handle;
                if matches!(op, Op::MqShutdown(_)) {
                    // SAFETY: see `apply`.
                    unsafe { message_queue_shutdown(mq) };
                    self.mqs[q].shut_down = true;
                } else {
                    // SAFETY: see `apply`; removed from the model below.
                    unsafe { message_queue_destroy(mq) };
                    self.mqs.swap_remove(q);
                }
                self.end_owner(Owner::Mq(mq));
            }
            Op::TopicRegister(is_async) => {
                // SAFETY: `generate` and `release` are valid from any thread.
                let ret = unsafe {
                    mailbox_register_topic_handler(
                        TOPIC,
                        Some(generate),
                        ptr::null_mut(),
                        Some(release),
                        is_async,
                    )
                };
                if self.topic.is_some() {
                    assert_eq!(ret, -1, "register twice");
                } else {
                    assert_eq!(ret, 0);
                    self.topic = Some(is_async);
                }
            }
            Op::TopicPublish => {
                let before = GENERATED.load(Ordering::Relaxed);
                let first_new = NEXT_ID.load(Ordering::Relaxed);
                // SAFETY: our generator ignores the data.
                unsafe { mailbox_publish(TOPIC, ptr::null_mut()) };
                // A subscriber shut down but still subscribed counts: it is
                // subscribed until unsubscribed or destroyed (and refuses
                // what it is given).
                let listeners = self
                    .subscribers
                    .iter()
                    .filter(|s| s.owner == Owner::Topic)
                    .count();
                let should_generate = match self.topic {
                    None => false,
                    Some(false) => true,
                    Some(true) => listeners > 0,
                };
                let generated = GENERATED.load(Ordering::Relaxed) - before;
                assert_eq!(generated, usize::from(should_generate), "generator calls");
                if should_generate && self.topic == Some(true) {
                    self.live.push(first_new);
                    self.add_ref(first_new);
                    self.deliver(Owner::Topic, first_new);
                    self.drop_ref(first_new);
                }
            }
            Op::TopicSubscribe => {
                let handle = mailbox_subscribe(TOPIC);
                if self.topic == Some(true) {
                    assert!(!handle.is_null());
                    self.subscribers.push(Subscriber {
                        handle,
                        pending: VecDeque::new(),
                        shut_down: false,
                        owner: Owner::Topic,
                        capacity: self.topic_capacity,
                        waits: false,
                    });
                } else {
                    assert!(handle.is_null());
                }
            }
            Op::TopicUnsubscribe(s) => {
                let Some(s) = pick(&self.subscribers, s) else {
                    return;
                };
                // SAFETY: see `apply`.
                unsafe { mailbox_unsubscribe(TOPIC, self.subscribers[s].handle) };
                if self.topic.is_some() && self.subscribers[s].owner == Owner::Topic {
                    self.subscribers[s].owner = Owner::None;
                }
            }
            Op::TopicUnregister => {
                // SAFETY: not called from the generator.
                unsafe { mailbox_unregister_topic_handler(TOPIC) };
                self.topic = None;
                self.end_owner(Owner::Topic);
            }
            Op::TopicCapacity(capacity) => {
                let capacity = usize::from(capacity % 4);
                assert_eq!(mailbox_set_subscriber_capacity(TOPIC, capacity), 0);
                self.topic_capacity = capacity;
            }
        }
    }

    /// Frees everything, as a daemon shutting down would.
    fn finish(&mut self) {
        for message in std::mem::take(&mut self.messages) {
            // SAFETY: see `apply`.
            unsafe { mailbox_message_unref(message.raw) };
            self.drop_ref(message.id);
        }
        for i in 0..self.subscribers.len() {
            // SAFETY: see `apply`.
            unsafe { message_subscriber_destroy(self.subscribers[i].handle) };
            self.end_subscriber(i);
        }
        self.subscribers.clear();
        for mq in std::mem::take(&mut self.mqs) {
            // SAFETY: see `apply`.
            unsafe { message_queue_destroy(mq.handle) };
        }
        for queue in std::mem::take(&mut self.queues) {
            // SAFETY: see `apply`.
            unsafe { blocking_queue_destroy(queue.handle) };
            for id in queue.items {
                self.live.retain(|i| *i != id);
            }
        }
        // SAFETY: not called from the generator.
        unsafe { mailbox_unregister_topic_handler(TOPIC) };
        assert_eq!(mailbox_set_subscriber_capacity(TOPIC, 0), 0);
    }
}

unsafe extern "C" fn discard_log(
    _level: RawLogLevel,
    _message: *const std::os::raw::c_char,
    _user: *mut c_void,
) {
}

fuzz_target!(|ops: Vec<Op>| {
    // Quiet: bad input is logged by design, and fuzzing makes plenty.
    // SAFETY: the callback ignores its arguments and is valid forever.
    unsafe { mailbox_set_log_callback(Some(discard_log), RawLogLevel(0), ptr::null_mut()) };
    assert_eq!(mailbox_set_subscriber_timeout(TOPIC, 0), 0);
    let first_id = NEXT_ID.load(Ordering::Relaxed);
    let mut model = Model::default();
    for op in ops.iter().take(256) {
        model.apply(op);
        model.check_releases(first_id);
    }
    model.finish();
    assert!(
        model.live.is_empty(),
        "the model still holds {:?}",
        model.live
    );
    model.check_releases(first_id);
});
