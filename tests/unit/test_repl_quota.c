/* Replication throttles (replica/quota.h, Kafka's ReplicationQuotaManager
 * with SimpleRate over replication.quota.window.num samples) and the
 * rack-aware read replica selector (KIP-392). */
#include <stdint.h>

#include "replica/quota.h"
#include "test.h"

TEST(repl_quota_rate_is_bytes_over_the_sampled_window) {
    repl_quota q;
    repl_quota_init(&q, 11, 1000);
    CHECK(!repl_quota_exceeded(&q, 0, 0)); /* nothing recorded: rate 0 */
    repl_quota_record(&q, 1000, 0);
    /* at least one window: 1000 B / 1 s */
    CHECK(repl_quota_rate(&q, 0) == 1000.0);
    CHECK(repl_quota_exceeded(&q, 999, 0));
    CHECK(!repl_quota_exceeded(&q, 1000, 0)); /* Quota.acceptable: <= */
    CHECK(!repl_quota_exceeded(&q, INT64_MAX, 0));
    /* the window grows from the oldest sample's start */
    CHECK(repl_quota_rate(&q, 2000) == 500.0);
    CHECK(repl_quota_exceeded(&q, 499, 2000));
    CHECK(!repl_quota_exceeded(&q, 500, 2000));
    /* more samples: 1000 B at 0 and 3000 B at 4000 over 5 s */
    repl_quota_record(&q, 3000, 4000);
    CHECK(repl_quota_rate(&q, 5000) == 800.0);
    /* a sample n_samples windows old is dropped (purgeObsoleteSamples) */
    CHECK(repl_quota_rate(&q, 11000) == 3000.0 / 7.0);
    /* and once every sample is old the rate is 0 again */
    CHECK(repl_quota_rate(&q, 15000) == 0.0);
    CHECK(!repl_quota_exceeded(&q, 0, 15000));
    repl_quota_free(&q);
}

TEST(repl_quota_samples_wrap_around) {
    repl_quota q;
    repl_quota_init(&q, 3, 100);
    for (int64_t t = 0; t < 1000; t += 100)
        repl_quota_record(&q, 100, t); /* 1000 B/s steadily */
    /* three samples live: 0.9 s..1.0 s, 0.8 and 0.7: 300 B over 0.3 s */
    CHECK(repl_quota_rate(&q, 999) > 999.0 &&
          repl_quota_rate(&q, 999) < 1004.0);
    CHECK(repl_quota_exceeded(&q, 900, 999));
    CHECK(!repl_quota_exceeded(&q, 1100, 999));
    repl_quota_free(&q);
}

TEST(repl_quota_throttled_replica_lists) {
    CHECK(repl_throttled_list("*", 0, 1));
    CHECK(repl_throttled_list(" * ", 7, 3));
    CHECK(!repl_throttled_list("", 0, 1));
    CHECK(!repl_throttled_list(NULL, 0, 1));
    /* only the entries naming this broker */
    CHECK(repl_throttled_list("0:1,1:2", 0, 1));
    CHECK(repl_throttled_list("0:1,1:2", 1, 2));
    CHECK(!repl_throttled_list("0:1,1:2", 0, 2));
    CHECK(!repl_throttled_list("0:1,1:2", 2, 1));
    CHECK(repl_throttled_list("0:1, 12:3", 12, 3));
    CHECK(!repl_throttled_list("bad", 0, 1));
    /* from a topic's overrides */
    sl_kv kv[2] = {{"retention.ms", "1"},
                   {REPL_LEADER_THROTTLED_REPLICAS, "3:2"}};
    cl_topic t = {0};
    t.configs = kv;
    t.n_configs = 2;
    CHECK(repl_topic_throttled(&t, REPL_LEADER_THROTTLED_REPLICAS, 3, 2));
    CHECK(!repl_topic_throttled(&t, REPL_FOLLOWER_THROTTLED_REPLICAS, 3, 2));
    CHECK(!repl_topic_throttled(NULL, REPL_LEADER_THROTTLED_REPLICAS, 3, 2));
}

TEST(repl_rack_aware_selector) {
    repl_read_replica c[4] = {
        {1, "a", 100, 0},  /* the leader */
        {2, "b", 90, 10},  /* behind */
        {3, "b", 100, 50}, /* caught up, longer ago */
        {4, "c", 100, 0},
    };
    /* no rack, or a rack nobody is in: the leader */
    CHECK_EQ(repl_select_read_replica(NULL, c, 4, 1), 1);
    CHECK_EQ(repl_select_read_replica("", c, 4, 1), 1);
    CHECK_EQ(repl_select_read_replica("z", c, 4, 1), 1);
    /* the leader's rack: the leader */
    CHECK_EQ(repl_select_read_replica("a", c, 4, 1), 1);
    /* most caught up of the rack: log end offset first */
    CHECK_EQ(repl_select_read_replica("b", c, 4, 1), 3);
    CHECK_EQ(repl_select_read_replica("c", c, 4, 1), 4);
    /* equal LEO: the one caught up most recently, then the larger id */
    c[1].leo = 100;
    CHECK_EQ(repl_select_read_replica("b", c, 4, 1), 2);
    c[1].since_caught_up_ms = 50;
    CHECK_EQ(repl_select_read_replica("b", c, 4, 1), 3);
}
