/* Benchmarks of the mailbox C API. Uses only the original names, so the
 * same source links against this library or against the original C built
 * by ../shared/c-baseline/build.sh (see scripts/bench-compare).
 *
 *   mailbox_bench SCENARIO   prints "SCENARIO VALUE UNIT" (ns/op or bytes)
 *   mailbox_bench list       prints the scenario names
 *
 * Memory scenarios measure the resident set (/proc/self/statm) and must run
 * in a fresh process each: run one scenario per invocation. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blocking_queue.h"
#include "mailbox.h"
#include "mailbox_message.h"
#include "message_subscriber.h"

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "mailbox_bench: %s\n", what);
    exit(1);
}

/* Keeps the compiler from dropping what a loop computes. */
static volatile uintptr_t sink;

/* --- blocking queue ------------------------------------------------------ */

static double bq_push_pop_1thread(void)
{
    const long n = 2000000;
    blocking_queue *q = blocking_queue_create(BLOCKING_QUEUE_NO_TIMEOUT, NULL);
    double start = now_ns();
    for (long i = 1; i <= n; i++) {
        void *out;
        if (blocking_queue_push(q, (void *)(uintptr_t)i) != 0 || blocking_queue_pop(q, &out) != 0) {
            die("push/pop");
        }
        sink += (uintptr_t)out;
    }
    double elapsed = now_ns() - start;
    blocking_queue_destroy(q);
    return elapsed / n;
}

typedef struct {
    blocking_queue *q;
    long count;
} bq_worker;

static void *bq_producer(void *arg)
{
    bq_worker *w = (bq_worker *)arg;
    for (long i = 1; i <= w->count; i++) {
        if (blocking_queue_push(w->q, (void *)(uintptr_t)i) != 0) {
            die("push");
        }
    }
    return NULL;
}

/* Pops until it gets NULL (the end marker). */
static void *bq_consumer(void *arg)
{
    bq_worker *w = (bq_worker *)arg;
    for (;;) {
        void *out = NULL;
        int ret = blocking_queue_pop(w->q, &out);
        if (ret != 0) {
            die("pop");
        }
        if (out == NULL) {
            return NULL;
        }
        w->count++;
    }
}

static double bq_producers_consumers(int producers, int consumers, long per_producer)
{
    blocking_queue *q = blocking_queue_create(BLOCKING_QUEUE_NO_TIMEOUT, NULL);
    pthread_t p[8], c[8];
    bq_worker pw[8], cw[8];
    double start = now_ns();
    for (int i = 0; i < consumers; i++) {
        cw[i] = (bq_worker){ q, 0 };
        pthread_create(&c[i], NULL, bq_consumer, &cw[i]);
    }
    for (int i = 0; i < producers; i++) {
        pw[i] = (bq_worker){ q, per_producer };
        pthread_create(&p[i], NULL, bq_producer, &pw[i]);
    }
    for (int i = 0; i < producers; i++) {
        pthread_join(p[i], NULL);
    }
    for (int i = 0; i < consumers; i++) {
        blocking_queue_push(q, NULL);
    }
    long total = 0;
    for (int i = 0; i < consumers; i++) {
        pthread_join(c[i], NULL);
        total += cw[i].count;
    }
    double elapsed = now_ns() - start;
    if (total != producers * per_producer) {
        die("lost items");
    }
    blocking_queue_destroy(q);
    return elapsed / (double)total;
}

static double bq_1p1c(void)
{
    return bq_producers_consumers(1, 1, 1000000);
}

static double bq_2p2c(void)
{
    return bq_producers_consumers(2, 2, 500000);
}

/* --- messages ------------------------------------------------------------- */

static double msg_create_unref(void)
{
    const long n = 2000000;
    double start = now_ns();
    for (long i = 1; i <= n; i++) {
        mailbox_message *msg = mailbox_message_create((void *)(uintptr_t)i, NULL);
        if (msg == NULL) {
            die("create");
        }
        sink += (uintptr_t)msg->data;
        mailbox_message_unref(msg);
    }
    return (now_ns() - start) / n;
}

static double msg_ref_unref(void)
{
    const long n = 5000000;
    mailbox_message *msg = mailbox_message_create(NULL, NULL);
    double start = now_ns();
    for (long i = 0; i < n; i++) {
        if (mailbox_message_ref(msg) != 0) {
            die("ref");
        }
        mailbox_message_unref(msg);
    }
    double elapsed = now_ns() - start;
    mailbox_message_unref(msg);
    return elapsed / n;
}

/* --- the mailbox ------------------------------------------------------------ */

/* The daemon's generator makes a response object; here a small struct. */
typedef struct {
    const char *container_id;
    const char *sandbox_id;
    int type;
} event;

static void *make_event(void *context, void *data)
{
    (void)context;
    const cri_container_message_t *msg = (const cri_container_message_t *)data;
    event *e = (event *)malloc(sizeof(*e));
    if (e == NULL) {
        die("malloc");
    }
    e->container_id = msg->container_id;
    e->sandbox_id = msg->sandbox_id;
    e->type = msg->type;
    return e;
}

static void register_topic(void)
{
    if (mailbox_register_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER, make_event, NULL, free, true) != 0) {
        die("register");
    }
}

static double publish_no_subscriber(void)
{
    const long n = 5000000;
    register_topic();
    cri_container_message_t msg = { "container", "sandbox", CRI_CONTAINER_MESSAGE_TYPE_STARTED };
    double start = now_ns();
    for (long i = 0; i < n; i++) {
        mailbox_publish(MAILBOX_TOPIC_CRI_CONTAINER, &msg);
    }
    return (now_ns() - start) / n;
}

typedef struct {
    message_subscriber *sub;
    long expected;
} stream;

/* A GetContainerEvents loop: pop, use msg->data, unref; ETIMEDOUT polls. */
static void *events_stream(void *arg)
{
    stream *s = (stream *)arg;
    long got = 0;
    while (got < s->expected) {
        mailbox_message *msg = NULL;
        int ret = message_subscriber_pop(s->sub, &msg);
        if (ret == ETIMEDOUT) {
            continue;
        }
        if (ret != 0 || msg == NULL) {
            die("stream pop");
        }
        sink += (uintptr_t)((event *)msg->data)->type;
        mailbox_message_unref(msg);
        got++;
    }
    return NULL;
}

static double publish_deliver(int subscribers, long n)
{
    register_topic();
    stream streams[16];
    pthread_t threads[16];
    for (int i = 0; i < subscribers; i++) {
        streams[i].sub = mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER);
        streams[i].expected = n;
        if (streams[i].sub == NULL) {
            die("subscribe");
        }
    }
    cri_container_message_t msg = { "container", "sandbox", CRI_CONTAINER_MESSAGE_TYPE_STARTED };
    double start = now_ns();
    for (int i = 0; i < subscribers; i++) {
        pthread_create(&threads[i], NULL, events_stream, &streams[i]);
    }
    for (long i = 0; i < n; i++) {
        mailbox_publish(MAILBOX_TOPIC_CRI_CONTAINER, &msg);
    }
    for (int i = 0; i < subscribers; i++) {
        pthread_join(threads[i], NULL);
    }
    double elapsed = now_ns() - start;
    for (int i = 0; i < subscribers; i++) {
        mailbox_unsubscribe(MAILBOX_TOPIC_CRI_CONTAINER, streams[i].sub);
        message_subscriber_destroy(streams[i].sub);
    }
    return elapsed / n;
}

static double deliver_1_subscriber(void)
{
    return publish_deliver(1, 400000);
}

static double deliver_4_subscribers(void)
{
    return publish_deliver(4, 200000);
}

static double deliver_16_subscribers(void)
{
    return publish_deliver(16, 50000);
}

/* --- memory ------------------------------------------------------------------ */

static long resident_bytes(void)
{
    long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL || fscanf(f, "%ld %ld", &size, &resident) != 2) {
        die("read /proc/self/statm");
    }
    fclose(f);
    return resident * sysconf(_SC_PAGESIZE);
}

static double bytes_per_queued_item(void)
{
    const long n = 1000000;
    blocking_queue *q = blocking_queue_create(BLOCKING_QUEUE_NO_TIMEOUT, NULL);
    long before = resident_bytes();
    for (long i = 1; i <= n; i++) {
        blocking_queue_push(q, (void *)(uintptr_t)i);
    }
    double per_item = (double)(resident_bytes() - before) / n;
    blocking_queue_destroy(q);
    return per_item;
}

static double bytes_per_pending_message(void)
{
    const long n = 200000;
    register_topic();
    message_subscriber *sub = mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER);
    cri_container_message_t msg = { "container", "sandbox", CRI_CONTAINER_MESSAGE_TYPE_STARTED };
    long before = resident_bytes();
    for (long i = 0; i < n; i++) {
        mailbox_publish(MAILBOX_TOPIC_CRI_CONTAINER, &msg);
    }
    /* The original delivers from a thread of its own: wait until the
     * subscriber holds everything (its last message pops at once). */
    sleep(1);
    double per_message = (double)(resident_bytes() - before) / n;
    message_subscriber_destroy(sub);
    return per_message;
}

typedef struct {
    const char *name;
    double (*run)(void);
    const char *unit;
} scenario;

static const scenario scenarios[] = {
    { "bq_push_pop_1thread", bq_push_pop_1thread, "ns/op" },
    { "bq_1p1c", bq_1p1c, "ns/op" },
    { "bq_2p2c", bq_2p2c, "ns/op" },
    { "msg_create_unref", msg_create_unref, "ns/op" },
    { "msg_ref_unref", msg_ref_unref, "ns/op" },
    { "publish_no_subscriber", publish_no_subscriber, "ns/op" },
    { "deliver_1_subscriber", deliver_1_subscriber, "ns/msg" },
    { "deliver_4_subscribers", deliver_4_subscribers, "ns/msg" },
    { "deliver_16_subscribers", deliver_16_subscribers, "ns/msg" },
    { "mem_queued_item", bytes_per_queued_item, "bytes" },
    { "mem_pending_message", bytes_per_pending_message, "bytes" },
};

int main(int argc, char **argv)
{
    size_t count = sizeof(scenarios) / sizeof(scenarios[0]);
    if (argc != 2) {
        fprintf(stderr, "usage: mailbox_bench SCENARIO | list\n");
        return 2;
    }
    if (strcmp(argv[1], "list") == 0) {
        for (size_t i = 0; i < count; i++) {
            printf("%s %s\n", scenarios[i].name, scenarios[i].unit);
        }
        return 0;
    }
    for (size_t i = 0; i < count; i++) {
        if (strcmp(argv[1], scenarios[i].name) == 0) {
            printf("%s %.2f %s\n", scenarios[i].name, scenarios[i].run(), scenarios[i].unit);
            return 0;
        }
    }
    fprintf(stderr, "mailbox_bench: no scenario %s\n", argv[1]);
    return 2;
}
