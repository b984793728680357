/*
 * tool_runclass.c - `sluice run-class <class> args` / kafka-run-class.sh:
 * runs the sluice tool that implements one of Kafka's tool classes, so
 * commands such as `kafka-run-class kafka.tools.GetOffsetShell ...` (the
 * seed notes) keep working. Classes without a sluice tool exit 1.
 */
#include <stdio.h>
#include <string.h>

#include "core/util.h"
#include "main.h"

static const struct {
    const char *cls; /* class name without package */
    int (*fn)(int, char **);
} classes[] = {
    {"TopicCommand", tool_topics_main},
    {"ConfigCommand", tool_configs_main},
    {"ConsoleProducer", tool_console_producer_main},
    {"ConsoleConsumer", tool_console_consumer_main},
    {"ConsumerGroupCommand", tool_consumer_groups_main},
    {"GetOffsetShell", tool_get_offsets_main},
    {"DeleteRecordsCommand", tool_delete_records_main},
    {"BrokerApiVersionsCommand", tool_broker_api_versions_main},
    {"ProducerPerformance", tool_producer_perf_main},
    {"ConsumerPerformance", tool_consumer_perf_main},
    {"VerifiableProducer", tool_verifiable_producer_main},
    {"VerifiableConsumer", tool_verifiable_consumer_main},
    {"EndToEndLatency", tool_e2e_latency_main},
    {"ReassignPartitionsCommand", tool_reassign_main},
    {"StorageTool", tool_storage_main},
    {"AclCommand", tool_acls_main},
    {"FeatureCommand", tool_features_main},
    {"TransactionsCommand", tool_transactions_main},
    {"LeaderElectionCommand", tool_leader_election_main},
    {"MetadataQuorumCommand", tool_metadata_quorum_main},
    {"DumpLogSegments", tool_dump_log_main},
};

int tool_run_class_main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr,
                "USAGE: kafka-run-class.sh [-daemon] [-name servicename] "
                "[-loggc] classname [opts]\n");
        return 1;
    }
    int i = 1;
    while (i < argc && argv[i][0] == '-') /* -daemon, -name x, -loggc */
        i += strcmp(argv[i], "-name") ? 1 : 2;
    if (i >= argc) {
        fprintf(stderr,
                "USAGE: kafka-run-class.sh [-daemon] [-name servicename] "
                "[-loggc] classname [opts]\n");
        return 1;
    }
    const char *cls = strrchr(argv[i], '.');
    cls = cls ? cls + 1 : argv[i];
    for (size_t k = 0; k < SL_ARRAY_LEN(classes); k++)
        if (!strcmp(classes[k].cls, cls))
            return classes[k].fn(argc - i, argv + i);
    fprintf(stderr, "Error: Could not find or load main class %s\n", argv[i]);
    return 1;
}
