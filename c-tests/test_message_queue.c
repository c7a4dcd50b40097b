/* message_queue.h: what its comments promise. Original API only, except that
 * queues are freed with message_queue_destroy where isula_mailbox.h exists
 * (the original has no way to free a message_queue). */
#include "message_queue.h"

#include "check.h"

#if __has_include("isula_mailbox.h")
#include "isula_mailbox.h"
#define FREE_QUEUE(mq) message_queue_destroy(mq)
#else
#define FREE_QUEUE(mq) message_queue_shutdown(mq)
#endif

static mailbox_message *tracked_message(int id)
{
    mailbox_message *msg = mailbox_message_create(tracked_new(id), tracked_release);
    CHECK(msg != NULL);
    return msg;
}

/* Pops one message within a few seconds; returns its tracked id, or -1 for
 * the NULL of a shut-down subscriber. */
static int pop_id(message_subscriber *sub)
{
    for (int tries = 0; tries < 10; tries++) {
        mailbox_message *got = NULL;
        int ret = message_subscriber_pop(sub, &got);
        if (ret == ETIMEDOUT) {
            continue;
        }
        CHECK_EQ(ret, 0);
        if (got == NULL) {
            return -1;
        }
        int id = ((tracked *)got->data)->id;
        mailbox_message_unref(got);
        return id;
    }
    CHECK(!"no message within 10 pops");
    return -2;
}

static void every_subscriber_gets_every_message(void)
{
    tracked_reset();
    message_queue *mq = message_queue_create(NULL);
    CHECK(mq != NULL);
    CHECK(!message_queue_have_subscribers(mq));
    message_subscriber *a = message_queue_subscribe(mq, NULL);
    message_subscriber *b = message_queue_subscribe(mq, NULL);
    CHECK(a != NULL && b != NULL);
    CHECK(message_queue_have_subscribers(mq));
    for (int i = 0; i < 20; i++) {
        CHECK_EQ(message_queue_publish(mq, tracked_message(i)), 0);
    }
    for (int i = 0; i < 20; i++) {
        CHECK_EQ(pop_id(a), i);
    }
    for (int i = 0; i < 10; i++) {
        CHECK_EQ(pop_id(b), i);
    }
    CHECK_EQ(tracked_released(9), 1);  /* both popped it */
    CHECK_EQ(tracked_released(10), 0); /* b still holds it */
    message_queue_unsubscribe(mq, a);
    message_queue_unsubscribe(mq, b);
    CHECK(!message_queue_have_subscribers(mq));
    message_subscriber_destroy(a);
    message_subscriber_destroy(b);
    check_each_released_once(20);
    FREE_QUEUE(mq);
}

static void default_subscriber_timeout_is_one_second(void)
{
    message_queue *mq = message_queue_create(NULL);
    message_subscriber *sub = message_queue_subscribe(mq, NULL);
    mailbox_message *got = NULL;
    int64_t start = now_ms();
    CHECK_EQ(message_subscriber_pop(sub, &got), ETIMEDOUT);
    int64_t waited = now_ms() - start;
    CHECK(waited >= 1000);
    CHECK(waited < 1000 + 2000);
    message_queue_unsubscribe(mq, sub);
    message_subscriber_destroy(sub);
    FREE_QUEUE(mq);
}

static void message_without_subscribers_is_destroyed(void)
{
    tracked_reset();
    message_queue *mq = message_queue_create(NULL);
    CHECK_EQ(message_queue_publish(mq, tracked_message(0)), 0);
    /* Delivery may be asynchronous (it is in the original): wait for it. */
    for (int i = 0; i < 200 && tracked_released(0) == 0; i++) {
        sleep_ms(10);
    }
    check_each_released_once(1);
    FREE_QUEUE(mq);
}

static void unsubscribed_subscriber_keeps_what_it_has(void)
{
    tracked_reset();
    message_queue *mq = message_queue_create(NULL);
    message_subscriber *sub = message_queue_subscribe(mq, NULL);
    CHECK_EQ(message_queue_publish(mq, tracked_message(0)), 0);
    sleep_ms(100); /* the original delivers from a thread of its own */
    message_queue_unsubscribe(mq, sub);
    CHECK(!message_queue_have_subscribers(mq));
    CHECK_EQ(message_queue_publish(mq, tracked_message(1)), 0);
    CHECK_EQ(pop_id(sub), 0);
    mailbox_message *got = NULL;
    CHECK_EQ(message_subscriber_pop(sub, &got), ETIMEDOUT); /* never message 1 */
    message_subscriber_destroy(sub);
    FREE_QUEUE(mq);
    check_each_released_once(2);
}

/* The original keeps delivering to a destroyed subscriber (use after free)
 * and keeps counting it as a subscriber. */
static void destroyed_subscriber_is_detached(void)
{
    tracked_reset();
    message_queue *mq = message_queue_create(NULL);
    message_subscriber *gone = message_queue_subscribe(mq, NULL);
    message_subscriber *stays = message_queue_subscribe(mq, NULL);
    message_subscriber_destroy(gone);
    CHECK_EQ(message_queue_publish(mq, tracked_message(0)), 0);
    CHECK_EQ(pop_id(stays), 0);
    message_subscriber_destroy(stays);
    CHECK(!message_queue_have_subscribers(mq));
    check_each_released_once(1);
    FREE_QUEUE(mq);
}

/* The original's publish after shutdown returns 0 and the message is never
 * released; the contract: -1, and the caller keeps its reference. */
static void publish_after_shutdown_fails(void)
{
    tracked_reset();
    message_queue *mq = message_queue_create(NULL);
    message_queue_shutdown(mq);
    mailbox_message *msg = tracked_message(0);
    CHECK_EQ(message_queue_publish(mq, msg), -1);
    CHECK_EQ(tracked_released(0), 0);
    mailbox_message_unref(msg);
    check_each_released_once(1);
    CHECK(message_queue_subscribe(mq, NULL) == NULL);
    FREE_QUEUE(mq);
}

static void shutdown_ends_every_subscriber(void)
{
    tracked_reset();
    message_queue *mq = message_queue_create(NULL);
    message_subscriber *a = message_queue_subscribe(mq, NULL);
    message_subscriber *b = message_queue_subscribe(mq, NULL);
    for (int i = 0; i < 5; i++) {
        CHECK_EQ(message_queue_publish(mq, tracked_message(i)), 0);
    }
    CHECK_EQ(pop_id(a), 0);
    message_queue_shutdown(mq);
    /* Everything still pending is dropped; every pop now says "shut down". */
    CHECK_EQ(pop_id(a), -1);
    CHECK_EQ(pop_id(a), -1);
    CHECK_EQ(pop_id(b), -1);
    check_each_released_once(5);
    message_subscriber_destroy(a);
    message_subscriber_destroy(b);
    FREE_QUEUE(mq);
}

static void unknown_subscriber_is_ignored(void)
{
    message_queue *mq = message_queue_create(NULL);
    message_queue *other = message_queue_create(NULL);
    message_subscriber *mine = message_queue_subscribe(mq, NULL);
    message_subscriber *theirs = message_queue_subscribe(other, NULL);
    message_subscriber *loose = message_subscriber_create(0, NULL);
    message_queue_unsubscribe(mq, theirs);
    message_queue_unsubscribe(mq, loose);
    message_queue_unsubscribe(mq, mine);
    message_queue_unsubscribe(mq, mine); /* twice */
    CHECK(!message_queue_have_subscribers(mq));
    CHECK(message_queue_have_subscribers(other));
    message_subscriber_destroy(mine);
    message_subscriber_destroy(theirs);
    message_subscriber_destroy(loose);
    FREE_QUEUE(mq);
    FREE_QUEUE(other);
}

static void null_arguments(void)
{
    message_queue *mq = message_queue_create(NULL);
    mailbox_message *msg = mailbox_message_create(NULL, NULL);
    CHECK_EQ(message_queue_publish(NULL, msg), -1);
    CHECK_EQ(message_queue_publish(mq, NULL), -1);
    CHECK(message_queue_subscribe(NULL, NULL) == NULL);
    CHECK(!message_queue_have_subscribers(NULL));
    message_queue_unsubscribe(NULL, NULL);
    message_queue_unsubscribe(mq, NULL);
    message_queue_shutdown(NULL);
    mailbox_message_unref(msg);
    FREE_QUEUE(mq);
}

#define PUBLISHERS 3
#define PER_PUBLISHER 2000
#define SUBSCRIBERS 3

typedef struct {
    message_queue *mq;
    int publisher;
} publisher_arg;

static void *publish_loop(void *arg)
{
    publisher_arg *p = (publisher_arg *)arg;
    for (int i = 0; i < PER_PUBLISHER; i++) {
        CHECK_EQ(message_queue_publish(p->mq, tracked_message(p->publisher * PER_PUBLISHER + i)), 0);
    }
    return NULL;
}

typedef struct {
    message_subscriber *sub;
    int order[PUBLISHERS * PER_PUBLISHER];
} subscriber_arg;

static void *pop_loop(void *arg)
{
    subscriber_arg *s = (subscriber_arg *)arg;
    for (int n = 0; n < PUBLISHERS * PER_PUBLISHER; n++) {
        s->order[n] = pop_id(s->sub);
        CHECK(s->order[n] >= 0);
    }
    return NULL;
}

static void one_order_for_all_subscribers(void)
{
    tracked_reset();
    message_queue *mq = message_queue_create(NULL);
    static subscriber_arg subs[SUBSCRIBERS];
    pthread_t sub_threads[SUBSCRIBERS], pub_threads[PUBLISHERS];
    publisher_arg pubs[PUBLISHERS];
    for (int i = 0; i < SUBSCRIBERS; i++) {
        subs[i].sub = message_queue_subscribe(mq, NULL);
        CHECK_EQ(pthread_create(&sub_threads[i], NULL, pop_loop, &subs[i]), 0);
    }
    for (int i = 0; i < PUBLISHERS; i++) {
        pubs[i].mq = mq;
        pubs[i].publisher = i;
        CHECK_EQ(pthread_create(&pub_threads[i], NULL, publish_loop, &pubs[i]), 0);
    }
    for (int i = 0; i < PUBLISHERS; i++) {
        pthread_join(pub_threads[i], NULL);
    }
    for (int i = 0; i < SUBSCRIBERS; i++) {
        pthread_join(sub_threads[i], NULL);
    }
    for (int i = 1; i < SUBSCRIBERS; i++) {
        CHECK(memcmp(subs[0].order, subs[i].order, sizeof(subs[0].order)) == 0);
    }
    int last[PUBLISHERS] = { -1, -1, -1 };
    for (int n = 0; n < PUBLISHERS * PER_PUBLISHER; n++) {
        int id = subs[0].order[n];
        int publisher = id / PER_PUBLISHER;
        CHECK(id > last[publisher]);
        last[publisher] = id;
    }
    for (int i = 0; i < SUBSCRIBERS; i++) {
        message_queue_unsubscribe(mq, subs[i].sub);
        message_subscriber_destroy(subs[i].sub);
    }
    check_each_released_once(PUBLISHERS * PER_PUBLISHER);
    FREE_QUEUE(mq);
}

TEST_MAIN(TEST_CASE(every_subscriber_gets_every_message),
          TEST_CASE(default_subscriber_timeout_is_one_second),
          TEST_CASE(message_without_subscribers_is_destroyed),
          TEST_CASE(unsubscribed_subscriber_keeps_what_it_has),
          TEST_CASE(destroyed_subscriber_is_detached), TEST_CASE(publish_after_shutdown_fails),
          TEST_CASE(shutdown_ends_every_subscriber), TEST_CASE(unknown_subscriber_is_ignored),
          TEST_CASE(null_arguments), TEST_CASE(one_order_for_all_subscribers))
