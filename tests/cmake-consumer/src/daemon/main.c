/* A daemon in miniature: the CRI service streams the executor's events. */
#include <stdio.h>

#include "cri_runtime_service.h"
#include "execution.h"

int main(void)
{
    if (cri_service_init() != 0) {
        fprintf(stderr, "isulad: cannot register the container topic\n");
        return 1;
    }
    container_lifecycle("nobody-watches", "sandbox"); /* no stream yet: dropped */
    cri_service_start_stream();
    container_lifecycle("c1", "sandbox");
    container_lifecycle("c2", "sandbox");
    int written = cri_service_wait_events(8);
    if (written != 8) {
        fprintf(stderr, "isulad: the stream wrote %d events, not 8\n", written);
        return 1;
    }
    if (cri_service_shutdown() != 0) {
        fprintf(stderr, "isulad: shutdown did not end the stream cleanly\n");
        return 1;
    }
    puts("isulad consumer: 8 events streamed, shutdown clean");
    return 0;
}
