/* mailbox.h: what its comments promise. Original API only. Each case leaves the
 * topic unregistered. */
#include <unistd.h>

#include "mailbox.h"

#include "check.h"

static int generator_calls;
static _Thread_local pthread_t generator_thread; /* set by the generator, read in the same thread */

/* A generator like the daemon's: makes a payload from the published data
 * (here an int id). */
static void *make_tracked(void *context, void *data)
{
    CHECK(context == (void *)&generator_calls);
    __atomic_fetch_add(&generator_calls, 1, __ATOMIC_SEQ_CST);
    generator_thread = pthread_self();
    int id = *(int *)data;
    return id < 0 ? NULL : tracked_new(id);
}

static int register_topic(bool async)
{
    return mailbox_register_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER, make_tracked, &generator_calls,
                                          tracked_release, async);
}

static void publish_id(int id)
{
    mailbox_publish(MAILBOX_TOPIC_CRI_CONTAINER, &id);
}

/* Pops one payload id within a few seconds; -1 for the NULL of shutdown. */
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

static void register_rejects_bad_input(void)
{
    CHECK_EQ(mailbox_register_topic_handler(MAILBOX_TOPIC_INVALID, make_tracked, NULL, NULL, true), -1);
    CHECK_EQ(mailbox_register_topic_handler(MAILBOX_TOPIC_MAX, make_tracked, NULL, NULL, true), -1);
    CHECK_EQ(mailbox_register_topic_handler((mailbox_topic)42, make_tracked, NULL, NULL, true), -1);
    CHECK_EQ(mailbox_register_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER, NULL, NULL, NULL, true), -1);
    CHECK(mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER) == NULL); /* nothing was registered */
}

/* The original overwrote the registration (leaking its queue and orphaning
 * its subscribers). */
static void register_twice_fails(void)
{
    CHECK_EQ(register_topic(true), 0);
    message_subscriber *sub = mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER);
    CHECK(sub != NULL);
    CHECK_EQ(register_topic(true), -1);
    CHECK_EQ(register_topic(false), -1);
    tracked_reset();
    publish_id(0);
    CHECK_EQ(pop_id(sub), 0); /* the first registration still serves */
    mailbox_unregister_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER);
    CHECK_EQ(pop_id(sub), -1);
    message_subscriber_destroy(sub);
    check_each_released_once(1);
}

static void async_topic_without_subscribers_does_not_generate(void)
{
    CHECK_EQ(register_topic(true), 0);
    generator_calls = 0;
    for (int i = 0; i < 100; i++) {
        publish_id(i);
    }
    CHECK_EQ(generator_calls, 0);
    mailbox_unregister_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER);
}

static void async_topic_delivers_generated_messages(void)
{
    tracked_reset();
    CHECK_EQ(register_topic(true), 0);
    message_subscriber *sub = mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER);
    CHECK(sub != NULL);
    generator_calls = 0;
    for (int i = 0; i < 50; i++) {
        publish_id(i);
    }
    publish_id(-1); /* the generator returns NULL: nothing is published */
    CHECK_EQ(generator_calls, 51);
    for (int i = 0; i < 50; i++) {
        CHECK_EQ(pop_id(sub), i);
    }
    mailbox_message *got = NULL;
    CHECK_EQ(message_subscriber_pop(sub, &got), ETIMEDOUT);
    mailbox_unsubscribe(MAILBOX_TOPIC_CRI_CONTAINER, sub);
    message_subscriber_destroy(sub);
    mailbox_unregister_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER);
    check_each_released_once(50);
}

/* The original leaked what a sync generator returned. */
static void sync_topic_generates_in_the_publisher_and_releases(void)
{
    tracked_reset();
    CHECK_EQ(register_topic(false), 0);
    CHECK(mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER) == NULL);
    generator_calls = 0;
    for (int i = 0; i < 10; i++) {
        publish_id(i);
        CHECK(pthread_equal(generator_thread, pthread_self()));
        CHECK_EQ(tracked_released(i), 1);
    }
    CHECK_EQ(generator_calls, 10);
    mailbox_unregister_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER);
    check_each_released_once(10);
}

static void bad_topics_are_ignored(void)
{
    int id = 0;
    generator_calls = 0;
    mailbox_publish(MAILBOX_TOPIC_CRI_CONTAINER, &id); /* not registered */
    mailbox_publish(MAILBOX_TOPIC_INVALID, &id);
    mailbox_publish(MAILBOX_TOPIC_MAX, &id);
    mailbox_publish((mailbox_topic)42, &id);
    CHECK_EQ(generator_calls, 0);
    CHECK(mailbox_subscribe(MAILBOX_TOPIC_INVALID) == NULL);
    CHECK(mailbox_subscribe(MAILBOX_TOPIC_MAX) == NULL);
    CHECK(mailbox_subscribe((mailbox_topic)-7) == NULL);
    mailbox_unsubscribe((mailbox_topic)42, NULL);
    mailbox_unsubscribe(MAILBOX_TOPIC_CRI_CONTAINER, NULL);
    mailbox_unregister_topic_handler(MAILBOX_TOPIC_INVALID);
    mailbox_unregister_topic_handler((mailbox_topic)42);
}

static void unregister_ends_streams_and_allows_register_again(void)
{
    tracked_reset();
    CHECK_EQ(register_topic(true), 0);
    message_subscriber *a = mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER);
    message_subscriber *b = mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER);
    publish_id(0);
    publish_id(1);
    CHECK_EQ(pop_id(a), 0);
    mailbox_unregister_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER);
    CHECK_EQ(pop_id(a), -1);
    CHECK_EQ(pop_id(b), -1);
    CHECK_EQ(pop_id(b), -1);
    generator_calls = 0;
    publish_id(2); /* unregistered: nothing happens */
    CHECK_EQ(generator_calls, 0);
    CHECK(mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER) == NULL);
    message_subscriber_destroy(a);
    message_subscriber_destroy(b);
    check_each_released_once(2);

    tracked_reset();
    CHECK_EQ(register_topic(true), 0);
    message_subscriber *c = mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER);
    CHECK(c != NULL);
    publish_id(0);
    CHECK_EQ(pop_id(c), 0);
    mailbox_unsubscribe(MAILBOX_TOPIC_CRI_CONTAINER, c);
    message_subscriber_destroy(c);
    mailbox_unregister_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER);
    check_each_released_once(1);
}

static void unsubscribe_stops_delivery(void)
{
    tracked_reset();
    CHECK_EQ(register_topic(true), 0);
    message_subscriber *sub = mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER);
    message_subscriber *other = mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER);
    publish_id(0);
    CHECK_EQ(pop_id(sub), 0);
    mailbox_unsubscribe(MAILBOX_TOPIC_CRI_CONTAINER, sub);
    mailbox_unsubscribe(MAILBOX_TOPIC_CRI_CONTAINER, sub); /* twice: logged, ignored */
    publish_id(1);
    CHECK_EQ(pop_id(other), 0);
    CHECK_EQ(pop_id(other), 1);
    mailbox_message *got = NULL;
    CHECK_EQ(message_subscriber_pop(sub, &got), ETIMEDOUT);
    message_subscriber_destroy(sub);
    message_subscriber_destroy(other);
    mailbox_unregister_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER);
    check_each_released_once(2);
}

/* A subscriber destroyed while still subscribed (a GetContainerEvents
 * stream that returned early) is detached: no delivery to freed memory,
 * and with nobody left the generator is not called. */
static void destroyed_subscriber_stops_generation(void)
{
    CHECK_EQ(register_topic(true), 0);
    message_subscriber *sub = mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER);
    message_subscriber_destroy(sub);
    generator_calls = 0;
    publish_id(0);
    CHECK_EQ(generator_calls, 0);
    mailbox_unregister_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER);
}

/* A release function may call back into the mailbox, even unregister or
 * register the topic: it runs with no lock held. */
/* iSulad's GetContainerEvents when its client goes away: the stream popped
 * an event (and unreffed it, __isula_auto_mailbox_message), more were
 * published while it was blocked writing to the dead client, then its
 * write fails and it unsubscribes and destroys the subscriber
 * (__isula_auto_subscriber) with those events queued. The original's
 * blocking_queue_clear applied the topic's release (the daemon's: `delete`
 * of a ContainerEventResponse) to the mailbox_message pointers, the stale
 * popped one included, and leaked the newest: the daemon's heap corrupted.
 * Each payload must be released once, by its message's last unref. */
static void stream_gone_with_events_queued(void)
{
    tracked_reset();
    CHECK_EQ(register_topic(true), 0);
    message_subscriber *sub = mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER);
    CHECK(sub != NULL);
    publish_id(0);
    CHECK_EQ(pop_id(sub), 0);
    for (int id = 1; id <= 3; id++) {
        publish_id(id);
    }
    mailbox_unsubscribe(MAILBOX_TOPIC_CRI_CONTAINER, sub);
    message_subscriber_destroy(sub);
    check_each_released_once(4);
    mailbox_unregister_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER);
}

static int reentrant_releases;

static void release_and_unregister(void *data)
{
    __atomic_fetch_add(&reentrant_releases, 1, __ATOMIC_SEQ_CST);
    tracked_release(data);
    mailbox_unregister_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER);
}

static void release_and_register_again(void *data)
{
    __atomic_fetch_add(&reentrant_releases, 1, __ATOMIC_SEQ_CST);
    tracked_release(data);
    mailbox_register_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER, make_tracked, &generator_calls, tracked_release,
                                   true);
}

static void release_may_call_back_into_the_mailbox(void)
{
    tracked_reset();
    reentrant_releases = 0;
    /* Sync topic: the release runs right after the generator. */
    CHECK_EQ(mailbox_register_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER, make_tracked, &generator_calls,
                                            release_and_unregister, false),
             0);
    publish_id(0);
    CHECK_EQ(reentrant_releases, 1);
    CHECK(mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER) == NULL); /* it did unregister */

    /* Async topic: a pending message released when the topic goes. */
    CHECK_EQ(mailbox_register_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER, make_tracked, &generator_calls,
                                            release_and_register_again, true),
             0);
    message_subscriber *sub = mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER);
    publish_id(1);
    mailbox_unregister_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER);
    CHECK_EQ(reentrant_releases, 2);
    message_subscriber_destroy(sub);
    sub = mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER); /* registered again by the release */
    CHECK(sub != NULL);
    message_subscriber_destroy(sub);
    mailbox_unregister_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER);
    check_each_released_once(2);
}

/* Unregistering detaches the old subscribers at once: a registration right
 * after has nobody to deliver to, and publishing must not generate. */
static void reregistered_topic_starts_without_subscribers(void)
{
    tracked_reset();
    CHECK_EQ(register_topic(true), 0);
    message_subscriber *a = mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER);
    message_subscriber *b = mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER);
    publish_id(0);
    mailbox_unregister_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER);
    CHECK_EQ(register_topic(true), 0);
    generator_calls = 0;
    publish_id(1);
    CHECK_EQ(generator_calls, 0);
    message_subscriber_destroy(a);
    message_subscriber_destroy(b);
    mailbox_unregister_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER);
    check_each_released_once(1);
}

/* A generator may publish in turn. Whatever that nested publish lets go of
 * (here: the message a shut-down but still attached subscriber refuses) is
 * released once the outermost publish holds nothing, so its release may
 * unregister the topic. The original design released it under the topic's
 * lock: the unregister waited for that lock on its own thread, forever. */
static int nested_outer = 1, nested_inner = 2;

static void *generate_and_publish_inner(void *context, void *data)
{
    (void)context;
    int id = *(int *)data;
    if (id == nested_outer) {
        mailbox_publish(MAILBOX_TOPIC_CRI_CONTAINER, &nested_inner);
    }
    return tracked_new(id);
}

static void release_inner_and_unregister(void *data)
{
    int id = ((tracked *)data)->id;
    tracked_release(data);
    if (id == nested_inner) {
        mailbox_unregister_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER);
    }
}

static void release_from_a_nested_publish_runs_outside_the_topic(void)
{
    tracked_reset();
    alarm(20); /* a deadlock fails the test instead of hanging it */
    CHECK_EQ(mailbox_register_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER, generate_and_publish_inner, NULL,
                                            release_inner_and_unregister, true),
             0);
    message_subscriber *sub = mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER);
    CHECK(sub != NULL);
    message_subscriber_shutdown(sub); /* still subscribed: refuses what it is given */
    mailbox_publish(MAILBOX_TOPIC_CRI_CONTAINER, &nested_outer);
    alarm(0);
    CHECK_EQ(tracked_released(nested_outer), 1);
    CHECK_EQ(tracked_released(nested_inner), 1);
    CHECK(mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER) == NULL); /* the release did unregister */
    message_subscriber_destroy(sub);
}

#define PUBLISHERS 3
#define PER_PUBLISHER 3000
#define SUBSCRIBERS 3

static void *publish_loop(void *arg)
{
    int publisher = *(int *)arg;
    for (int i = 0; i < PER_PUBLISHER; i++) {
        publish_id(publisher * PER_PUBLISHER + i);
    }
    return NULL;
}

typedef struct {
    message_subscriber *sub;
    int order[PUBLISHERS * PER_PUBLISHER];
} stream;

static void *stream_loop(void *arg)
{
    stream *s = (stream *)arg;
    for (int n = 0; n < PUBLISHERS * PER_PUBLISHER; n++) {
        s->order[n] = pop_id(s->sub);
        CHECK(s->order[n] >= 0);
    }
    return NULL;
}

static void concurrent_publishers_one_order(void)
{
    tracked_reset();
    CHECK_EQ(register_topic(true), 0);
    static stream streams[SUBSCRIBERS];
    pthread_t stream_threads[SUBSCRIBERS], publisher_threads[PUBLISHERS];
    int publishers[PUBLISHERS];
    for (int i = 0; i < SUBSCRIBERS; i++) {
        streams[i].sub = mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER);
        CHECK_EQ(pthread_create(&stream_threads[i], NULL, stream_loop, &streams[i]), 0);
    }
    for (int i = 0; i < PUBLISHERS; i++) {
        publishers[i] = i;
        CHECK_EQ(pthread_create(&publisher_threads[i], NULL, publish_loop, &publishers[i]), 0);
    }
    for (int i = 0; i < PUBLISHERS; i++) {
        pthread_join(publisher_threads[i], NULL);
    }
    for (int i = 0; i < SUBSCRIBERS; i++) {
        pthread_join(stream_threads[i], NULL);
    }
    for (int i = 1; i < SUBSCRIBERS; i++) {
        CHECK(memcmp(streams[0].order, streams[i].order, sizeof(streams[0].order)) == 0);
    }
    int last[PUBLISHERS] = { -1, -1, -1 };
    for (int n = 0; n < PUBLISHERS * PER_PUBLISHER; n++) {
        int id = streams[0].order[n];
        CHECK(id > last[id / PER_PUBLISHER]);
        last[id / PER_PUBLISHER] = id;
    }
    for (int i = 0; i < SUBSCRIBERS; i++) {
        mailbox_unsubscribe(MAILBOX_TOPIC_CRI_CONTAINER, streams[i].sub);
        message_subscriber_destroy(streams[i].sub);
    }
    mailbox_unregister_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER);
    check_each_released_once(PUBLISHERS * PER_PUBLISHER);
}

/* Registering and unregistering while other threads publish and subscribe
 * is not a data race: every generated payload is released exactly once. */
static int churn_stop;
static int churn_next_id;

static void *churn_publisher(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&churn_stop, __ATOMIC_SEQ_CST)) {
        int id = __atomic_fetch_add(&churn_next_id, 1, __ATOMIC_SEQ_CST);
        if (id >= TRACKED_MAX) {
            break;
        }
        publish_id(id);
    }
    return NULL;
}

static void *churn_subscriber(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&churn_stop, __ATOMIC_SEQ_CST)) {
        message_subscriber *sub = mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER);
        if (sub == NULL) {
            sleep_ms(1); /* unregistered just now */
            continue;
        }
        for (int i = 0; i < 5; i++) {
            mailbox_message *got = NULL;
            if (message_subscriber_pop(sub, &got) != 0 || got == NULL) {
                break;
            }
            mailbox_message_unref(got);
        }
        if (__atomic_load_n(&churn_next_id, __ATOMIC_SEQ_CST) % 2) {
            mailbox_unsubscribe(MAILBOX_TOPIC_CRI_CONTAINER, sub);
        }
        message_subscriber_destroy(sub);
    }
    return NULL;
}

static void register_unregister_race_is_safe(void)
{
    tracked_reset();
    __atomic_store_n(&churn_stop, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&churn_next_id, 0, __ATOMIC_SEQ_CST);
    pthread_t threads[4];
    CHECK_EQ(pthread_create(&threads[0], NULL, churn_publisher, NULL), 0);
    CHECK_EQ(pthread_create(&threads[1], NULL, churn_publisher, NULL), 0);
    CHECK_EQ(pthread_create(&threads[2], NULL, churn_subscriber, NULL), 0);
    CHECK_EQ(pthread_create(&threads[3], NULL, churn_subscriber, NULL), 0);
    int64_t end = now_ms() + 1000;
    while (now_ms() < end) {
        if (register_topic(true) == 0) {
            sleep_ms(2);
            mailbox_unregister_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER);
        }
    }
    __atomic_store_n(&churn_stop, 1, __ATOMIC_SEQ_CST);
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
    }
    /* Every payload the generator made was released once; ids that were
     * published while nobody listened were never made. */
    int made = 0;
    for (int id = 0; id < TRACKED_MAX; id++) {
        CHECK(tracked_released(id) <= 1);
        made += tracked_released(id);
    }
    CHECK_EQ(made, tracked_made_count);
    CHECK_EQ(tracked_bogus_releases, 0);
}

TEST_MAIN(TEST_CASE(register_rejects_bad_input), TEST_CASE(register_twice_fails),
          TEST_CASE(async_topic_without_subscribers_does_not_generate),
          TEST_CASE(async_topic_delivers_generated_messages),
          TEST_CASE(sync_topic_generates_in_the_publisher_and_releases), TEST_CASE(bad_topics_are_ignored),
          TEST_CASE(unregister_ends_streams_and_allows_register_again), TEST_CASE(unsubscribe_stops_delivery),
          TEST_CASE(destroyed_subscriber_stops_generation), TEST_CASE(stream_gone_with_events_queued),
          TEST_CASE(release_may_call_back_into_the_mailbox),
          TEST_CASE(reregistered_topic_starts_without_subscribers),
          TEST_CASE(release_from_a_nested_publish_runs_outside_the_topic), TEST_CASE(concurrent_publishers_one_order),
          TEST_CASE(register_unregister_race_is_safe))
