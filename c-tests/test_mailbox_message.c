/* mailbox_message.h: what its comments promise. Original API only. */
#include "mailbox_message.h"

#include "check.h"

static void unref_of_last_reference_destroys_once(void)
{
    tracked_reset();
    tracked *payload = tracked_new(0);
    mailbox_message *msg = mailbox_message_create(payload, tracked_release);
    CHECK(msg != NULL);
    CHECK(msg->data == payload);
    for (int i = 0; i < 5; i++) {
        CHECK_EQ(mailbox_message_ref(msg), 0);
    }
    for (int i = 0; i < 5; i++) {
        mailbox_message_unref(msg);
        CHECK_EQ(tracked_released(0), 0);
        CHECK(msg->data == payload);
    }
    mailbox_message_unref(msg);
    check_each_released_once(1);
}

static void null_destroy_and_null_data(void)
{
    int local = 7;
    mailbox_message *msg = mailbox_message_create(&local, NULL);
    CHECK(msg != NULL);
    CHECK_EQ(mailbox_message_ref(msg), 0);
    mailbox_message_unref(msg);
    mailbox_message_unref(msg);

    msg = mailbox_message_create(NULL, tracked_release);
    CHECK(msg != NULL);
    CHECK(msg->data == NULL);
    mailbox_message_unref(msg); /* destroy(NULL) is the release function's business */
}

static void null_arguments(void)
{
    CHECK_EQ(mailbox_message_ref(NULL), -1);
    mailbox_message_unref(NULL);
}

#define THREADS 4
#define ROUNDS 50000

static void *ref_unref_loop(void *arg)
{
    mailbox_message *msg = (mailbox_message *)arg;
    for (int i = 0; i < ROUNDS; i++) {
        CHECK_EQ(mailbox_message_ref(msg), 0);
        mailbox_message_unref(msg);
    }
    mailbox_message_unref(msg); /* the reference this thread was given */
    return NULL;
}

static void concurrent_refs_destroy_exactly_once(void)
{
    tracked_reset();
    mailbox_message *msg = mailbox_message_create(tracked_new(0), tracked_release);
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++) {
        CHECK_EQ(mailbox_message_ref(msg), 0);
        CHECK_EQ(pthread_create(&threads[i], NULL, ref_unref_loop, msg), 0);
    }
    mailbox_message_unref(msg); /* ours: the last unref happens in some thread */
    for (int i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
    }
    check_each_released_once(1);
}

static void auto_cleanup_macro_unrefs(void)
{
    tracked_reset();
    {
        __isula_auto_mailbox_message mailbox_message *msg = mailbox_message_create(tracked_new(0), tracked_release);
        CHECK(msg != NULL);
        __isula_auto_mailbox_message mailbox_message *none = NULL;
        (void)none;
    }
    check_each_released_once(1);
}

TEST_MAIN(TEST_CASE(unref_of_last_reference_destroys_once), TEST_CASE(null_destroy_and_null_data),
          TEST_CASE(null_arguments), TEST_CASE(concurrent_refs_destroy_exactly_once),
          TEST_CASE(auto_cleanup_macro_unrefs))
