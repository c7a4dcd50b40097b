/* Allocation failure in mailbox_message.h: create, ref and unref, with and
 * without a destroy function, several messages alive at once, with the Nth
 * allocation failed, N = 1, 2, ... The harness (message_new and unref
 * included), and what every run must show: c-tests/oom.h. */
#include "oom.h"

static void scenario_message(void)
{
    mailbox_message *m = message_new(item_release);
    if (current_n == 1) {
        OOM_CHECK(m == NULL);
    }
    if (m != NULL) {
        int id = item_id(m->data);
        probe p = probe_now();
        OOM_CHECK_EQ(mailbox_message_ref(m), 0);
        EXPECT_NO_ALLOCATION(p);
        unref(m);
        OOM_CHECK_EQ(item_released[id], 0);
        unref(m);
        OOM_CHECK_EQ(item_released[id], 1);
    }

    /* No destroy function: the data stays the caller's. */
    m = message_new(NULL);
    if (m != NULL) {
        void *data = m->data;
        unref(m);
        item_keep(data);
    }

    /* Several alive at once, let go newest first. */
    mailbox_message *several[4];
    for (int i = 0; i < 4; i++) {
        several[i] = message_new(item_release);
    }
    for (int i = 3; i >= 0; i--) {
        if (several[i] != NULL) {
            int id = item_id(several[i]->data);
            unref(several[i]);
            OOM_CHECK_EQ(item_released[id], 1);
        }
    }
}

OOM_MAIN({ "mailbox_message", scenario_message, NULL, 0 })
