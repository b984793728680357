/*
 * tool_storage.c - `sluice storage` / kafka-storage.sh: random-uuid, format
 * and info, as Kafka 4.x's StorageTool does it on a broker's log
 * directories (meta.properties with cluster.id, node.id, directory.id and
 * version=1, written in java.util.Properties' format). Local files only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/util.h"
#include "tools/tool_common.h"

static const tool_optdef st_opts[] = {
    {"add-scram", TOOL_ARG,
     "A SCRAM_CREDENTIAL to add to the __cluster_metadata log (not supported "
     "by sluice)."},
    {"cluster-id", TOOL_ARG, "The cluster ID to use (format, -t)."},
    {"config", TOOL_ARG, "The Kafka configuration file to use (-c)."},
    {"feature", TOOL_ARG,
     "A feature upgrade to use in the format feature=level (-f)."},
    {"ignore-formatted", TOOL_FLAG,
     "When this option is passed, the format command will skip over already "
     "formatted directories rather than failing (-g)."},
    {"initial-controllers", TOOL_ARG,
     "Used to initialize a KIP-853 dynamic quorum (-I)."},
    {"no-initial-controllers", TOOL_FLAG,
     "Used to initialize a server without a KIP-853 dynamic quorum (-N)."},
    {"release-version", TOOL_ARG,
     "The release version to use for the initial feature settings (-r)."},
    {"standalone", TOOL_FLAG,
     "Used to initialize a controller as a single-node KIP-853 dynamic "
     "quorum (-s)."},
};

static bool random_uuid(char out[23]) {
    uint8_t b[16];
    for (;;) {
        int fd = open("/dev/urandom", O_RDONLY);
        if (fd < 0)
            return false;
        ssize_t n = read(fd, b, sizeof(b));
        close(fd);
        if (n != (ssize_t)sizeof(b))
            return false;
        /* Kafka's Uuid.randomUuid: version 4 bits, and never an id whose
         * string starts with '-' (it would read like a flag). */
        b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
        b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
        tool_uuid_str(b, out);
        if (out[0] != '-')
            return true;
    }
}

static bool valid_uuid(const char *s) {
    if (strlen(s) != 22)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
              (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
            return false;
    return true;
}

/* Log directories from log.dirs (or log.dir); NULL-terminated. */
static char **log_dirs(const tool_props *cfg, int *n) {
    const char *v = tool_props_get(cfg, "log.dirs");
    if (!v)
        v = tool_props_get(cfg, "log.dir");
    if (!v)
        v = "/tmp/kafka-logs";
    char *s = xstrdup(v), *save = NULL;
    char **out = NULL;
    *n = 0;
    for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        out = xrealloc(out, (size_t)(*n + 2) * sizeof(char *));
        out[(*n)++] = xstrdup(t);
    }
    free(s);
    if (out)
        out[*n] = NULL;
    return out;
}

static void free_dirs(char **d, int n) {
    for (int i = 0; i < n; i++)
        free(d[i]);
    free(d);
}

static bool mkdirs(const char *path) {
    char *p = xstrdup(path);
    for (char *c = p + 1; *c; c++)
        if (*c == '/') {
            *c = 0;
            mkdir(p, 0755);
            *c = '/';
        }
    bool ok = mkdir(p, 0755) == 0 || errno == EEXIST;
    free(p);
    return ok;
}

static int do_format(tool_args *a, tool_props *cfg) {
    const char *cid = tool_get(a, "cluster-id");
    if (!cid) {
        fprintf(stderr,
                "usage: kafka-storage format [-h] --config CONFIG --cluster-id "
                "CLUSTER_ID ...\nkafka-storage: error: argument "
                "--cluster-id/-t is required\n");
        return 1;
    }
    if (!valid_uuid(cid)) {
        fprintf(stderr,
                "Cluster ID string %s does not appear to be a valid UUID: "
                "Input byte array has wrong 4-byte ending unit\n",
                cid);
        return 1;
    }
    const char *node = tool_props_get(cfg, "node.id");
    if (!node)
        node = tool_props_get(cfg, "broker.id");
    if (!node) {
        fprintf(stderr, "Missing required configuration `node.id` which has no "
                        "default value.\n");
        return 1;
    }
    if (tool_has(a, "release-version") &&
        strncmp(tool_get(a, "release-version"), "3.", 2) &&
        strncmp(tool_get(a, "release-version"), "4.", 2)) {
        fprintf(stderr, "Unknown metadata.version '%s'.\n",
                tool_get(a, "release-version"));
        return 1;
    }
    int n;
    char **dirs = log_dirs(cfg, &n);
    const char *meta_dir = tool_props_get(cfg, "metadata.log.dir");
    if (!meta_dir)
        meta_dir = dirs[0];
    int unformatted = 0;
    for (int i = 0; i < n; i++) {
        char path[4200];
        snprintf(path, sizeof(path), "%s/meta.properties", dirs[i]);
        if (access(path, F_OK) == 0) {
            if (!tool_has(a, "ignore-formatted")) {
                fprintf(stderr,
                        "Log directory %s is already formatted. Use "
                        "--ignore-formatted to ignore this directory and "
                        "format the others.\n",
                        dirs[i]);
                free_dirs(dirs, n);
                return 1;
            }
            continue;
        }
        unformatted++;
    }
    if (unformatted == 0) {
        printf("All of the log directories are already formatted.\n");
        free_dirs(dirs, n);
        return 0;
    }
    const char *rv = tool_get_or(a, "release-version", "4.3-IV0");
    printf(
        "Bootstrap metadata: BootstrapMetadata(records=[ApiMessageAndVersion("
        "FeatureLevelRecord(name='metadata.version', featureLevel=30) at "
        "version "
        "0)], metadataVersionLevel=30, source=format command)\n");
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    char date[64];
    strftime(date, sizeof(date), "%a %b %d %H:%M:%S %Z %Y", &tm);
    for (int i = 0; i < n; i++) {
        char path[4200];
        snprintf(path, sizeof(path), "%s/meta.properties", dirs[i]);
        if (access(path, F_OK) == 0)
            continue;
        if (!mkdirs(dirs[i])) {
            fprintf(stderr, "Error while writing meta.properties file %s: %s\n",
                    path, strerror(errno));
            free_dirs(dirs, n);
            return 1;
        }
        char did[23];
        random_uuid(did);
        char tmp[4300];
        snprintf(tmp, sizeof(tmp), "%s.tmp", path);
        FILE *f = fopen(tmp, "w");
        if (!f) {
            fprintf(stderr, "Error while writing meta.properties file %s: %s\n",
                    path, strerror(errno));
            free_dirs(dirs, n);
            return 1;
        }
        fprintf(
            f,
            "#\n#%s\nnode.id=%s\ndirectory.id=%s\nversion=1\ncluster.id=%s\n",
            date, node, did, cid);
        fflush(f);
        fsync(fileno(f));
        fclose(f);
        rename(tmp, path);
        printf("Formatting %s directory %s with metadata.version %s.\n",
               !strcmp(dirs[i], meta_dir) ? "metadata" : "data", dirs[i], rv);
    }
    free_dirs(dirs, n);
    return 0;
}

static int do_info(tool_props *cfg) {
    int n;
    char **dirs = log_dirs(cfg, &n);
    /* Only directories that exist are listed, as Kafka does. */
    int nexist = 0;
    struct stat st0;
    for (int i = 0; i < n; i++)
        nexist += stat(dirs[i], &st0) == 0;
    if (nexist) {
        printf("Found log director%s:\n", nexist > 1 ? "ies" : "y");
        for (int i = 0; i < n; i++)
            if (stat(dirs[i], &st0) == 0)
                printf("  %s\n", dirs[i]);
        printf("\n");
    }
    buf problems;
    buf_init(&problems, 64);
    char *meta = NULL;
    for (int i = 0; i < n; i++) {
        char path[4200];
        snprintf(path, sizeof(path), "%s/meta.properties", dirs[i]);
        tool_props p = {0};
        struct stat st;
        if (stat(dirs[i], &st) != 0) {
            buf_printf(&problems, "  %s does not exist\n", dirs[i]);
            continue;
        }
        if (access(path, F_OK) != 0 || !tool_props_load(&p, path)) {
            buf_printf(&problems, "  %s is not formatted.\n", dirs[i]);
            tool_props_free(&p);
            continue;
        }
        if (!meta) {
            /* Kafka prints the properties sorted by key. */
            buf b;
            buf_init(&b, 128);
            buf_printf(&b, "{");
            char **keys = xcalloc((size_t)p.n + 1, sizeof(char *));
            for (int k = 0; k < p.n; k++)
                keys[k] = p.keys[k];
            qsort(keys, (size_t)p.n, sizeof(char *), tool_strcmp_p);
            for (int k = 0; k < p.n; k++)
                buf_printf(&b, "%s%s=%s", k ? ", " : "", keys[k],
                           tool_props_get(&p, keys[k]));
            buf_printf(&b, "}");
            buf_put_u8(&b, 0);
            free(keys);
            meta = (char *)b.data;
        }
        tool_props_free(&p);
    }
    if (meta)
        printf("Found metadata: %s\n\n", meta);
    buf_put_u8(&problems, 0);
    int rc = 0;
    if (problems.len > 1) {
        printf("Found problem%s:\n%s\n",
               strchr((char *)problems.data, '\n') !=
                       strrchr((char *)problems.data, '\n')
                   ? "s"
                   : "",
               (char *)problems.data);
        rc = 1;
    }
    buf_free(&problems);
    free(meta);
    free_dirs(dirs, n);
    return rc;
}

int tool_storage_main(int argc, char **argv) {
    /* argparse short flags -> long ones. */
    static const char *const shorts[][2] = {
        {"-t", "--cluster-id"},
        {"-c", "--config"},
        {"-g", "--ignore-formatted"},
        {"-r", "--release-version"},
        {"-s", "--standalone"},
        {"-N", "--no-initial-controllers"},
        {"-I", "--initial-controllers"},
        {"-S", "--add-scram"},
        {"-f", "--feature"},
        {"-h", "--help"},
    };
    char **av = xcalloc((size_t)argc + 1, sizeof(char *));
    for (int i = 0; i < argc; i++) {
        av[i] = argv[i];
        for (size_t k = 0; k < SL_ARRAY_LEN(shorts); k++)
            if (!strcmp(argv[i], shorts[k][0]))
                av[i] = (char *)shorts[k][1];
    }
    tool_args a;
    int rc = tool_parse(
        &a, "kafka-storage.sh",
        "usage: kafka-storage [-h] {info,format,version,random-uuid} ...\n"
        "The Kafka storage tool.",
        st_opts, SL_ARRAY_LEN(st_opts), argc, av);
    if (rc >= 0) {
        free(av);
        return rc;
    }
    tool_props cfg = {0};
    const char *cmd = a.npositional ? a.positional[0] : NULL;
    if (!cmd) {
        fprintf(stderr,
                "usage: kafka-storage [-h] {info,format,version,random-uuid,"
                "feature-dependencies} ...\nkafka-storage: error: too few "
                "arguments\n");
        rc = 1;
    } else if (!strcmp(cmd, "random-uuid")) {
        char id[23];
        rc = random_uuid(id) ? (printf("%s\n", id), 0) : 1;
    } else if (!strcmp(cmd, "version")) {
        printf("metadata.version 4.3-IV0\n");
        rc = 0;
    } else if (!strcmp(cmd, "format") || !strcmp(cmd, "info")) {
        if (!tool_has(&a, "config")) {
            fprintf(stderr,
                    "usage: kafka-storage %s [-h] --config CONFIG ...\n"
                    "kafka-storage: error: argument --config/-c is required\n",
                    cmd);
            rc = 1;
        } else if (!tool_props_load(&cfg, tool_get(&a, "config"))) {
            rc = 1;
        } else {
            rc = !strcmp(cmd, "format") ? do_format(&a, &cfg) : do_info(&cfg);
        }
    } else {
        fprintf(stderr,
                "usage: kafka-storage [-h] {info,format,version,random-uuid,"
                "feature-dependencies} ...\nkafka-storage: error: argument "
                "command: invalid choice: '%s'\n",
                cmd);
        rc = 1;
    }
    tool_props_free(&cfg);
    tool_args_free(&a);
    free(av);
    return rc;
}
