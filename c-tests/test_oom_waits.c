/* Waiting with no memory left: with every allocation failing,
 * mailbox_unregister_topic_handler waits for a generator and
 * mailbox_set_log_callback for a log callback, each running in another
 * thread. Run once (threads, made before memory runs out), not with the Nth
 * allocation failed. The harness: c-tests/oom.h. */
#include "oom.h"

/* A thread that must wait on a lock of the library while every allocation
 * fails: unregister waiting for a generator that runs in another thread,
 * and mailbox_set_log_callback waiting for a log callback that runs in
 * another thread. A lock that allocates on its first wait (parking_lot's
 * parking table) would abort the daemon here. Not one of the N-loop
 * scenarios: it needs threads, made before memory runs out. */
static atomic_int gate_open;
static atomic_int inside;

static void wait_at_gate(void)
{
    atomic_store(&inside, 1);
    while (!atomic_load(&gate_open)) {
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
}

static void *gated_generate(void *context, void *data)
{
    (void)context;
    wait_at_gate();
    return data;
}

static void *publish_in_thread(void *arg)
{
    mailbox_publish(TOPIC, arg);
    return NULL;
}

static void *open_gate_later(void *arg)
{
    (void)arg;
    struct timespec ts = { 0, 100000000 };
    nanosleep(&ts, NULL);
    atomic_store(&gate_open, 1);
    return NULL;
}

static int gated_log_calls;

static void gated_log(mailbox_log_level level, const char *message, void *user)
{
    (void)level;
    (void)message;
    (void)user;
    gated_log_calls++;
    wait_at_gate();
}

static void *log_in_thread(void *arg)
{
    (void)arg;
    mailbox_topic_stats stats;
    /* An invalid topic: one error record, through the gated callback. */
    CHECK_EQ(mailbox_get_topic_stats((mailbox_topic)99, &stats), -1);
    return NULL;
}

/* Starts `body` in a thread, waits until it is held at the gate, starts the
 * thread that opens it later, then exhausts memory for good. */
static void hold_at_gate(void *(*body)(void *), void *arg, pthread_t *held, pthread_t *opener)
{
    atomic_store(&gate_open, 0);
    atomic_store(&inside, 0);
    CHECK_EQ(pthread_create(held, NULL, body, arg), 0);
    while (!atomic_load(&inside)) {
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
    CHECK_EQ(pthread_create(opener, NULL, open_gate_later, NULL), 0);
    lock();
    oom_fail_all = 1;
    unlock();
}

static void memory_back(pthread_t held, pthread_t opener)
{
    lock();
    oom_fail_all = 0;
    unlock();
    CHECK_EQ(pthread_join(held, NULL), 0);
    CHECK_EQ(pthread_join(opener, NULL), 0);
}

static void waits_with_no_memory(void)
{
    pthread_t held, opener;
    alarm(10);

    /* Unregister waits for a generator running in another thread. */
    item *it = item_new();
    CHECK_EQ(mailbox_register_topic_handler(TOPIC, gated_generate, NULL, item_release, true), 0);
    message_subscriber *sub = mailbox_subscribe(TOPIC);
    CHECK(sub != NULL);
    hold_at_gate(publish_in_thread, it, &held, &opener);
    long fired = fired_count();
    mailbox_unregister_topic_handler(TOPIC); /* waits for the generator */
    CHECK(atomic_load(&gate_open));
    memory_back(held, opener);
    /* The subscriber was shut down; the item made meanwhile was delivered
     * and dropped, or never queued: released once either way. */
    mailbox_message *m = (mailbox_message *)&gen;
    CHECK_EQ(message_subscriber_pop(sub, &m), 0);
    CHECK(m == NULL);
    message_subscriber_destroy(sub);
    CHECK_EQ(item_released[it->id], 1);

    /* Setting the log callback waits for the one running in another thread. */
    gated_log_calls = 0;
    mailbox_set_log_callback(gated_log, MAILBOX_LOG_WARN, NULL);
    hold_at_gate(log_in_thread, NULL, &held, &opener);
    mailbox_set_log_callback(NULL, MAILBOX_LOG_WARN, NULL); /* waits for gated_log */
    CHECK(atomic_load(&gate_open));
    memory_back(held, opener);
    CHECK_EQ(gated_log_calls, 1);
    mailbox_set_log_callback(count_log, MAILBOX_LOG_WARN, NULL);

    alarm(0);
    fprintf(stderr, "oom: waits_with_no_memory: unregister and set_log_callback waited with every allocation "
                    "failing (%ld failed), all passed\n",
            fired_count() - fired);
}

OOM_MAIN({ "waits_with_no_memory", waits_with_no_memory, NULL, 1 })
