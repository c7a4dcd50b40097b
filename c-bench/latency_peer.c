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
 *
 *   latency_peer pingpong_<gap> [ROUNDS]   prints "NAME p50_ns p99_ns gap_p50_ns"
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
#else
#error "define PEER_GLIB or PEER_CROSSBEAM"
#endif

static const pp_queue_ops peer_ops = { peer_create, peer_push, peer_pop, peer_destroy };

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: latency_peer pingpong_<gap> [ROUNDS] | list\n");
        return 2;
    }
    long long gap;
    if (strcmp(argv[1], "list") == 0) {
        for (size_t i = 0; i < GAP_COUNT; i++) {
            printf("pingpong_%s\n", GAPS[i].suffix);
        }
    } else if ((gap = gap_of(argv[1], "pingpong")) >= 0) {
        pingpong(argv[1], &peer_ops, (uint64_t)gap, rounds_arg(argc, argv));
    } else {
        fprintf(stderr, "latency_peer: no scenario %s\n", argv[1]);
        return 2;
    }
    return 0;
}
