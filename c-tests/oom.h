/* The allocation-failure harness of the test_oom_*.c programs, one program
 * per header. Allocation failure, everywhere: the library allocates through
 * the C allocator, so each program defines malloc and friends itself
 * (c-tests/oom_interposer.h, through this header) and fails the Nth
 * allocation after arming, for N = 1, 2, 3, ... until a run completes
 * without reaching N. A program's scenarios run in its one process, one run
 * after another; every run must
 *
 * - end normally (no abort: a signal handler names the scenario and N);
 * - see only documented failure values, and where a call returns one, the
 *   injected failure happened inside that call and it logged exactly one
 *   error record saying "out of memory" (a failure a call absorbs, such as a
 *   subscriber missing a delivery, logs at most one);
 * - account for every item: each one the library took is popped or released
 *   exactly once, each one it refused is still the caller's (its release not
 *   called); a subscriber that missed a delivery is counted in `dropped`;
 * - leave no allocation made during the run alive once it cleaned up, and
 *   leave the library usable (a topic round trip after each run).
 *
 * Functions documented "Allocates nothing" are checked to allocate nothing.
 *
 * A program includes this header once, before anything else, and lists its
 * scenarios with OOM_MAIN (the driver, at the end). A scenario marked
 * `once` is not failed N = 1, 2, ... but run a single time, as it is: it
 * makes memory run out itself (threads that wait with no memory left).
 * Given scenario names as arguments, a program runs only those ("no
 * scenario matched": exit 2); with TEST_OOM_VERBOSE set, it prints every
 * log record.
 *
 * Under valgrind, run with --soname-synonyms=somalloc=nouserintercepts:
 * valgrind otherwise replaces the program's malloc with its own (and
 * nothing would be injected; the program says so and fails). With that
 * option the interposer runs and forwards to glibc's __libc_* functions,
 * which valgrind does replace (in libc.so they are aliases of malloc & co,
 * at the same addresses), so valgrind still sees every block.
 *
 * How runs stay comparable: each scenario first runs once with nothing
 * failed and nothing tracked (one-time lazy allocations happen there);
 * the scenarios are single-threaded and their pops never wait, so run N
 * takes the same path as the clean run up to its Nth allocation. Items are
 * static (making one allocates nothing); sentinels the test publishes to
 * itself are made with counting paused.
 *
 * Every function here is static inline: a program uses only some of them. */
#ifndef ISULA_MAILBOX_OOM_H
#define ISULA_MAILBOX_OOM_H

#define _GNU_SOURCE
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

#include "isula_mailbox.h"

#include "check.h"
#include "oom_interposer.h"

/* ---- where a failure is reported ---------------------------------------- */

static const char *current_scenario = "setup";
static long current_n;

#define OOM_CHECK(cond)                                                                               \
    do {                                                                                              \
        if (!(cond)) {                                                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s (scenario %s, N=%ld)\n", __FILE__, __LINE__, #cond, \
                    current_scenario, current_n);                                                     \
            exit(1);                                                                                  \
        }                                                                                             \
    } while (0)

#define OOM_CHECK_EQ(a, b)                                                                                   \
    do {                                                                                                     \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);                                      \
        if (check_a_ != check_b_) {                                                                          \
            fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %s (%lld != %lld) (scenario %s, N=%ld)\n", __FILE__, \
                    __LINE__, #a, #b, check_a_, check_b_, current_scenario, current_n);                      \
            exit(1);                                                                                         \
        }                                                                                                    \
    } while (0)

static inline void on_fatal_signal(int sig)
{
    char line[200];
    int n = snprintf(line, sizeof(line), "test_oom: signal %d in scenario %s, N=%ld\n", sig, current_scenario,
                     current_n);
    ssize_t ignored = write(2, line, (size_t)n);
    (void)ignored;
    signal(sig, SIG_DFL);
    raise(sig);
}

/* ---- log records -------------------------------------------------------- */

static volatile long log_errors;  /* error records */
static volatile long log_records; /* all records (up to warnings) */
static volatile long sink_records[2];
static char last_error[1100];
static int second_sink; /* the address marks records of the second callback */

static inline void count_log(mailbox_log_level level, const char *message, void *user)
{
    log_records++;
    sink_records[user == &second_sink]++;
    if (level == MAILBOX_LOG_ERROR) {
        log_errors++;
        strncpy(last_error, message, sizeof(last_error) - 1);
    }
    if (getenv("TEST_OOM_VERBOSE") != NULL) {
        fprintf(stderr, "  log(%d): %s\n", (int)level, message);
    }
}

/* What a call is checked against: failures injected, error records and
 * allocations before it. */
typedef struct {
    long fired;
    long errors;
    long allocs;
} probe;

static inline probe probe_now(void)
{
    return (probe){ fired_count(), log_errors, alloc_count() };
}

/* The call returned its failure value: the injected failure happened in it,
 * and it logged one error record, "<function>: out of memory". */
#define EXPECT_OOM(p, function) expect_oom((p), (function), __FILE__, __LINE__)
static inline void expect_oom(probe p, const char *function, const char *file, int line)
{
    size_t len = strlen(function);
    if (fired_count() != p.fired + 1 || log_errors != p.errors + 1 || strncmp(last_error, function, len) != 0 ||
        strstr(last_error, "out of memory") == NULL) {
        fprintf(stderr,
                "%s:%d: %s failed: injected in it %ld (want 1), error records %ld (want 1), last "
                "\"%s\" (scenario %s, N=%ld)\n",
                file, line, function, fired_count() - p.fired, log_errors - p.errors, last_error, current_scenario,
                current_n);
        exit(1);
    }
}

/* The call succeeded (or was void): if nothing was injected in it, it
 * logged nothing; a failure it absorbed logged at most one error record. */
#define EXPECT_OK(p) expect_ok((p), __FILE__, __LINE__)
static inline void expect_ok(probe p, const char *file, int line)
{
    long fired = fired_count() - p.fired, errors = log_errors - p.errors;
    if (errors > fired) {
        fprintf(stderr, "%s:%d: %ld error records, %ld failures injected (last \"%s\") (scenario %s, N=%ld)\n",
                file, line, errors, fired, last_error, current_scenario, current_n);
        exit(1);
    }
}

/* A call documented "Allocates nothing": it did not, and logged nothing. */
#define EXPECT_NO_ALLOCATION(p) expect_no_allocation((p), __FILE__, __LINE__)
static inline void expect_no_allocation(probe p, const char *file, int line)
{
    if (alloc_count() != p.allocs || log_errors != p.errors) {
        fprintf(stderr, "%s:%d: %ld allocations, %ld error records (want none) (scenario %s, N=%ld)\n", file,
                line, alloc_count() - p.allocs, log_errors - p.errors, current_scenario, current_n);
        exit(1);
    }
}

/* A call that fails on purpose (not for memory): one error record, no
 * allocation failed in it. */
#define EXPECT_REFUSED(p, function) expect_refused((p), (function), __FILE__, __LINE__)
static inline void expect_refused(probe p, const char *function, const char *file, int line)
{
    if (fired_count() != p.fired || log_errors != p.errors + 1 || strncmp(last_error, function, strlen(function)) != 0) {
        fprintf(stderr, "%s:%d: %s: %ld error records (want 1), last \"%s\" (scenario %s, N=%ld)\n", file,
                line, function, log_errors - p.errors, last_error, current_scenario, current_n);
        exit(1);
    }
}

/* Whether an injected failure happened since `p`. */
static inline int fired_since(probe p)
{
    return fired_count() != p.fired;
}

/* ---- items: what the library is handed and must give back --------------- */

/* Static, so that making one allocates nothing. */
#define ITEMS 8192

typedef struct {
    int id;
} item;

static item items[ITEMS];
static int items_made;
static int item_released[ITEMS]; /* by the library, through item_release */
static int item_kept[ITEMS];     /* disposed of by the test: popped, or refused and still its own */

static inline item *item_new(void)
{
    OOM_CHECK(items_made < ITEMS);
    item *it = &items[items_made];
    it->id = items_made++;
    return it;
}

static inline int item_id(void *data)
{
    item *it = (item *)data;
    OOM_CHECK(it >= items && it < items + items_made);
    OOM_CHECK(it->id == (int)(it - items));
    return it->id;
}

/* The release function handed to the library. */
static inline void item_release(void *data)
{
    int id = item_id(data);
    item_released[id]++;
    OOM_CHECK_EQ(item_released[id] + item_kept[id], 1);
}

/* The test disposes of an item that came back to it. */
static inline void item_keep(void *data)
{
    int id = item_id(data);
    item_kept[id]++;
    OOM_CHECK_EQ(item_released[id] + item_kept[id], 1);
}

static inline void items_reset(void)
{
    memset(item_released, 0, sizeof(item_released));
    memset(item_kept, 0, sizeof(item_kept));
    items_made = 0;
}

/* Every item made was disposed of exactly once, by the library or the test. */
static inline void check_items(void)
{
    for (int id = 0; id < items_made; id++) {
        if (item_released[id] + item_kept[id] != 1) {
            fprintf(stderr, "item %d: released %d, kept %d (scenario %s, N=%ld)\n", id, item_released[id],
                    item_kept[id], current_scenario, current_n);
            exit(1);
        }
    }
}

/* A FIFO of item ids: what a queue or subscriber should hold. */
typedef struct {
    int ids[ITEMS];
    int head, tail;
} fifo;

static inline void fifo_push(fifo *f, int id)
{
    OOM_CHECK(f->tail < ITEMS);
    f->ids[f->tail++] = id;
}

static inline int fifo_len(const fifo *f)
{
    return f->tail - f->head;
}

/* ---- messages (mailbox_message.h), for the scenarios that send them ------ */

/* A message around a new item; NULL (the item kept by the test) when
 * creating it failed for memory. */
static inline mailbox_message *message_new(message_release_t destroy)
{
    item *it = item_new();
    probe p = probe_now();
    mailbox_message *m = mailbox_message_create(it, destroy);
    if (m == NULL) {
        EXPECT_OOM(p, "mailbox_message_create");
        OOM_CHECK_EQ(item_released[it->id], 0); /* destroy not called */
        item_keep(it);
        return NULL;
    }
    EXPECT_OK(p);
    OOM_CHECK(m->data == it);
    return m;
}

static inline void unref(mailbox_message *m)
{
    probe p = probe_now();
    mailbox_message_unref(m);
    EXPECT_NO_ALLOCATION(p);
}

/* ---- mailbox topics ------------------------------------------------------ */

/* The topic every program uses (the driver included), and the generator
 * the topic scenarios register on it. */
#define TOPIC MAILBOX_TOPIC_CRI_CONTAINER

/* What mailbox_publish is given: whether the generator publishes again on
 * the same topic (before making its own item), or makes nothing. */
typedef struct {
    int nest;
    int nothing;
} input;

static int generator_context;

static struct {
    int calls;
    int made[64];
    int count;
    int inner_publishes;
    int sync;
    /* For nested publishes: items released while the outer one ran, and
     * failures injected and errors logged meanwhile. */
    int inner_released_early;
    long inner_fired;
    long inner_errors;
} gen;

static inline int items_released_so_far(void)
{
    int n = 0;
    for (int id = 0; id < items_made; id++) {
        n += item_released[id];
    }
    return n;
}

static inline void *generate(void *context, void *data)
{
    OOM_CHECK(context == &generator_context);
    input *in = (input *)data;
    gen.calls++;
    if (in->nothing) {
        return NULL;
    }
    if (in->nest) {
        input inner = { 0, 0 };
        int released = items_released_so_far();
        probe p = probe_now();
        gen.inner_publishes++;
        mailbox_publish(TOPIC, &inner);
        /* Releases of messages let go inside a publish (the inner one's own,
         * or one a bounded subscriber pushed out) wait for the outermost
         * publish to return. */
        gen.inner_released_early += items_released_so_far() - released;
        gen.inner_fired += fired_count() - p.fired;
        gen.inner_errors += log_errors - p.errors;
    }
    item *it = item_new();
    OOM_CHECK(gen.count < 64);
    gen.made[gen.count++] = it->id;
    return it;
}

static inline int topic_stats(mailbox_topic_stats *out)
{
    probe p = probe_now();
    int ret = mailbox_get_topic_stats(TOPIC, out);
    EXPECT_NO_ALLOCATION(p);
    return ret;
}

/* Pops everything `sub` holds (pop timeout 0) into `got`. */
static inline int drain_ids(message_subscriber *sub, int *got, int room)
{
    int n = 0;
    for (;;) {
        mailbox_message *m = NULL;
        probe p = probe_now();
        int ret = message_subscriber_pop(sub, &m);
        EXPECT_NO_ALLOCATION(p);
        if (ret == ETIMEDOUT) {
            return n;
        }
        OOM_CHECK_EQ(ret, 0);
        OOM_CHECK(m != NULL);
        OOM_CHECK(n < room);
        got[n++] = item_id(m->data);
        unref(m);
    }
}

/* ---- the driver ----------------------------------------------------------- */

static inline void *usable_generate(void *context, void *data)
{
    (void)context;
    return data;
}

/* After every run, with nothing injected: a topic round trip works. */
static inline void check_usable(void)
{
    item *it = item_new();
    OOM_CHECK_EQ(mailbox_register_topic_handler(TOPIC, usable_generate, NULL, item_release, true), 0);
    message_subscriber *sub = mailbox_subscribe(TOPIC);
    OOM_CHECK(sub != NULL);
    mailbox_publish(TOPIC, it);
    mailbox_message *m = NULL;
    OOM_CHECK_EQ(message_subscriber_pop(sub, &m), 0);
    OOM_CHECK(m != NULL && m->data == it);
    mailbox_message_unref(m);
    OOM_CHECK_EQ(item_released[it->id], 1);
    mailbox_unregister_topic_handler(TOPIC);
    message_subscriber_destroy(sub);
}

/* A scenario: `run` with N = 1, 2, ... failing allocations, `cleanup` (if
 * not NULL) after each run, once nothing is injected any more; or, `once`,
 * `run` a single time as it is. */
typedef struct {
    const char *name;
    void (*run)(void);
    void (*cleanup)(void);
    int once;
} scenario;

/* One run: fail the Nth allocation (0: none, untracked: the warm-up, where
 * one-time lazy allocations happen); whether the failure was injected. */
static inline int run_once(const scenario *s, long n)
{
    current_n = n;
    items_reset();
    long fired_before = fired_count();
    oom_begin(n, n > 0);
    s->run();
    oom_disarm();
    int fired = fired_count() != fired_before;
    if (s->cleanup != NULL) {
        s->cleanup();
    }
    check_usable();
    check_items();
    oom_end();
    OOM_CHECK(!table_overflow);
    if (n > 0 && live_blocks() != 0) {
        fprintf(stderr, "test_oom: %ld blocks allocated during the run are still live (scenario %s, N=%ld):\n",
                live_blocks(), s->name, n);
        print_live_blocks();
        exit(1);
    }
    return fired;
}

/* Runs `s` with N = 1, 2, ... until a run completes with nothing injected;
 * returns how many allocation points were failed. */
static inline long run_scenario(const scenario *s)
{
    current_scenario = s->name;
    OOM_CHECK(!run_once(s, 0));
    for (long n = 1; n <= 10000; n++) {
        if (!run_once(s, n)) {
            OOM_CHECK(n > 1); /* every scenario allocates */
            fprintf(stderr, "oom: %s: %ld allocation points failed, all passed\n", s->name, n - 1);
            return n - 1;
        }
    }
    fprintf(stderr, "oom: %s: more than 10000 allocation points?\n", s->name);
    exit(1);
}

/* Whether this program's malloc is the one called (valgrind replaces it
 * unless told --soname-synonyms=somalloc=nouserintercepts). */
static inline int interposed(void)
{
    void *(*volatile allocate)(size_t) = malloc;
    long before = alloc_count();
    void *p = allocate(16);
    long after = alloc_count();
    free(p);
    return after == before + 1;
}

/* The program's main (OOM_MAIN): every scenario, or those named on the
 * command line. */
static inline int oom_main(int argc, char **argv, const scenario *scenarios, size_t count)
{
    signal(SIGABRT, on_fatal_signal);
    signal(SIGSEGV, on_fatal_signal);
    signal(SIGBUS, on_fatal_signal);
    signal(SIGALRM, on_fatal_signal);
    if (!interposed()) {
        fprintf(stderr, "test_oom: this program's malloc is not the one called: under valgrind, pass "
                        "--soname-synonyms=somalloc=nouserintercepts (no failure could be injected)\n");
        return 1;
    }
    /* Set up outside any run: the log callback (it allocates once and
     * stays) and pops that never wait. */
    mailbox_set_log_callback(count_log, MAILBOX_LOG_WARN, NULL);
    CHECK_EQ(mailbox_set_subscriber_timeout(TOPIC, 0), 0);

    long total = 0;
    int ran = 0;
    for (size_t i = 0; i < count; i++) {
        int wanted = argc <= 1;
        for (int a = 1; a < argc; a++) {
            wanted |= strcmp(argv[a], scenarios[i].name) == 0;
        }
        if (!wanted) {
            continue;
        }
        if (scenarios[i].once) {
            current_scenario = scenarios[i].name;
            current_n = 0;
            items_reset();
            scenarios[i].run();
        } else {
            total += run_scenario(&scenarios[i]);
        }
        ran++;
    }
    if (ran == 0) {
        fprintf(stderr, "no scenario matched\n");
        return 2;
    }
    CHECK_EQ(mailbox_set_subscriber_timeout(TOPIC, 1000), 0);
    mailbox_set_log_callback(NULL, MAILBOX_LOG_WARN, NULL);
    fprintf(stderr, "oom: total: %ld allocation points failed in %d scenarios, all passed\n", total, ran);
    return 0;
}

/* A program's main, running the scenarios listed (each a `scenario`). */
#define OOM_MAIN(...)                                                                     \
    int main(int argc, char **argv)                                                       \
    {                                                                                     \
        static const scenario scenarios[] = { __VA_ARGS__ };                              \
        return oom_main(argc, argv, scenarios, sizeof(scenarios) / sizeof(scenarios[0])); \
    }

#endif
