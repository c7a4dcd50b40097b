/* As the daemon's execution.c / supervisor.c: a stack message per event. */
#include "execution.h"

#include "mailbox.h"

void container_lifecycle(const char *id, const char *sandbox)
{
    static const cri_container_message_type events[] = {
        CRI_CONTAINER_MESSAGE_TYPE_CREATED, CRI_CONTAINER_MESSAGE_TYPE_STARTED,
        CRI_CONTAINER_MESSAGE_TYPE_STOPPED, CRI_CONTAINER_MESSAGE_TYPE_DELETED,
    };
    for (unsigned i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
        cri_container_message_t message;
        message.container_id = id;
        message.sandbox_id = sandbox;
        message.type = events[i];
        mailbox_publish(MAILBOX_TOPIC_CRI_CONTAINER, &message);
    }
}
