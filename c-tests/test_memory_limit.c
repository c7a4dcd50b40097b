/* Memory runs out for real: under an address-space limit (the
 * `ulimit -v 300000` an operator would set, here with RLIMIT_AS), push to one
 * blocking_queue until blocking_queue_push fails. The original C prints a
 * clean failure and drains; this library used to abort (SIGABRT in
 * VecDeque::grow). Now: the push returns -1 (one error record), the items
 * pushed before are all still there and drain in order, and the library
 * keeps working: a message can be made, topics publish and pop, and the
 * queue takes pushes again.
 *
 * Single-threaded. Skipped under AddressSanitizer/ThreadSanitizer (their
 * shadow memory needs terabytes of address space) and under valgrind (its
 * own allocator and address space): scripts/sanitize leaves it out too. */
#include <sys/resource.h>

#include "isula_mailbox.h"

#include "check.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#define LIMIT_KIB 300000L     /* the ulimit -v */
#define HEADROOM_KIB 204800L  /* at least this much above what the process maps already */

static long log_errors;
static char last_error[1100];

static void count_log(mailbox_log_level level, const char *message, void *user)
{
    (void)user;
    if (level == MAILBOX_LOG_ERROR) {
        log_errors++;
        strncpy(last_error, message, sizeof(last_error) - 1);
    }
}

/* A field of /proc/self/status, in kB; -1 if missing. */
static long status_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL) {
        return -1;
    }
    char line[256];
    long value = -1;
    size_t len = strlen(field);
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, field, len) == 0 && line[len] == ':') {
            value = atol(line + len + 1);
            break;
        }
    }
    fclose(f);
    return value;
}

static void release_payload(void *data)
{
    free(data);
}

static void *generate(void *context, void *data)
{
    (void)context;
    int *payload = (int *)malloc(sizeof(int));
    if (payload != NULL) {
        *payload = *(int *)data;
    }
    return payload;
}

/* After the failure: a topic publishes and its subscriber pops, many times. */
static void topics_still_work(void)
{
    CHECK_EQ(mailbox_set_subscriber_timeout(MAILBOX_TOPIC_CRI_CONTAINER, 0), 0);
    CHECK_EQ(mailbox_register_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER, generate, NULL, release_payload, true), 0);
    message_subscriber *sub = mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER);
    CHECK(sub != NULL);
    for (int round = 0; round < 100; round++) {
        for (int i = 0; i < 100; i++) {
            int value = round * 100 + i;
            mailbox_publish(MAILBOX_TOPIC_CRI_CONTAINER, &value);
        }
        for (int i = 0; i < 100; i++) {
            mailbox_message *m = NULL;
            CHECK_EQ(message_subscriber_pop(sub, &m), 0);
            CHECK(m != NULL);
            CHECK_EQ(*(int *)m->data, round * 100 + i);
            mailbox_message_unref(m);
        }
    }
    mailbox_topic_stats stats;
    CHECK_EQ(mailbox_get_topic_stats(MAILBOX_TOPIC_CRI_CONTAINER, &stats), 0);
    CHECK_EQ(stats.published, 10000);
    CHECK_EQ(stats.delivered, 10000);
    CHECK_EQ(stats.dropped, 0);
    CHECK_EQ(stats.pending, 0);
    mailbox_unsubscribe(MAILBOX_TOPIC_CRI_CONTAINER, sub);
    message_subscriber_destroy(sub);
    mailbox_unregister_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER);
    CHECK_EQ(mailbox_set_subscriber_timeout(MAILBOX_TOPIC_CRI_CONTAINER, 1000), 0);
}

static void push_until_out_of_memory(void)
{
    /* Logged through a callback set before the limit (it allocates). */
    mailbox_set_log_callback(count_log, MAILBOX_LOG_WARN, NULL);

    long mapped = status_kib("VmSize");
    CHECK(mapped > 0);
    long limit = LIMIT_KIB > mapped + HEADROOM_KIB ? LIMIT_KIB : mapped + HEADROOM_KIB;
    struct rlimit old;
    CHECK_EQ(getrlimit(RLIMIT_AS, &old), 0);
    if (old.rlim_cur != RLIM_INFINITY && old.rlim_cur < (rlim_t)limit * 1024) {
        limit = (long)(old.rlim_cur / 1024); /* already tighter */
    }
    struct rlimit capped = { (rlim_t)limit * 1024, old.rlim_max };
    CHECK_EQ(setrlimit(RLIMIT_AS, &capped), 0);
    fprintf(stderr, "memory limit: VmSize %ld kB, RLIMIT_AS %ld kB\n", mapped, limit);

    /* Items are the numbers 1, 2, ...: no allocation but the queue's. */
    blocking_queue *q = blocking_queue_create(0, NULL);
    CHECK(q != NULL);
    uintptr_t pushed = 0;
    int ret;
    while ((ret = blocking_queue_push(q, (void *)(pushed + 1))) == 0) {
        pushed++;
        CHECK(pushed < ((uintptr_t)1 << 40)); /* the limit must bite */
    }
    CHECK_EQ(ret, -1);
    CHECK_EQ(log_errors, 1);
    CHECK(strcmp(last_error, "blocking_queue_push: out of memory") == 0);
    fprintf(stderr, "memory limit: blocking_queue_push failed cleanly after %lu items (VmSize %ld kB): \"%s\"\n",
            (unsigned long)pushed, status_kib("VmSize"), last_error);

    /* What the original does next: make a message (a few bytes; NULL is
     * the documented failure if even that is not there). */
    int *payload = (int *)malloc(sizeof(int));
    mailbox_message *msg = payload != NULL ? mailbox_message_create(payload, release_payload) : NULL;
    fprintf(stderr, "memory limit: mailbox_message_create %s\n",
            msg != NULL ? "succeeded" : "returned NULL (documented failure)");
    if (msg == NULL) {
        free(payload);
    }

    /* Every item pushed before the failure drains, in order. */
    for (uintptr_t i = 1; i <= pushed; i++) {
        void *data = NULL;
        ret = blocking_queue_pop(q, &data);
        if (ret != 0 || data != (void *)i) {
            fprintf(stderr, "pop %lu: returned %d, item %p\n", (unsigned long)i, ret, data);
            exit(1);
        }
    }
    void *none = NULL;
    CHECK_EQ(blocking_queue_pop(q, &none), ETIMEDOUT);
    fprintf(stderr, "memory limit: drained %lu items in order (VmSize %ld kB)\n", (unsigned long)pushed,
            status_kib("VmSize"));

    /* Usable again, still under the limit. */
    mailbox_message_unref(msg);
    for (uintptr_t i = 1; i <= 1000; i++) {
        CHECK_EQ(blocking_queue_push(q, (void *)i), 0);
    }
    for (uintptr_t i = 1; i <= 1000; i++) {
        void *data = NULL;
        CHECK_EQ(blocking_queue_pop(q, &data), 0);
        CHECK(data == (void *)i);
    }
    blocking_queue_destroy(q);
    topics_still_work();
    CHECK_EQ(log_errors, 1);
    fprintf(stderr, "memory limit: queue and topics work after the failure\n");

    CHECK_EQ(setrlimit(RLIMIT_AS, &old), 0);
    mailbox_set_log_callback(NULL, MAILBOX_LOG_WARN, NULL);
}

/* Whether the limit cannot be tested here (printed "skipped: ..."). */
static int skipped(void)
{
#ifdef UNDER_SANITIZER
    fprintf(stderr, "memory limit: skipped: a sanitizer's shadow memory needs an unlimited address space\n");
    return 1;
#else
    if (RUNNING_ON_VALGRIND) {
        fprintf(stderr, "memory limit: skipped: under valgrind (its own allocator and address space)\n");
        return 1;
    }
    return 0;
#endif
}

int main(int argc, char **argv)
{
    if (skipped()) {
        return 0;
    }
    static const test_case cases[] = { TEST_CASE(push_until_out_of_memory) };
    return run_test_cases(argc, argv, cases, 1);
}
