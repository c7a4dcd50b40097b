/* Churn: publishers on several threads; subscribers that subscribe, pop a
 * random number of messages, then unsubscribe and destroy, or destroy while
 * still subscribed (a GetContainerEvents client that went away); and the
 * topic unregistered and registered again while all that runs.
 *
 * Invariant: every payload the generator made is released exactly once,
 * nothing else is released; no crash, no hang.
 *
 * Bounded: ISULA_MAILBOX_CHURN_SECONDS (default 2) of churn, then a clean
 * stop. Runs as is, under valgrind, and under the sanitizers (.ci/run).
 *
 * ISULA_MAILBOX_CHURN_SOAK=1 (scripts/soak, which runs it for minutes and
 * samples its resident set): publishers hold back while more than
 * SOAK_MAX_LIVE payloads are alive. Without that, a subscriber the
 * scheduler leaves off its CPU for a while lets its inbox grow with
 * whatever is published meanwhile, and the resident set follows the
 * largest such backlog so far: growth that is no leak. With it, the
 * working set is bounded and any growth is the library's. */
#include <sched.h>
#include <stdatomic.h>

#include "isula_mailbox.h"

#include "check.h"

#define PAYLOAD_MAGIC 0x6d61696cu
#define PUBLISHERS 3
#define SUBSCRIBERS 4

/* Payload ids are slots, taken while the payload lives and given back by
 * its release: a run of any length recycles them (a soak makes hundreds of
 * millions), and a release of a slot that is not taken (a second release,
 * or one of something never made) is caught. The slots are touched up
 * front, so that the soak's resident set does not grow with the ids used. */
#define SLOTS (1 << 20)
#define SOAK_MAX_LIVE 4096

typedef struct {
    unsigned magic;
    int id;
} payload;

static atomic_uchar *taken; /* per slot: 1 while its payload lives */
static atomic_ulong next_slot;
static atomic_long made, released;
static atomic_long no_free_slot; /* generator calls that found every slot taken */
static atomic_int bogus_releases;
static atomic_int stop;
static int soak;
static atomic_long subscriptions, popped;

static void *generate(void *context, void *data)
{
    (void)context;
    (void)data;
    for (int tries = 0; tries < 64; tries++) {
        int id = (int)(atomic_fetch_add(&next_slot, 1) % SLOTS);
        unsigned char free_slot = 0;
        if (!atomic_compare_exchange_strong(&taken[id], &free_slot, 1)) {
            continue; /* still alive from a lap ago */
        }
        payload *p = (payload *)malloc(sizeof(*p));
        CHECK(p != NULL);
        p->magic = PAYLOAD_MAGIC;
        p->id = id;
        atomic_fetch_add(&made, 1);
        return p;
    }
    /* Payloads are not released: the slots run out. Checked at the end. */
    atomic_fetch_add(&no_free_slot, 1);
    return NULL;
}

static void release(void *data)
{
    payload *p = (payload *)data;
    if (p == NULL || p->magic != PAYLOAD_MAGIC || p->id < 0 || p->id >= SLOTS) {
        atomic_fetch_add(&bogus_releases, 1);
        return;
    }
    unsigned char taken_slot = 1;
    if (!atomic_compare_exchange_strong(&taken[p->id], &taken_slot, 0)) {
        atomic_fetch_add(&bogus_releases, 1);
        return;
    }
    atomic_fetch_add(&released, 1);
    p->magic = 0;
    free(p);
}

/* The churn makes the library log (subscribing to an unregistered topic,
 * unsubscribing an ended stream): counted, not printed. */
static atomic_long log_records;

static void count_log(mailbox_log_level level, const char *message, void *user)
{
    (void)level;
    (void)message;
    (void)user;
    atomic_fetch_add(&log_records, 1);
}

static void *publisher(void *arg)
{
    (void)arg;
    cri_container_message_t msg = { "container", "sandbox", CRI_CONTAINER_MESSAGE_TYPE_STARTED };
    while (!atomic_load(&stop)) {
        while (soak && atomic_load(&made) - atomic_load(&released) > SOAK_MAX_LIVE && !atomic_load(&stop)) {
            sched_yield();
        }
        mailbox_publish(MAILBOX_TOPIC_CRI_CONTAINER, &msg);
    }
    return NULL;
}

static void *subscriber(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    while (!atomic_load(&stop)) {
        message_subscriber *sub = mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER);
        if (sub == NULL) {
            sleep_ms(1); /* unregistered right now */
            continue;
        }
        atomic_fetch_add(&subscriptions, 1);
        int pops = rand_r(&seed) % 20;
        for (int i = 0; i < pops; i++) {
            mailbox_message *msg = NULL;
            int ret = message_subscriber_pop(sub, &msg);
            if (ret == ETIMEDOUT) {
                continue;
            }
            CHECK_EQ(ret, 0);
            if (msg == NULL) {
                break; /* the topic was unregistered: the stream ends */
            }
            CHECK(((payload *)msg->data)->magic == PAYLOAD_MAGIC);
            mailbox_message_unref(msg);
            atomic_fetch_add(&popped, 1);
        }
        switch (rand_r(&seed) % 3) {
            case 0:
                mailbox_unsubscribe(MAILBOX_TOPIC_CRI_CONTAINER, sub);
                message_subscriber_destroy(sub);
                break;
            case 1:
                message_subscriber_destroy(sub); /* still subscribed */
                break;
            default: {
                /* keep one message past the subscriber's end */
                mailbox_message *kept = NULL;
                if (message_subscriber_pop(sub, &kept) != 0) {
                    kept = NULL;
                }
                message_subscriber_destroy(sub);
                mailbox_message_unref(kept);
            }
        }
    }
    return NULL;
}

static void churn(void)
{
    const char *env = getenv("ISULA_MAILBOX_CHURN_SECONDS");
    int seconds = env != NULL ? atoi(env) : 2;
    env = getenv("ISULA_MAILBOX_CHURN_SOAK");
    soak = env != NULL && strcmp(env, "1") == 0;
    taken = (atomic_uchar *)calloc(SLOTS, sizeof(*taken));
    CHECK(taken != NULL);
    for (int id = 0; id < SLOTS; id += 1024) {
        atomic_store(&taken[id], 0); /* fault the pages in now */
    }
    mailbox_set_log_callback(count_log, MAILBOX_LOG_WARN, NULL);
    /* Short pops, so that subscribers churn even when little is published. */
    CHECK_EQ(mailbox_set_subscriber_timeout(MAILBOX_TOPIC_CRI_CONTAINER, 5), 0);

    pthread_t publishers[PUBLISHERS], subscribers[SUBSCRIBERS];
    for (int i = 0; i < PUBLISHERS; i++) {
        CHECK_EQ(pthread_create(&publishers[i], NULL, publisher, NULL), 0);
    }
    for (int i = 0; i < SUBSCRIBERS; i++) {
        CHECK_EQ(pthread_create(&subscribers[i], NULL, subscriber, (void *)(uintptr_t)(i + 1)), 0);
    }
    unsigned seed = 42;
    int registrations = 0;
    int64_t end = now_ms() + seconds * 1000;
    while (now_ms() < end) {
        CHECK_EQ(mailbox_register_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER, generate, NULL, release, true), 0);
        registrations++;
        sleep_ms(rand_r(&seed) % 20);
        mailbox_unregister_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER);
        sleep_ms(rand_r(&seed) % 3);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < PUBLISHERS; i++) {
        pthread_join(publishers[i], NULL);
    }
    for (int i = 0; i < SUBSCRIBERS; i++) {
        pthread_join(subscribers[i], NULL);
    }

    /* Every topic is unregistered and every subscriber destroyed: every
     * payload made is released, each once. */
    for (int id = 0; id < SLOTS; id++) {
        if (atomic_load(&taken[id]) != 0) {
            fprintf(stderr, "payload in slot %d never released\n", id);
        }
        CHECK_EQ(atomic_load(&taken[id]), 0);
    }
    CHECK_EQ(atomic_load(&bogus_releases), 0);
    CHECK_EQ(atomic_load(&no_free_slot), 0);
    CHECK_EQ(atomic_load(&released), atomic_load(&made));
    mailbox_set_log_callback(NULL, MAILBOX_LOG_WARN, NULL);
    fprintf(stderr,
            "churn: %d s, %d registrations, %ld subscriptions, %ld payloads made and released once each, %ld popped, "
            "%ld log records\n",
            seconds, registrations, atomic_load(&subscriptions), atomic_load(&made), atomic_load(&popped),
            atomic_load(&log_records));
    CHECK(registrations > 1);
    CHECK_EQ(mailbox_set_subscriber_timeout(MAILBOX_TOPIC_CRI_CONTAINER, 1000), 0);
    free((void *)taken);
}

TEST_MAIN(TEST_CASE(churn))
