/* What linking the mailbox adds to a program: a tiny daemon-like program
 * using a few functions of the original API (a blocking queue, a topic,
 * a subscriber), and, with -DNO_MAILBOX, the same program without them.
 * scripts/bench-compare links it statically against each library, strips
 * both, and reports the difference in size. Not a test: it only has to
 * link and run. */
#include <stdio.h>
#include <stdlib.h>

#ifndef NO_MAILBOX
#include "blocking_queue.h"
#include "mailbox.h"
#include "mailbox_message.h"
#include "message_subscriber.h"

static void *make_event(void *context, void *data)
{
    (void)context;
    int *e = (int *)malloc(sizeof(*e));
    if (e != NULL) {
        *e = (int)((cri_container_message_t *)data)->type;
    }
    return e;
}
#endif

int main(void)
{
    int result = 0;
#ifndef NO_MAILBOX
    blocking_queue *q = blocking_queue_create(BLOCKING_QUEUE_NO_TIMEOUT, NULL);
    void *item = NULL;
    blocking_queue_push(q, &result);
    blocking_queue_pop(q, &item);
    blocking_queue_destroy(q);

    mailbox_register_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER, make_event, NULL, free, true);
    message_subscriber *sub = mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER);
    cri_container_message_t msg = { "container", "sandbox", CRI_CONTAINER_MESSAGE_TYPE_STARTED };
    mailbox_publish(MAILBOX_TOPIC_CRI_CONTAINER, &msg);
    mailbox_message *got = NULL;
    if (message_subscriber_pop(sub, &got) == 0 && got != NULL) {
        result = *(int *)got->data;
        mailbox_message_unref(got);
    }
    mailbox_unsubscribe(MAILBOX_TOPIC_CRI_CONTAINER, sub);
    message_subscriber_destroy(sub);
#endif
    printf("%d\n", result);
    return 0;
}
