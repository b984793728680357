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

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "cluster/image.h"
#include "core/buf.h"
#include "core/list.h"
#include "core/util.h"
#include "log/batch.h"
#include "proto/gen/messages.h"
#include "tools/tool_common.h"
#include "tools/tool_features.h"

static const tool_optdef st_opts[] = {
    {"add-scram", TOOL_ARG,
     "A SCRAM_CREDENTIAL to add to the __cluster_metadata log e.g.\n"
     "'SCRAM-SHA-256=[name=alice,password=alice-secret]'\n"
     "'SCRAM-SHA-512=[name=alice,iterations=8192,salt=\"N3E=\","
     "saltedpassword=\"YCE=\"]' (-S)."},
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

/* Log directories from log.dirs (or log.dir); NULL-terminated. */
static char **log_dirs(const tool_props *cfg, int *n) {
    const char *v = tool_props_get(cfg, "log.dirs");
    if (!v)
        v = tool_props_get(cfg, "log.dir");
    if (!v)
        v = "/tmp/kafka-logs";
    char **out = NULL;
    *n = 0;
    list_iter it = list_start(v, true);
    const char *t;
    size_t len;
    while (list_next(&it, &t, &len)) {
        out = xrealloc(out, (size_t)(*n + 2) * sizeof(char *));
        out[(*n)++] = xstrndup(t, len);
    }
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

/* ---- bootstrap.checkpoint ------------------------------------------------ */

static int b64_val(char c) {
    return c >= 'A' && c <= 'Z'   ? c - 'A'
           : c >= 'a' && c <= 'z' ? c - 'a' + 26
           : c >= '0' && c <= '9' ? c - '0' + 52
           : c == '+'             ? 62
           : c == '/'             ? 63
                                  : -1;
}

/* java.util.Base64.getDecoder() (standard alphabet, optional padding). */
static bool b64_decode(const char *s, buf *out) {
    size_t n = strlen(s);
    while (n && s[n - 1] == '=')
        n--;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_val(s[i]);
        if (v < 0)
            return false;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf_put_u8(out, (uint8_t)(acc >> bits));
        }
    }
    return n % 4 != 1;
}

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = 0;
    return s;
}

/* Kafka's ScramParser: one --add-scram argument to a framed
 * UserScramCredentialRecord value in out. false after printing Kafka's
 * FormatterException message. */
static bool scram_record(const char *arg, buf *out) {
    char *in = xstrdup(arg), *t = trim(in);
    bool ok = false;
    buf salt, salted;
    buf_init(&salt, 32);
    buf_init(&salted, 64);
    char *eq = strchr(t, '=');
    const char *name = NULL, *pw = NULL, *salt_s = NULL, *salted_s = NULL,
               *iter_s = NULL;
    char unknown[1024] = "";
    if (!eq) {
        fprintf(stderr, "Failed to find equals sign in SCRAM argument '%s'\n",
                t);
        goto out;
    }
    *eq = 0;
    int mech = !strcmp(t, "SCRAM-SHA-256")   ? 1
               : !strcmp(t, "SCRAM-SHA-512") ? 2
                                             : 0;
    if (!mech) {
        fprintf(stderr, "The add-scram mechanism %s is not supported.\n", t);
        goto out;
    }
    char *cfg = eq + 1;
    size_t cl = strlen(cfg);
    if (cfg[0] != '[') {
        fprintf(stderr, "Expected configuration string to start with [\n");
        goto out;
    }
    if (cl < 2 || cfg[cl - 1] != ']') {
        fprintf(stderr, "Expected configuration string to end with ]\n");
        goto out;
    }
    cfg[cl - 1] = 0;
    cfg++;
    char *save = NULL;
    for (char *c = strtok_r(cfg, ",", &save); c;
         c = strtok_r(NULL, ",", &save)) {
        char *e = strchr(c, '=');
        if (!e) {
            fprintf(stderr, "No equals sign found in SCRAM component: %s\n", c);
            goto out;
        }
        *e = 0;
        char *k = trim(c), *v = trim(e + 1);
        size_t vl = strlen(v);
        if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') {
            v[vl - 1] = 0;
            v++;
        }
        if (!strcmp(k, "name"))
            name = v;
        else if (!strcmp(k, "password"))
            pw = v;
        else if (!strcmp(k, "salt"))
            salt_s = v;
        else if (!strcmp(k, "saltedpassword"))
            salted_s = v;
        else if (!strcmp(k, "iterations"))
            iter_s = v;
        else
            snprintf(unknown + strlen(unknown),
                     sizeof unknown - strlen(unknown), "%s%s",
                     *unknown ? ", " : "", k);
    }
    if (!name) {
        fprintf(stderr, "You must supply 'name' to add-scram\n");
        goto out;
    }
    if (salt_s && !b64_decode(salt_s, &salt)) {
        fprintf(stderr, "Failed to decode given salt: %s\n", salt_s);
        goto out;
    }
    int64_t iters = 4096;
    if (iter_s && (!tool_parse_i64(iter_s, &iters) || iters < INT32_MIN ||
                   iters > INT32_MAX)) {
        fprintf(stderr, "Failed to parse iterations count: %s\n", iter_s);
        goto out;
    }
    if (!pw) {
        if (!salted_s) {
            fprintf(stderr, "You must supply one of 'password' or "
                            "'saltedpassword' to add-scram\n");
            goto out;
        }
        if (!salt_s) {
            fprintf(stderr, "You must supply 'salt' with 'saltedpassword' to "
                            "add-scram\n");
            goto out;
        }
        if (!b64_decode(salted_s, &salted)) {
            fprintf(stderr, "Failed to decode given saltedPassword: %s\n",
                    salted_s);
            goto out;
        }
    }
    if (*unknown) {
        fprintf(stderr, "Unknown SCRAM configurations: %s\n", unknown);
        goto out;
    }
    const char *mname = mech == 1 ? "SCRAM_SHA_256" : "SCRAM_SHA_512";
    if (iters < 4096) {
        fprintf(stderr,
                "The 'iterations' value must be >= 4096 for add-scram using "
                "%s\n",
                mname);
        goto out;
    }
    if (iters > 16384) {
        fprintf(stderr,
                "The 'iterations' value must be <= 16384 for add-scram using "
                "%s\n",
                mname);
        goto out;
    }
    if (!salt_s) {
        /* ScramFormatter.secureRandomBytes: 130 random bits in base 36 */
        uint8_t r[17];
        if (RAND_bytes(r, sizeof r) != 1)
            goto out;
        r[0] &= 0x03;
        char d[32];
        int nd = 0;
        bool zero = false;
        while (!zero && nd < 30) {
            unsigned rem = 0;
            zero = true;
            for (size_t i = 0; i < sizeof r; i++) {
                unsigned cur = rem * 256 + r[i];
                r[i] = (uint8_t)(cur / 36);
                rem = cur % 36;
                zero &= r[i] == 0;
            }
            d[nd++] = (char)(rem < 10 ? '0' + rem : 'a' + rem - 10);
        }
        for (int i = nd - 1; i >= 0; i--)
            buf_put_u8(&salt, (uint8_t)d[i]);
    }
    const EVP_MD *md = mech == 1 ? EVP_sha256() : EVP_sha512();
    int hl = EVP_MD_size(md);
    if (pw) {
        uint8_t *sp = buf_extend(&salted, (size_t)hl);
        if (PKCS5_PBKDF2_HMAC(pw, (int)strlen(pw), salt.data, (int)salt.len,
                              (int)iters, md, hl, sp) != 1)
            goto out;
    }
    uint8_t client[64], stored[64], server[64];
    unsigned cl2 = 0, sl = 0, vl = 0;
    static const uint8_t empty[1];
    const uint8_t *key = salted.len ? salted.data : empty;
    if (!HMAC(md, key, (int)salted.len, (const uint8_t *)"Client Key", 10,
              client, &cl2) ||
        !EVP_Digest(client, cl2, stored, &sl, md, NULL) ||
        !HMAC(md, key, (int)salted.len, (const uint8_t *)"Server Key", 10,
              server, &vl))
        goto out;
    proto_user_scram_credential_record rec;
    proto_user_scram_credential_record_init(&rec);
    rec.name = proto_str_c(name);
    rec.mechanism = (int8_t)mech;
    rec.salt = (proto_bytes){salt.data, (int32_t)salt.len};
    rec.stored_key = (proto_bytes){stored, (int32_t)sl};
    rec.server_key = (proto_bytes){server, (int32_t)vl};
    rec.iterations = (int32_t)iters;
    cl_record_frame(out, PROTO_MD_USER_SCRAM_CREDENTIAL_RECORD, 0);
    proto_user_scram_credential_record_encode(out, 0, &rec);
    ok = true;
out:
    buf_free(&salt);
    buf_free(&salted);
    free(in);
    return ok;
}

/* A KRaft control batch with one record: key (version 0, type), value. */
static void control_batch(buf *out, int64_t base, int16_t type,
                          const buf *value, int64_t now) {
    uint8_t key[4] = {0, 0, 0, 0};
    key[3] = (uint8_t)type;
    batch_builder b;
    batch_builder_init(&b, 0, base);
    batch_builder_set_control(&b, true);
    batch_builder_add(&b, now, key, 4, value->data, (int32_t)value->len, NULL,
                      0);
    batch_builder_finish(&b, out);
    batch_builder_free(&b);
}

/* Kafka's BootstrapDirectory.writeBinaryFile: a checkpoint file with a
 * SnapshotHeader control batch, one batch of the records, a SnapshotFooter
 * control batch. */
static bool write_bootstrap(const char *dir, buf *recs, int n) {
    int64_t now = tool_now_ms();
    buf file, v;
    buf_init(&file, 512);
    buf_init(&v, 16);
    buf_put_be16(&v, 0); /* SnapshotHeaderRecord: Version */
    buf_put_be64(&v, 0); /* LastContainedLogTimestamp */
    buf_put_uvarint(&v, 0);
    control_batch(&file, 0, 3, &v, now);
    batch_builder b;
    batch_builder_init(&b, 0, 1);
    for (int i = 0; i < n; i++)
        batch_builder_add(&b, now, NULL, -1, recs[i].data, (int32_t)recs[i].len,
                          NULL, 0);
    batch_builder_finish(&b, &file);
    batch_builder_free(&b);
    buf_reset(&v);
    buf_put_be16(&v, 0); /* SnapshotFooterRecord: Version */
    buf_put_uvarint(&v, 0);
    control_batch(&file, 1 + n, 4, &v, now);
    buf_free(&v);
    char path[4200], tmp[4300];
    snprintf(path, sizeof path, "%s/bootstrap.checkpoint", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    bool ok = f && fwrite(file.data, 1, file.len, f) == file.len &&
              fflush(f) == 0 && fsync(fileno(f)) == 0;
    if (f)
        fclose(f);
    ok = ok && rename(tmp, path) == 0;
    buf_free(&file);
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
    uint8_t cid_bytes[16];
    char cid_err[256];
    if (!uuid_parse(cid, cid_bytes, cid_err, sizeof cid_err)) {
        fprintf(stderr,
                "Cluster ID string %s does not appear to be a valid UUID: "
                "%s\n",
                cid, cid_err);
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
    const char *rv = tool_get_or(a, "release-version", "4.3-IV0");
    char mverr[1024];
    int mv = tool_metadata_version_level(rv, mverr, sizeof mverr);
    if (mv < 0) {
        fprintf(stderr, "%s\n", mverr);
        return 1;
    }
    /* the bootstrap records: metadata.version, then SCRAM credentials */
    const char **scram;
    int nscram = tool_getall(a, "add-scram", &scram);
    buf *recs = xcalloc((size_t)nscram + 1, sizeof(buf));
    int nrec = 0;
    buf_init(&recs[nrec], 64);
    {
        proto_feature_level_record f;
        proto_feature_level_record_init(&f);
        f.name = proto_str_c("metadata.version");
        f.feature_level = (int16_t)mv;
        cl_record_frame(&recs[nrec], PROTO_MD_FEATURE_LEVEL_RECORD, 0);
        proto_feature_level_record_encode(&recs[nrec], 0, &f);
        nrec++;
    }
    if (nscram && mv < 11) {
        fprintf(stderr, "SCRAM is only supported in metadata.version 3.5-IV2 "
                        "or later.\n");
        goto fail_recs;
    }
    for (int i = 0; i < nscram; i++) {
        buf_init(&recs[nrec], 128);
        nrec++;
        if (!scram_record(scram[i], &recs[nrec - 1]))
            goto fail_recs;
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
                goto fail_recs;
            }
            continue;
        }
        unformatted++;
    }
    if (unformatted == 0) {
        printf("All of the log directories are already formatted.\n");
        free_dirs(dirs, n);
        goto done_recs;
    }
    printf(
        "Bootstrap metadata: BootstrapMetadata(records=[ApiMessageAndVersion("
        "FeatureLevelRecord(name='metadata.version', featureLevel=%d) at "
        "version 0)%s], metadataVersionLevel=%d, source=format command)\n",
        mv, nscram ? ", ..." : "", mv);
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
            goto fail_recs;
        }
        char did[UUID_STR_LEN + 1];
        uuid_random_string(did);
        char tmp[4300];
        snprintf(tmp, sizeof(tmp), "%s.tmp", path);
        FILE *f = fopen(tmp, "w");
        if (!f) {
            fprintf(stderr, "Error while writing meta.properties file %s: %s\n",
                    path, strerror(errno));
            free_dirs(dirs, n);
            goto fail_recs;
        }
        fprintf(
            f,
            "#\n#%s\nnode.id=%s\ndirectory.id=%s\nversion=1\ncluster.id=%s\n",
            date, node, did, cid);
        fflush(f);
        fsync(fileno(f));
        fclose(f);
        if (!write_bootstrap(dirs[i], recs, nrec)) {
            fprintf(stderr, "Error while writing %s/bootstrap.checkpoint: %s\n",
                    dirs[i], strerror(errno));
            free_dirs(dirs, n);
            goto fail_recs;
        }
        rename(tmp, path);
        printf("Formatting %s directory %s with metadata.version %s.\n",
               !strcmp(dirs[i], meta_dir) ? "metadata" : "data", dirs[i],
               tool_metadata_version_name(mv) ? tool_metadata_version_name(mv)
                                              : rv);
    }
    free_dirs(dirs, n);
done_recs:
    for (int i = 0; i < nrec; i++)
        buf_free(&recs[i]);
    free(recs);
    return 0;
fail_recs:
    for (int i = 0; i < nrec; i++)
        buf_free(&recs[i]);
    free(recs);
    return 1;
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
        char id[UUID_STR_LEN + 1];
        uuid_random_string(id);
        printf("%s\n", id);
        rc = 0;
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
