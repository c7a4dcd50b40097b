/* message_subscriber.h: what its comments promise. Original API only. */
#include "message_subscriber.h"

#include "check.h"

/* A subscriber's release function must never see message pointers: the
 * original applied it to them on shutdown (heap corruption in the daemon,
 * whose release deletes a ContainerEventResponse). */
static int forbidden_release_calls;

static void forbidden_release(void *p)
{
    if (p != NULL) {
        __atomic_fetch_add(&forbidden_release_calls, 1, __ATOMIC_SEQ_CST);
    }
}

static mailbox_message *tracked_message(int id)
{
    mailbox_message *msg = mailbox_message_create(tracked_new(id), tracked_release);
    CHECK(msg != NULL);
    return msg;
}

static void push_takes_its_own_reference(void)
{
    tracked_reset();
    message_subscriber *sub = message_subscriber_create(0, forbidden_release);
    CHECK(sub != NULL);
    mailbox_message *msg = tracked_message(0);
    CHECK_EQ(message_subscriber_push(sub, msg), 0);
    mailbox_message_unref(msg); /* the caller's reference */
    CHECK_EQ(tracked_released(0), 0);

    mailbox_message *got = NULL;
    CHECK_EQ(message_subscriber_pop(sub, &got), 0);
    CHECK(got == msg);
    CHECK_EQ(((tracked *)got->data)->id, 0);
    mailbox_message_unref(got);
    check_each_released_once(1);
    message_subscriber_destroy(sub);
    CHECK_EQ(forbidden_release_calls, 0);
}

static void pops_in_order_then_times_out(void)
{
    tracked_reset();
    message_subscriber *sub = message_subscriber_create(100, NULL);
    for (int i = 0; i < 10; i++) {
        mailbox_message *msg = tracked_message(i);
        CHECK_EQ(message_subscriber_push(sub, msg), 0);
        mailbox_message_unref(msg);
    }
    for (int i = 0; i < 10; i++) {
        mailbox_message *got = NULL;
        CHECK_EQ(message_subscriber_pop(sub, &got), 0);
        CHECK_EQ(((tracked *)got->data)->id, i);
        mailbox_message_unref(got);
    }
    mailbox_message *got = NULL;
    int64_t start = now_ms();
    CHECK_EQ(message_subscriber_pop(sub, &got), ETIMEDOUT);
    CHECK(now_ms() - start >= 100);
    CHECK(got == NULL);
    message_subscriber_destroy(sub);
    check_each_released_once(10);
}

/* The original cleared the queue with release() on message pointers, and
 * left the pending messages unreleased. */
static void shutdown_unrefs_pending_messages(void)
{
    tracked_reset();
    forbidden_release_calls = 0;
    message_subscriber *sub = message_subscriber_create(1000, forbidden_release);
    for (int i = 0; i < 3; i++) {
        mailbox_message *msg = tracked_message(i);
        CHECK_EQ(message_subscriber_push(sub, msg), 0);
        mailbox_message_unref(msg);
    }
    mailbox_message *got = NULL;
    CHECK_EQ(message_subscriber_pop(sub, &got), 0);
    mailbox_message_unref(got);
    message_subscriber_shutdown(sub);
    CHECK_EQ(forbidden_release_calls, 0);
    check_each_released_once(3);
    message_subscriber_destroy(sub);
}

/* The original pushed one NULL: the second pop after shutdown waited for
 * the timeout and returned ETIMEDOUT. */
static void every_pop_after_shutdown_returns_null_at_once(void)
{
    message_subscriber *sub = message_subscriber_create(2000, NULL);
    message_subscriber_shutdown(sub);
    int64_t start = now_ms();
    for (int i = 0; i < 3; i++) {
        mailbox_message *got = (mailbox_message *)&got;
        CHECK_EQ(message_subscriber_pop(sub, &got), 0);
        CHECK(got == NULL);
    }
    CHECK(now_ms() - start < 1000);
    message_subscriber_destroy(sub);
}

static void destroy_unrefs_pending_messages(void)
{
    tracked_reset();
    forbidden_release_calls = 0;
    message_subscriber *sub = message_subscriber_create(0, forbidden_release);
    mailbox_message *kept = tracked_message(0);
    CHECK_EQ(message_subscriber_push(sub, kept), 0);
    for (int i = 1; i < 3; i++) {
        mailbox_message *msg = tracked_message(i);
        CHECK_EQ(message_subscriber_push(sub, msg), 0);
        mailbox_message_unref(msg);
    }
    message_subscriber_destroy(sub);
    CHECK_EQ(forbidden_release_calls, 0);
    CHECK_EQ(tracked_released(0), 0); /* we still hold a reference */
    CHECK_EQ(tracked_released(1), 1);
    CHECK_EQ(tracked_released(2), 1);
    mailbox_message_unref(kept);
    check_each_released_once(3);
}

typedef struct {
    message_subscriber *sub;
    mailbox_message *got;
    int ret;
} popper;

static void *pop_thread(void *arg)
{
    popper *p = (popper *)arg;
    p->ret = message_subscriber_pop(p->sub, &p->got);
    return NULL;
}

static void push_wakes_a_waiting_pop(void)
{
    message_subscriber *sub = message_subscriber_create(-1, NULL);
    popper p = { sub, NULL, -2 };
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, pop_thread, &p), 0);
    sleep_ms(50);
    mailbox_message *msg = mailbox_message_create(NULL, NULL);
    CHECK_EQ(message_subscriber_push(sub, msg), 0);
    pthread_join(t, NULL);
    CHECK_EQ(p.ret, 0);
    CHECK(p.got == msg);
    mailbox_message_unref(p.got);
    mailbox_message_unref(msg);
    message_subscriber_destroy(sub);
}

static void shutdown_wakes_a_waiting_pop(void)
{
    message_subscriber *sub = message_subscriber_create(-1, NULL);
    popper p = { sub, (mailbox_message *)&p, -2 };
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, pop_thread, &p), 0);
    sleep_ms(50);
    message_subscriber_shutdown(sub);
    pthread_join(t, NULL);
    CHECK_EQ(p.ret, 0);
    CHECK(p.got == NULL);
    message_subscriber_destroy(sub);
}

/* A shut-down subscriber refuses pushes (-1) instead of queueing messages
 * nobody can pop; the caller keeps its reference. */
static void push_after_shutdown_is_refused(void)
{
    tracked_reset();
    message_subscriber *sub = message_subscriber_create(0, NULL);
    message_subscriber_shutdown(sub);
    mailbox_message *msg = tracked_message(0);
    CHECK_EQ(message_subscriber_push(sub, msg), -1);
    mailbox_message *got = NULL;
    CHECK_EQ(message_subscriber_pop(sub, &got), 0);
    CHECK(got == NULL);
    mailbox_message_unref(msg);
    check_each_released_once(1);
    message_subscriber_destroy(sub);
}

static void null_arguments(void)
{
    mailbox_message *msg = mailbox_message_create(NULL, NULL);
    message_subscriber *sub = message_subscriber_create(0, NULL);
    mailbox_message *got = NULL;
    CHECK_EQ(message_subscriber_push(NULL, msg), -1);
    CHECK_EQ(message_subscriber_push(sub, NULL), -1);
    CHECK_EQ(message_subscriber_pop(NULL, &got), -1);
    CHECK_EQ(message_subscriber_pop(sub, NULL), -1);
    message_subscriber_shutdown(NULL);
    message_subscriber_destroy(NULL);
    message_subscriber_destroy(sub);
    mailbox_message_unref(msg);
}

static void auto_cleanup_macro_destroys(void)
{
    tracked_reset();
    {
        __isula_auto_subscriber message_subscriber *sub = message_subscriber_create(0, NULL);
        mailbox_message *msg = tracked_message(0);
        CHECK_EQ(message_subscriber_push(sub, msg), 0);
        mailbox_message_unref(msg);
    }
    check_each_released_once(1);
}

TEST_MAIN(TEST_CASE(push_takes_its_own_reference), TEST_CASE(pops_in_order_then_times_out),
          TEST_CASE(shutdown_unrefs_pending_messages),
          TEST_CASE(every_pop_after_shutdown_returns_null_at_once),
          TEST_CASE(destroy_unrefs_pending_messages), TEST_CASE(push_wakes_a_waiting_pop),
          TEST_CASE(shutdown_wakes_a_waiting_pop), TEST_CASE(push_after_shutdown_is_refused),
          TEST_CASE(null_arguments),
          TEST_CASE(auto_cleanup_macro_destroys))
