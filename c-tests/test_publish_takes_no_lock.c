/* mailbox.h, mailbox_publish: publishing on an async topic nobody subscribes
 * to must not call the generator nor take a lock that publishers or
 * subscribers wait on (the daemon publishes on every container event).
 *
 * The test defines the pthread lock functions itself, so every call made
 * from the library (static or shared) comes here first and is counted
 * while the publish loop runs. The original takes the queue's rwlock for
 * writing on every publish; this library takes none. Original API only. */
#define _GNU_SOURCE
#include <dlfcn.h>

#include "mailbox.h"

#include "check.h"

static int counting;
static long lock_calls;

#define FORWARD_LOCK(name, type)                                              \
    int name(type *lock)                                                      \
    {                                                                         \
        static int (*real)(type *);                                           \
        if (real == NULL) {                                                   \
            real = (int (*)(type *))dlsym(RTLD_NEXT, #name);                  \
        }                                                                     \
        if (__atomic_load_n(&counting, __ATOMIC_SEQ_CST)) {                   \
            __atomic_fetch_add(&lock_calls, 1, __ATOMIC_SEQ_CST);             \
        }                                                                     \
        return real(lock);                                                    \
    }

FORWARD_LOCK(pthread_mutex_lock, pthread_mutex_t)
FORWARD_LOCK(pthread_mutex_trylock, pthread_mutex_t)
FORWARD_LOCK(pthread_rwlock_rdlock, pthread_rwlock_t)
FORWARD_LOCK(pthread_rwlock_wrlock, pthread_rwlock_t)
FORWARD_LOCK(pthread_rwlock_tryrdlock, pthread_rwlock_t)
FORWARD_LOCK(pthread_rwlock_trywrlock, pthread_rwlock_t)

static int generator_calls;

static void *generator(void *context, void *data)
{
    (void)context;
    (void)data;
    __atomic_fetch_add(&generator_calls, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static void publish_without_subscribers_takes_no_lock(void)
{
    CHECK_EQ(mailbox_register_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER, generator, NULL, NULL, true), 0);
    cri_container_message_t msg = { "container", "sandbox", CRI_CONTAINER_MESSAGE_TYPE_STARTED };
    mailbox_publish(MAILBOX_TOPIC_CRI_CONTAINER, &msg); /* warm-up: first-use initialisation */
    __atomic_store_n(&counting, 1, __ATOMIC_SEQ_CST);
    for (int i = 0; i < 10000; i++) {
        mailbox_publish(MAILBOX_TOPIC_CRI_CONTAINER, &msg);
    }
    __atomic_store_n(&counting, 0, __ATOMIC_SEQ_CST);
    CHECK_EQ(generator_calls, 0);
    CHECK_EQ(lock_calls, 0);

    /* The topic is live: with a subscriber, the generator runs. */
    message_subscriber *sub = mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER);
    CHECK(sub != NULL);
    mailbox_publish(MAILBOX_TOPIC_CRI_CONTAINER, &msg);
    CHECK_EQ(generator_calls, 1);
    mailbox_unsubscribe(MAILBOX_TOPIC_CRI_CONTAINER, sub);
    message_subscriber_destroy(sub);
    mailbox_unregister_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER);
}

static void interposition_sees_the_callers_locks(void)
{
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    __atomic_store_n(&counting, 1, __ATOMIC_SEQ_CST);
    pthread_mutex_lock(&m);
    __atomic_store_n(&counting, 0, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&m);
    CHECK_EQ(lock_calls, 1);
    lock_calls = 0;
}

TEST_MAIN(TEST_CASE(interposition_sees_the_callers_locks), TEST_CASE(publish_without_subscribers_takes_no_lock))
