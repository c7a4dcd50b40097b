/* Allocation failure in isula_mailbox.h: the log callback replaced and put
 * back (out of memory, the old one stays and logs it), a bounded subscriber
 * (capacity and timeout set without allocating) whose messages push each
 * other out, message_queue_destroy with its subscriber alive, with the Nth
 * allocation failed, N = 1, 2, ... The harness, and what every run must
 * show: c-tests/oom.h. */
#include "oom.h"

/* Which callback receives records now: an invalid topic logs one error. */
static int active_sink(void)
{
    long before[2] = { sink_records[0], sink_records[1] };
    mailbox_topic_stats stats;
    probe p = probe_now();
    OOM_CHECK_EQ(mailbox_get_topic_stats(MAILBOX_TOPIC_INVALID, &stats), -1);
    EXPECT_REFUSED(p, "mailbox_get_topic_stats");
    int sink = sink_records[1] != before[1];
    OOM_CHECK_EQ(sink_records[sink] - before[sink], 1);
    return sink;
}

/* Replaces the log callback; out of memory, the old one stays and logs it. */
static void set_sink(int sink)
{
    int old = active_sink();
    probe p = probe_now();
    mailbox_set_log_callback(count_log, MAILBOX_LOG_WARN, sink ? &second_sink : NULL);
    if (fired_since(p)) {
        EXPECT_OOM(p, "mailbox_set_log_callback");
        OOM_CHECK_EQ(active_sink(), old);
    } else {
        EXPECT_OK(p);
        OOM_CHECK_EQ(active_sink(), sink);
    }
}

/* A bounded subscriber (capacity 1) alone on a topic: each message it takes
 * pushes out the previous one, whose last reference goes inside the
 * publish (its release deferred to the end of the outermost publish). */
static void publish_bounded(input in, message_subscriber *sub)
{
    mailbox_topic_stats before, after;
    OOM_CHECK_EQ(topic_stats(&before), 0);
    int made_from = gen.count;
    probe p = probe_now();
    mailbox_publish(TOPIC, &in);
    EXPECT_OK(p);
    OOM_CHECK_EQ(topic_stats(&after), 0);
    int made = gen.count - made_from;
    /* At most one item is still held, by the subscriber; every other is
     * released by now. */
    int held = 0;
    for (int i = 0; i < gen.count; i++) {
        held += item_released[gen.made[i]] == 0;
    }
    OOM_CHECK(after.pending <= 1);
    OOM_CHECK_EQ(held, (int)after.pending);
    OOM_CHECK((long)(after.published - before.published) <= made);
    if (!fired_since(p)) {
        OOM_CHECK_EQ(after.published - before.published, made);
        OOM_CHECK_EQ(after.delivered - before.delivered, made);
        if (made > 0) {
            OOM_CHECK_EQ(after.dropped - before.dropped, before.pending + made - 1);
            OOM_CHECK_EQ(after.pending, 1);
            OOM_CHECK_EQ(item_released[gen.made[gen.count - 1]], 0); /* the newest is kept */
        }
    }
    (void)sub;
}

static void scenario_isula_mailbox(void)
{
    memset(&gen, 0, sizeof(gen));
    /* The log callback is allocated: replaced, and put back. */
    set_sink(1);
    set_sink(0);

    /* A bounded topic; timeout and capacity allocate nothing. */
    probe p = probe_now();
    OOM_CHECK_EQ(mailbox_set_subscriber_capacity(TOPIC, 1), 0);
    EXPECT_NO_ALLOCATION(p);
    p = probe_now();
    int ret = mailbox_register_topic_handler(TOPIC, generate, &generator_context, item_release, true);
    if (ret == -1) {
        EXPECT_OOM(p, "mailbox_register_topic_handler");
    } else {
        EXPECT_OK(p);
        p = probe_now();
        message_subscriber *sub = mailbox_subscribe(TOPIC);
        if (sub == NULL) {
            EXPECT_OOM(p, "mailbox_subscribe");
        }
        p = probe_now();
        OOM_CHECK_EQ(mailbox_set_subscriber_capacity(TOPIC, 0), 0);
        OOM_CHECK_EQ(mailbox_set_subscriber_timeout(TOPIC, 0), 0);
        EXPECT_NO_ALLOCATION(p);
        if (sub != NULL) {
            publish_bounded((input){ 0, 0 }, sub);
            publish_bounded((input){ 0, 0 }, sub);
            publish_bounded((input){ 1, 0 }, sub); /* nested: the inner one is pushed out too */
            if (gen.inner_released_early) {
                OOM_CHECK_EQ(gen.inner_fired, 1);
                OOM_CHECK_EQ(gen.inner_errors, 1);
            }
            publish_bounded((input){ 0, 0 }, sub);
            mailbox_topic_stats stats;
            OOM_CHECK_EQ(topic_stats(&stats), 0);
            int got[4];
            OOM_CHECK_EQ(drain_ids(sub, got, 4), (int)stats.pending);
            p = probe_now();
            mailbox_unsubscribe(TOPIC, sub);
            message_subscriber_destroy(sub);
            EXPECT_NO_ALLOCATION(p);
        }
        p = probe_now();
        mailbox_unregister_topic_handler(TOPIC);
        EXPECT_NO_ALLOCATION(p);
    }
    OOM_CHECK_EQ(mailbox_set_subscriber_capacity(TOPIC, 0), 0);

    /* message_queue_destroy: its subscribers stay valid, shut down, and
     * what they held is released. */
    p = probe_now();
    message_queue *mq = message_queue_create(NULL);
    if (mq == NULL) {
        EXPECT_OOM(p, "message_queue_create");
        return;
    }
    p = probe_now();
    message_subscriber *sub = message_queue_subscribe(mq, NULL);
    if (sub == NULL) {
        EXPECT_OOM(p, "message_queue_subscribe");
    }
    mailbox_message *m = message_new(item_release);
    if (m != NULL) {
        int id = item_id(m->data);
        p = probe_now();
        int published = message_queue_publish(mq, m);
        OOM_CHECK(published == 0 || published == -1);
        if (published == -1) {
            EXPECT_OOM(p, "message_queue_publish");
            unref(m);
        }
        OOM_CHECK_EQ(item_released[id], sub == NULL || fired_since(p) ? 1 : 0);
    }
    p = probe_now();
    message_queue_destroy(mq);
    EXPECT_NO_ALLOCATION(p);
    if (sub != NULL) {
        mailbox_message *none = (mailbox_message *)&gen;
        OOM_CHECK_EQ(message_subscriber_pop(sub, &none), 0);
        OOM_CHECK(none == NULL);
        message_subscriber_destroy(sub);
    }
}

/* After the run: the callback back in place, allocated outside any run
 * (it lives on). */
static void cleanup_isula_mailbox(void)
{
    oom_bypass++;
    mailbox_set_log_callback(count_log, MAILBOX_LOG_WARN, NULL);
    oom_bypass--;
}

OOM_MAIN({ "isula_mailbox", scenario_isula_mailbox, cleanup_isula_mailbox, 0 })
