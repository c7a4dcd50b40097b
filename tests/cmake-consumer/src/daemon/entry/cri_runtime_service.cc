// As the daemon's cri_v1_runtime_runtime_service.cc: the topic handler makes
// a response object, GetContainerEvents pops until shutdown.
#include "cri_runtime_service.h"

#include "mailbox.h"
#include "mailbox_message.h"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <string>
#include <thread>

namespace {

struct ContainerEventResponse {
    std::string container_id;
    int type;
};

std::atomic<int> g_made{ 0 }, g_deleted{ 0 }, g_written{ 0 };
std::atomic<bool> g_subscribed{ false }, g_ended_by_shutdown{ false };
std::thread g_stream;

void *cri_container_topic_handler(void *context, void *arg)
{
    (void)context;
    auto *msg = static_cast<cri_container_message_t *>(arg);
    g_made++;
    return new ContainerEventResponse{ msg->container_id, msg->type };
}

void cri_container_topic_release(void *arg)
{
    g_deleted++;
    delete static_cast<ContainerEventResponse *>(arg);
}

void GetContainerEvents()
{
    __isula_auto_subscriber auto sub = mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER);
    if (sub == nullptr) {
        return;
    }
    g_subscribed = true;
    for (;;) {
        __isula_auto_mailbox_message mailbox_message *msg = NULL;
        int ret = message_subscriber_pop(sub, &msg);
        if (ret == 0) {
            if (msg == nullptr) {
                g_ended_by_shutdown = true;
                return;
            }
            auto *response = static_cast<ContainerEventResponse *>(msg->data);
            if (!response->container_id.empty()) {
                g_written++;
            }
        } else if (ret != ETIMEDOUT) {
            break;
        }
    }
    mailbox_unsubscribe(MAILBOX_TOPIC_CRI_CONTAINER, sub);
}

} // namespace

int cri_service_init(void)
{
    return mailbox_register_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER, cri_container_topic_handler, nullptr,
                                          cri_container_topic_release, true);
}

void cri_service_start_stream(void)
{
    g_stream = std::thread(GetContainerEvents);
    while (!g_subscribed) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

int cri_service_wait_events(int count)
{
    for (int i = 0; i < 1000 && g_written < count; i++) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return g_written;
}

int cri_service_shutdown(void)
{
    mailbox_unregister_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER);
    g_stream.join();
    return g_ended_by_shutdown && g_made == g_deleted ? 0 : 1;
}
