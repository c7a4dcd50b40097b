/* What the mailbox scenarios are bounded by, measured on this machine:
 * an uncontended atomic read-modify-write, a malloc+free pair, a cache-line
 * transfer between two threads, and a futex wake-up round trip.
 *
 *   primitives   prints "NAME VALUE ns" lines */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double atomic_rmw(void)
{
    static long counter;
    const long n = 20000000;
    double start = now_ns();
    for (long i = 0; i < n; i++) {
        __atomic_fetch_add(&counter, 1, __ATOMIC_SEQ_CST);
    }
    return (now_ns() - start) / n;
}

static volatile uintptr_t sink;

static double malloc_free(void)
{
    const long n = 10000000;
    double start = now_ns();
    for (long i = 0; i < n; i++) {
        void *p = malloc(24);
        sink += (uintptr_t)p;
        free(p);
    }
    return (now_ns() - start) / n;
}

/* Two threads take turns incrementing one word: each turn moves its cache
 * line to the other core. */
static long turn;
#define ROUNDS 2000000

static void *ping(void *arg)
{
    long me = (long)(intptr_t)arg;
    for (long i = me; i < ROUNDS; i += 2) {
        while (__atomic_load_n(&turn, __ATOMIC_ACQUIRE) != i) {
        }
        __atomic_store_n(&turn, i + 1, __ATOMIC_RELEASE);
    }
    return NULL;
}

static double cacheline_transfer(void)
{
    pthread_t a, b;
    turn = 0;
    double start = now_ns();
    pthread_create(&a, NULL, ping, (void *)0);
    pthread_create(&b, NULL, ping, (void *)1);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    return (now_ns() - start) / ROUNDS;
}

/* Two threads wake each other through futexes: each turn is one wake-up. */
static int word;
#define WAKES 20000

static void futex_wait_for(int *addr, int value)
{
    int seen;
    /* Sleep only while the word still holds what was just seen: a change
     * (and its wake) in between makes the kernel return at once. */
    while ((seen = __atomic_load_n(addr, __ATOMIC_ACQUIRE)) != value) {
        syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
    }
}

static void *waker(void *arg)
{
    int me = (int)(intptr_t)arg;
    for (int i = me; i < WAKES; i += 2) {
        futex_wait_for(&word, i);
        __atomic_store_n(&word, i + 1, __ATOMIC_RELEASE);
        syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    }
    return NULL;
}

static double futex_wake_up(void)
{
    pthread_t a, b;
    word = 0;
    double start = now_ns();
    pthread_create(&a, NULL, waker, (void *)0);
    pthread_create(&b, NULL, waker, (void *)1);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    return (now_ns() - start) / WAKES;
}

int main(void)
{
    printf("atomic_rmw %.2f ns\n", atomic_rmw());
    printf("malloc_free %.2f ns\n", malloc_free());
    printf("cacheline_transfer %.2f ns\n", cacheline_transfer());
    printf("futex_wake_up %.2f ns\n", futex_wake_up());
    return 0;
}
