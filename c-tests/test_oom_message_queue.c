/* Allocation failure in message_queue.h: create, subscribe, publish to two
 * subscribers (one may miss a message where memory ran out, nowhere else),
 * unsubscribe, shutdown, destroy, with the Nth allocation failed,
 * N = 1, 2, ... The harness, and what every run must show: c-tests/oom.h. */
#include "oom.h"

#define MQ_SUBSCRIBERS 2

/* What one publish sent, and whether a failure was injected in it (then a
 * subscriber may have missed it). */
typedef struct {
    int id;
    int missable;
} sent;

/* Publishes, with nothing counted, a sentinel item that every subscriber of
 * `mq` receives: popping up to it never waits (their pop timeout is 1 s). */
static int publish_sentinel(message_queue *mq)
{
    oom_pause();
    item *it = item_new();
    mailbox_message *m = mailbox_message_create(it, item_release);
    OOM_CHECK(m != NULL);
    OOM_CHECK_EQ(message_queue_publish(mq, m), 0);
    oom_resume();
    return it->id;
}

/* Pops `sub` up to the sentinel: what it got before it must be what was
 * sent from `from` on, in order, except that a message whose publish saw an
 * injected failure may be missing. */
static void mq_drain_to(message_subscriber *sub, const sent *log, int from, int count, int sentinel)
{
    int next = from;
    for (;;) {
        mailbox_message *m = NULL;
        probe p = probe_now();
        OOM_CHECK_EQ(message_subscriber_pop(sub, &m), 0);
        EXPECT_NO_ALLOCATION(p);
        OOM_CHECK(m != NULL);
        int id = item_id(m->data);
        unref(m);
        if (id == sentinel) {
            break;
        }
        while (next < count && log[next].id != id) {
            OOM_CHECK(log[next].missable); /* missed only where memory ran out */
            next++;
        }
        OOM_CHECK(next < count); /* received in the order sent */
        next++;
    }
    for (; next < count; next++) {
        OOM_CHECK(log[next].missable);
    }
}

static void scenario_message_queue(void)
{
    static sent log[64];
    int logged = 0;
    probe p = probe_now();
    message_queue *mq = message_queue_create(NULL);
    if (current_n == 1) {
        OOM_CHECK(mq == NULL);
    }
    if (mq == NULL) {
        EXPECT_OOM(p, "message_queue_create");
        return;
    }
    EXPECT_OK(p);
    OOM_CHECK(!message_queue_have_subscribers(mq));

    message_subscriber *subs[MQ_SUBSCRIBERS];
    int attached = 0;
    for (int i = 0; i < MQ_SUBSCRIBERS; i++) {
        p = probe_now();
        subs[i] = message_queue_subscribe(mq, NULL);
        if (subs[i] == NULL) {
            EXPECT_OOM(p, "message_queue_subscribe");
        } else {
            EXPECT_OK(p);
            attached++;
        }
    }
    OOM_CHECK_EQ(message_queue_have_subscribers(mq), attached > 0);

    for (int i = 0; i < 5; i++) { /* the subscribers' queues grow twice */
        mailbox_message *m = message_new(item_release);
        if (m == NULL) {
            continue;
        }
        int id = item_id(m->data);
        p = probe_now();
        int ret = message_queue_publish(mq, m);
        if (ret == -1) {
            /* Nothing delivered; the caller's reference is still its own. */
            EXPECT_OOM(p, "message_queue_publish");
            OOM_CHECK_EQ(item_released[id], 0);
            unref(m);
            OOM_CHECK_EQ(item_released[id], 1);
            continue;
        }
        OOM_CHECK_EQ(ret, 0);
        EXPECT_OK(p);
        if (attached == 0) {
            OOM_CHECK_EQ(item_released[id], 1); /* delivered to nobody: let go at once */
            continue;
        }
        log[logged++] = (sent){ id, fired_since(p) };
    }
    int sentinel = publish_sentinel(mq);
    for (int i = 0; i < MQ_SUBSCRIBERS; i++) {
        if (subs[i] != NULL) {
            mq_drain_to(subs[i], log, 0, logged, sentinel);
        }
    }
    for (int i = 0; i < logged; i++) {
        OOM_CHECK_EQ(item_released[log[i].id], 1); /* every reference gone */
    }

    /* Unsubscribed, the second subscriber gets nothing more but stays usable. */
    if (subs[1] != NULL) {
        p = probe_now();
        message_queue_unsubscribe(mq, subs[1]);
        EXPECT_NO_ALLOCATION(p);
        OOM_CHECK_EQ(message_queue_have_subscribers(mq), subs[0] != NULL);
    }
    int from = logged;
    mailbox_message *m = message_new(item_release);
    if (m != NULL) {
        int id = item_id(m->data);
        p = probe_now();
        int ret = message_queue_publish(mq, m);
        OOM_CHECK(ret == 0 || ret == -1);
        if (ret == -1) {
            EXPECT_OOM(p, "message_queue_publish");
            unref(m);
        } else {
            EXPECT_OK(p);
            log[logged++] = (sent){ id, fired_since(p) };
        }
        OOM_CHECK(subs[0] != NULL || item_released[id] == 1);
    }
    sentinel = publish_sentinel(mq);
    if (subs[0] != NULL) {
        mq_drain_to(subs[0], log, from, logged, sentinel);
    }
    if (subs[1] != NULL) {
        /* It holds nothing: a message pushed now is the first it pops. */
        oom_pause();
        mailbox_message *marker = mailbox_message_create(item_new(), item_release);
        OOM_CHECK(marker != NULL);
        OOM_CHECK_EQ(message_subscriber_push(subs[1], marker), 0);
        oom_resume();
        mailbox_message *popped = NULL;
        OOM_CHECK_EQ(message_subscriber_pop(subs[1], &popped), 0);
        OOM_CHECK(popped == marker);
        unref(popped);
        unref(marker);
    }

    /* Shut down: subscribers' pops return NULL, publishing is refused and
     * leaves the caller its reference. */
    p = probe_now();
    message_queue_shutdown(mq);
    EXPECT_NO_ALLOCATION(p);
    if (subs[0] != NULL) {
        mailbox_message *none = NULL;
        OOM_CHECK_EQ(message_subscriber_pop(subs[0], &none), 0);
        OOM_CHECK(none == NULL);
    }
    m = message_new(item_release);
    if (m != NULL) {
        int id = item_id(m->data);
        p = probe_now();
        OOM_CHECK_EQ(message_queue_publish(mq, m), -1);
        EXPECT_REFUSED(p, "message_queue_publish");
        OOM_CHECK_EQ(item_released[id], 0);
        unref(m);
    }

    p = probe_now();
    message_queue_destroy(mq);
    for (int i = 0; i < MQ_SUBSCRIBERS; i++) {
        message_subscriber_destroy(subs[i]);
    }
    EXPECT_NO_ALLOCATION(p);
}

OOM_MAIN({ "message_queue", scenario_message_queue, NULL, 0 })
