// The mailbox in iSulad's unit-test style (gtest, as test/ in the daemon).
#include <gtest/gtest.h>

#include "isula_mailbox.h"
#include "mailbox.h"

#include <cerrno>
#include <string>

namespace {

struct Event {
    std::string container_id;
    int type;
};

int g_deleted = 0;

void *MakeEvent(void *context, void *arg)
{
    auto *count = static_cast<int *>(context);
    ++*count;
    auto *msg = static_cast<cri_container_message_t *>(arg);
    return new Event{ msg->container_id, msg->type };
}

void DeleteEvent(void *arg)
{
    g_deleted++;
    delete static_cast<Event *>(arg);
}

class MailboxUnitTest : public testing::Test {
protected:
    void SetUp() override
    {
        g_deleted = 0;
        ASSERT_EQ(mailbox_register_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER, MakeEvent, &m_generated, DeleteEvent,
                                                 true),
                  0);
    }
    void TearDown() override { mailbox_unregister_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER); }

    void Publish(const char *id, cri_container_message_type type)
    {
        cri_container_message_t msg = { id, "sandbox", type };
        mailbox_publish(MAILBOX_TOPIC_CRI_CONTAINER, &msg);
    }

    int m_generated = 0;
};

TEST_F(MailboxUnitTest, PublishWithoutSubscriberGeneratesNothing)
{
    Publish("c1", CRI_CONTAINER_MESSAGE_TYPE_CREATED);
    EXPECT_EQ(m_generated, 0);
}

TEST_F(MailboxUnitTest, SubscriberReceivesEventsInOrder)
{
    __isula_auto_subscriber message_subscriber *sub = mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER);
    ASSERT_NE(sub, nullptr);
    Publish("c1", CRI_CONTAINER_MESSAGE_TYPE_CREATED);
    Publish("c1", CRI_CONTAINER_MESSAGE_TYPE_STARTED);
    for (int type : { CRI_CONTAINER_MESSAGE_TYPE_CREATED, CRI_CONTAINER_MESSAGE_TYPE_STARTED }) {
        __isula_auto_mailbox_message mailbox_message *msg = nullptr;
        ASSERT_EQ(message_subscriber_pop(sub, &msg), 0);
        ASSERT_NE(msg, nullptr);
        auto *event = static_cast<Event *>(msg->data);
        EXPECT_EQ(event->container_id, "c1");
        EXPECT_EQ(event->type, type);
    }
    EXPECT_EQ(g_deleted, 2);
}

TEST_F(MailboxUnitTest, UnregisterEndsTheStream)
{
    __isula_auto_subscriber message_subscriber *sub = mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER);
    Publish("c2", CRI_CONTAINER_MESSAGE_TYPE_STOPPED);
    mailbox_unregister_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER);
    mailbox_message *msg = nullptr;
    EXPECT_EQ(message_subscriber_pop(sub, &msg), 0);
    EXPECT_EQ(msg, nullptr);
    EXPECT_EQ(g_deleted, 1); // the pending event was dropped
    ASSERT_EQ(mailbox_register_topic_handler(MAILBOX_TOPIC_CRI_CONTAINER, MakeEvent, &m_generated, DeleteEvent, true),
              0); // for TearDown
}

TEST_F(MailboxUnitTest, StatsCountDeliveries)
{
    __isula_auto_subscriber message_subscriber *sub = mailbox_subscribe(MAILBOX_TOPIC_CRI_CONTAINER);
    Publish("c3", CRI_CONTAINER_MESSAGE_TYPE_DELETED);
    mailbox_topic_stats stats;
    ASSERT_EQ(mailbox_get_topic_stats(MAILBOX_TOPIC_CRI_CONTAINER, &stats), 0);
    EXPECT_EQ(stats.published, 1u);
    EXPECT_EQ(stats.delivered, 1u);
    EXPECT_EQ(stats.pending, 1u);
    EXPECT_EQ(stats.subscribers, 1u);
}

TEST(MailboxInvalidInput, InvalidTopicsFail)
{
    EXPECT_EQ(mailbox_register_topic_handler(MAILBOX_TOPIC_MAX, MakeEvent, nullptr, nullptr, true), -1);
    EXPECT_EQ(mailbox_subscribe(static_cast<mailbox_topic>(42)), nullptr);
}

} // namespace
