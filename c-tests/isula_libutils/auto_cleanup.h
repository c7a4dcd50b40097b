/* A stand-in for the daemon's <isula_libutils/auto_cleanup.h> (from lcr),
 * with the macros the daemon's code uses, so the tests can check that the
 * library's headers work with it included first as well as without it. */
#ifndef ISULA_MAILBOX_TEST_AUTO_CLEANUP_H
#define ISULA_MAILBOX_TEST_AUTO_CLEANUP_H

#include <stdlib.h>

#define auto_cleanup_tag(name) __attribute__((__cleanup__(name##_cb)))

#define define_auto_cleanup_callback(fn, type) \
    static inline void fn##_cb(type **ptr)     \
    {                                          \
        if (*ptr != NULL) {                    \
            fn(*ptr);                          \
        }                                      \
    }

static inline void free_cb(void *ptr)
{
    free(*(void **)ptr);
}

#define __isula_auto_free auto_cleanup_tag(free)

#define isula_transfer_ptr(ptr)          \
    ({                                   \
        __typeof__(ptr) moved_ = (ptr);  \
        (ptr) = NULL;                    \
        moved_;                          \
    })

#endif
