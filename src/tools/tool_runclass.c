/*
 * tool_runclass.c - `sluice run-class <class> args` / kafka-run-class.sh:
 * runs the sluice tool that implements one of Kafka's tool classes, so
 * commands such as `kafka-run-class kafka.tools.GetOffsetShell ...` (the
 * seed notes) keep working. Classes without a sluice tool exit 1. The tool
 * may be in the other binary (the runner main passes in execs it).
 */
#include <stdio.h>
#include <string.h>

#include "core/util.h"
#include "tools/tool_common.h"

static const struct {
    const char *cls; /* class name without package */
    const char *cmd; /* command of src/commands.def */
} classes[] = {
    {"TopicCommand", "topics"},
    {"ConfigCommand", "configs"},
    {"ConsoleProducer", "console-producer"},
    {"ConsoleConsumer", "console-consumer"},
    {"ConsumerGroupCommand", "consumer-groups"},
    {"GetOffsetShell", "get-offsets"},
    {"DeleteRecordsCommand", "delete-records"},
    {"BrokerApiVersionsCommand", "broker-api-versions"},
    {"ProducerPerformance", "producer-perf-test"},
    {"ConsumerPerformance", "consumer-perf-test"},
    {"VerifiableProducer", "verifiable-producer"},
    {"VerifiableConsumer", "verifiable-consumer"},
    {"EndToEndLatency", "e2e-latency"},
    {"ReassignPartitionsCommand", "reassign-partitions"},
    {"StorageTool", "storage"},
    {"AclCommand", "acls"},
    {"FeatureCommand", "features"},
    {"TransactionsCommand", "transactions"},
    {"LeaderElectionCommand", "leader-election"},
    {"MetadataQuorumCommand", "metadata-quorum"},
    {"DumpLogSegments", "dump-log"},
};

int tool_run_class_main(int argc, char **argv, tool_command_runner run) {
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
            return run(classes[k].cmd, argc - i, argv + i);
    fprintf(stderr, "Error: Could not find or load main class %s\n", argv[i]);
    return 1;
}
