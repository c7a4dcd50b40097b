/* The ping-pong of latency.c on another queue, for reference: the same
 * driver (latency_common.h), the same scenario names and output. Built by
 * scripts/bench-compare once per peer:
 *
 *   -DPEER_GLIB       GLib's GAsyncQueue: a mutex, a condition variable and
 *                     a list, as the original blocking_queue (pkg-config
 *                     glib-2.0; libglib2.0-dev)
 *   -DPEER_CROSSBEAM  crossbeam-channel's unbounded channel, which spins,
 *                     yields, then parks (c-bench/crossbeam, a static
 *                     library built by cargo)
 *   -DPEER_CONDVAR    the plainest blocking queue: a pthread mutex, a
 *                     condition variable and a ring of pointers; a pop
 *                     waits in pthread_cond_wait, a push signals once. The
 *                     reference a waiting pop's CPU is held to.
 *
 *   latency_peer pingpong_<gap> [ROUNDS]   prints "NAME p50_ns p99_ns gap_p50_ns"
 *   latency_peer feed<period>|tick<period> [ROUNDS]
 *                                          prints "NAME p50_ns p99_ns cpu_ns_per_item"
 *   latency_peer list */
#include "latency_common.h"

#if defined(PEER_GLIB)
#include <glib.h>

static void *peer_create(void)
{
    return g_async_queue_new();
}

static void peer_push(void *q, void *item)
{
    g_async_queue_push((GAsyncQueue *)q, item);
}

static void *peer_pop(void *q)
{
    return g_async_queue_pop((GAsyncQueue *)q);
}

static void peer_destroy(void *q)
{
    g_async_queue_unref((GAsyncQueue *)q);
}
#elif defined(PEER_CROSSBEAM)
typedef struct XbeamQueue XbeamQueue;
XbeamQueue *xbeam_create(void);
void xbeam_push(XbeamQueue *queue, void *item);
void *xbeam_pop(XbeamQueue *queue);
void xbeam_destroy(XbeamQueue *queue);

static void *peer_create(void)
{
    return xbeam_create();
}

static void peer_push(void *q, void *item)
{
    xbeam_push((XbeamQueue *)q, item);
}

static void *peer_pop(void *q)
{
    return xbeam_pop((XbeamQueue *)q);
}

static void peer_destroy(void *q)
{
    xbeam_destroy((XbeamQueue *)q);
}
#elif defined(PEER_CONDVAR)
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t not_empty;
    void **items;
    size_t head, len, cap;
} condvar_queue;

static void *peer_create(void)
{
    condvar_queue *q = (condvar_queue *)calloc(1, sizeof(*q));
    if (q == NULL || (q->items = (void **)malloc(64 * sizeof(void *))) == NULL) {
        die("condvar queue");
    }
    q->cap = 64;
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->not_empty, NULL);
    return q;
}

static void peer_push(void *queue, void *item)
{
    condvar_queue *q = (condvar_queue *)queue;
    pthread_mutex_lock(&q->lock);
    if (q->len == q->cap) {
        void **grown = (void **)malloc(2 * q->cap * sizeof(void *));
        if (grown == NULL) {
            die("condvar queue");
        }
        for (size_t i = 0; i < q->len; i++) {
            grown[i] = q->items[(q->head + i) % q->cap];
        }
        free(q->items);
        q->items = grown;
        q->head = 0;
        q->cap *= 2;
    }
    q->items[(q->head + q->len) % q->cap] = item;
    q->len++;
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->lock);
}

static void *peer_pop(void *queue)
{
    condvar_queue *q = (condvar_queue *)queue;
    pthread_mutex_lock(&q->lock);
    while (q->len == 0) {
        pthread_cond_wait(&q->not_empty, &q->lock);
    }
    void *item = q->items[q->head];
    q->head = (q->head + 1) % q->cap;
    q->len--;
    pthread_mutex_unlock(&q->lock);
    return item;
}

static void peer_destroy(void *queue)
{
    condvar_queue *q = (condvar_queue *)queue;
    pthread_cond_destroy(&q->not_empty);
    pthread_mutex_destroy(&q->lock);
    free(q->items);
    free(q);
}
#else
#error "define PEER_GLIB, PEER_CROSSBEAM or PEER_CONDVAR"
#endif

static const pp_queue_ops peer_ops = { peer_create, peer_push, peer_pop, peer_destroy };

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: latency_peer pingpong_<gap>|feed<period>|tick<period> [ROUNDS] | list\n");
        return 2;
    }
    long long gap;
    if (strcmp(argv[1], "list") == 0) {
        for (size_t i = 0; i < GAP_COUNT; i++) {
            printf("pingpong_%s\n", GAPS[i].suffix);
        }
        list_feeds();
    } else if ((gap = gap_of(argv[1], "pingpong")) >= 0) {
        pingpong(argv[1], &peer_ops, (uint64_t)gap, rounds_arg(argc, argv));
    } else if (run_feed(argv[1], &peer_ops, rounds_arg(argc, argv))) {
    } else {
        fprintf(stderr, "latency_peer: no scenario %s\n", argv[1]);
        return 2;
    }
    return 0;
}
