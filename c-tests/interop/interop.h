/* The C half of the interop tests: a C publisher with its own generator,
 * and a C subscriber, both on MAILBOX_TOPIC_CRI_CONTAINER. */
#ifndef ISULA_MAILBOX_INTEROP_H
#define ISULA_MAILBOX_INTEROP_H

#include "mailbox.h"

/* What both sides' generators make: C's from C, Rust's as #[repr(C)]. */
typedef struct {
    char container_id[64];
    int type;
} shared_event;

/* C registers the topic, as the daemon's CRI service does; 0 or -1. */
int c_register(void);
/* C publishes one event, as the executor does. */
void c_publish(const char *container_id, int type);
/* C unregisters the topic. */
void c_unregister(void);
/* How many events the C generator made and released so far. */
int c_made(void);
int c_released(void);

/* A C GetContainerEvents stream. */
message_subscriber *c_subscribe(void);
/* Pops one event into *out: 1, 0 once the stream ended (NULL), -1 on
 * timeout or error. */
int c_pop(message_subscriber *sub, shared_event *out);
void c_destroy(message_subscriber *sub);

#endif
