/* A minimal test harness for the C tests: CHECK macros, a table of named
 * cases, and helpers shared by the tests. Header-only so that every test is
 * one .c file that builds against this library or the original C. */
#ifndef ISULA_MAILBOX_CHECK_H
#define ISULA_MAILBOX_CHECK_H

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECK(cond)                                                                 \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            exit(1);                                                                \
        }                                                                           \
    } while (0)

#define CHECK_EQ(a, b)                                                                     \
    do {                                                                                   \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);                    \
        if (check_a_ != check_b_) {                                                        \
            fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %s (%lld != %lld)\n", __FILE__, \
                    __LINE__, #a, #b, check_a_, check_b_);                                 \
            exit(1);                                                                       \
        }                                                                                  \
    } while (0)

typedef struct {
    const char *name;
    void (*run)(void);
} test_case;

#define TEST_CASE(fn) { #fn, fn }

/* Runs every case, or only those named on the command line. */
static inline int run_test_cases(int argc, char **argv, const test_case *cases, size_t count)
{
    int ran = 0;
    for (size_t i = 0; i < count; i++) {
        int wanted = argc <= 1;
        for (int a = 1; a < argc; a++) {
            wanted |= strcmp(argv[a], cases[i].name) == 0;
        }
        if (!wanted) {
            continue;
        }
        fprintf(stderr, "[ RUN  ] %s\n", cases[i].name);
        cases[i].run();
        fprintf(stderr, "[   OK ] %s\n", cases[i].name);
        ran++;
    }
    if (ran == 0) {
        fprintf(stderr, "no test case matched\n");
        return 2;
    }
    return 0;
}

#define TEST_MAIN(...)                                                          \
    int main(int argc, char **argv)                                             \
    {                                                                           \
        static const test_case cases[] = { __VA_ARGS__ };                       \
        return run_test_cases(argc, argv, cases, sizeof(cases) / sizeof(cases[0])); \
    }

static inline int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void sleep_ms(int64_t ms)
{
    struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Payloads whose release is counted, to check "released exactly once, and
 * only what was made". Ids index a table of release counts. */
#define TRACKED_MAX 100000

typedef struct {
    int id;
} tracked;

static int tracked_made_count;
static int tracked_releases[TRACKED_MAX];
static int tracked_bogus_releases; /* releases of ids that were never made */
static pthread_mutex_t tracked_lock = PTHREAD_MUTEX_INITIALIZER;

static inline tracked *tracked_new(int id)
{
    tracked *t = (tracked *)malloc(sizeof(*t));
    CHECK(t != NULL);
    CHECK(id >= 0 && id < TRACKED_MAX);
    t->id = id;
    pthread_mutex_lock(&tracked_lock);
    tracked_made_count++;
    pthread_mutex_unlock(&tracked_lock);
    return t;
}

/* A release function: counts the release of the payload's id and frees it. */
static inline void tracked_release(void *p)
{
    if (p == NULL) {
        return;
    }
    tracked *t = (tracked *)p;
    pthread_mutex_lock(&tracked_lock);
    if (t->id >= 0 && t->id < TRACKED_MAX) {
        tracked_releases[t->id]++;
    } else {
        tracked_bogus_releases++;
    }
    pthread_mutex_unlock(&tracked_lock);
    free(t);
}

static inline int tracked_released(int id)
{
    pthread_mutex_lock(&tracked_lock);
    int n = tracked_releases[id];
    pthread_mutex_unlock(&tracked_lock);
    return n;
}

static inline void tracked_reset(void)
{
    pthread_mutex_lock(&tracked_lock);
    memset(tracked_releases, 0, sizeof(tracked_releases));
    tracked_made_count = 0;
    tracked_bogus_releases = 0;
    pthread_mutex_unlock(&tracked_lock);
}

/* Every payload 0..count-1 released exactly once, nothing else released. */
static inline void check_each_released_once(int count)
{
    for (int id = 0; id < count; id++) {
        if (tracked_released(id) != 1) {
            fprintf(stderr, "payload %d released %d times\n", id, tracked_released(id));
        }
        CHECK_EQ(tracked_released(id), 1);
    }
    for (int id = count; id < TRACKED_MAX; id++) {
        CHECK_EQ(tracked_released(id), 0);
    }
    CHECK_EQ(tracked_bogus_releases, 0);
}

#endif
