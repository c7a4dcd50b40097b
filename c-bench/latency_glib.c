/* The ping-pong of latency.c on GLib's GAsyncQueue (a mutex, a condition
 * variable and a list, as the original blocking_queue), for reference: the
 * same driver (latency_common.h), the same scenario names and output.
 *
 *   latency_glib pingpong_<gap> [ROUNDS]   prints "NAME p50_ns p99_ns gap_p50_ns"
 *   latency_glib list
 *
 * Built by scripts/bench-compare when pkg-config finds glib-2.0
 * (libglib2.0-dev). */
#include "latency_common.h"

#include <glib.h>

static void *aq_create(void)
{
    return g_async_queue_new();
}

static void aq_push(void *q, void *item)
{
    g_async_queue_push((GAsyncQueue *)q, item);
}

static void *aq_pop(void *q)
{
    return g_async_queue_pop((GAsyncQueue *)q);
}

static void aq_destroy(void *q)
{
    g_async_queue_unref((GAsyncQueue *)q);
}

static const pp_queue_ops aq_ops = { aq_create, aq_push, aq_pop, aq_destroy };

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: latency_glib pingpong_<gap> [ROUNDS] | list\n");
        return 2;
    }
    long long gap;
    if (strcmp(argv[1], "list") == 0) {
        for (size_t i = 0; i < GAP_COUNT; i++) {
            printf("pingpong_%s\n", GAPS[i].suffix);
        }
    } else if ((gap = gap_of(argv[1], "pingpong")) >= 0) {
        pingpong(argv[1], &aq_ops, (uint64_t)gap, rounds_arg(argc, argv));
    } else {
        fprintf(stderr, "latency_glib: no scenario %s\n", argv[1]);
        return 2;
    }
    return 0;
}
