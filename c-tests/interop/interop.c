#include "interop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mailbox_message.h"

static int made, released;

static void *c_generator(void *context, void *data)
{
    (void)context;
    const cri_container_message_t *msg = (const cri_container_message_t *)data;
    shared_event *event = (shared_event *)calloc(1, sizeof(*event));
    if (event == NULL || msg == NULL || msg->container_id == NULL) {
        free(event);
        return NULL;
    }
    strncpy(event->container_id, msg->container_id, sizeof(event->container_id) - 1);
    event->type = msg->type;
    __atomic_fetch_add(&made, 1, __ATOMIC_SEQ_CST);
    return event;
}

static void c_release(void *data)
{
    __atomic_fetch_add(&released, 1, __ATOMIC_SEQ_CST);
    free(data);
}

int c_register(void)
{
    return mailbox_register_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER, c_generator, NULL, c_release, true);
}

void c_publish(const char *container_id, int type)
{
    cri_container_message_t message;
    message.container_id = container_id;
    message.sandbox_id = "sandbox";
    message.type = (cri_container_message_type)type;
    mailbox_publish(MAILBOX_TOPIC_CRI_CONTAINER, &message);
}

void c_unregister(void)
{
    mailbox_unregister_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER);
}

int c_made(void)
{
    return __atomic_load_n(&made, __ATOMIC_SEQ_CST);
}

int c_released(void)
{
    return __atomic_load_n(&released, __ATOMIC_SEQ_CST);
}

message_subscriber *c_subscribe(void)
{
    return mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER);
}

int c_pop(message_subscriber *sub, shared_event *out)
{
    __isula_auto_mailbox_message mailbox_message *msg = NULL;
    int ret = message_subscriber_pop(sub, &msg);
    if (ret != 0) {
        return -1;
    }
    if (msg == NULL) {
        return 0;
    }
    memcpy(out, msg->data, sizeof(*out));
    return 1;
}

void c_destroy(message_subscriber *sub)
{
    message_subscriber_destroy(sub);
}
