/* The allocator of the allocation-failure harness: malloc and friends,
 * defined here so that every allocation of a test_oom_*.c program (the
 * library's included) is counted, failed on demand, and tracked until freed;
 * and the controls the harness arms them with. Included once per program,
 * through c-tests/oom.h, which explains the harness. */
#ifndef ISULA_MAILBOX_OOM_INTERPOSER_H
#define ISULA_MAILBOX_OOM_INTERPOSER_H

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
 * malloc "leaf", so a compiler may assume a direct malloc call leaves the
 * program's statics alone. */
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

static inline void lock(void)
{
    while (atomic_flag_test_and_set_explicit(&alloc_lock, memory_order_acquire)) {
    }
}

static inline void unlock(void)
{
    atomic_flag_clear_explicit(&alloc_lock, memory_order_release);
}

static inline void die(const char *message)
{
    ssize_t ignored = write(2, message, strlen(message));
    (void)ignored;
    abort();
}

static inline size_t slot_of(uintptr_t ptr)
{
    return (size_t)(((uint64_t)(ptr >> 4) * 0x9E3779B97F4A7C15ull) >> 50) & (TABLE_SLOTS - 1);
}

static inline void table_insert(void *ptr, size_t size)
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
static inline int table_remove(void *ptr)
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
static inline int allocation_fails(void)
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

static inline void track(void *ptr, size_t size)
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

static inline void *aligned(enum aligned_kind kind, size_t alignment, size_t size)
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

static inline long fired_count(void)
{
    return oom_fired;
}

static inline long alloc_count(void)
{
    lock();
    long n = oom_allocs;
    unlock();
    return n;
}

/* Starts a run, `tracked` or not, failing the Nth allocation from now (0:
 * none). */
static inline void oom_begin(long n, int tracked)
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

static inline void oom_disarm(void)
{
    lock();
    oom_target = 0;
    unlock();
}

static inline void oom_end(void)
{
    lock();
    oom_target = 0;
    oom_tracking = 0;
    unlock();
}

/* Allocations that are not the library's doing under test (a sentinel the
 * test sends itself) are not counted, so that runs stay comparable. */
static inline void oom_pause(void)
{
    lock();
    oom_paused = 1;
    unlock();
}

static inline void oom_resume(void)
{
    lock();
    oom_paused = 0;
    unlock();
}

static inline long live_blocks(void)
{
    lock();
    long n = table_live;
    unlock();
    return n;
}

/* Prints what is still tracked (size and allocation number in its run). */
static inline void print_live_blocks(void)
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
#endif
