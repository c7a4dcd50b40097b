/* Allocation failure, everywhere: the library allocates through
 * the C allocator, so this program defines malloc and friends itself and
 * fails the Nth allocation after arming, for N = 1, 2, 3, ... until a run
 * completes without reaching N. Each scenario runs in this one process, one
 * run after another; every run must
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
 * Under valgrind, run with --soname-synonyms=somalloc=nouserintercepts:
 * valgrind otherwise replaces this program's malloc with its own (and
 * nothing would be injected; the program says so and fails). With that
 * option this interposer runs and forwards to glibc's __libc_* functions,
 * which valgrind does replace (in libc.so they are aliases of malloc & co,
 * at the same addresses), so valgrind still sees every block.
 *
 * How runs stay comparable: each scenario first runs once with nothing
 * failed and nothing tracked (one-time lazy allocations happen there);
 * the scenarios are single-threaded and their pops never wait, so run N
 * takes the same path as the clean run up to its Nth allocation. Items are
 * static (making one allocates nothing); sentinels the test publishes to
 * itself are made with counting paused. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

#include "isula_mailbox.h"

#include "check.h"

/* ---- the interposer ---------------------------------------------------- */

/* glibc's own allocator, under the names that stay reachable when a program
 * defines malloc itself (exported by libc.so.6 for exactly this). */
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *old, size_t size);
extern void __libc_free(void *ptr);
extern void *__libc_memalign(size_t alignment, size_t size);
extern void *__libc_valloc(size_t size);
extern void *__libc_pvalloc(size_t size);

/* Blocks allocated while a run is tracked, by address: an open-addressing
 * table in static memory, since the allocator cannot allocate. Small: the
 * scenarios hold a few dozen blocks at once; tombstones are cleared between
 * runs. */
#define TABLE_SLOTS (1u << 14)
#define TOMBSTONE ((uintptr_t)1)

typedef struct {
    uintptr_t ptr; /* 0: empty; TOMBSTONE: freed */
    size_t size;
    long serial; /* its number among the run's tracked allocations */
} block;

static block table[TABLE_SLOTS];
static long table_live;
static long table_used;    /* live + tombstones */
static int table_overflow; /* a block could not be recorded: the run fails */

/* One lock around every allocator call and the table: a spinlock (no
 * allocation, no recursion: __libc_* never call back in here). */
static atomic_flag alloc_lock = ATOMIC_FLAG_INIT;

/* State the tests read through volatile (or under the lock): glibc declares
 * malloc "leaf", so a compiler may assume a direct malloc call leaves this
 * file's statics alone. */
static volatile long oom_target;  /* 0: disarmed; else the allocation (from arming) to fail */
static volatile long oom_counted; /* allocations counted since arming */
static volatile long oom_fired;   /* failures injected so far */
static volatile long oom_allocs;  /* every allocation seen (for "allocates nothing") */
static volatile int oom_tracking; /* record allocations in the table */
static volatile int oom_paused;   /* count nothing (the tests' own sentinels); still track */
static volatile long oom_serial;
/* Every counted allocation fails while set (memory exhausted for good). */
static volatile int oom_fail_all;
/* Allocations of this thread that are meant to outlive a run (the log
 * callback put back after one): neither counted nor tracked. */
static __thread int oom_bypass;

static void lock(void)
{
    while (atomic_flag_test_and_set_explicit(&alloc_lock, memory_order_acquire)) {
    }
}

static void unlock(void)
{
    atomic_flag_clear_explicit(&alloc_lock, memory_order_release);
}

static void die(const char *message)
{
    ssize_t ignored = write(2, message, strlen(message));
    (void)ignored;
    abort();
}

static size_t slot_of(uintptr_t ptr)
{
    return (size_t)(((uint64_t)(ptr >> 4) * 0x9E3779B97F4A7C15ull) >> 50) & (TABLE_SLOTS - 1);
}

static void table_insert(void *ptr, size_t size)
{
    if (table_used >= (long)(TABLE_SLOTS / 4 * 3)) {
        table_overflow = 1; /* reported at the end of the run (e.g. a panic's backtrace allocating) */
        return;
    }
    size_t i = slot_of((uintptr_t)ptr);
    while (table[i].ptr > TOMBSTONE) {
        i = (i + 1) & (TABLE_SLOTS - 1);
    }
    if (table[i].ptr == 0) {
        table_used++;
    }
    table[i] = (block){ (uintptr_t)ptr, size, oom_serial };
    table_live++;
}

/* Forgets `ptr`; whether it was tracked. */
static int table_remove(void *ptr)
{
    if (table_live == 0) {
        return 0;
    }
    size_t i = slot_of((uintptr_t)ptr);
    while (table[i].ptr != 0) {
        if (table[i].ptr == (uintptr_t)ptr) {
            table[i].ptr = TOMBSTONE;
            table_live--;
            return 1;
        }
        i = (i + 1) & (TABLE_SLOTS - 1);
    }
    return 0;
}

/* Under the lock: counts an allocation; whether it is the one to fail
 * (exactly the Nth after arming, once; the later ones succeed). */
static int allocation_fails(void)
{
    if (oom_bypass) {
        return 0;
    }
    oom_allocs++;
    if (oom_fail_all && !oom_paused) {
        oom_fired++;
        return 1;
    }
    if (oom_paused || oom_target == 0) {
        return 0;
    }
    if (++oom_counted != oom_target) {
        return 0;
    }
    oom_target = 0;
    oom_fired++;
    return 1;
}

static void track(void *ptr, size_t size)
{
    if (ptr != NULL && oom_tracking && !oom_bypass) {
        oom_serial++;
        table_insert(ptr, size);
    }
}

void *malloc(size_t size)
{
    lock();
    void *ptr = allocation_fails() ? NULL : __libc_malloc(size);
    track(ptr, size);
    unlock();
    if (ptr == NULL) {
        errno = ENOMEM;
    }
    return ptr;
}

void *calloc(size_t count, size_t size)
{
    lock();
    void *ptr = allocation_fails() ? NULL : __libc_calloc(count, size);
    track(ptr, count * size);
    unlock();
    if (ptr == NULL) {
        errno = ENOMEM;
    }
    return ptr;
}

/* A failed realloc returns NULL and leaves the block as it was. */
void *realloc(void *old, size_t size)
{
    if (old == NULL) {
        return malloc(size);
    }
    if (size == 0) { /* glibc: frees and returns NULL */
        free(old);
        return NULL;
    }
    lock();
    void *ptr = allocation_fails() ? NULL : __libc_realloc(old, size);
    if (ptr != NULL) {
        /* Moved or not, the old address is gone; the new block is tracked
         * if the old one was, or if it is made during a tracked run. */
        int was_tracked = table_remove(old);
        if (was_tracked || (oom_tracking && !oom_bypass)) {
            oom_serial++;
            table_insert(ptr, size);
        }
    }
    unlock();
    if (ptr == NULL) {
        errno = ENOMEM;
    }
    return ptr;
}

void *reallocarray(void *old, size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(old, count * size);
}

void free(void *ptr)
{
    if (ptr == NULL) {
        return;
    }
    lock();
    table_remove(ptr);
    __libc_free(ptr);
    unlock();
}

enum aligned_kind { MEMALIGN, VALLOC, PVALLOC };

static void *aligned(enum aligned_kind kind, size_t alignment, size_t size)
{
    lock();
    void *ptr = NULL;
    if (!allocation_fails()) {
        switch (kind) {
            case MEMALIGN:
                ptr = __libc_memalign(alignment, size);
                break;
            case VALLOC:
                ptr = __libc_valloc(size);
                break;
            case PVALLOC:
                ptr = __libc_pvalloc(size);
                break;
        }
    }
    track(ptr, size);
    unlock();
    return ptr;
}

int posix_memalign(void **out, size_t alignment, size_t size)
{
    if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0) {
        return EINVAL;
    }
    void *ptr = aligned(MEMALIGN, alignment, size);
    if (ptr == NULL) {
        return ENOMEM;
    }
    *out = ptr;
    return 0;
}

void *aligned_alloc(size_t alignment, size_t size)
{
    void *ptr = aligned(MEMALIGN, alignment, size);
    if (ptr == NULL) {
        errno = ENOMEM;
    }
    return ptr;
}

void *memalign(size_t alignment, size_t size);
void *memalign(size_t alignment, size_t size)
{
    return aligned_alloc(alignment, size);
}

void *valloc(size_t size)
{
    void *ptr = aligned(VALLOC, 0, size);
    if (ptr == NULL) {
        errno = ENOMEM;
    }
    return ptr;
}

void *pvalloc(size_t size);
void *pvalloc(size_t size)
{
    void *ptr = aligned(PVALLOC, 0, size);
    if (ptr == NULL) {
        errno = ENOMEM;
    }
    return ptr;
}

static long fired_count(void)
{
    return oom_fired;
}

static long alloc_count(void)
{
    lock();
    long n = oom_allocs;
    unlock();
    return n;
}

/* Starts a run, `tracked` or not, failing the Nth allocation from now (0:
 * none). */
static void oom_begin(long n, int tracked)
{
    lock();
    if (table_live != 0 || table_overflow) {
        die("test_oom: a run began with blocks still tracked\n");
    }
    if (table_used > 0) {
        memset(table, 0, sizeof(table));
        table_used = 0;
    }
    oom_serial = 0;
    oom_counted = 0;
    oom_target = n;
    oom_tracking = tracked;
    unlock();
}

static void oom_disarm(void)
{
    lock();
    oom_target = 0;
    unlock();
}

static void oom_end(void)
{
    lock();
    oom_target = 0;
    oom_tracking = 0;
    unlock();
}

/* Allocations that are not the library's doing under test (a sentinel the
 * test sends itself) are not counted, so that runs stay comparable. */
static void oom_pause(void)
{
    lock();
    oom_paused = 1;
    unlock();
}

static void oom_resume(void)
{
    lock();
    oom_paused = 0;
    unlock();
}

static long live_blocks(void)
{
    lock();
    long n = table_live;
    unlock();
    return n;
}

/* Prints what is still tracked (size and allocation number in its run). */
static void print_live_blocks(void)
{
    lock();
    for (size_t i = 0; i < TABLE_SLOTS; i++) {
        if (table[i].ptr > TOMBSTONE) {
            char line[160];
            int n = snprintf(line, sizeof(line), "  live: %zu bytes, tracked allocation #%ld\n", table[i].size,
                             table[i].serial);
            ssize_t ignored = write(2, line, (size_t)n);
            (void)ignored;
        }
    }
    unlock();
}

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

static void on_fatal_signal(int sig)
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

static void count_log(mailbox_log_level level, const char *message, void *user)
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

static probe probe_now(void)
{
    return (probe){ fired_count(), log_errors, alloc_count() };
}

/* The call returned its failure value: the injected failure happened in it,
 * and it logged one error record, "<function>: out of memory". */
#define EXPECT_OOM(p, function) expect_oom((p), (function), __LINE__)
static void expect_oom(probe p, const char *function, int line)
{
    size_t len = strlen(function);
    if (fired_count() != p.fired + 1 || log_errors != p.errors + 1 || strncmp(last_error, function, len) != 0 ||
        strstr(last_error, "out of memory") == NULL) {
        fprintf(stderr,
                "test_oom.c:%d: %s failed: injected in it %ld (want 1), error records %ld (want 1), last "
                "\"%s\" (scenario %s, N=%ld)\n",
                line, function, fired_count() - p.fired, log_errors - p.errors, last_error, current_scenario,
                current_n);
        exit(1);
    }
}

/* The call succeeded (or was void): if nothing was injected in it, it
 * logged nothing; a failure it absorbed logged at most one error record. */
#define EXPECT_OK(p) expect_ok((p), __LINE__)
static void expect_ok(probe p, int line)
{
    long fired = fired_count() - p.fired, errors = log_errors - p.errors;
    if (errors > fired) {
        fprintf(stderr, "test_oom.c:%d: %ld error records, %ld failures injected (last \"%s\") (scenario %s, N=%ld)\n",
                line, errors, fired, last_error, current_scenario, current_n);
        exit(1);
    }
}

/* A call documented "Allocates nothing": it did not, and logged nothing. */
#define EXPECT_NO_ALLOCATION(p) expect_no_allocation((p), __LINE__)
static void expect_no_allocation(probe p, int line)
{
    if (alloc_count() != p.allocs || log_errors != p.errors) {
        fprintf(stderr, "test_oom.c:%d: %ld allocations, %ld error records (want none) (scenario %s, N=%ld)\n", line,
                alloc_count() - p.allocs, log_errors - p.errors, current_scenario, current_n);
        exit(1);
    }
}

/* A call that fails on purpose (not for memory): one error record, no
 * allocation failed in it. */
#define EXPECT_REFUSED(p, function) expect_refused((p), (function), __LINE__)
static void expect_refused(probe p, const char *function, int line)
{
    if (fired_count() != p.fired || log_errors != p.errors + 1 || strncmp(last_error, function, strlen(function)) != 0) {
        fprintf(stderr, "test_oom.c:%d: %s: %ld error records (want 1), last \"%s\" (scenario %s, N=%ld)\n", line,
                function, log_errors - p.errors, last_error, current_scenario, current_n);
        exit(1);
    }
}

/* Whether an injected failure happened since `p`. */
static int fired_since(probe p)
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

static item *item_new(void)
{
    OOM_CHECK(items_made < ITEMS);
    item *it = &items[items_made];
    it->id = items_made++;
    return it;
}

static int item_id(void *data)
{
    item *it = (item *)data;
    OOM_CHECK(it >= items && it < items + items_made);
    OOM_CHECK(it->id == (int)(it - items));
    return it->id;
}

/* The release function handed to the library. */
static void item_release(void *data)
{
    int id = item_id(data);
    item_released[id]++;
    OOM_CHECK_EQ(item_released[id] + item_kept[id], 1);
}

/* The test disposes of an item that came back to it. */
static void item_keep(void *data)
{
    int id = item_id(data);
    item_kept[id]++;
    OOM_CHECK_EQ(item_released[id] + item_kept[id], 1);
}

static void items_reset(void)
{
    memset(item_released, 0, sizeof(item_released));
    memset(item_kept, 0, sizeof(item_kept));
    items_made = 0;
}

/* Every item made was disposed of exactly once, by the library or the test. */
static void check_items(void)
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

static void fifo_push(fifo *f, int id)
{
    OOM_CHECK(f->tail < ITEMS);
    f->ids[f->tail++] = id;
}

static int fifo_len(const fifo *f)
{
    return f->tail - f->head;
}

/* ---- blocking_queue ------------------------------------------------------ */

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

/* ---- mailbox_message ----------------------------------------------------- */

/* A message around a new item; NULL (the item kept by the test) when
 * creating it failed for memory. */
static mailbox_message *message_new(message_release_t destroy)
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

static void unref(mailbox_message *m)
{
    probe p = probe_now();
    mailbox_message_unref(m);
    EXPECT_NO_ALLOCATION(p);
}

static void scenario_message(void)
{
    mailbox_message *m = message_new(item_release);
    if (current_n == 1) {
        OOM_CHECK(m == NULL);
    }
    if (m != NULL) {
        int id = item_id(m->data);
        probe p = probe_now();
        OOM_CHECK_EQ(mailbox_message_ref(m), 0);
        EXPECT_NO_ALLOCATION(p);
        unref(m);
        OOM_CHECK_EQ(item_released[id], 0);
        unref(m);
        OOM_CHECK_EQ(item_released[id], 1);
    }

    /* No destroy function: the data stays the caller's. */
    m = message_new(NULL);
    if (m != NULL) {
        void *data = m->data;
        unref(m);
        item_keep(data);
    }

    /* Several alive at once, let go newest first. */
    mailbox_message *several[4];
    for (int i = 0; i < 4; i++) {
        several[i] = message_new(item_release);
    }
    for (int i = 3; i >= 0; i--) {
        if (several[i] != NULL) {
            int id = item_id(several[i]->data);
            unref(several[i]);
            OOM_CHECK_EQ(item_released[id], 1);
        }
    }
}

/* ---- message_subscriber -------------------------------------------------- */

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

/* ---- message_queue -------------------------------------------------------- */

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

/* ---- mailbox topics ------------------------------------------------------ */

#define TOPIC MAILBOX_TOPIC_CRI_CONTAINER
#define MAX_SUBSCRIBERS 3

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

static int items_released_so_far(void)
{
    int n = 0;
    for (int id = 0; id < items_made; id++) {
        n += item_released[id];
    }
    return n;
}

static void *generate(void *context, void *data)
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

static int topic_stats(mailbox_topic_stats *out)
{
    probe p = probe_now();
    int ret = mailbox_get_topic_stats(TOPIC, out);
    EXPECT_NO_ALLOCATION(p);
    return ret;
}

/* Pops everything `sub` holds (pop timeout 0) into `got`. */
static int drain_ids(message_subscriber *sub, int *got, int room)
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

/* Publishes `in` on the async topic with `count` attached subscribers and
 * checks what each received against what the generator made, and the
 * topic's counters: each (message, subscriber) pair is delivered or counted
 * dropped, the message made or not. */
static void publish_async(input in, message_subscriber **subs, int count)
{
    mailbox_topic_stats before, after;
    OOM_CHECK_EQ(topic_stats(&before), 0);
    OOM_CHECK_EQ((int)before.subscribers, count);
    int made_from = gen.count, calls = gen.calls, inner = gen.inner_publishes;
    probe p = probe_now();
    mailbox_publish(TOPIC, &in);
    EXPECT_OK(p);
    int fired = fired_since(p);
    int made = gen.count - made_from;
    /* Publishes that got past "nobody subscribes": this one and the inner. */
    int attempts = count > 0 ? 1 + (gen.inner_publishes - inner) : 0;
    int generator_skipped = attempts - (gen.calls - calls); /* no memory for the message */
    OOM_CHECK(generator_skipped == 0 || (generator_skipped == 1 && fired));
    OOM_CHECK_EQ(topic_stats(&after), 0);

    long delivered = 0;
    for (int s = 0; s < count; s++) {
        int got[64];
        int n = drain_ids(subs[s], got, 64);
        /* In the order made (an inner publish's first), gaps only where a
         * failure was injected. */
        int next = made_from;
        for (int i = 0; i < n; i++) {
            while (next < gen.count && gen.made[next] != got[i]) {
                next++;
            }
            OOM_CHECK(next < gen.count);
            next++;
        }
        if (!fired) {
            OOM_CHECK_EQ(n, made);
        }
        delivered += n;
    }
    for (int i = made_from; i < gen.count; i++) {
        OOM_CHECK_EQ(item_released[gen.made[i]], 1); /* all references gone */
    }
    OOM_CHECK_EQ(after.published - before.published, made);
    OOM_CHECK_EQ((long)(after.delivered - before.delivered), delivered);
    long dropped = (long)(after.dropped - before.dropped);
    OOM_CHECK_EQ(delivered + dropped, (long)count * (made + generator_skipped));
    OOM_CHECK(fired ? dropped >= 1 : dropped == 0); /* a miss is counted */
    OOM_CHECK_EQ((long)after.pending, delivered);  /* held until popped */
    OOM_CHECK_EQ(topic_stats(&after), 0);
    OOM_CHECK_EQ(after.pending, 0);
}

static void mailbox_scenario(int subscribers)
{
    memset(&gen, 0, sizeof(gen));
    probe p = probe_now();
    int ret = mailbox_register_topic_handler(TOPIC, generate, &generator_context, item_release, true);
    if (current_n == 1) {
        OOM_CHECK_EQ(ret, -1);
    }
    if (ret == -1) {
        EXPECT_OOM(p, "mailbox_register_topic_handler");
        /* Nothing registered. */
        mailbox_topic_stats stats;
        p = probe_now();
        OOM_CHECK_EQ(mailbox_get_topic_stats(TOPIC, &stats), -1);
        EXPECT_REFUSED(p, "mailbox_get_topic_stats");
        return;
    }
    OOM_CHECK_EQ(ret, 0);
    EXPECT_OK(p);

    message_subscriber *subs[MAX_SUBSCRIBERS];
    int count = 0;
    for (int i = 0; i < subscribers; i++) {
        p = probe_now();
        message_subscriber *sub = mailbox_subscribe(TOPIC);
        if (sub == NULL) {
            EXPECT_OOM(p, "mailbox_subscribe");
            continue;
        }
        EXPECT_OK(p);
        subs[count++] = sub;
    }

    publish_async((input){ 0, 0 }, subs, count);
    publish_async((input){ 1, 0 }, subs, count); /* nested */
    publish_async((input){ 0, 1 }, subs, count); /* nothing made */
    publish_async((input){ 0, 0 }, subs, count);
    OOM_CHECK_EQ(gen.inner_released_early, 0); /* nothing is released inside these */

    /* Unsubscribed, the first gets nothing more. */
    if (count > 0) {
        message_subscriber *gone = subs[0];
        p = probe_now();
        mailbox_unsubscribe(TOPIC, gone);
        EXPECT_NO_ALLOCATION(p);
        publish_async((input){ 0, 0 }, subs + 1, count - 1);
        mailbox_message *m = NULL;
        OOM_CHECK_EQ(message_subscriber_pop(gone, &m), ETIMEDOUT);
    }

    /* Unregistered: every subscriber still subscribed is shut down (its pop
     * returns NULL at once); the unsubscribed one is left alone. */
    p = probe_now();
    mailbox_unregister_topic_handler(TOPIC);
    EXPECT_NO_ALLOCATION(p);
    for (int i = 0; i < count; i++) {
        mailbox_message *m = (mailbox_message *)&gen;
        OOM_CHECK_EQ(message_subscriber_pop(subs[i], &m), i == 0 ? ETIMEDOUT : 0);
        OOM_CHECK(i == 0 || m == NULL);
        p = probe_now();
        message_subscriber_destroy(subs[i]);
        EXPECT_NO_ALLOCATION(p);
    }
}

static void scenario_mailbox_1(void)
{
    mailbox_scenario(1);
}

static void scenario_mailbox_3(void)
{
    mailbox_scenario(3);
}

/* A sync topic: the generator runs in the publisher and its result is
 * released at once; released inside the publish, so its release is
 * deferred to the end of the outermost publish. */
static void publish_sync(input in)
{
    int made_from = gen.count, calls = gen.calls, inner = gen.inner_publishes;
    probe p = probe_now();
    mailbox_publish(TOPIC, &in);
    EXPECT_OK(p);
    /* The generator is skipped only when its message could not be made. */
    int skipped = 1 + (gen.inner_publishes - inner) - (gen.calls - calls);
    OOM_CHECK(skipped == 0 || (skipped == 1 && fired_since(p)));
    for (int i = made_from; i < gen.count; i++) {
        OOM_CHECK_EQ(item_released[gen.made[i]], 1);
    }
}

static void scenario_mailbox_sync(void)
{
    memset(&gen, 0, sizeof(gen));
    probe p = probe_now();
    int ret = mailbox_register_topic_handler(TOPIC, generate, &generator_context, item_release, false);
    if (current_n == 1) {
        OOM_CHECK_EQ(ret, -1);
    }
    if (ret == -1) {
        EXPECT_OOM(p, "mailbox_register_topic_handler");
        return;
    }
    EXPECT_OK(p);
    /* Nothing to subscribe to, and that is not an error. */
    p = probe_now();
    OOM_CHECK(mailbox_subscribe(TOPIC) == NULL);
    EXPECT_NO_ALLOCATION(p);

    publish_sync((input){ 0, 0 });
    publish_sync((input){ 1, 0 }); /* nested */
    /* The inner item is released once the outer publish returns, never
     * inside it: deferring needs no allocation. */
    OOM_CHECK(gen.inner_publishes <= 1);
    OOM_CHECK_EQ(gen.inner_released_early, 0);
    publish_sync((input){ 0, 1 });
    publish_sync((input){ 0, 0 });

    mailbox_topic_stats stats;
    OOM_CHECK_EQ(topic_stats(&stats), 0);
    OOM_CHECK_EQ(stats.published + stats.delivered + stats.dropped + stats.pending + stats.subscribers, 0);
    p = probe_now();
    mailbox_unregister_topic_handler(TOPIC);
    EXPECT_NO_ALLOCATION(p);
}

/* A sync topic whose release function unregisters the topic (the contract
 * allows it: releases run once the outermost publish returned, with no lock
 * held), published with a nested publish: the inner publish lets go of its
 * message inside the outer one. Deferring that release must not depend on
 * an allocation: if it ran at once, inside the generator, unregistering
 * would wait for the very publish it runs in (the alarm names the run). */
static int unregistering_releases;

static void unregistering_release(void *data)
{
    item_release(data);
    unregistering_releases++;
    mailbox_unregister_topic_handler(TOPIC);
}

static void scenario_release_unregisters(void)
{
    memset(&gen, 0, sizeof(gen));
    unregistering_releases = 0;
    probe p = probe_now();
    int ret = mailbox_register_topic_handler(TOPIC, generate, &generator_context, unregistering_release, false);
    if (current_n == 1) {
        OOM_CHECK_EQ(ret, -1);
    }
    if (ret == -1) {
        EXPECT_OOM(p, "mailbox_register_topic_handler");
        return;
    }
    alarm(10);
    p = probe_now();
    input nested = { 1, 0 };
    mailbox_publish(TOPIC, &nested);
    alarm(0);
    EXPECT_OK(p);
    /* Each item made was released once, after both publishes returned
     * (none inside the generator); the first release unregistered. */
    OOM_CHECK_EQ(gen.inner_released_early, 0);
    OOM_CHECK_EQ(unregistering_releases, gen.count);
    for (int i = 0; i < gen.count; i++) {
        OOM_CHECK_EQ(item_released[gen.made[i]], 1);
    }
    mailbox_topic_stats stats;
    if (gen.count > 0) {
        p = probe_now();
        OOM_CHECK_EQ(mailbox_get_topic_stats(TOPIC, &stats), -1);
        EXPECT_REFUSED(p, "mailbox_get_topic_stats");
    } else {
        mailbox_unregister_topic_handler(TOPIC);
    }
}

/* ---- waiting with no memory left ------------------------------------------ */

/* A thread that must wait on a lock of the library while every allocation
 * fails: unregister waiting for a generator that runs in another thread,
 * and mailbox_set_log_callback waiting for a log callback that runs in
 * another thread. A lock that allocates on its first wait (parking_lot's
 * parking table) would abort the daemon here. Not one of the N-loop
 * scenarios: it needs threads, made before memory runs out. */
static atomic_int gate_open;
static atomic_int inside;

static void wait_at_gate(void)
{
    atomic_store(&inside, 1);
    while (!atomic_load(&gate_open)) {
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
}

static void *gated_generate(void *context, void *data)
{
    (void)context;
    wait_at_gate();
    return data;
}

static void *publish_in_thread(void *arg)
{
    mailbox_publish(TOPIC, arg);
    return NULL;
}

static void *open_gate_later(void *arg)
{
    (void)arg;
    struct timespec ts = { 0, 100000000 };
    nanosleep(&ts, NULL);
    atomic_store(&gate_open, 1);
    return NULL;
}

static int gated_log_calls;

static void gated_log(mailbox_log_level level, const char *message, void *user)
{
    (void)level;
    (void)message;
    (void)user;
    gated_log_calls++;
    wait_at_gate();
}

static void *log_in_thread(void *arg)
{
    (void)arg;
    mailbox_topic_stats stats;
    /* An invalid topic: one error record, through the gated callback. */
    CHECK_EQ(mailbox_get_topic_stats((mailbox_topic)99, &stats), -1);
    return NULL;
}

/* Starts `body` in a thread, waits until it is held at the gate, starts the
 * thread that opens it later, then exhausts memory for good. */
static void hold_at_gate(void *(*body)(void *), void *arg, pthread_t *held, pthread_t *opener)
{
    atomic_store(&gate_open, 0);
    atomic_store(&inside, 0);
    CHECK_EQ(pthread_create(held, NULL, body, arg), 0);
    while (!atomic_load(&inside)) {
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
    CHECK_EQ(pthread_create(opener, NULL, open_gate_later, NULL), 0);
    lock();
    oom_fail_all = 1;
    unlock();
}

static void memory_back(pthread_t held, pthread_t opener)
{
    lock();
    oom_fail_all = 0;
    unlock();
    CHECK_EQ(pthread_join(held, NULL), 0);
    CHECK_EQ(pthread_join(opener, NULL), 0);
}

static void waits_with_no_memory(void)
{
    current_scenario = "waits_with_no_memory";
    current_n = 0;
    pthread_t held, opener;
    alarm(10);

    /* Unregister waits for a generator running in another thread. */
    item *it = item_new();
    CHECK_EQ(mailbox_register_topic_handler(TOPIC, gated_generate, NULL, item_release, true), 0);
    message_subscriber *sub = mailbox_subscribe(TOPIC);
    CHECK(sub != NULL);
    hold_at_gate(publish_in_thread, it, &held, &opener);
    long fired = fired_count();
    mailbox_unregister_topic_handler(TOPIC); /* waits for the generator */
    CHECK(atomic_load(&gate_open));
    memory_back(held, opener);
    /* The subscriber was shut down; the item made meanwhile was delivered
     * and dropped, or never queued: released once either way. */
    mailbox_message *m = (mailbox_message *)&gen;
    CHECK_EQ(message_subscriber_pop(sub, &m), 0);
    CHECK(m == NULL);
    message_subscriber_destroy(sub);
    CHECK_EQ(item_released[it->id], 1);

    /* Setting the log callback waits for the one running in another thread. */
    gated_log_calls = 0;
    mailbox_set_log_callback(gated_log, MAILBOX_LOG_WARN, NULL);
    hold_at_gate(log_in_thread, NULL, &held, &opener);
    mailbox_set_log_callback(NULL, MAILBOX_LOG_WARN, NULL); /* waits for gated_log */
    CHECK(atomic_load(&gate_open));
    memory_back(held, opener);
    CHECK_EQ(gated_log_calls, 1);
    mailbox_set_log_callback(count_log, MAILBOX_LOG_WARN, NULL);

    alarm(0);
    fprintf(stderr, "oom: waits_with_no_memory: unregister and set_log_callback waited with every allocation "
                    "failing (%ld failed), all passed\n",
            fired_count() - fired);
}

/* ---- isula_mailbox.h ----------------------------------------------------- */

/* Which callback receives records now: an invalid topic logs one error. */
static int active_sink(void)
{
    long before[2] = { sink_records[0], sink_records[1] };
    mailbox_topic_stats stats;
    probe p = probe_now();
    OOM_CHECK_EQ(mailbox_get_topic_stats(MAILBOX_TOPIC_INVALID, &stats), -1);
    EXPECT_REFUSED(p, "mailbox_get_topic_stats");
    int sink = sink_records[1] != before[1];
    OOM_CHECK_EQ(sink_records[sink] - before[sink], 1);
    return sink;
}

/* Replaces the log callback; out of memory, the old one stays and logs it. */
static void set_sink(int sink)
{
    int old = active_sink();
    probe p = probe_now();
    mailbox_set_log_callback(count_log, MAILBOX_LOG_WARN, sink ? &second_sink : NULL);
    if (fired_since(p)) {
        EXPECT_OOM(p, "mailbox_set_log_callback");
        OOM_CHECK_EQ(active_sink(), old);
    } else {
        EXPECT_OK(p);
        OOM_CHECK_EQ(active_sink(), sink);
    }
}

/* A bounded subscriber (capacity 1) alone on a topic: each message it takes
 * pushes out the previous one, whose last reference goes inside the
 * publish (its release deferred to the end of the outermost publish). */
static void publish_bounded(input in, message_subscriber *sub)
{
    mailbox_topic_stats before, after;
    OOM_CHECK_EQ(topic_stats(&before), 0);
    int made_from = gen.count;
    probe p = probe_now();
    mailbox_publish(TOPIC, &in);
    EXPECT_OK(p);
    OOM_CHECK_EQ(topic_stats(&after), 0);
    int made = gen.count - made_from;
    /* At most one item is still held, by the subscriber; every other is
     * released by now. */
    int held = 0;
    for (int i = 0; i < gen.count; i++) {
        held += item_released[gen.made[i]] == 0;
    }
    OOM_CHECK(after.pending <= 1);
    OOM_CHECK_EQ(held, (int)after.pending);
    OOM_CHECK((long)(after.published - before.published) <= made);
    if (!fired_since(p)) {
        OOM_CHECK_EQ(after.published - before.published, made);
        OOM_CHECK_EQ(after.delivered - before.delivered, made);
        if (made > 0) {
            OOM_CHECK_EQ(after.dropped - before.dropped, before.pending + made - 1);
            OOM_CHECK_EQ(after.pending, 1);
            OOM_CHECK_EQ(item_released[gen.made[gen.count - 1]], 0); /* the newest is kept */
        }
    }
    (void)sub;
}

static void scenario_isula_mailbox(void)
{
    memset(&gen, 0, sizeof(gen));
    /* The log callback is allocated: replaced, and put back. */
    set_sink(1);
    set_sink(0);

    /* A bounded topic; timeout and capacity allocate nothing. */
    probe p = probe_now();
    OOM_CHECK_EQ(mailbox_set_subscriber_capacity(TOPIC, 1), 0);
    EXPECT_NO_ALLOCATION(p);
    p = probe_now();
    int ret = mailbox_register_topic_handler(TOPIC, generate, &generator_context, item_release, true);
    if (ret == -1) {
        EXPECT_OOM(p, "mailbox_register_topic_handler");
    } else {
        EXPECT_OK(p);
        p = probe_now();
        message_subscriber *sub = mailbox_subscribe(TOPIC);
        if (sub == NULL) {
            EXPECT_OOM(p, "mailbox_subscribe");
        }
        p = probe_now();
        OOM_CHECK_EQ(mailbox_set_subscriber_capacity(TOPIC, 0), 0);
        OOM_CHECK_EQ(mailbox_set_subscriber_timeout(TOPIC, 0), 0);
        EXPECT_NO_ALLOCATION(p);
        if (sub != NULL) {
            publish_bounded((input){ 0, 0 }, sub);
            publish_bounded((input){ 0, 0 }, sub);
            publish_bounded((input){ 1, 0 }, sub); /* nested: the inner one is pushed out too */
            if (gen.inner_released_early) {
                OOM_CHECK_EQ(gen.inner_fired, 1);
                OOM_CHECK_EQ(gen.inner_errors, 1);
            }
            publish_bounded((input){ 0, 0 }, sub);
            mailbox_topic_stats stats;
            OOM_CHECK_EQ(topic_stats(&stats), 0);
            int got[4];
            OOM_CHECK_EQ(drain_ids(sub, got, 4), (int)stats.pending);
            p = probe_now();
            mailbox_unsubscribe(TOPIC, sub);
            message_subscriber_destroy(sub);
            EXPECT_NO_ALLOCATION(p);
        }
        p = probe_now();
        mailbox_unregister_topic_handler(TOPIC);
        EXPECT_NO_ALLOCATION(p);
    }
    OOM_CHECK_EQ(mailbox_set_subscriber_capacity(TOPIC, 0), 0);

    /* message_queue_destroy: its subscribers stay valid, shut down, and
     * what they held is released. */
    p = probe_now();
    message_queue *mq = message_queue_create(NULL);
    if (mq == NULL) {
        EXPECT_OOM(p, "message_queue_create");
        return;
    }
    p = probe_now();
    message_subscriber *sub = message_queue_subscribe(mq, NULL);
    if (sub == NULL) {
        EXPECT_OOM(p, "message_queue_subscribe");
    }
    mailbox_message *m = message_new(item_release);
    if (m != NULL) {
        int id = item_id(m->data);
        p = probe_now();
        int published = message_queue_publish(mq, m);
        OOM_CHECK(published == 0 || published == -1);
        if (published == -1) {
            EXPECT_OOM(p, "message_queue_publish");
            unref(m);
        }
        OOM_CHECK_EQ(item_released[id], sub == NULL || fired_since(p) ? 1 : 0);
    }
    p = probe_now();
    message_queue_destroy(mq);
    EXPECT_NO_ALLOCATION(p);
    if (sub != NULL) {
        mailbox_message *none = (mailbox_message *)&gen;
        OOM_CHECK_EQ(message_subscriber_pop(sub, &none), 0);
        OOM_CHECK(none == NULL);
        message_subscriber_destroy(sub);
    }
}

/* After the run: the callback back in place, allocated outside any run
 * (it lives on). */
static void cleanup_isula_mailbox(void)
{
    oom_bypass++;
    mailbox_set_log_callback(count_log, MAILBOX_LOG_WARN, NULL);
    oom_bypass--;
}

/* ---- the driver ----------------------------------------------------------- */

static void *usable_generate(void *context, void *data)
{
    (void)context;
    return data;
}

/* After every run, with nothing injected: a topic round trip works. */
static void check_usable(void)
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

typedef struct {
    const char *name;
    void (*run)(void);
    void (*cleanup)(void);
} scenario;

static const scenario scenarios[] = {
    { "blocking_queue", scenario_blocking_queue, NULL },
    { "mailbox_message", scenario_message, NULL },
    { "message_subscriber", scenario_subscriber, NULL },
    { "message_queue", scenario_message_queue, NULL },
    { "mailbox_1_subscriber", scenario_mailbox_1, NULL },
    { "mailbox_3_subscribers", scenario_mailbox_3, NULL },
    { "mailbox_sync_topic", scenario_mailbox_sync, NULL },
    { "release_unregisters", scenario_release_unregisters, NULL },
    { "isula_mailbox", scenario_isula_mailbox, cleanup_isula_mailbox },
};

#define SCENARIOS (sizeof(scenarios) / sizeof(scenarios[0]))

/* One run: fail the Nth allocation (0: none, untracked: the warm-up, where
 * one-time lazy allocations happen); whether the failure was injected. */
static int run_once(const scenario *s, long n)
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
static long run_scenario(const scenario *s)
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
static int interposed(void)
{
    void *(*volatile allocate)(size_t) = malloc;
    long before = alloc_count();
    void *p = allocate(16);
    long after = alloc_count();
    free(p);
    return after == before + 1;
}

int main(int argc, char **argv)
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
    for (size_t i = 0; i < SCENARIOS; i++) {
        int wanted = argc <= 1;
        for (int a = 1; a < argc; a++) {
            wanted |= strcmp(argv[a], scenarios[i].name) == 0;
        }
        if (wanted) {
            total += run_scenario(&scenarios[i]);
            ran++;
        }
    }
    int waits_wanted = argc <= 1;
    for (int a = 1; a < argc; a++) {
        waits_wanted |= strcmp(argv[a], "waits_with_no_memory") == 0;
    }
    if (waits_wanted) {
        items_reset();
        waits_with_no_memory();
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
