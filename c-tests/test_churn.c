/* Churn: publishers on several threads; subscribers that subscribe, pop a
 * random number of messages, then unsubscribe and destroy, or destroy while
 * still subscribed (a GetContainerEvents client that went away); and the
 * topic unregistered and registered again while all that runs.
 *
 * Invariant: every payload the generator made is released exactly once,
 * nothing else is released; no crash, no hang.
 *
 * Bounded: ISULA_MAILBOX_CHURN_SECONDS (default 2) of churn, then a clean
 * stop. Runs as is, under valgrind, and under the sanitizers (.ci/run). */
#include <stdatomic.h>

#include "isula_mailbox.h"

#include "check.h"

#define MAX_PAYLOADS 2000000
#define PAYLOAD_MAGIC 0x6d61696cu
#define PUBLISHERS 3
#define SUBSCRIBERS 4

typedef struct {
    unsigned magic;
    int id;
} payload;

static atomic_int next_id;
static atomic_uchar *releases; /* per id */
static atomic_int bogus_releases;
static atomic_int stop;

static void *generate(void *context, void *data)
{
    (void)context;
    (void)data;
    int id = atomic_fetch_add(&next_id, 1);
    if (id >= MAX_PAYLOADS) {
        return NULL; /* enough: publish nothing more */
    }
    payload *p = (payload *)malloc(sizeof(*p));
    CHECK(p != NULL);
    p->magic = PAYLOAD_MAGIC;
    p->id = id;
    return p;
}

static void release(void *data)
{
    payload *p = (payload *)data;
    if (p == NULL || p->magic != PAYLOAD_MAGIC || p->id < 0 || p->id >= MAX_PAYLOADS) {
        atomic_fetch_add(&bogus_releases, 1);
        return;
    }
    atomic_fetch_add(&releases[p->id], 1);
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
    releases = (atomic_uchar *)calloc(MAX_PAYLOADS, sizeof(*releases));
    CHECK(releases != NULL);
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

    int made = atomic_load(&next_id);
    if (made > MAX_PAYLOADS) {
        made = MAX_PAYLOADS;
    }
    long released = 0;
    for (int id = 0; id < MAX_PAYLOADS; id++) {
        int n = atomic_load(&releases[id]);
        if (id < made) {
            if (n != 1) {
                fprintf(stderr, "payload %d released %d times\n", id, n);
            }
            CHECK_EQ(n, 1);
        } else {
            CHECK_EQ(n, 0);
        }
        released += n;
    }
    CHECK_EQ(atomic_load(&bogus_releases), 0);
    mailbox_set_log_callback(NULL, MAILBOX_LOG_WARN, NULL);
    fprintf(stderr, "churn: %d s, %d registrations, %d payloads made and released once each, %ld log records\n",
            seconds, registrations, made, atomic_load(&log_records));
    CHECK(registrations > 1);
    CHECK_EQ(mailbox_set_subscriber_timeout(MAILBOX_TOPIC_CRI_CONTAINER, 1000), 0);
    free((void *)releases);
}

TEST_MAIN(TEST_CASE(churn))
