/* isula_mailbox.h: what the library adds, as its comments promise. */
#include "isula_mailbox.h"

#include "check.h"

static mailbox_message *tracked_message(int id)
{
    mailbox_message *msg = mailbox_message_create(tracked_new(id), tracked_release);
    CHECK(msg != NULL);
    return msg;
}

static void *make_tracked(void *context, void *data)
{
    (void)context;
    return tracked_new(*(int *)data);
}

static void publish_id(int id)
{
    mailbox_publish(MAILBOX_TOPIC_CRI_CONTAINER, &id);
}

static int pop_now(message_subscriber *sub)
{
    mailbox_message *got = NULL;
    int ret = message_subscriber_pop(sub, &got);
    if (ret != 0) {
        return -2;
    }
    if (got == NULL) {
        return -1;
    }
    int id = ((tracked *)got->data)->id;
    mailbox_message_unref(got);
    return id;
}

static void message_queue_destroy_frees_and_ends_subscribers(void)
{
    tracked_reset();
    message_queue_destroy(NULL);
    message_queue *mq = message_queue_create(NULL);
    message_subscriber *sub = message_queue_subscribe(mq, NULL);
    CHECK_EQ(message_queue_publish(mq, tracked_message(0)), 0);
    CHECK_EQ(message_queue_publish(mq, tracked_message(1)), 0);
    message_queue_destroy(mq);
    check_each_released_once(2); /* pending messages were dropped */
    CHECK_EQ(pop_now(sub), -1);  /* the stream ends */
    CHECK_EQ(pop_now(sub), -1);
    message_subscriber_destroy(sub); /* after its queue is gone: fine */

    /* A subscriber destroyed before its queue. */
    mq = message_queue_create(NULL);
    sub = message_queue_subscribe(mq, NULL);
    message_subscriber_destroy(sub);
    message_queue_destroy(mq);
}

typedef struct {
    int calls;
    int errors;
    int warnings;
    char last[256];
} log_record;

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static void capture_log(mailbox_log_level level, const char *message, void *user)
{
    log_record *records = (log_record *)user;
    pthread_mutex_lock(&log_lock);
    records->calls++;
    records->errors += level == MAILBOX_LOG_ERROR;
    records->warnings += level == MAILBOX_LOG_WARN;
    snprintf(records->last, sizeof(records->last), "%s", message);
    pthread_mutex_unlock(&log_lock);
}

static void log_callback_receives_records_up_to_its_level(void)
{
    log_record records;
    memset(&records, 0, sizeof(records));
    mailbox_set_log_callback(capture_log, MAILBOX_LOG_WARN, &records);

    CHECK(mailbox_subscribe((mailbox_topic)42) == NULL);
    CHECK_EQ(records.calls, 1);
    CHECK_EQ(records.errors, 1);
    CHECK(strstr(records.last, "mailbox_subscribe") != NULL);
    CHECK(strstr(records.last, "42") != NULL);

    message_queue *mq = message_queue_create(NULL);
    message_subscriber *loose = message_subscriber_create(0, NULL);
    message_queue_unsubscribe(mq, loose); /* a warning */
    CHECK_EQ(records.calls, 2);
    CHECK_EQ(records.warnings, 1);

    mailbox_set_log_callback(capture_log, MAILBOX_LOG_ERROR, &records);
    message_queue_unsubscribe(mq, loose); /* above ERROR: not delivered */
    CHECK_EQ(records.calls, 2);

    mailbox_set_log_callback(capture_log, (mailbox_log_level)99, &records); /* invalid: logged, unchanged */
    CHECK_EQ(records.calls, 3);
    CHECK(strstr(records.last, "max_level") != NULL);

    mailbox_set_log_callback(NULL, MAILBOX_LOG_TRACE, NULL); /* back to stderr */
    CHECK(mailbox_subscribe((mailbox_topic)42) == NULL);
    CHECK_EQ(records.calls, 3);

    message_subscriber_destroy(loose);
    message_queue_destroy(mq);
}

/* What an operator follows a stream by, at debug level: each record named
 * after the C function it comes from. */
#define TRAIL_RECORDS 8
static char trail[TRAIL_RECORDS][256];
static int trail_count;

static void capture_trail(mailbox_log_level level, const char *message, void *user)
{
    (void)user;
    if (level == MAILBOX_LOG_DEBUG && trail_count < TRAIL_RECORDS) {
        snprintf(trail[trail_count++], sizeof(trail[0]), "%s", message);
    }
}

static void debug_records_follow_topics_and_subscribers(void)
{
    trail_count = 0;
    mailbox_set_log_callback(capture_trail, MAILBOX_LOG_DEBUG, NULL);
    CHECK_EQ(mailbox_register_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER, make_tracked, NULL, tracked_release, true), 0);
    message_subscriber *kept = mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER);
    message_subscriber *gone = mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER);
    CHECK(kept != NULL && gone != NULL);
    mailbox_unsubscribe(MAILBOX_TOPIC_CRI_CONTAINER, kept);
    message_subscriber_destroy(gone); /* still subscribed: detached */
    mailbox_unregister_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER);
    message_subscriber_destroy(kept); /* unsubscribed already: no record */
    mailbox_set_log_callback(NULL, MAILBOX_LOG_WARN, NULL);

    const char *want[] = {
        "mailbox_register_topic_handler: topic 0 registered",
        "mailbox_subscribe: subscriber 0x",
        "mailbox_subscribe: subscriber 0x",
        "mailbox_unsubscribe: subscriber 0x",
        "message_subscriber_destroy: subscriber 0x",
        "mailbox_unregister_topic_handler: topic 0 unregistered, 0 subscribers shut down",
    };
    CHECK_EQ(trail_count, (int)(sizeof(want) / sizeof(want[0])));
    for (int i = 0; i < trail_count; i++) {
        if (strncmp(trail[i], want[i], strlen(want[i])) != 0) {
            fprintf(stderr, "record %d: \"%s\", want \"%s...\"\n", i, trail[i], want[i]);
            CHECK(0);
        }
    }
    CHECK(strstr(trail[1], "attached to topic 0 (1 now)") != NULL);
    CHECK(strstr(trail[2], "attached to topic 0 (2 now)") != NULL);
    CHECK(strstr(trail[3], "detached from topic 0 (1 now)") != NULL);
    CHECK(strstr(trail[4], "destroyed while subscribed: detached") != NULL);
}

static int logging_stop;

static void *log_a_lot(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&logging_stop, __ATOMIC_SEQ_CST)) {
        CHECK(mailbox_subscribe((mailbox_topic)-3) == NULL); /* one error record each */
    }
    return NULL;
}

static void log_callback_can_change_while_threads_log(void)
{
    static log_record first, second;
    pthread_t threads[2];
    __atomic_store_n(&logging_stop, 0, __ATOMIC_SEQ_CST);
    mailbox_set_log_callback(capture_log, MAILBOX_LOG_ERROR, &first);
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(pthread_create(&threads[i], NULL, log_a_lot, NULL), 0);
    }
    for (int i = 0; i < 200; i++) {
        mailbox_set_log_callback(capture_log, MAILBOX_LOG_ERROR, i % 2 ? &first : &second);
    }
    mailbox_set_log_callback(capture_log, MAILBOX_LOG_ERROR, &first);
    pthread_mutex_lock(&log_lock);
    int second_calls = second.calls;
    pthread_mutex_unlock(&log_lock);
    sleep_ms(20);
    /* Once replaced, a callback is never called again. */
    pthread_mutex_lock(&log_lock);
    CHECK_EQ(second.calls, second_calls);
    pthread_mutex_unlock(&log_lock);
    __atomic_store_n(&logging_stop, 1, __ATOMIC_SEQ_CST);
    for (int i = 0; i < 2; i++) {
        pthread_join(threads[i], NULL);
    }
    mailbox_set_log_callback(NULL, MAILBOX_LOG_WARN, NULL);
    CHECK(first.calls > 0);
}

static void topic_stats_count_since_registration(void)
{
    tracked_reset();
    mailbox_topic_stats stats;
    CHECK_EQ(mailbox_get_topic_stats(MAILBOX_TOPIC_CRI_CONTAINER, &stats), -1); /* not registered */
    CHECK_EQ(mailbox_register_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER, make_tracked, NULL, tracked_release, true), 0);
    CHECK_EQ(mailbox_get_topic_stats(MAILBOX_TOPIC_CRI_CONTAINER, NULL), -1);
    CHECK_EQ(mailbox_get_topic_stats((mailbox_topic)7, &stats), -1);

    publish_id(99); /* nobody subscribes: not even generated */
    message_subscriber *a = mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER);
    message_subscriber *b = mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER);
    for (int i = 0; i < 3; i++) {
        publish_id(i);
    }
    CHECK_EQ(mailbox_get_topic_stats(MAILBOX_TOPIC_CRI_CONTAINER, &stats), 0);
    CHECK_EQ(stats.published, 3);
    CHECK_EQ(stats.delivered, 6);
    CHECK_EQ(stats.pending, 6);
    CHECK_EQ(stats.dropped, 0);
    CHECK_EQ(stats.subscribers, 2);

    CHECK_EQ(pop_now(a), 0);
    message_subscriber_destroy(b); /* still subscribed, 3 pending: dropped */
    CHECK_EQ(mailbox_get_topic_stats(MAILBOX_TOPIC_CRI_CONTAINER, &stats), 0);
    CHECK_EQ(stats.pending, 2);
    CHECK_EQ(stats.dropped, 3);
    CHECK_EQ(stats.subscribers, 1);

    mailbox_unsubscribe(MAILBOX_TOPIC_CRI_CONTAINER, a);
    message_subscriber_destroy(a);
    mailbox_unregister_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER);
    CHECK_EQ(mailbox_get_topic_stats(MAILBOX_TOPIC_CRI_CONTAINER, &stats), -1);

    CHECK_EQ(mailbox_register_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER, make_tracked, NULL, tracked_release, true), 0);
    CHECK_EQ(mailbox_get_topic_stats(MAILBOX_TOPIC_CRI_CONTAINER, &stats), 0);
    CHECK_EQ(stats.published, 0);
    CHECK_EQ(stats.delivered, 0);
    CHECK_EQ(stats.dropped, 0);
    CHECK_EQ(stats.pending, 0);
    CHECK_EQ(stats.subscribers, 0);
    mailbox_unregister_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER);
    check_each_released_once(3);
}

/* Stats belong to one registration: a fresh one starts at zero, and a
 * subscriber detached with mailbox_unsubscribe (not destroyed) counts
 * nowhere any more. */
static void stats_of_a_new_registration_ignore_old_subscribers(void)
{
    tracked_reset();
    mailbox_topic_stats stats;
    CHECK_EQ(mailbox_register_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER, make_tracked, NULL, tracked_release, true), 0);
    message_subscriber *old = mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER);
    for (int i = 0; i < 3; i++) {
        publish_id(i);
    }
    mailbox_unsubscribe(MAILBOX_TOPIC_CRI_CONTAINER, old); /* kept: still holds 3 */
    CHECK_EQ(mailbox_get_topic_stats(MAILBOX_TOPIC_CRI_CONTAINER, &stats), 0);
    CHECK_EQ(stats.pending, 0);
    CHECK_EQ(stats.subscribers, 0);
    mailbox_unregister_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER);

    CHECK_EQ(mailbox_register_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER, make_tracked, NULL, tracked_release, true), 0);
    mailbox_message *extra = tracked_message(3);
    CHECK_EQ(message_subscriber_push(old, extra), 0);
    mailbox_message_unref(extra);
    CHECK_EQ(mailbox_get_topic_stats(MAILBOX_TOPIC_CRI_CONTAINER, &stats), 0);
    CHECK_EQ(stats.published, 0);
    CHECK_EQ(stats.delivered, 0);
    CHECK_EQ(stats.dropped, 0);
    CHECK_EQ(stats.pending, 0);
    CHECK_EQ(stats.subscribers, 0);
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(pop_now(old), i); /* the detached subscriber still works */
    }
    message_subscriber_destroy(old);
    mailbox_unregister_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER);
    check_each_released_once(4);
}

static void subscriber_timeout_applies_to_new_subscribers(void)
{
    CHECK_EQ(mailbox_set_subscriber_timeout((mailbox_topic)-1, 10), -1);
    CHECK_EQ(mailbox_register_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER, make_tracked, NULL, tracked_release, true), 0);
    CHECK_EQ(mailbox_set_subscriber_timeout(MAILBOX_TOPIC_CRI_CONTAINER, 50), 0);
    message_subscriber *sub = mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER);
    mailbox_message *got = NULL;
    int64_t start = now_ms();
    CHECK_EQ(message_subscriber_pop(sub, &got), ETIMEDOUT);
    int64_t waited = now_ms() - start;
    CHECK(waited >= 50 && waited < 900);
    message_subscriber_destroy(sub);
    CHECK_EQ(mailbox_set_subscriber_timeout(MAILBOX_TOPIC_CRI_CONTAINER, 1000), 0);
    mailbox_unregister_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER);
}

static void bounded_subscriber_drops_its_oldest(void)
{
    tracked_reset();
    CHECK_EQ(mailbox_set_subscriber_capacity((mailbox_topic)5, 3), -1);
    CHECK_EQ(mailbox_register_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER, make_tracked, NULL, tracked_release, true), 0);
    CHECK_EQ(mailbox_set_subscriber_capacity(MAILBOX_TOPIC_CRI_CONTAINER, 3), 0);
    message_subscriber *slow = mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER);
    CHECK_EQ(mailbox_set_subscriber_capacity(MAILBOX_TOPIC_CRI_CONTAINER, 0), 0);
    message_subscriber *fast = mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER);
    for (int i = 0; i < 5; i++) {
        publish_id(i);
    }
    for (int i = 0; i < 5; i++) {
        CHECK_EQ(pop_now(fast), i);
    }
    CHECK_EQ(tracked_released(0), 1); /* dropped by the slow one, popped by the fast one */
    CHECK_EQ(tracked_released(1), 1);
    for (int i = 2; i < 5; i++) {
        CHECK_EQ(pop_now(slow), i); /* what it kept, in order */
    }
    mailbox_topic_stats stats;
    CHECK_EQ(mailbox_get_topic_stats(MAILBOX_TOPIC_CRI_CONTAINER, &stats), 0);
    CHECK_EQ(stats.dropped, 2);
    CHECK_EQ(stats.delivered, 10);
    CHECK_EQ(stats.pending, 0);
    message_subscriber_destroy(slow);
    message_subscriber_destroy(fast);
    mailbox_unregister_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER);
    check_each_released_once(5);
}

static void version_of_the_library_is_the_headers(void)
{
    const char *version = isula_mailbox_version();
    CHECK(version != NULL);
    CHECK_EQ(strcmp(version, ISULA_MAILBOX_VERSION), 0);
    char spelled[64];
    snprintf(spelled, sizeof(spelled), "%d.%d.%d", ISULA_MAILBOX_VERSION_MAJOR, ISULA_MAILBOX_VERSION_MINOR,
             ISULA_MAILBOX_VERSION_PATCH);
    CHECK_EQ(strcmp(version, spelled), 0);
    CHECK(isula_mailbox_version() == version); /* static: the same string every time */
}

TEST_MAIN(TEST_CASE(message_queue_destroy_frees_and_ends_subscribers),
          TEST_CASE(log_callback_receives_records_up_to_its_level),
          TEST_CASE(debug_records_follow_topics_and_subscribers),
          TEST_CASE(log_callback_can_change_while_threads_log), TEST_CASE(topic_stats_count_since_registration),
          TEST_CASE(stats_of_a_new_registration_ignore_old_subscribers),
          TEST_CASE(subscriber_timeout_applies_to_new_subscribers), TEST_CASE(bounded_subscriber_drops_its_oldest),
          TEST_CASE(version_of_the_library_is_the_headers))
