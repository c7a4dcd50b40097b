/* Allocation failure in message_subscriber.h: create, push (its queue
 * growing), pop, shutdown (a push after it is refused), destroy, with the
 * Nth allocation failed, N = 1, 2, ... The harness, and what every run must
 * show: c-tests/oom.h. */
#include "oom.h"

/* Pushes a new message to `sub`; the caller's reference is given up at once,
 * so the item's release shows whether the subscriber took one. */
static void subscriber_push_new(message_subscriber *sub, fifo *expected)
{
    mailbox_message *m = message_new(item_release);
    if (m == NULL) {
        return;
    }
    int id = item_id(m->data);
    probe p = probe_now();
    int ret = message_subscriber_push(sub, m);
    if (ret == -1) {
        EXPECT_OOM(p, "message_subscriber_push");
        unref(m);
        OOM_CHECK_EQ(item_released[id], 1); /* the subscriber took no reference */
        return;
    }
    OOM_CHECK_EQ(ret, 0);
    EXPECT_OK(p);
    unref(m);
    OOM_CHECK_EQ(item_released[id], 0); /* the subscriber holds its own */
    fifo_push(expected, id);
}

/* Pops what `sub` holds, which must be `expected` in order; then the pop
 * times out at once (the subscriber's timeout is 0). */
static void subscriber_drain(message_subscriber *sub, fifo *expected)
{
    for (;;) {
        mailbox_message *m = NULL;
        probe p = probe_now();
        int ret = message_subscriber_pop(sub, &m);
        EXPECT_NO_ALLOCATION(p);
        if (fifo_len(expected) == 0) {
            OOM_CHECK_EQ(ret, ETIMEDOUT);
            return;
        }
        OOM_CHECK_EQ(ret, 0);
        OOM_CHECK(m != NULL);
        int id = item_id(m->data);
        OOM_CHECK_EQ(id, expected->ids[expected->head++]);
        unref(m);
        OOM_CHECK_EQ(item_released[id], 1);
    }
}

static void scenario_subscriber(void)
{
    static fifo expected;
    memset(&expected, 0, sizeof(expected));
    probe p = probe_now();
    message_subscriber *sub = message_subscriber_create(0, NULL);
    if (current_n == 1) {
        OOM_CHECK(sub == NULL);
    }
    if (sub == NULL) {
        EXPECT_OOM(p, "message_subscriber_create");
        return;
    }
    EXPECT_OK(p);
    for (int i = 0; i < 6; i++) { /* its queue grows twice */
        subscriber_push_new(sub, &expected);
    }
    subscriber_drain(sub, &expected);
    for (int i = 0; i < 3; i++) {
        subscriber_push_new(sub, &expected);
    }

    /* Shutdown unrefs what is pending; later pops return NULL at once. */
    p = probe_now();
    message_subscriber_shutdown(sub);
    EXPECT_NO_ALLOCATION(p);
    while (fifo_len(&expected) > 0) {
        OOM_CHECK_EQ(item_released[expected.ids[expected.head++]], 1);
    }
    mailbox_message *m = (mailbox_message *)&expected; /* anything but NULL */
    OOM_CHECK_EQ(message_subscriber_pop(sub, &m), 0);
    OOM_CHECK(m == NULL);

    /* A push after shutdown is refused (not for memory). */
    m = message_new(item_release);
    if (m != NULL) {
        int id = item_id(m->data);
        p = probe_now();
        OOM_CHECK_EQ(message_subscriber_push(sub, m), -1);
        EXPECT_REFUSED(p, "message_subscriber_push");
        unref(m);
        OOM_CHECK_EQ(item_released[id], 1);
    }

    p = probe_now();
    message_subscriber_destroy(sub);
    EXPECT_NO_ALLOCATION(p);
}

OOM_MAIN({ "message_subscriber", scenario_subscriber, NULL, 0 })
