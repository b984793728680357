/* Unit tests: the broker config table, properties files, environment,
 * --override layering, topic-config synonyms, listener parsing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/config.h"
#include "broker/internal.h"
#include "net/net.h"
#include "test.h"

TEST(config_defaults_are_kafkas) {
    brk_config cfg;
    brk_config_init(&cfg);
    CHECK_EQ(brk_cfg_i64(&cfg, BRK_CFG_NUM_PARTITIONS), 1);
    CHECK_EQ(brk_cfg_i64(&cfg, BRK_CFG_LOG_SEGMENT_BYTES), 1073741824);
    CHECK_EQ(brk_cfg_i64(&cfg, BRK_CFG_MESSAGE_MAX_BYTES), 1048588);
    CHECK_EQ(brk_cfg_i64(&cfg, BRK_CFG_SOCKET_REQUEST_MAX_BYTES), 104857600);
    CHECK_EQ(brk_cfg_i64(&cfg, BRK_CFG_CONNECTIONS_MAX_IDLE_MS), 600000);
    CHECK_EQ(brk_cfg_i64(&cfg, BRK_CFG_LOG_RETENTION_CHECK_INTERVAL_MS),
             300000);
    CHECK_EQ(brk_cfg_i64(&cfg, BRK_CFG_LOG_RETENTION_HOURS), 168);
    CHECK(brk_cfg_str(&cfg, BRK_CFG_LOG_RETENTION_MS) == NULL);
    CHECK(brk_cfg_bool(&cfg, BRK_CFG_AUTO_CREATE_TOPICS_ENABLE));
    CHECK(!brk_cfg_bool(&cfg, BRK_CFG_UNCLEAN_LEADER_ELECTION_ENABLE));
    CHECK_STR(brk_cfg_str(&cfg, BRK_CFG_COMPRESSION_TYPE), "producer");
    CHECK_STR(brk_cfg_str(&cfg, BRK_CFG_LISTENERS),
              "PLAINTEXT://127.0.0.1:9092");
    CHECK_EQ(cfg.v[BRK_CFG_NUM_PARTITIONS].src, CFG_SRC_DEFAULT);
    brk_config_free(&cfg);
}

TEST(config_invalid_values_name_the_key) {
    brk_config cfg;
    brk_config_init(&cfg);
    char err[512];
    CHECK_EQ(brk_config_set(&cfg, "num.partitions", "abc", err, sizeof err),
             -1);
    CHECK(strstr(err, "num.partitions") != NULL);
    CHECK_EQ(brk_config_set(&cfg, "num.partitions", "0", err, sizeof err), -1);
    CHECK_STR(err, "Invalid value 0 for configuration num.partitions: Value "
                   "must be at least 1");
    CHECK_EQ(brk_config_set(&cfg, "log.segment.bytes", "1000", err, sizeof err),
             -1);
    CHECK_EQ(
        brk_config_set(&cfg, "compression.type", "brotli", err, sizeof err),
        -1);
    CHECK(strstr(err, "compression.type") != NULL);
    CHECK_EQ(brk_config_set(&cfg, "auto.create.topics.enable", "yes", err,
                            sizeof err),
             -1);
    CHECK_EQ(brk_config_set(&cfg, "log.cleanup.policy", "compact,delete", err,
                            sizeof err),
             0);
    CHECK_EQ(brk_config_set(&cfg, "log.cleanup.policy", "compact,zap", err,
                            sizeof err),
             -1);
    CHECK_EQ(
        brk_config_set(&cfg, "num.partitions", "2147483648", err, sizeof err),
        -1);
    CHECK_EQ(brk_config_set(&cfg, "no.such.key", "1", err, sizeof err), 1);
    /* value unchanged after a failed set */
    CHECK_EQ(brk_cfg_i64(&cfg, BRK_CFG_NUM_PARTITIONS), 1);
    CHECK_EQ(brk_config_set(&cfg, "num.partitions", " 12 ", err, sizeof err),
             0);
    CHECK_EQ(brk_cfg_i64(&cfg, BRK_CFG_NUM_PARTITIONS), 12);
    CHECK_EQ(cfg.v[BRK_CFG_NUM_PARTITIONS].src, CFG_SRC_STATIC_BROKER);
    brk_config_free(&cfg);
}

TEST(config_properties_file) {
    char path[512];
    snprintf(path, sizeof path, "%s/server.properties", test_tmpdir());
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    fputs("# comment\n! also a comment\n\nnum.partitions = 7\n"
          "log.dirs:/data/a,\\\n   /data/b\nlisteners PLAINTEXT://:9092\n"
          "made.up=1\n",
          f);
    fclose(f);
    brk_config cfg;
    brk_config_init(&cfg);
    char err[512];
    CHECK_EQ(brk_config_load_file(&cfg, path, err, sizeof err), 0);
    CHECK_EQ(brk_cfg_i64(&cfg, BRK_CFG_NUM_PARTITIONS), 7);
    CHECK_STR(brk_cfg_str(&cfg, BRK_CFG_LOG_DIRS), "/data/a,/data/b");
    CHECK_STR(brk_cfg_str(&cfg, BRK_CFG_LISTENERS), "PLAINTEXT://:9092");
    brk_config_free(&cfg);

    f = fopen(path, "w");
    fputs("message.max.bytes=lots\n", f);
    fclose(f);
    brk_config_init(&cfg);
    CHECK_EQ(brk_config_load_file(&cfg, path, err, sizeof err), -1);
    CHECK(strstr(err, "message.max.bytes") != NULL);
    brk_config_free(&cfg);
}

TEST(config_layers_file_env_override) {
    char path[512];
    snprintf(path, sizeof path, "%s/layers.properties", test_tmpdir());
    FILE *f = fopen(path, "w");
    fputs("num.partitions=2\nlog.retention.hours=10\ndefault.replication."
          "factor=1\n",
          f);
    fclose(f);
    char *envp[] = {"KAFKA_CFG_NUM_PARTITIONS=3",   /* bitnami */
                    "KAFKA_LOG_RETENTION_HOURS=20", /* confluent */
                    "KAFKA_HEAP_OPTS=-Xmx1G",       /* ignored */
                    "KAFKA_NODE_ID=5",
                    "KAFKA_CFG_LOG_DIRS=/x/y",
                    "PATH=/bin",
                    NULL};
    char *argv[] = {"server", path, "--override", "num.partitions=4", NULL};
    brk_config cfg;
    char err[512];
    CHECK_EQ(brk_load_config(&cfg, 4, argv, envp, err, sizeof err), 0);
    CHECK_EQ(brk_cfg_i64(&cfg, BRK_CFG_NUM_PARTITIONS), 4);       /* override */
    CHECK_EQ(brk_cfg_i64(&cfg, BRK_CFG_LOG_RETENTION_HOURS), 20); /* env */
    CHECK_EQ(brk_cfg_i64(&cfg, BRK_CFG_NODE_ID), 5);
    CHECK_STR(brk_cfg_str(&cfg, BRK_CFG_LOG_DIRS), "/x/y");
    brk_config_free(&cfg);

    char *bad_env[] = {"KAFKA_CFG_NUM_PARTITIONS=-1", NULL};
    char *argv2[] = {"server", NULL};
    CHECK_EQ(brk_load_config(&cfg, 1, argv2, bad_env, err, sizeof err), -1);
    CHECK(strstr(err, "num.partitions") != NULL);
    brk_config_free(&cfg);
}

/* config/server.properties (Kafka's quickstart file) and the layer a start
 * without a file applies must say the same: every key of the file, with its
 * value, and nothing else. */
TEST(config_quickstart_layer_is_the_shipped_file) {
    brk_config file;
    brk_config_init(&file);
    char err[512];
    CHECK_EQ(brk_config_load_file(&file, "config/server.properties", err,
                                  sizeof err),
             0);
    int in_table = 0;
    for (int i = 0; brk_quickstart_config[i][0]; i++) {
        int id = brk_config_find(brk_quickstart_config[i][0]);
        CHECK(id >= 0);
        if (id < 0)
            continue;
        CHECK(file.static_text[id] != NULL);
        if (file.static_text[id])
            CHECK_STR(file.static_text[id], brk_quickstart_config[i][1]);
        in_table++;
    }
    int in_file = 0;
    for (int id = 0; id < BRK_CFG_COUNT; id++)
        in_file += file.static_text[id] != NULL;
    CHECK_EQ(in_file, in_table);
    brk_config_free(&file);

    /* No file: one working node (internal topics with one replica), the
     * values static as from a file; DescribeConfigs defaults stay Kafka's. */
    brk_config cfg;
    char *argv[] = {"server", NULL};
    char *envp[] = {NULL};
    CHECK_EQ(brk_load_config(&cfg, 1, argv, envp, err, sizeof err), 0);
    CHECK_EQ(brk_cfg_i64(&cfg, BRK_CFG_OFFSETS_TOPIC_REPLICATION_FACTOR), 1);
    CHECK_EQ(cfg.v[BRK_CFG_OFFSETS_TOPIC_REPLICATION_FACTOR].src,
             CFG_SRC_STATIC_BROKER);
    CHECK_STR(brk_cfg_defs[BRK_CFG_OFFSETS_TOPIC_REPLICATION_FACTOR].def, "3");
    CHECK_EQ(
        brk_cfg_i64(&cfg, BRK_CFG_TRANSACTION_STATE_LOG_REPLICATION_FACTOR), 1);
    CHECK_EQ(brk_cfg_i64(&cfg, BRK_CFG_TRANSACTION_STATE_LOG_MIN_ISR), 1);
    CHECK_EQ(brk_cfg_i64(&cfg, BRK_CFG_NODE_ID), 1);
    CHECK_STR(brk_cfg_str(&cfg, BRK_CFG_LISTENERS),
              "PLAINTEXT://:9092,CONTROLLER://:9093");
    CHECK_STR(brk_cfg_str(&cfg, BRK_CFG_ADVERTISED_LISTENERS),
              "PLAINTEXT://localhost:9092,CONTROLLER://localhost:9093");
    CHECK_STR(brk_cfg_str(&cfg, BRK_CFG_LOG_DIRS), "./sluice-data");
    brk_config_free(&cfg);

    /* Own listeners: the file's advertised addresses (other ports) and its
     * controller bootstrap server are not applied; the rest is. */
    char *argv2[] = {"server",
                     "--override",
                     "listeners=PLAINTEXT://127.0.0.1:19092",
                     "--override",
                     "offsets.topic.replication.factor=2",
                     NULL};
    char *envp2[] = {"KAFKA_CFG_LOG_DIR=/x", NULL};
    CHECK_EQ(brk_load_config(&cfg, 5, argv2, envp2, err, sizeof err), 0);
    CHECK(brk_cfg_str(&cfg, BRK_CFG_ADVERTISED_LISTENERS) == NULL);
    CHECK_STR(brk_cfg_str(&cfg, BRK_CFG_CONTROLLER_QUORUM_BOOTSTRAP_SERVERS),
              "");
    CHECK_EQ(brk_cfg_i64(&cfg, BRK_CFG_OFFSETS_TOPIC_REPLICATION_FACTOR), 2);
    CHECK_EQ(brk_cfg_i64(&cfg, BRK_CFG_TRANSACTION_STATE_LOG_MIN_ISR), 1);
    CHECK(cfg.static_text[BRK_CFG_LOG_DIRS] == NULL); /* log.dir wins */
    brk_config_free(&cfg);

    /* A file: Kafka's defaults where the file says nothing. */
    char path[512];
    snprintf(path, sizeof path, "%s/bare.properties", test_tmpdir());
    FILE *f = fopen(path, "w");
    fputs("num.partitions=2\n", f);
    fclose(f);
    char *argv3[] = {"server", path, NULL};
    CHECK_EQ(brk_load_config(&cfg, 2, argv3, envp, err, sizeof err), 0);
    CHECK_EQ(brk_cfg_i64(&cfg, BRK_CFG_OFFSETS_TOPIC_REPLICATION_FACTOR), 3);
    brk_config_free(&cfg);
}

/* Settings for a cluster of several nodes are refused at start, naming the
 * key (Sluice runs one node until clusters are built). */
TEST(config_multi_node_settings_the_node_cannot_run_are_refused) {
    brk_config cfg;
    char err[512];
    char *envp[] = {NULL};
    /* broker-only: its node id must not be a voter, and no controller
     * listener of its own (KafkaConfig's requirements) */
    char *a1[] = {"server",
                  "--override",
                  "process.roles=broker",
                  "--override",
                  "controller.quorum.voters=1@localhost:9093",
                  NULL};
    CHECK_EQ(brk_load_config(&cfg, 5, a1, envp, err, sizeof err), -1);
    CHECK(strstr(err, "the node id 1 must not be included in the set of "
                      "voters controller.quorum.voters=Set(1)") != NULL);
    brk_config_free(&cfg);
    char *a1b[] = {"server",
                   "--override",
                   "process.roles=broker",
                   "--override",
                   "controller.quorum.voters=2@localhost:9093",
                   NULL};
    CHECK_EQ(brk_load_config(&cfg, 5, a1b, envp, err, sizeof err), -1);
    CHECK(strstr(err, "controller.listener.names must not contain a value "
                      "appearing in the 'listeners' configuration") != NULL);
    brk_config_free(&cfg);
    char *a1c[] = {"server",
                   "--override",
                   "process.roles=broker",
                   "--override",
                   "controller.quorum.voters=2@localhost:9093",
                   "--override",
                   "listeners=PLAINTEXT://:9092",
                   NULL};
    CHECK_EQ(brk_load_config(&cfg, 7, a1c, envp, err, sizeof err), 0);
    brk_config_free(&cfg);
    /* a quorum this node is not one of: it would follow a remote one */
    char *a2[] = {"server", "--override",
                  "controller.quorum.voters=2@localhost:9093,3@otherhost:9093",
                  NULL};
    CHECK_EQ(brk_load_config(&cfg, 3, a2, envp, err, sizeof err), -1);
    CHECK(strstr(err, "controller.quorum.voters") != NULL);
    brk_config_free(&cfg);
    /* a voter named twice */
    char *a2b[] = {"server", "--override",
                   "controller.quorum.voters=1@localhost:9093,1@otherhost:9093",
                   NULL};
    CHECK_EQ(brk_load_config(&cfg, 3, a2b, envp, err, sizeof err), -1);
    CHECK(strstr(err, "controller.quorum.voters") != NULL);
    brk_config_free(&cfg);
    /* a static quorum this node is one of runs (raft_voters.c) */
    char *a2c[] = {"server", "--override",
                   "controller.quorum.voters=1@localhost:9093,2@otherhost:9093",
                   NULL};
    CHECK_EQ(brk_load_config(&cfg, 3, a2c, envp, err, sizeof err), 0);
    brk_config_free(&cfg);
    char *a3[] = {"server", "--override",
                  "controller.quorum.bootstrap.servers=localhost:9999", NULL};
    CHECK_EQ(brk_load_config(&cfg, 3, a3, envp, err, sizeof err), -1);
    CHECK(strstr(err, "controller.quorum.bootstrap.servers") &&
          strstr(err, "localhost:9999"));
    brk_config_free(&cfg);
    /* this node alone is fine */
    char *a4[] = {"server",
                  "--override",
                  "controller.quorum.voters=1@127.0.0.1:9093",
                  "--override",
                  "controller.quorum.bootstrap.servers=127.0.0.1:9093",
                  NULL};
    CHECK_EQ(brk_load_config(&cfg, 5, a4, envp, err, sizeof err), 0);
    brk_config_free(&cfg);
}

TEST(config_topic_synonyms_and_units) {
    brk_config cfg;
    brk_config_init(&cfg);
    char tmp[32];
    brk_cfg_source src;
    /* default: log.retention.hours=168 -> 604800000 ms */
    CHECK_STR(
        brk_topic_cfg_text(&cfg, NULL, 0, BRK_TCFG_RETENTION_MS, &src, tmp),
        "604800000");
    CHECK_EQ(src, CFG_SRC_DEFAULT);
    char err[256];
    CHECK_EQ(
        brk_config_set(&cfg, "log.retention.minutes", "2", err, sizeof err), 0);
    CHECK_STR(
        brk_topic_cfg_text(&cfg, NULL, 0, BRK_TCFG_RETENTION_MS, &src, tmp),
        "120000");
    /* Kafka reports DEFAULT_CONFIG here: its synonym list starts at the
     * primary synonym log.retention.ms, which is unset. */
    CHECK_EQ(src, CFG_SRC_DEFAULT);
    brk_cfg_syn syn[8];
    CHECK_EQ(brk_topic_cfg_synonyms(&cfg, BRK_TCFG_RETENTION_MS, syn, 8), 0);
    /* log.retention.ms beats minutes */
    CHECK_EQ(brk_config_set(&cfg, "log.retention.ms", "-1", err, sizeof err),
             0);
    CHECK_EQ(brk_topic_cfg_i64(&cfg, NULL, 0, BRK_TCFG_RETENTION_MS), -1);
    brk_topic_cfg_text(&cfg, NULL, 0, BRK_TCFG_RETENTION_MS, &src, tmp);
    CHECK_EQ(src, CFG_SRC_STATIC_BROKER);
    /* levels outer, names inner: static ms, static minutes, default hours */
    CHECK_EQ(brk_topic_cfg_synonyms(&cfg, BRK_TCFG_RETENTION_MS, syn, 8), 3);
    CHECK_STR(syn[0].name, "log.retention.ms");
    CHECK_STR(syn[1].name, "log.retention.minutes");
    CHECK_STR(syn[2].name, "log.retention.hours");
    CHECK_EQ(syn[2].src, CFG_SRC_DEFAULT);
    /* a topic override beats everything */
    brk_kv ov[] = {{"retention.ms", "5000"}};
    CHECK_EQ(brk_topic_cfg_i64(&cfg, ov, 1, BRK_TCFG_RETENTION_MS), 5000);
    brk_topic_cfg_text(&cfg, ov, 1, BRK_TCFG_RETENTION_MS, &src, tmp);
    CHECK_EQ(src, CFG_SRC_DYNAMIC_TOPIC);
    /* segment.ms from log.roll.hours */
    CHECK_EQ(brk_topic_cfg_i64(&cfg, NULL, 0, BRK_TCFG_SEGMENT_MS), 604800000);
    CHECK_EQ(brk_config_set(&cfg, "log.roll.hours", "1", err, sizeof err), 0);
    CHECK_EQ(brk_topic_cfg_i64(&cfg, NULL, 0, BRK_TCFG_SEGMENT_MS), 3600000);
    /* max.message.bytes <- message.max.bytes; dynamic beats static */
    brk_config_set_dynamic(&cfg, brk_config_find("message.max.bytes"), "2000",
                           false);
    CHECK_EQ(brk_topic_cfg_i64(&cfg, NULL, 0, BRK_TCFG_MAX_MESSAGE_BYTES),
             2000);
    CHECK_EQ(cfg.v[BRK_CFG_MESSAGE_MAX_BYTES].src, CFG_SRC_DYNAMIC_BROKER);
    brk_config_set_dynamic(&cfg, brk_config_find("message.max.bytes"), NULL,
                           false);
    CHECK_EQ(brk_topic_cfg_i64(&cfg, NULL, 0, BRK_TCFG_MAX_MESSAGE_BYTES),
             1048588);
    CHECK_EQ(brk_config_find_topic("cleanup.policy"), BRK_TCFG_CLEANUP_POLICY);
    CHECK_EQ(brk_config_find("cleanup.policy"), -1);
    CHECK_EQ(brk_config_find("compression.type"), BRK_CFG_COMPRESSION_TYPE);
    brk_config_free(&cfg);
}

TEST(config_every_default_is_valid) {
    char err[256];
    for (int i = 0; i < BRK_CFG_COUNT; i++) {
        const brk_cfg_def *d = &brk_cfg_defs[i];
        /* Kafka documents every key but two internal ones */
        CHECK(d->doc && (d->doc[0] || (d->flags & CFG_F_INTERNAL)));
        if (d->def && brk_config_validate(i, d->def, err, sizeof err) != 0)
            test_fail(__FILE__, __LINE__, "default of %s invalid: %s", d->name,
                      err);
        if ((d->flags & CFG_F_TOPIC) && d->synonyms) {
            char one[128];
            snprintf(one, sizeof one, "%s", d->synonyms);
            char *c = strchr(one, ':');
            if (c)
                *c = 0;
            if (strchr(one, ','))
                *strchr(one, ',') = 0;
            if (brk_config_find(one) < 0 && strncmp(one, "log.local", 9) &&
                strstr(one, "throttled") == NULL)
                test_fail(__FILE__, __LINE__, "synonym %s of %s unknown", one,
                          d->name);
        }
    }
}

TEST(net_parse_listeners_like_kafka) {
    net_endpoint ep[8];
    char err[256];
    int n = net_parse_listeners("INTERNAL://:29092, external://0.0.0.0:9092,"
                                "V6://[::1]:9093",
                                ep, 8, err, sizeof err);
    CHECK_EQ(n, 3);
    CHECK_STR(ep[0].name, "INTERNAL");
    CHECK_STR(ep[0].host, "");
    CHECK_EQ(ep[0].port, 29092);
    CHECK_STR(ep[1].name, "EXTERNAL");
    CHECK_STR(ep[1].host, "0.0.0.0");
    CHECK_STR(ep[2].host, "::1");
    CHECK_EQ(net_parse_listeners("PLAINTEXT://h:1,PLAINTEXT://h:2", ep, 8, err,
                                 sizeof err),
             -1);
    CHECK_EQ(net_parse_listeners("nohost", ep, 8, err, sizeof err), -1);
    CHECK_EQ(net_parse_listeners("X://h:99999", ep, 8, err, sizeof err), -1);
    CHECK_EQ(net_parse_listeners("X://h", ep, 8, err, sizeof err), -1);
    CHECK_EQ(net_parse_listeners("", ep, 8, err, sizeof err), 0);
}

/* Kafka's ConfigDef messages, word for word (ConfigException: "Invalid value
 * <v> for configuration <k>: <why>"), for each kind of bad value. */
TEST(config_validation_messages_are_kafkas) {
    char err[512];
    CHECK_EQ(brk_config_validate(BRK_CFG_LOG_CLEANER_THREADS, "abc", err,
                                 sizeof err),
             -1);
    CHECK_STR(err, "Invalid value abc for configuration log.cleaner.threads: "
                   "Not a number of type INT");
    CHECK_EQ(brk_config_validate(BRK_CFG_LOG_CLEANER_MIN_CLEANABLE_RATIO, "1.5",
                                 err, sizeof err),
             -1);
    CHECK_STR(err, "Invalid value 1.5 for configuration "
                   "log.cleaner.min.cleanable.ratio: Value must be no more "
                   "than 1");
    CHECK_EQ(brk_config_validate(BRK_CFG_UNCLEAN_LEADER_ELECTION_ENABLE, "yes",
                                 err, sizeof err),
             -1);
    CHECK_STR(err, "Invalid value yes for configuration "
                   "unclean.leader.election.enable: Expected value to be "
                   "either true or false");
    CHECK_EQ(brk_config_validate(BRK_CFG_LOG_MESSAGE_TIMESTAMP_TYPE,
                                 "createtime", err, sizeof err),
             -1);
    CHECK_STR(err, "Invalid value createtime for configuration "
                   "log.message.timestamp.type: String must be one of: "
                   "CreateTime, LogAppendTime");
    CHECK_EQ(brk_config_validate(BRK_CFG_LOG_CLEANUP_POLICY, "delete,foo", err,
                                 sizeof err),
             -1);
    CHECK_STR(err, "Invalid value foo for configuration log.cleanup.policy: "
                   "String must be one of: compact, delete");
    CHECK_EQ(brk_config_validate(BRK_CFG_LOG_CLEANUP_POLICY, "compact, delete",
                                 err, sizeof err),
             0);
}

/* Every key of Kafka 4.3.1 is known (the examples included), and
 * keys Sluice does not act on are flagged, not dropped. */
TEST(config_kafka_keys_are_known) {
    int id = brk_config_find("sasl.kerberos.min.time.before.relogin");
    CHECK(id >= 0);
    CHECK(brk_cfg_defs[id].flags & CFG_F_DYNAMIC);
    CHECK(brk_cfg_defs[id].flags & CFG_F_PER_BROKER);
    CHECK_STR(brk_cfg_defs[id].def, "60000");
    id = brk_config_find("allow.everyone.if.no.acl.found");
    CHECK(id >= 0);
    CHECK(brk_config_find("no.such.key") < 0);
    brk_config cfg;
    brk_config_init(&cfg);
    char err[512];
    CHECK_EQ(brk_config_set(&cfg, "allow.everyone.if.no.acl.found", "true", err,
                            sizeof err),
             0);
    CHECK_EQ(brk_config_set(&cfg, "no.such.key", "1", err, sizeof err), 1);
    CHECK_EQ(brk_config_set(&cfg, "sasl.kerberos.min.time.before.relogin", "x",
                            err, sizeof err),
             -1);
    CHECK(brk_config_report_unimplemented(&cfg) >= 1);
    brk_config_free(&cfg);
    CHECK(brk_config_find_group("share.delivery.count.limit") >= 0);
    CHECK(brk_config_find_client_metrics("interval.ms") >= 0);
    CHECK(brk_config_find_topic("internal.segment.bytes") >= 0);
}
