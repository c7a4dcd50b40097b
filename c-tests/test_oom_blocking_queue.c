/* Allocation failure in blocking_queue.h: create, push (the buffer growing,
 * and given back once drained), pop, clear and destroy, with the Nth
 * allocation failed, N = 1, 2, ... The harness, and what every run must
 * show: c-tests/oom.h. */
#include "oom.h"

static void queue_push_items(blocking_queue *q, fifo *expected, int count)
{
    for (int i = 0; i < count; i++) {
        item *it = item_new();
        probe p = probe_now();
        int ret = blocking_queue_push(q, it);
        if (ret == -1) {
            EXPECT_OOM(p, "blocking_queue_push");
            OOM_CHECK_EQ(item_released[it->id], 0); /* still the caller's */
            item_keep(it);
            continue;
        }
        OOM_CHECK_EQ(ret, 0);
        EXPECT_OK(p);
        fifo_push(expected, it->id);
    }
}

static void queue_pop_items(blocking_queue *q, fifo *expected, int count)
{
    for (int i = 0; i < count; i++) {
        void *data = NULL;
        probe p = probe_now();
        int ret = blocking_queue_pop(q, &data);
        EXPECT_NO_ALLOCATION(p);
        if (fifo_len(expected) == 0) {
            OOM_CHECK_EQ(ret, ETIMEDOUT); /* timeout 0: at once */
            return;
        }
        OOM_CHECK_EQ(ret, 0);
        OOM_CHECK_EQ(item_id(data), expected->ids[expected->head++]);
        item_keep(data);
    }
}

static void scenario_blocking_queue(void)
{
    static fifo expected;
    memset(&expected, 0, sizeof(expected));
    probe p = probe_now();
    blocking_queue *q = blocking_queue_create(0, item_release);
    if (current_n == 1) {
        OOM_CHECK(q == NULL); /* proof that failures reach the library */
    }
    if (q == NULL) {
        EXPECT_OOM(p, "blocking_queue_create");
        return;
    }
    EXPECT_OK(p);
    queue_push_items(q, &expected, 40); /* the buffer grows 5 times */
    queue_pop_items(q, &expected, 10);

    p = probe_now();
    blocking_queue_clear(q); /* releases each queued item once */
    EXPECT_NO_ALLOCATION(p);
    while (fifo_len(&expected) > 0) {
        OOM_CHECK_EQ(item_released[expected.ids[expected.head++]], 1);
    }
    queue_pop_items(q, &expected, 1); /* empty: ETIMEDOUT */

    /* Past the size whose buffer is given back once drained. */
    queue_push_items(q, &expected, 5000);
    queue_pop_items(q, &expected, fifo_len(&expected) + 1);
    queue_push_items(q, &expected, 3);

    p = probe_now();
    blocking_queue_destroy(q); /* releases what is queued */
    EXPECT_NO_ALLOCATION(p);
    while (fifo_len(&expected) > 0) {
        OOM_CHECK_EQ(item_released[expected.ids[expected.head++]], 1);
    }
}

OOM_MAIN({ "blocking_queue", scenario_blocking_queue, NULL, 0 })
