/* Allocation failure in mailbox.h's topics: register, subscribe, publish to
 * one and to three subscribers (nested, and a generator that makes
 * nothing), unsubscribe, unregister; a sync topic; a sync topic whose
 * release unregisters it, published nested. Each with the Nth allocation
 * failed, N = 1, 2, ... The harness (the generator these register
 * included), and what every run must show: c-tests/oom.h. */
#include "oom.h"

#define MAX_SUBSCRIBERS 3

/* Publishes `in` on the async topic with `count` attached subscribers and
 * checks what each received against what the generator made, and the
 * topic's counters: each (message, subscriber) pair is delivered or counted
 * dropped, the message made or not. */
static void publish_async(input in, message_subscriber **subs, int count)
{
    mailbox_topic_stats before, after;
    OOM_CHECK_EQ(topic_stats(&before), 0);
    OOM_CHECK_EQ((int)before.subscribers, count);
    int made_from = gen.count, calls = gen.calls, inner = gen.inner_publishes;
    probe p = probe_now();
    mailbox_publish(TOPIC, &in);
    EXPECT_OK(p);
    int fired = fired_since(p);
    int made = gen.count - made_from;
    /* Publishes that got past "nobody subscribes": this one and the inner. */
    int attempts = count > 0 ? 1 + (gen.inner_publishes - inner) : 0;
    int generator_skipped = attempts - (gen.calls - calls); /* no memory for the message */
    OOM_CHECK(generator_skipped == 0 || (generator_skipped == 1 && fired));
    OOM_CHECK_EQ(topic_stats(&after), 0);

    long delivered = 0;
    for (int s = 0; s < count; s++) {
        int got[64];
        int n = drain_ids(subs[s], got, 64);
        /* In the order made (an inner publish's first), gaps only where a
         * failure was injected. */
        int next = made_from;
        for (int i = 0; i < n; i++) {
            while (next < gen.count && gen.made[next] != got[i]) {
                next++;
            }
            OOM_CHECK(next < gen.count);
            next++;
        }
        if (!fired) {
            OOM_CHECK_EQ(n, made);
        }
        delivered += n;
    }
    for (int i = made_from; i < gen.count; i++) {
        OOM_CHECK_EQ(item_released[gen.made[i]], 1); /* all references gone */
    }
    OOM_CHECK_EQ(after.published - before.published, made);
    OOM_CHECK_EQ((long)(after.delivered - before.delivered), delivered);
    long dropped = (long)(after.dropped - before.dropped);
    OOM_CHECK_EQ(delivered + dropped, (long)count * (made + generator_skipped));
    OOM_CHECK(fired ? dropped >= 1 : dropped == 0); /* a miss is counted */
    OOM_CHECK_EQ((long)after.pending, delivered);  /* held until popped */
    OOM_CHECK_EQ(topic_stats(&after), 0);
    OOM_CHECK_EQ(after.pending, 0);
}

static void mailbox_scenario(int subscribers)
{
    memset(&gen, 0, sizeof(gen));
    probe p = probe_now();
    int ret = mailbox_register_topic_handler(TOPIC, generate, &generator_context, item_release, true);
    if (current_n == 1) {
        OOM_CHECK_EQ(ret, -1);
    }
    if (ret == -1) {
        EXPECT_OOM(p, "mailbox_register_topic_handler");
        /* Nothing registered. */
        mailbox_topic_stats stats;
        p = probe_now();
        OOM_CHECK_EQ(mailbox_get_topic_stats(TOPIC, &stats), -1);
        EXPECT_REFUSED(p, "mailbox_get_topic_stats");
        return;
    }
    OOM_CHECK_EQ(ret, 0);
    EXPECT_OK(p);

    message_subscriber *subs[MAX_SUBSCRIBERS];
    int count = 0;
    for (int i = 0; i < subscribers; i++) {
        p = probe_now();
        message_subscriber *sub = mailbox_subscribe(TOPIC);
        if (sub == NULL) {
            EXPECT_OOM(p, "mailbox_subscribe");
            continue;
        }
        EXPECT_OK(p);
        subs[count++] = sub;
    }

    publish_async((input){ 0, 0 }, subs, count);
    publish_async((input){ 1, 0 }, subs, count); /* nested */
    publish_async((input){ 0, 1 }, subs, count); /* nothing made */
    publish_async((input){ 0, 0 }, subs, count);
    OOM_CHECK_EQ(gen.inner_released_early, 0); /* nothing is released inside these */

    /* Unsubscribed, the first gets nothing more. */
    if (count > 0) {
        message_subscriber *gone = subs[0];
        p = probe_now();
        mailbox_unsubscribe(TOPIC, gone);
        EXPECT_NO_ALLOCATION(p);
        publish_async((input){ 0, 0 }, subs + 1, count - 1);
        mailbox_message *m = NULL;
        OOM_CHECK_EQ(message_subscriber_pop(gone, &m), ETIMEDOUT);
    }

    /* Unregistered: every subscriber still subscribed is shut down (its pop
     * returns NULL at once); the unsubscribed one is left alone. */
    p = probe_now();
    mailbox_unregister_topic_handler(TOPIC);
    EXPECT_NO_ALLOCATION(p);
    for (int i = 0; i < count; i++) {
        mailbox_message *m = (mailbox_message *)&gen;
        OOM_CHECK_EQ(message_subscriber_pop(subs[i], &m), i == 0 ? ETIMEDOUT : 0);
        OOM_CHECK(i == 0 || m == NULL);
        p = probe_now();
        message_subscriber_destroy(subs[i]);
        EXPECT_NO_ALLOCATION(p);
    }
}

static void scenario_mailbox_1(void)
{
    mailbox_scenario(1);
}

static void scenario_mailbox_3(void)
{
    mailbox_scenario(3);
}

/* A sync topic: the generator runs in the publisher and its result is
 * released at once; released inside the publish, so its release is
 * deferred to the end of the outermost publish. */
static void publish_sync(input in)
{
    int made_from = gen.count, calls = gen.calls, inner = gen.inner_publishes;
    probe p = probe_now();
    mailbox_publish(TOPIC, &in);
    EXPECT_OK(p);
    /* The generator is skipped only when its message could not be made. */
    int skipped = 1 + (gen.inner_publishes - inner) - (gen.calls - calls);
    OOM_CHECK(skipped == 0 || (skipped == 1 && fired_since(p)));
    for (int i = made_from; i < gen.count; i++) {
        OOM_CHECK_EQ(item_released[gen.made[i]], 1);
    }
}

static void scenario_mailbox_sync(void)
{
    memset(&gen, 0, sizeof(gen));
    probe p = probe_now();
    int ret = mailbox_register_topic_handler(TOPIC, generate, &generator_context, item_release, false);
    if (current_n == 1) {
        OOM_CHECK_EQ(ret, -1);
    }
    if (ret == -1) {
        EXPECT_OOM(p, "mailbox_register_topic_handler");
        return;
    }
    EXPECT_OK(p);
    /* Nothing to subscribe to, and that is not an error. */
    p = probe_now();
    OOM_CHECK(mailbox_subscribe(TOPIC) == NULL);
    EXPECT_NO_ALLOCATION(p);

    publish_sync((input){ 0, 0 });
    publish_sync((input){ 1, 0 }); /* nested */
    /* The inner item is released once the outer publish returns, never
     * inside it: deferring needs no allocation. */
    OOM_CHECK(gen.inner_publishes <= 1);
    OOM_CHECK_EQ(gen.inner_released_early, 0);
    publish_sync((input){ 0, 1 });
    publish_sync((input){ 0, 0 });

    mailbox_topic_stats stats;
    OOM_CHECK_EQ(topic_stats(&stats), 0);
    OOM_CHECK_EQ(stats.published + stats.delivered + stats.dropped + stats.pending + stats.subscribers, 0);
    p = probe_now();
    mailbox_unregister_topic_handler(TOPIC);
    EXPECT_NO_ALLOCATION(p);
}

/* A sync topic whose release function unregisters the topic (the contract
 * allows it: releases run once the outermost publish returned, with no lock
 * held), published with a nested publish: the inner publish lets go of its
 * message inside the outer one. Deferring that release must not depend on
 * an allocation: if it ran at once, inside the generator, unregistering
 * would wait for the very publish it runs in (the alarm names the run). */
static int unregistering_releases;

static void unregistering_release(void *data)
{
    item_release(data);
    unregistering_releases++;
    mailbox_unregister_topic_handler(TOPIC);
}

static void scenario_release_unregisters(void)
{
    memset(&gen, 0, sizeof(gen));
    unregistering_releases = 0;
    probe p = probe_now();
    int ret = mailbox_register_topic_handler(TOPIC, generate, &generator_context, unregistering_release, false);
    if (current_n == 1) {
        OOM_CHECK_EQ(ret, -1);
    }
    if (ret == -1) {
        EXPECT_OOM(p, "mailbox_register_topic_handler");
        return;
    }
    alarm(10);
    p = probe_now();
    input nested = { 1, 0 };
    mailbox_publish(TOPIC, &nested);
    alarm(0);
    EXPECT_OK(p);
    /* Each item made was released once, after both publishes returned
     * (none inside the generator); the first release unregistered. */
    OOM_CHECK_EQ(gen.inner_released_early, 0);
    OOM_CHECK_EQ(unregistering_releases, gen.count);
    for (int i = 0; i < gen.count; i++) {
        OOM_CHECK_EQ(item_released[gen.made[i]], 1);
    }
    mailbox_topic_stats stats;
    if (gen.count > 0) {
        p = probe_now();
        OOM_CHECK_EQ(mailbox_get_topic_stats(TOPIC, &stats), -1);
        EXPECT_REFUSED(p, "mailbox_get_topic_stats");
    } else {
        mailbox_unregister_topic_handler(TOPIC);
    }
}

OOM_MAIN({ "mailbox_1_subscriber", scenario_mailbox_1, NULL, 0 },
         { "mailbox_3_subscribers", scenario_mailbox_3, NULL, 0 },
         { "mailbox_sync_topic", scenario_mailbox_sync, NULL, 0 },
         { "release_unregisters", scenario_release_unregisters, NULL, 0 })
