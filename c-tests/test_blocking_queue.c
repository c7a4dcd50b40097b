/* blocking_queue.h: what its comments promise. Uses only the original API, so it
 * also builds against the original C (scripts/check-against-original). */
#include "blocking_queue.h"

#include "check.h"

static void fifo_order_and_null_items(void)
{
    blocking_queue *q = blocking_queue_create(0, NULL);
    CHECK(q != NULL);
    int items[3];
    CHECK_EQ(blocking_queue_push(q, &items[0]), 0);
    CHECK_EQ(blocking_queue_push(q, NULL), 0);
    CHECK_EQ(blocking_queue_push(q, &items[2]), 0);
    void *out = (void *)1;
    CHECK_EQ(blocking_queue_pop(q, &out), 0);
    CHECK(out == &items[0]);
    CHECK_EQ(blocking_queue_pop(q, &out), 0);
    CHECK(out == NULL);
    CHECK_EQ(blocking_queue_pop(q, &out), 0);
    CHECK(out == &items[2]);
    blocking_queue_destroy(q);
}

/* The seed's timed pop returned ETIMEDOUT at once (relative timespec). */
static void timed_pop_waits_the_timeout(void)
{
    blocking_queue *q = blocking_queue_create(200, NULL);
    void *out = NULL;
    int64_t start = now_ms();
    CHECK_EQ(blocking_queue_pop(q, &out), ETIMEDOUT);
    int64_t waited = now_ms() - start;
    CHECK(waited >= 200);
    CHECK(waited < 200 + 2000); /* generous: valgrind and shared machines */
    blocking_queue_destroy(q);
}

typedef struct {
    blocking_queue *q;
    void *got;
    int ret;
    int64_t returned_at;
} popper;

static void *pop_thread(void *arg)
{
    popper *p = (popper *)arg;
    p->ret = blocking_queue_pop(p->q, &p->got);
    p->returned_at = now_ms();
    return NULL;
}

static void negative_timeout_waits_until_a_push(void)
{
    blocking_queue *q = blocking_queue_create(BLOCKING_QUEUE_NO_TIMEOUT, NULL);
    popper p = { q, NULL, -2, 0 };
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, pop_thread, &p), 0);
    sleep_ms(300);
    int64_t pushed_at = now_ms();
    int item;
    CHECK_EQ(blocking_queue_push(q, &item), 0);
    pthread_join(t, NULL);
    CHECK_EQ(p.ret, 0);
    CHECK(p.got == &item);
    CHECK(p.returned_at >= pushed_at); /* it waited past 300 ms for the push */
    blocking_queue_destroy(q);

    /* Any negative value means forever, not only -1. */
    q = blocking_queue_create(-5, NULL);
    popper p2 = { q, NULL, -2, 0 };
    CHECK_EQ(pthread_create(&t, NULL, pop_thread, &p2), 0);
    sleep_ms(100);
    CHECK_EQ(blocking_queue_push(q, &item), 0);
    pthread_join(t, NULL);
    CHECK_EQ(p2.ret, 0);
    blocking_queue_destroy(q);
}

static void push_wakes_a_timed_pop_early(void)
{
    blocking_queue *q = blocking_queue_create(10000, NULL);
    popper p = { q, NULL, -2, 0 };
    pthread_t t;
    int64_t start = now_ms();
    CHECK_EQ(pthread_create(&t, NULL, pop_thread, &p), 0);
    sleep_ms(50);
    int item;
    CHECK_EQ(blocking_queue_push(q, &item), 0);
    pthread_join(t, NULL);
    CHECK_EQ(p.ret, 0);
    CHECK(p.got == &item);
    CHECK(p.returned_at - start < 5000);
    blocking_queue_destroy(q);
}

/* The original's clear released the item popped last (double free) and
 * skipped the newest queued one (leak). */
static void clear_releases_each_queued_item_once(void)
{
    tracked_reset();
    blocking_queue *q = blocking_queue_create(0, tracked_release);
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(blocking_queue_push(q, tracked_new(i)), 0);
    }
    void *out = NULL;
    CHECK_EQ(blocking_queue_pop(q, &out), 0);
    CHECK_EQ(((tracked *)out)->id, 0);
    blocking_queue_clear(q);
    CHECK_EQ(tracked_released(0), 0); /* popped: the caller owns it */
    for (int i = 1; i < 4; i++) {
        CHECK_EQ(tracked_released(i), 1);
    }
    tracked_release(out);

    /* Still usable after clear. */
    CHECK_EQ(blocking_queue_push(q, tracked_new(4)), 0);
    CHECK_EQ(blocking_queue_pop(q, &out), 0);
    CHECK_EQ(((tracked *)out)->id, 4);
    tracked_release(out);
    CHECK_EQ(blocking_queue_pop(q, &out), ETIMEDOUT);
    blocking_queue_destroy(q);
    check_each_released_once(5);
}

/* The original's destroy leaked a node: valgrind reports it. */
static void destroy_releases_what_is_queued(void)
{
    tracked_reset();
    blocking_queue *q = blocking_queue_create(0, tracked_release);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(blocking_queue_push(q, tracked_new(i)), 0);
    }
    blocking_queue_destroy(q);
    check_each_released_once(3);

    /* Destroying a queue whose items were all popped releases nothing. */
    tracked_reset();
    q = blocking_queue_create(0, tracked_release);
    CHECK_EQ(blocking_queue_push(q, tracked_new(0)), 0);
    void *out = NULL;
    CHECK_EQ(blocking_queue_pop(q, &out), 0);
    blocking_queue_destroy(q);
    CHECK_EQ(tracked_released(0), 0);
    tracked_release(out);
}

/* A release that destroy runs may use the queue being destroyed: it is
 * closed first, so a push is refused (-1, the item stays the caller's) and
 * a pop fails, instead of an item left behind in a queue about to be freed. */
static blocking_queue *destroying;
static int pushed_back, popped_back;

static void release_pushing_back(void *data)
{
    tracked *item = (tracked *)data;
    if (item->id < 3) {
        tracked *again = tracked_new(item->id + 3);
        pushed_back = blocking_queue_push(destroying, again);
        if (pushed_back != 0) {
            tracked_release(again); /* refused: still ours */
        }
        void *out = NULL;
        popped_back = blocking_queue_pop(destroying, &out);
    }
    tracked_release(data);
}

static void a_release_run_by_destroy_cannot_refill_the_queue(void)
{
    tracked_reset();
    destroying = blocking_queue_create(0, release_pushing_back);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(blocking_queue_push(destroying, tracked_new(i)), 0);
    }
    pushed_back = popped_back = 0;
    blocking_queue_destroy(destroying);
    CHECK_EQ(pushed_back, -1);
    CHECK_EQ(popped_back, -1);
    check_each_released_once(6); /* the three queued, the three refused */
}

static void clear_without_release_function(void)
{
    blocking_queue *q = blocking_queue_create(0, NULL);
    int item;
    CHECK_EQ(blocking_queue_push(q, &item), 0);
    blocking_queue_clear(q);
    void *out = NULL;
    CHECK_EQ(blocking_queue_pop(q, &out), ETIMEDOUT);
    blocking_queue_destroy(q);
}

static void null_arguments(void)
{
    void *out = NULL;
    CHECK_EQ(blocking_queue_push(NULL, &out), -1);
    CHECK_EQ(blocking_queue_pop(NULL, &out), -1);
    blocking_queue *q = blocking_queue_create(0, NULL);
    CHECK_EQ(blocking_queue_pop(q, NULL), -1);
    blocking_queue_clear(NULL);
    blocking_queue_destroy(NULL);
    blocking_queue_destroy(q);
}

#define PRODUCERS 2
#define CONSUMERS 2
#define PER_PRODUCER 20000

typedef struct {
    blocking_queue *q;
    int producer;
} producer_arg;

static void *produce(void *arg)
{
    producer_arg *p = (producer_arg *)arg;
    for (intptr_t i = 0; i < PER_PRODUCER; i++) {
        CHECK_EQ(blocking_queue_push(p->q, (void *)(intptr_t)(p->producer * PER_PRODUCER + i + 1)), 0);
    }
    return NULL;
}

typedef struct {
    blocking_queue *q;
    int counts[PRODUCERS * PER_PRODUCER + 1];
    intptr_t last_seen[PRODUCERS];
} consumer_arg;

static void *consume(void *arg)
{
    consumer_arg *c = (consumer_arg *)arg;
    for (;;) {
        void *out = NULL;
        int ret = blocking_queue_pop(c->q, &out);
        CHECK_EQ(ret, 0);
        intptr_t v = (intptr_t)out;
        if (v == 0) {
            return NULL; /* the end marker */
        }
        int producer = (int)((v - 1) / PER_PRODUCER);
        CHECK(v > c->last_seen[producer]); /* one producer's items stay in order */
        c->last_seen[producer] = v;
        c->counts[v]++;
    }
}

static void many_producers_and_consumers(void)
{
    blocking_queue *q = blocking_queue_create(BLOCKING_QUEUE_NO_TIMEOUT, NULL);
    pthread_t producers[PRODUCERS], consumers[CONSUMERS];
    producer_arg pa[PRODUCERS];
    static consumer_arg ca[CONSUMERS];
    memset(ca, 0, sizeof(ca));
    for (int i = 0; i < CONSUMERS; i++) {
        ca[i].q = q;
        CHECK_EQ(pthread_create(&consumers[i], NULL, consume, &ca[i]), 0);
    }
    for (int i = 0; i < PRODUCERS; i++) {
        pa[i].q = q;
        pa[i].producer = i;
        CHECK_EQ(pthread_create(&producers[i], NULL, produce, &pa[i]), 0);
    }
    for (int i = 0; i < PRODUCERS; i++) {
        pthread_join(producers[i], NULL);
    }
    for (int i = 0; i < CONSUMERS; i++) {
        CHECK_EQ(blocking_queue_push(q, NULL), 0);
    }
    for (int i = 0; i < CONSUMERS; i++) {
        pthread_join(consumers[i], NULL);
    }
    for (int v = 1; v <= PRODUCERS * PER_PRODUCER; v++) {
        int seen = 0;
        for (int i = 0; i < CONSUMERS; i++) {
            seen += ca[i].counts[v];
        }
        CHECK_EQ(seen, 1);
    }
    blocking_queue_destroy(q);
}

static void auto_cleanup_macro_destroys(void)
{
    tracked_reset();
    {
        __isula_auto_blocking_queue blocking_queue *q = blocking_queue_create(0, tracked_release);
        CHECK_EQ(blocking_queue_push(q, tracked_new(0)), 0);
    }
    check_each_released_once(1);
}

TEST_MAIN(TEST_CASE(fifo_order_and_null_items), TEST_CASE(timed_pop_waits_the_timeout),
          TEST_CASE(negative_timeout_waits_until_a_push), TEST_CASE(push_wakes_a_timed_pop_early),
          TEST_CASE(clear_releases_each_queued_item_once), TEST_CASE(destroy_releases_what_is_queued),
          TEST_CASE(a_release_run_by_destroy_cannot_refill_the_queue),
          TEST_CASE(clear_without_release_function), TEST_CASE(null_arguments),
          TEST_CASE(many_producers_and_consumers), TEST_CASE(auto_cleanup_macro_destroys))
