/* One C program, two Rust static libraries: isula-mailbox and a second
 * one with its own std. Both work, each with its own panics and threads. */
#include <stdio.h>

#include "isula_mailbox.h"

int second_rust_lib_work(int n);

static void *echo(void *context, void *data)
{
    (void)context;
    return data;
}

int main(void)
{
    /* "0,1,...,9": 19 characters, and the second library's panic caught. */
    int length = second_rust_lib_work(10);
    if (length != 19) {
        fprintf(stderr, "second_rust_lib_work(10) = %d, want 19\n", length);
        return 1;
    }
    static int token = 42;
    if (mailbox_register_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER, echo, NULL, NULL, true) != 0) {
        return 2;
    }
    message_subscriber *sub = mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER);
    mailbox_publish(MAILBOX_TOPIC_CRI_CONTAINER, &token);
    mailbox_message *msg = NULL;
    if (sub == NULL || message_subscriber_pop(sub, &msg) != 0 || msg == NULL || msg->data != &token) {
        fprintf(stderr, "the mailbox round trip failed\n");
        return 3;
    }
    mailbox_message_unref(msg);
    mailbox_unregister_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER);
    message_subscriber_destroy(sub);
    printf("both libraries work\n");
    return 0;
}
