/* Shared by the latency benchmarks (latency.c on the mailbox API,
 * latency_glib.c on GLib's GAsyncQueue): the clock, the idle gap, the
 * percentiles and the ping-pong driver, so that every implementation is
 * measured by the same code. Header-only: each benchmark is one program. */
#ifndef ISULA_MAILBOX_C_BENCH_LATENCY_COMMON_H
#define ISULA_MAILBOX_C_BENCH_LATENCY_COMMON_H

#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* Rounds measured per run, after WARMUP_ROUNDS unmeasured ones. */
#define ROUNDS 4000
#define WARMUP_ROUNDS 200

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void die(const char *what)
{
    fprintf(stderr, "latency: %s\n", what);
    exit(1);
}

/* Sleeps the idle gap between two rounds (nothing at all for 0), as a real
 * requester sleeps between two requests: nanosleep with the thread's
 * default timer slack (50 us), so the time slept is longer than nominal;
 * every scenario reports the median it actually slept. Every
 * implementation sleeps its gaps through this function. */
static inline void sleep_gap(uint64_t gap_ns)
{
    if (gap_ns == 0) {
        return;
    }
    struct timespec ts = { (time_t)(gap_ns / 1000000000u), (long)(gap_ns % 1000000000u) };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile (0 < p <= 100) of n values; sorts them. */
static inline uint64_t percentile(uint64_t *v, size_t n, double p)
{
    qsort(v, n, sizeof(*v), cmp_u64);
    size_t rank = (size_t)((p / 100.0) * (double)n + 0.999999);
    if (rank < 1) {
        rank = 1;
    }
    return v[(rank > n ? n : rank) - 1];
}

/* Prints "NAME p50_ns p99_ns gap_p50_ns": the round trip's percentiles and
 * the median gap actually slept (longer than nominal: wake-up and slack). */
static inline void report(const char *name, uint64_t *lat, size_t n, uint64_t *gaps, size_t gaps_n)
{
    uint64_t p50 = percentile(lat, n, 50), p99 = percentile(lat, n, 99);
    uint64_t gap = gaps_n ? percentile(gaps, gaps_n, 50) : 0;
    printf("%s %llu %llu %llu\n", name, (unsigned long long)p50, (unsigned long long)p99,
           (unsigned long long)gap);
}

/* --- ping-pong ------------------------------------------------------------
 * Two queues; thread A (the caller) pushes a token on q1 and pops q2;
 * thread B pops q1 and pushes the token back on q2. A measures the round
 * trip and sleeps the gap before the next round. An implementation gives
 * its queue as these four functions. */
typedef struct {
    void *(*create)(void);
    void (*push)(void *queue, void *item);
    void *(*pop)(void *queue); /* waits for an item */
    void (*destroy)(void *queue);
} pp_queue_ops;

#define PP_TOKEN ((void *)(uintptr_t)1)
#define PP_STOP ((void *)(uintptr_t)2)

typedef struct {
    const pp_queue_ops *ops;
    void *q1, *q2;
} pp_args;

/* Where the ping-pong's two threads run, from LATENCY_PIN: unset, wherever
 * the scheduler puts them; "same", both on CPU 0; "split", the requester
 * on CPU 0 and the echo on CPU 1. On a loaded host the unpinned run lands
 * in one of the two for its whole length: pinning measures each. */
static inline void pp_pin(int echo_thread)
{
    const char *pin = getenv("LATENCY_PIN");
    if (pin == NULL || *pin == '\0') {
        return;
    }
    int cpu;
    if (strcmp(pin, "same") == 0) {
        cpu = 0;
    } else if (strcmp(pin, "split") == 0) {
        cpu = echo_thread ? 1 : 0;
    } else {
        die("LATENCY_PIN: expected same or split");
        return;
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0) {
        die("pthread_setaffinity_np");
    }
}

static void *pp_echo(void *arg)
{
    pp_args *a = (pp_args *)arg;
    pp_pin(1);
    for (;;) {
        void *item = a->ops->pop(a->q1);
        if (item == PP_STOP) {
            return NULL;
        }
        a->ops->push(a->q2, item);
    }
}

static inline void pingpong(const char *name, const pp_queue_ops *ops, uint64_t gap_ns, size_t rounds)
{
    pp_args a = { ops, ops->create(), ops->create() };
    uint64_t *lat = (uint64_t *)calloc(rounds, sizeof(uint64_t));
    uint64_t *gaps = (uint64_t *)calloc(rounds, sizeof(uint64_t));
    pthread_t echo;
    if (lat == NULL || gaps == NULL || pthread_create(&echo, NULL, pp_echo, &a) != 0) {
        die("ping-pong setup");
    }
    pp_pin(0);
    for (size_t i = 0; i < WARMUP_ROUNDS + rounds; i++) {
        uint64_t slept = now_ns();
        sleep_gap(gap_ns);
        uint64_t start = now_ns();
        ops->push(a.q1, PP_TOKEN);
        if (ops->pop(a.q2) != PP_TOKEN) {
            die("ping-pong: wrong item");
        }
        uint64_t end = now_ns();
        if (i >= WARMUP_ROUNDS) {
            lat[i - WARMUP_ROUNDS] = end - start;
            gaps[i - WARMUP_ROUNDS] = start - slept;
        }
    }
    ops->push(a.q1, PP_STOP);
    pthread_join(echo, NULL);
    ops->destroy(a.q1);
    ops->destroy(a.q2);
    report(name, lat, rounds, gaps, rounds);
    free(lat);
    free(gaps);
}

/* The gaps every scenario family is measured at. */
typedef struct {
    const char *suffix;
    uint64_t ns;
} gap_def;

static const gap_def GAPS[] = {
    { "gap0", 0 },
    { "gap20us", 20000 },
    { "gap100us", 100000 },
    { "gap1ms", 1000000 },
};
#define GAP_COUNT (sizeof(GAPS) / sizeof(GAPS[0]))

/* "pingpong_gap20us" -> 20000, or -1 when NAME is not "PREFIX_<gap>". */
static inline long long gap_of(const char *name, const char *prefix)
{
    size_t len = strlen(prefix);
    if (strncmp(name, prefix, len) != 0 || name[len] != '_') {
        return -1;
    }
    for (size_t i = 0; i < GAP_COUNT; i++) {
        if (strcmp(name + len + 1, GAPS[i].suffix) == 0) {
            return (long long)GAPS[i].ns;
        }
    }
    return -1;
}

/* Optional second argument: rounds to measure (default ROUNDS). */
static inline size_t rounds_arg(int argc, char **argv)
{
    if (argc < 3) {
        return ROUNDS;
    }
    long n = strtol(argv[2], NULL, 10);
    if (n < 1) {
        die("rounds must be >= 1");
    }
    return (size_t)n;
}

/* --- a consumer fed one item per period ------------------------------------
 * A producer pushes one item per period into a queue that one consumer
 * pops: the CPU time of the whole process per item (what waiting costs
 * between two items, both sides, getrusage) and the hand-off's
 * percentiles (pop returned - push called). Two clocks for the producer:
 *   feed<period>: nanosleep(period) between two pushes, default timer
 *                 slack: the rate is lower than nominal, and drifts;
 *   tick<period>: clock_nanosleep(TIMER_ABSTIME) to the next multiple of
 *                 the period: an exact rate, the arrival rate a spin must
 *                 pay off at (a producer late by more than a period pushes
 *                 at once, as a timer that fired while it ran).
 * Prints "NAME p50_ns p99_ns cpu_ns_per_item". */

/* CPU time in ns and context switches of the whole process, all threads. */
static inline void process_usage(uint64_t *cpu_ns, uint64_t *switches)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) {
        die("getrusage");
    }
    *cpu_ns = ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000u +
              ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000u;
    *switches = (uint64_t)ru.ru_nvcsw + (uint64_t)ru.ru_nivcsw;
}

typedef struct {
    const pp_queue_ops *ops;
    void *queue;
    size_t items;
    uint64_t *pushed_ns; /* when each item was pushed, by index */
    uint64_t *latency;   /* pop returned - push called, by index */
} feed_args;

static void *feed_consumer(void *arg)
{
    feed_args *f = (feed_args *)arg;
    for (size_t got = 0; got < f->items; got++) {
        size_t index = (size_t)(uintptr_t)f->ops->pop(f->queue) - 1;
        f->latency[index] = now_ns() - f->pushed_ns[index];
    }
    return NULL;
}

/* Sleeps until `at` (CLOCK_MONOTONIC, ns): returns at once if it passed. */
static inline void sleep_until(uint64_t at)
{
    struct timespec ts = { (time_t)(at / 1000000000u), (long)(at % 1000000000u) };
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

static inline void feed(const char *name, const pp_queue_ops *ops, uint64_t period_ns, int absolute, size_t rounds)
{
    size_t items = WARMUP_ROUNDS + rounds;
    feed_args f = { ops, ops->create(), items, (uint64_t *)calloc(items, sizeof(uint64_t)),
                    (uint64_t *)calloc(items, sizeof(uint64_t)) };
    pthread_t consumer;
    if (f.pushed_ns == NULL || f.latency == NULL || pthread_create(&consumer, NULL, feed_consumer, &f) != 0) {
        die("feed setup");
    }
    uint64_t cpu0 = 0, cpu1, switches;
    uint64_t next = now_ns();
    for (size_t i = 0; i < items; i++) {
        if (i == WARMUP_ROUNDS) {
            process_usage(&cpu0, &switches);
        }
        if (absolute) {
            next += period_ns;
            sleep_until(next);
        } else {
            sleep_gap(period_ns);
        }
        f.pushed_ns[i] = now_ns();
        ops->push(f.queue, (void *)(uintptr_t)(i + 1));
    }
    pthread_join(consumer, NULL);
    process_usage(&cpu1, &switches);
    uint64_t *measured = f.latency + WARMUP_ROUNDS;
    uint64_t p50 = percentile(measured, rounds, 50), p99 = percentile(measured, rounds, 99);
    printf("%s %llu %llu %.1f\n", name, (unsigned long long)p50, (unsigned long long)p99,
           (double)(cpu1 - cpu0) / (double)rounds);
    ops->destroy(f.queue);
    free(f.pushed_ns);
    free(f.latency);
}

/* The feeding periods. feed: nanosleep, 200 us the one measured against
 * the original. tick: an absolute clock, the rates at which a waiting pop
 * must cost no more than a condition variable's. */
static const gap_def FEEDS[] = {
    { "feed20us", 20000 },
    { "feed50us", 50000 },
    { "feed200us", 200000 },
    { "tick10us", 10000 },
    { "tick30us", 30000 },
    { "tick50us", 50000 },
    { "tick100us", 100000 },
};
#define FEED_COUNT (sizeof(FEEDS) / sizeof(FEEDS[0]))

/* Runs NAME if it is a feed or tick scenario (1), else 0. */
static inline int run_feed(const char *name, const pp_queue_ops *ops, size_t rounds)
{
    for (size_t i = 0; i < FEED_COUNT; i++) {
        if (strcmp(name, FEEDS[i].suffix) == 0) {
            feed(name, ops, FEEDS[i].ns, strncmp(name, "tick", 4) == 0, rounds);
            return 1;
        }
    }
    return 0;
}

static inline void list_feeds(void)
{
    for (size_t i = 0; i < FEED_COUNT; i++) {
        printf("%s\n", FEEDS[i].suffix);
    }
}

#endif
