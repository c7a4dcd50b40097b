/* Bad input, function by function: each call gets its contract's failure
 * value and exactly one log record (counted through the log callback), or,
 * where the contract makes it a no-op, nothing at all; never a crash. */
#include <limits.h>

#include "isula_mailbox.h"

#include "check.h"

static int records;

static void count_records(mailbox_log_level level, const char *message, void *user)
{
    (void)level;
    (void)message;
    (void)user;
    __atomic_fetch_add(&records, 1, __ATOMIC_SEQ_CST);
}

/* Evaluates CALL, which must return EXPECTED (an int), logging LOGS records. */
#define EXPECT_INT(call, expected, logs)                                                              \
    do {                                                                                              \
        __atomic_store_n(&records, 0, __ATOMIC_SEQ_CST);                                              \
        long long got_ = (long long)(call);                                                           \
        int logged_ = __atomic_load_n(&records, __ATOMIC_SEQ_CST);                                    \
        if (got_ != (long long)(expected) || logged_ != (logs)) {                                     \
            fprintf(stderr, "%s:%d: %s returned %lld (want %lld), logged %d (want %d)\n", __FILE__,   \
                    __LINE__, #call, got_, (long long)(expected), logged_, (logs));                   \
            exit(1);                                                                                  \
        }                                                                                             \
    } while (0)

/* Evaluates the void CALL, which must log LOGS records. */
#define EXPECT_VOID(call, logs)                                                                       \
    do {                                                                                              \
        __atomic_store_n(&records, 0, __ATOMIC_SEQ_CST);                                              \
        call;                                                                                         \
        int logged_ = __atomic_load_n(&records, __ATOMIC_SEQ_CST);                                    \
        if (logged_ != (logs)) {                                                                      \
            fprintf(stderr, "%s:%d: %s logged %d (want %d)\n", __FILE__, __LINE__, #call, logged_, (logs)); \
            exit(1);                                                                                  \
        }                                                                                             \
    } while (0)

#define EXPECT_NULL(call, logs) EXPECT_INT((call) == NULL, 1, logs)

static void *generator(void *context, void *data)
{
    (void)context;
    (void)data;
    return NULL;
}

static void start(void)
{
    /* Info: every record about a failure counts, info-level ones too; the
     * debug records that follow topics and subscribers do not. */
    mailbox_set_log_callback(count_records, MAILBOX_LOG_INFO, NULL);
}

static void stop(void)
{
    mailbox_set_log_callback(NULL, MAILBOX_LOG_WARN, NULL);
}

static void blocking_queue_bad_input(void)
{
    start();
    void *out = NULL;
    blocking_queue *q = blocking_queue_create(0, NULL);
    EXPECT_INT(blocking_queue_push(NULL, &out), -1, 1);
    EXPECT_INT(blocking_queue_pop(NULL, &out), -1, 1);
    EXPECT_INT(blocking_queue_pop(q, NULL), -1, 1);
    EXPECT_VOID(blocking_queue_clear(NULL), 0);
    EXPECT_VOID(blocking_queue_destroy(NULL), 0);
    blocking_queue_destroy(q);

    /* Timeouts: any negative means forever; huge ones must not overflow. */
    int64_t timeouts[] = { INT64_MIN, -2, INT64_MAX, INT64_MAX / 1000 };
    for (unsigned i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++) {
        q = blocking_queue_create(timeouts[i], NULL);
        CHECK(q != NULL);
        EXPECT_INT(blocking_queue_push(q, &out), 0, 0);
        EXPECT_INT(blocking_queue_pop(q, &out), 0, 0);
        blocking_queue_destroy(q);
    }
    stop();
}

static void mailbox_message_bad_input(void)
{
    start();
    EXPECT_INT(mailbox_message_ref(NULL), -1, 1);
    EXPECT_VOID(mailbox_message_unref(NULL), 0);
    stop();
}

static void message_subscriber_bad_input(void)
{
    start();
    message_subscriber *sub = message_subscriber_create(INT64_MAX, NULL);
    mailbox_message *msg = mailbox_message_create(NULL, NULL);
    mailbox_message *out = NULL;
    EXPECT_INT(message_subscriber_push(NULL, msg), -1, 1);
    EXPECT_INT(message_subscriber_push(sub, NULL), -1, 1);
    EXPECT_INT(message_subscriber_pop(NULL, &out), -1, 1);
    EXPECT_INT(message_subscriber_pop(sub, NULL), -1, 1);
    EXPECT_VOID(message_subscriber_shutdown(NULL), 0);
    EXPECT_VOID(message_subscriber_destroy(NULL), 0);
    message_subscriber_shutdown(sub);
    EXPECT_INT(message_subscriber_push(sub, msg), -1, 1); /* after shutdown */
    EXPECT_INT(message_subscriber_pop(sub, &out), 0, 0);
    CHECK(out == NULL);
    message_subscriber_destroy(sub);
    mailbox_message_unref(msg);
    stop();
}

static void message_queue_bad_input(void)
{
    start();
    message_queue *mq = message_queue_create(NULL);
    message_queue *other = message_queue_create(NULL);
    message_subscriber *sub = message_queue_subscribe(mq, NULL);
    message_subscriber *theirs = message_queue_subscribe(other, NULL);
    mailbox_message *msg = mailbox_message_create(NULL, NULL);
    EXPECT_INT(message_queue_publish(NULL, msg), -1, 1);
    EXPECT_INT(message_queue_publish(mq, NULL), -1, 1);
    EXPECT_NULL(message_queue_subscribe(NULL, NULL), 1);
    EXPECT_INT(message_queue_have_subscribers(NULL), 0, 1);
    EXPECT_VOID(message_queue_unsubscribe(NULL, sub), 1);
    EXPECT_VOID(message_queue_unsubscribe(mq, NULL), 1);
    EXPECT_VOID(message_queue_unsubscribe(mq, theirs), 1); /* a subscriber of another queue */
    EXPECT_VOID(message_queue_unsubscribe(mq, sub), 0);
    EXPECT_VOID(message_queue_unsubscribe(mq, sub), 1); /* twice */
    EXPECT_VOID(message_queue_shutdown(NULL), 0);
    EXPECT_VOID(message_queue_destroy(NULL), 0);
    message_queue_shutdown(mq);
    EXPECT_INT(message_queue_publish(mq, msg), -1, 1); /* after shutdown: caller keeps msg */
    EXPECT_NULL(message_queue_subscribe(mq, NULL), 1);
    EXPECT_VOID(message_queue_shutdown(mq), 0); /* twice: idempotent */
    mailbox_message_unref(msg);
    message_subscriber_destroy(sub);
    message_subscriber_destroy(theirs);
    message_queue_destroy(mq);
    message_queue_destroy(other);
    stop();
}

static void mailbox_bad_input(void)
{
    start();
    const int bad_topics[] = { MAILBOX_TOPIC_INVALID, MAILBOX_TOPIC_MAX, 42, INT_MIN, INT_MAX };
    mailbox_topic_stats stats;
    int data = 0;
    for (unsigned i = 0; i < sizeof(bad_topics) / sizeof(bad_topics[0]); i++) {
        mailbox_topic t = (mailbox_topic)bad_topics[i];
        EXPECT_INT(mailbox_register_topic_handler(t, generator, NULL, NULL, true), -1, 1);
        EXPECT_VOID(mailbox_unregister_topic_handler(t), 1);
        EXPECT_VOID(mailbox_publish(t, &data), 1);
        EXPECT_NULL(mailbox_subscribe(t), 1);
        EXPECT_INT(mailbox_get_topic_stats(t, &stats), -1, 1);
        EXPECT_INT(mailbox_set_subscriber_timeout(t, 10), -1, 1);
        EXPECT_INT(mailbox_set_subscriber_capacity(t, 10), -1, 1);
    }
    mailbox_topic t = MAILBOX_TOPIC_CRI_CONTAINER;

    /* Not registered: publishing is the daemon's normal, silent case. */
    EXPECT_VOID(mailbox_publish(t, &data), 0);
    EXPECT_NULL(mailbox_subscribe(t), 1);
    EXPECT_INT(mailbox_get_topic_stats(t, &stats), -1, 1);
    EXPECT_VOID(mailbox_unregister_topic_handler(t), 1);

    EXPECT_INT(mailbox_register_topic_handler(t, NULL, NULL, NULL, true), -1, 1);
    EXPECT_INT(mailbox_register_topic_handler(t, generator, NULL, NULL, true), 0, 0);
    EXPECT_INT(mailbox_register_topic_handler(t, generator, NULL, NULL, true), -1, 1); /* twice */
    EXPECT_INT(mailbox_get_topic_stats(t, NULL), -1, 1);
    message_subscriber *sub = mailbox_subscribe(t);
    CHECK(sub != NULL);
    EXPECT_VOID(mailbox_unsubscribe(t, NULL), 1);
    EXPECT_VOID(mailbox_unsubscribe((mailbox_topic)7, sub), 1);
    EXPECT_VOID(mailbox_unsubscribe(t, sub), 0);
    EXPECT_VOID(mailbox_unsubscribe(t, sub), 1); /* twice */
    message_subscriber_destroy(sub);
    EXPECT_INT(mailbox_set_subscriber_timeout(t, INT64_MIN), 0, 0);
    EXPECT_INT(mailbox_set_subscriber_timeout(t, INT64_MAX), 0, 0);
    EXPECT_INT(mailbox_set_subscriber_timeout(t, 1000), 0, 0);
    EXPECT_INT(mailbox_set_subscriber_capacity(t, (size_t)-1), 0, 0);
    EXPECT_INT(mailbox_set_subscriber_capacity(t, 0), 0, 0);
    mailbox_unregister_topic_handler(t);
    EXPECT_VOID(mailbox_unsubscribe(t, sub = message_subscriber_create(0, NULL)), 1); /* unregistered */
    message_subscriber_destroy(sub);

    /* A sync topic has nothing to subscribe to: NULL, not an error. */
    EXPECT_INT(mailbox_register_topic_handler(t, generator, NULL, NULL, false), 0, 0);
    EXPECT_NULL(mailbox_subscribe(t), 0);
    mailbox_unregister_topic_handler(t);
    stop();
}

static void log_callback_bad_input(void)
{
    start();
    EXPECT_VOID(mailbox_set_log_callback(count_records, (mailbox_log_level)99, NULL), 1);
    EXPECT_VOID(mailbox_set_log_callback(count_records, (mailbox_log_level)-1, NULL), 1);
    /* Unchanged by the invalid calls: records still come here. */
    EXPECT_INT(mailbox_message_ref(NULL), -1, 1);
    stop();
}

TEST_MAIN(TEST_CASE(blocking_queue_bad_input), TEST_CASE(mailbox_message_bad_input),
          TEST_CASE(message_subscriber_bad_input), TEST_CASE(message_queue_bad_input), TEST_CASE(mailbox_bad_input),
          TEST_CASE(log_callback_bad_input))
