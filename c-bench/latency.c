/* Latency benchmarks of the mailbox C API: how long a waiting thread takes
 * to get what another thread pushed or published, after an idle gap, and
 * what idle subscribers cost. Uses only the original API, so the same
 * source links against this library or against the original C built by
 * the baseline's build.sh (see scripts/bench-compare); latency_peer.c runs
 * the same ping-pong on GLib's GAsyncQueue and on crossbeam-channel.
 *
 *   latency SCENARIO [ROUNDS]   prints one line:
 *     pingpong_<gap> p50_ns p99_ns gap_p50_ns
 *     publish<N>_<gap> p50_ns p99_ns gap_p50_ns
 *     idle64 cpu_ms_per_s ctxsw_per_s
 *     feed<period> p50_ns p99_ns cpu_ns_per_item
 *     tick<period> p50_ns p99_ns cpu_ns_per_item
 *   latency list                prints the scenario names
 *
 * <gap> is gap0, gap20us, gap100us or gap1ms (see latency_common.h).
 *
 * pingpong: two blocking queues, one thread pushes on q1 and pops q2, the
 * other pops q1 and pushes on q2; the round trip, ROUNDS (4000) rounds
 * after a warm-up, the gap slept before each (nanosleep, default slack: a
 * real requester). LATENCY_PIN=same or split pins its two threads (see
 * latency_common.h).
 * publish<N>: N subscriber threads each loop in message_subscriber_pop on
 * their own subscription to MAILBOX_TOPIC_CRI_CONTAINER (async); the
 * publisher publishes one event, waits (asleep) until all N popped it,
 * sleeps the gap, repeats. Latency of each (event, subscriber): pop
 * returned - publish called; p50/p99 over all of them. With gap 0 the
 * subscribers have still been back in pop for as long as the publisher
 * takes to wake up after the last pop (a futex wake-up).
 * idle64: 64 threads blocked in message_subscriber_pop (default timeout,
 * looping on ETIMEDOUT), nothing published: CPU time (user + system) and
 * context switches (voluntary + involuntary) of the process over 3 s, per
 * second.
 * feed<period>, tick<period>: a producer pushes one item per period into a
 * blocking queue one consumer pops (see latency_common.h): CPU time of the
 * whole process per item, and the hand-off's percentiles. */
#include "latency_common.h"

#include <sys/resource.h>
#include <unistd.h>

#include "blocking_queue.h"
#include "mailbox.h"
#include "mailbox_message.h"
#include "message_subscriber.h"

/* --- ping-pong on blocking_queue ------------------------------------------ */

static void *bq_create(void)
{
    blocking_queue *q = blocking_queue_create(BLOCKING_QUEUE_NO_TIMEOUT, NULL);
    if (q == NULL) {
        die("blocking_queue_create");
    }
    return q;
}

static void bq_push(void *q, void *item)
{
    if (blocking_queue_push((blocking_queue *)q, item) != 0) {
        die("blocking_queue_push");
    }
}

static void *bq_pop(void *q)
{
    void *item = NULL;
    if (blocking_queue_pop((blocking_queue *)q, &item) != 0) {
        die("blocking_queue_pop");
    }
    return item;
}

static void bq_destroy(void *q)
{
    blocking_queue_destroy((blocking_queue *)q);
}

static const pp_queue_ops bq_ops = { bq_create, bq_push, bq_pop, bq_destroy };

/* --- publish -> pop ---------------------------------------------------------- */

/* What the publisher passes to mailbox_publish: the daemon's message, and
 * when publish was called. The generator copies the time into the
 * payload every subscriber receives. */
typedef struct {
    cri_container_message_t msg;
    uint64_t published_ns;
} timed_message;

typedef struct {
    uint64_t published_ns;
    int type;
} timed_event;

static void *make_timed_event(void *context, void *data)
{
    (void)context;
    const timed_message *m = (const timed_message *)data;
    timed_event *e = (timed_event *)malloc(sizeof(*e));
    if (e == NULL) {
        die("malloc");
    }
    e->published_ns = m->published_ns;
    e->type = m->msg.type;
    return e;
}

static void register_topic(void)
{
    if (mailbox_register_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER, make_timed_event, NULL, free, true) != 0) {
        die("mailbox_register_topic_handler");
    }
}

/* How many pops all subscribers made; the publisher waits (asleep, so
 * that it leaves the CPUs to the subscribers) until it reaches a target. */
static struct {
    long popped;
    long target;
    pthread_mutex_t lock;
    pthread_cond_t reached;
} progress = { 0, 0, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER };

typedef struct {
    message_subscriber *sub;
    size_t events;      /* to pop before returning */
    size_t warmup;      /* of which the first ones are not recorded */
    uint64_t *latency;  /* events - warmup entries */
} subscriber_args;

static void *subscriber_loop(void *arg)
{
    subscriber_args *s = (subscriber_args *)arg;
    for (size_t got = 0; got < s->events;) {
        mailbox_message *msg = NULL;
        int ret = message_subscriber_pop(s->sub, &msg);
        uint64_t now = now_ns();
        if (ret == ETIMEDOUT) {
            continue;
        }
        if (ret != 0 || msg == NULL) {
            die("message_subscriber_pop");
        }
        if (got >= s->warmup) {
            s->latency[got - s->warmup] = now - ((timed_event *)msg->data)->published_ns;
        }
        mailbox_message_unref(msg);
        got++;
        long popped = __atomic_add_fetch(&progress.popped, 1, __ATOMIC_ACQ_REL);
        if (popped == __atomic_load_n(&progress.target, __ATOMIC_ACQUIRE)) {
            pthread_mutex_lock(&progress.lock);
            pthread_cond_signal(&progress.reached);
            pthread_mutex_unlock(&progress.lock);
        }
    }
    return NULL;
}

static void publish_to(const char *name, int subscribers, uint64_t gap_ns, size_t rounds)
{
    register_topic();
    size_t events = WARMUP_ROUNDS + rounds;
    subscriber_args *args = (subscriber_args *)calloc((size_t)subscribers, sizeof(*args));
    pthread_t *threads = (pthread_t *)calloc((size_t)subscribers, sizeof(*threads));
    uint64_t *latency = (uint64_t *)calloc(rounds * (size_t)subscribers, sizeof(uint64_t));
    uint64_t *gaps = (uint64_t *)calloc(rounds, sizeof(uint64_t));
    if (args == NULL || threads == NULL || latency == NULL || gaps == NULL) {
        die("calloc");
    }
    /* Everyone subscribes before the first publish. */
    for (int i = 0; i < subscribers; i++) {
        args[i] = (subscriber_args){ mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER), events, WARMUP_ROUNDS,
                                     latency + (size_t)i * rounds };
        if (args[i].sub == NULL) {
            die("mailbox_subscribe");
        }
    }
    for (int i = 0; i < subscribers; i++) {
        if (pthread_create(&threads[i], NULL, subscriber_loop, &args[i]) != 0) {
            die("pthread_create");
        }
    }
    timed_message m = { { "container", "sandbox", CRI_CONTAINER_MESSAGE_TYPE_STARTED }, 0 };
    for (size_t i = 0; i < events; i++) {
        uint64_t slept = now_ns();
        sleep_gap(gap_ns);
        long target = (long)(i + 1) * subscribers;
        __atomic_store_n(&progress.target, target, __ATOMIC_RELEASE);
        m.published_ns = now_ns();
        if (i >= WARMUP_ROUNDS) {
            gaps[i - WARMUP_ROUNDS] = m.published_ns - slept;
        }
        mailbox_publish(MAILBOX_TOPIC_CRI_CONTAINER, &m);
        pthread_mutex_lock(&progress.lock);
        while (__atomic_load_n(&progress.popped, __ATOMIC_ACQUIRE) < target) {
            pthread_cond_wait(&progress.reached, &progress.lock);
        }
        pthread_mutex_unlock(&progress.lock);
    }
    for (int i = 0; i < subscribers; i++) {
        pthread_join(threads[i], NULL);
        mailbox_unsubscribe(MAILBOX_TOPIC_CRI_CONTAINER, args[i].sub);
        message_subscriber_destroy(args[i].sub);
    }
    report(name, latency, rounds * (size_t)subscribers, gaps, rounds);
    free(args);
    free(threads);
    free(latency);
    free(gaps);
}

/* --- idle subscribers ----------------------------------------------------- */

#define IDLE_SUBSCRIBERS 64
#define IDLE_WARMUP_NS 500000000u
#define IDLE_WINDOW_NS 3000000000u

static void *idle_loop(void *arg)
{
    message_subscriber *sub = (message_subscriber *)arg;
    for (;;) {
        mailbox_message *msg = NULL;
        int ret = message_subscriber_pop(sub, &msg);
        if (ret == 0 && msg == NULL) {
            return NULL; /* shut down */
        }
        if (ret == 0) {
            die("idle: popped a message");
        }
        if (ret != ETIMEDOUT) {
            die("idle: message_subscriber_pop");
        }
    }
}

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };
    while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR) {
    }
}

static void idle(const char *name)
{
    register_topic();
    pthread_t threads[IDLE_SUBSCRIBERS];
    for (int i = 0; i < IDLE_SUBSCRIBERS; i++) {
        message_subscriber *sub = mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER);
        if (sub == NULL || pthread_create(&threads[i], NULL, idle_loop, sub) != 0) {
            die("idle setup");
        }
    }
    sleep_ns(IDLE_WARMUP_NS);
    uint64_t cpu0, sw0, cpu1, sw1;
    process_usage(&cpu0, &sw0);
    uint64_t start = now_ns();
    sleep_ns(IDLE_WINDOW_NS);
    process_usage(&cpu1, &sw1);
    double seconds = (double)(now_ns() - start) / 1e9;
    /* The main thread's own sleep adds ~2 switches: negligible. */
    printf("%s %.3f %.1f\n", name, (double)(cpu1 - cpu0) / 1e6 / seconds, (double)(sw1 - sw0) / seconds);
    fflush(stdout);
    /* The subscribers are still blocked in pop: leave without tearing down
     * (the original's unregister does not free its subscribers anyway). */
    _exit(0);
}

/* --- main --------------------------------------------------------------------- */

static void list(void)
{
    for (size_t i = 0; i < GAP_COUNT; i++) {
        printf("pingpong_%s\n", GAPS[i].suffix);
    }
    for (int subs = 1; subs <= 16; subs *= 16) {
        for (size_t i = 0; i < GAP_COUNT; i++) {
            printf("publish%d_%s\n", subs, GAPS[i].suffix);
        }
    }
    printf("idle64\n");
    list_feeds();
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: latency SCENARIO [ROUNDS] | list\n");
        return 2;
    }
    const char *name = argv[1];
    long long gap;
    if (strcmp(name, "list") == 0) {
        list();
    } else if ((gap = gap_of(name, "pingpong")) >= 0) {
        pingpong(name, &bq_ops, (uint64_t)gap, rounds_arg(argc, argv));
    } else if ((gap = gap_of(name, "publish1")) >= 0) {
        publish_to(name, 1, (uint64_t)gap, rounds_arg(argc, argv));
    } else if ((gap = gap_of(name, "publish16")) >= 0) {
        publish_to(name, 16, (uint64_t)gap, rounds_arg(argc, argv));
    } else if (strcmp(name, "idle64") == 0) {
        idle(name);
    } else if (run_feed(name, &bq_ops, rounds_arg(argc, argv))) {
    } else {
        fprintf(stderr, "latency: no scenario %s\n", name);
        return 2;
    }
    return 0;
}
