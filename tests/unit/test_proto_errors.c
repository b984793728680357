/* test_proto_errors.c - the Kafka error table matches Kafka's codes/names. */
#include "proto/errors.h"
#include "test.h"

TEST(proto_error_names) {
    CHECK_STR(proto_error_name(KERR_NONE), "NONE");
    CHECK_STR(proto_error_name(-1), "UNKNOWN_SERVER_ERROR");
    CHECK_STR(proto_error_name(3), "UNKNOWN_TOPIC_OR_PARTITION");
    CHECK_STR(proto_error_name(35), "UNSUPPORTED_VERSION");
    CHECK_STR(proto_error_name(133), "SHARE_SESSION_LIMIT_REACHED");
    CHECK_STR(proto_error_name(134), "UNKNOWN");
    CHECK_STR(proto_error_name(-2), "UNKNOWN");
    CHECK_EQ(KERR_NOT_LEADER_OR_FOLLOWER, 6);
    CHECK_EQ(KERR_PRODUCER_FENCED, 90);
    CHECK_EQ(KERR_UNKNOWN_TOPIC_ID, 100);
    CHECK(proto_error_retriable(KERR_NOT_LEADER_OR_FOLLOWER));
    CHECK(!proto_error_retriable(KERR_TOPIC_AUTHORIZATION_FAILED));
    CHECK(proto_error_known(KERR_MAX_CODE) &&
          !proto_error_known(KERR_MAX_CODE + 1));
    CHECK_STR(proto_error_message(3),
              "This server does not host this topic-partition.");
}
