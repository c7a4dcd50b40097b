// The daemon's use of the mailbox, as iSulad's CRI runtime service,
// executor, supervisor and sandbox manager do: a topic handler that
// allocates a response object, executor threads publishing container
// lifecycle events, GetContainerEvents streams that pop with
// __isula_auto_subscriber / __isula_auto_mailbox_message and poll for
// cancellation on ETIMEDOUT, and Shutdown() ending the remaining streams
// with NULL. Original API only; compiled as C++17 with -Werror.
#include <isula_libutils/auto_cleanup.h> // the daemon includes it first

#include "mailbox.h"
#include "mailbox_message.h"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#define EXPECT(cond)                                                                  \
    do {                                                                              \
        if (!(cond)) {                                                                \
            std::fprintf(stderr, "%s:%d: EXPECT failed: %s\n", __FILE__, __LINE__, #cond); \
            std::exit(1);                                                             \
        }                                                                             \
    } while (0)

namespace {

// Stands in for runtime::v1::ContainerEventResponse.
struct ContainerEventResponse {
    std::string container_id;
    std::string pod_sandbox_id;
    int container_event_type;
    int64_t created_at;
};

std::atomic<int> g_responses_made{ 0 };
std::atomic<int> g_responses_deleted{ 0 };

// Stands in for grpc::ServerContext.
struct ServerContext {
    std::atomic<bool> cancelled{ false };
    bool IsCancelled() const { return cancelled.load(); }
};

// Stands in for grpc::ServerWriter: records what the stream sent.
struct ServerWriter {
    std::mutex lock;
    std::vector<std::string> written;
    bool Write(const ContainerEventResponse &response)
    {
        std::lock_guard<std::mutex> guard(lock);
        written.push_back(response.container_id + "/" + std::to_string(response.container_event_type));
        return true;
    }
};

enum class Status { OK, UNKNOWN };

class RuntimeV1RuntimeServiceImpl {
public:
    bool Init()
    {
        return mailbox_register_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER, cri_container_topic_handler, this,
                                              cri_container_topic_release, true) == 0;
    }

    void Shutdown() { mailbox_unregister_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER); }

    ContainerEventResponse *GenerateCRIContainerEvent(const char *container_id, const char *sandbox_id, int type)
    {
        if (container_id == nullptr || sandbox_id == nullptr) {
            return nullptr;
        }
        if (type < CRI_CONTAINER_MESSAGE_TYPE_CREATED || type > CRI_CONTAINER_MESSAGE_TYPE_DELETED) {
            return nullptr;
        }
        auto *response = new ContainerEventResponse{ container_id, sandbox_id, type, 0 };
        g_responses_made++;
        return response;
    }

    Status GetContainerEvents(ServerContext *context, ServerWriter *writer, std::atomic<bool> *subscribed)
    {
        __isula_auto_subscriber auto sub = mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER);
        if (sub == nullptr) {
            return Status::UNKNOWN;
        }
        subscribed->store(true);

        for (;;) {
            __isula_auto_mailbox_message mailbox_message *msg = NULL;
            int ret = message_subscriber_pop(sub, &msg);
            if (ret == 0) {
                if (msg == nullptr) {
                    // nullptr response indicates eventqueue being shutdown, not need to unsubscribe now
                    return Status::UNKNOWN;
                }
                auto *response = static_cast<ContainerEventResponse *>(msg->data);
                if (!writer->Write(*response)) {
                    break;
                }
            } else if (ret != ETIMEDOUT) {
                break;
            }
            if (context->IsCancelled()) {
                break;
            }
        }

        mailbox_unsubscribe(MAILBOX_TOPIC_CRI_CONTAINER, sub);
        return Status::OK;
    }

private:
    static void *cri_container_topic_handler(void *context, void *arg)
    {
        if (context == nullptr || arg == nullptr) {
            return nullptr;
        }
        auto *service = static_cast<RuntimeV1RuntimeServiceImpl *>(context);
        auto *msg = static_cast<cri_container_message_t *>(arg);
        return service->GenerateCRIContainerEvent(msg->container_id, msg->sandbox_id, msg->type);
    }

    static void cri_container_topic_release(void *arg)
    {
        if (arg == nullptr) {
            return;
        }
        g_responses_deleted++;
        delete static_cast<ContainerEventResponse *>(arg);
    }
};

// The executor: publishes create/start/stop/delete for its containers, as
// container_create_cb, container_start_cb, the supervisor and
// container_delete_cb do, from a stack-allocated message.
void executor(int worker, int containers)
{
    static const cri_container_message_type lifecycle[] = {
        CRI_CONTAINER_MESSAGE_TYPE_CREATED, CRI_CONTAINER_MESSAGE_TYPE_STARTED,
        CRI_CONTAINER_MESSAGE_TYPE_STOPPED, CRI_CONTAINER_MESSAGE_TYPE_DELETED
    };
    for (int c = 0; c < containers; c++) {
        std::string id = "w" + std::to_string(worker) + "c" + std::to_string(c);
        for (auto type : lifecycle) {
            cri_container_message_t message;
            message.container_id = id.c_str();
            message.sandbox_id = "sandbox";
            message.type = type;
            mailbox_publish(MAILBOX_TOPIC_CRI_CONTAINER, &message);
        }
    }
}

struct Stream {
    ServerContext context;
    ServerWriter writer;
    std::atomic<bool> subscribed{ false };
    Status status = Status::OK;
    std::thread thread;
};

void start(RuntimeV1RuntimeServiceImpl &service, Stream &stream)
{
    stream.thread = std::thread([&service, &stream] {
        stream.status = service.GetContainerEvents(&stream.context, &stream.writer, &stream.subscribed);
    });
    while (!stream.subscribed.load()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

} // namespace

int main()
{
    RuntimeV1RuntimeServiceImpl service;
    EXPECT(service.Init());

    // Events with nobody watching are not even generated.
    executor(99, 10);
    EXPECT(g_responses_made.load() == 0);

    const int workers = 3, containers = 200;
    Stream kubelet_a, kubelet_b, cancelled;
    start(service, kubelet_a);
    start(service, kubelet_b);
    start(service, cancelled);

    std::vector<std::thread> executors;
    for (int w = 0; w < workers; w++) {
        executors.emplace_back(executor, w, containers);
    }
    // A client goes away mid-stream: its stream sees the cancellation at
    // the next ETIMEDOUT (pop timeout 1 s) and unsubscribes.
    cancelled.context.cancelled.store(true);
    for (auto &t : executors) {
        t.join();
    }
    cancelled.thread.join();
    EXPECT(cancelled.status == Status::OK);

    // Wait until both remaining streams have written everything.
    const size_t expected = workers * containers * 4;
    for (int i = 0; i < 1000; i++) {
        std::lock_guard<std::mutex> a(kubelet_a.writer.lock), b(kubelet_b.writer.lock);
        if (kubelet_a.writer.written.size() == expected && kubelet_b.writer.written.size() == expected) {
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }

    // The daemon shuts down: the remaining streams end with NULL.
    service.Shutdown();
    kubelet_a.thread.join();
    kubelet_b.thread.join();
    EXPECT(kubelet_a.status == Status::UNKNOWN);
    EXPECT(kubelet_b.status == Status::UNKNOWN);

    // Both saw every event, in one order, each container's in lifecycle order.
    EXPECT(kubelet_a.writer.written.size() == expected);
    EXPECT(kubelet_a.writer.written == kubelet_b.writer.written);
    for (int w = 0; w < workers; w++) {
        for (int c = 0; c < containers; c++) {
            std::string id = "w" + std::to_string(w) + "c" + std::to_string(c) + "/";
            int next = CRI_CONTAINER_MESSAGE_TYPE_CREATED;
            for (const auto &event : kubelet_a.writer.written) {
                if (event.compare(0, id.size(), id) == 0) {
                    EXPECT(event == id + std::to_string(next));
                    next++;
                }
            }
            EXPECT(next == CRI_CONTAINER_MESSAGE_TYPE_MAX);
        }
    }
    // Every response made was deleted exactly once, by the topic's release.
    EXPECT(g_responses_made.load() == static_cast<int>(expected));
    EXPECT(g_responses_deleted.load() == g_responses_made.load());

    // After shutdown, publishing is a no-op and the topic can come back.
    executor(98, 1);
    EXPECT(service.Init());
    service.Shutdown();
    std::puts("cri_events: ok");
    return 0;
}
