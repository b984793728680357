/*
 * tool_dumplog.c - `sluice dump-log` / kafka-dump-log.sh (DumpLogSegments):
 * prints Kafka's view of segment files (.log batches and, with
 * --deep-iteration/--print-data-log, records), offset indexes (.index),
 * time indexes (.timeindex, with Kafka's mismatch checks) and producer
 * snapshots (.snapshot). Reads local files only, through the log layer's
 * batch parser and codecs (src/log/batch.h), so it also checks that Sluice's
 * files are what Kafka's tool expects.
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/util.h"
#include "log/batch.h"
#include "log/compress.h"
#include "tools/tool_common.h"

static const tool_optdef dl_opts[] = {
    {"deep-iteration", TOOL_FLAG,
     "if set, uses deep instead of shallow iteration. Automatically "
     "set if print-data-log is enabled."},
    {"files", TOOL_ARG,
     "REQUIRED: The comma separated list of data and index log files to be "
     "dumped."},
    {"index-sanity-check", TOOL_FLAG,
     "if set, just checks the index sanity without printing its "
     "content. This is the same check that is executed on broker "
     "startup to determine if an index needs rebuilding or not."},
    {"key-decoder-class", TOOL_ARG,
     "if set, used to deserialize the keys (strings only here)."},
    {"max-bytes", TOOL_ARG,
     "Limit the amount of total batches read in bytes avoiding reading the "
     "whole .log file(s). (default: 2147483647)"},
    {"print-data-log", TOOL_FLAG,
     "If set, printing the messages content when dumping data logs. "
     "Automatically set if any decoder option is specified."},
    {"skip-record-metadata", TOOL_FLAG,
     "Whether to skip printing metadata for each record."},
    {"value-decoder-class", TOOL_ARG,
     "if set, used to deserialize the messages (strings only "
     "here)."},
    {"verify-index-only", TOOL_FLAG,
     "if set, just verify the index log without printing its "
     "content."},
    {"version", TOOL_FLAG, "Display Kafka version."},
};

/* Kafka reports index problems after every file has been dumped. */
static buf g_index_errors, g_time_mismatch, g_time_notfound;

static uint8_t *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *data = NULL;
    size_t cap = 0, n = 0, k;
    uint8_t chunk[65536];
    while ((k = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (n + k > cap) {
            cap = (n + k) * 2;
            data = xrealloc(data, cap);
        }
        memcpy(data + n, chunk, k);
        n += k;
    }
    fclose(f);
    if (!data)
        data = xmalloc(1);
    *len = n;
    return data;
}

/* Base offset from the file name (20 digits). */
static int64_t base_of(const char *path) {
    const char *s = strrchr(path, '/');
    s = s ? s + 1 : path;
    return strtoll(s, NULL, 10);
}

static bool ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

static char *sibling(const char *path, const char *from, const char *to) {
    size_t n = strlen(path) - strlen(from);
    char *s = xmalloc(n + strlen(to) + 1);
    memcpy(s, path, n);
    strcpy(s + n, to);
    return s;
}

static void print_bytes(const uint8_t *p, int32_t len) {
    if (len < 0) {
        printf("null");
        return;
    }
    fwrite(p, 1, (size_t)len, stdout);
}

static void dump_log(const char *path, bool deep, bool data, bool skip_meta,
                     int64_t max_bytes) {
    size_t len;
    uint8_t *d = read_all(path, &len);
    printf("Dumping %s\n", path);
    if (!d) {
        printf("Could not read %s\n", path);
        return;
    }
    printf("Log starting offset: %lld\n", (long long)base_of(path));
    size_t pos = 0;
    int64_t read_bytes = 0;
    while (pos + BATCH_LOG_OVERHEAD <= len) {
        log_batch_header h;
        if (!batch_parse_header(d + pos, len - pos, &h))
            break;
        int64_t size = batch_size(&h);
        if (h.batch_length <= 0 || (size_t)size > len - pos ||
            size < BATCH_HEADER_SIZE)
            break;
        if (read_bytes + size > max_bytes)
            break;
        read_bytes += size;
        bool valid = batch_compute_crc(d + pos, (size_t)size) == h.crc;
        int32_t last_seq =
            h.base_sequence < 0
                ? -1
                : (int32_t)(((int64_t)h.base_sequence + h.last_offset_delta) %
                            ((int64_t)INT32_MAX + 1));
        bool append_time = (h.attributes & BATCH_ATTR_LOG_APPEND_TIME) != 0;
        char horizon[48];
        if (h.attributes & BATCH_ATTR_DELETE_HORIZON)
            snprintf(horizon, sizeof(horizon), "OptionalLong[%lld]",
                     (long long)h.base_timestamp);
        else
            snprintf(horizon, sizeof(horizon), "OptionalLong.empty");
        printf("baseOffset: %lld lastOffset: %lld count: %d baseSequence: %d "
               "lastSequence: %d "
               "producerId: %lld producerEpoch: %d partitionLeaderEpoch: %d "
               "isTransactional: %s "
               "isControl: %s deleteHorizonMs: %s position: %zu %s: %lld size: "
               "%lld magic: %d "
               "compresscodec: %s crc: %u isvalid: %s\n",
               (long long)h.base_offset, (long long)batch_last_offset(&h),
               h.records_count, h.base_sequence, last_seq,
               (long long)h.producer_id, h.producer_epoch,
               h.partition_leader_epoch,
               batch_is_transactional(&h) ? "true" : "false",
               batch_is_control(&h) ? "true" : "false", horizon, pos,
               append_time ? "LogAppendTime" : "CreateTime",
               (long long)h.max_timestamp, (long long)size, h.magic,
               compress_name(batch_compression(&h)), h.crc,
               valid ? "true" : "false");
        if (deep) {
            buf recs;
            buf_init(&recs, (size_t)size);
            int16_t e = batch_decompress_records(&h, d + pos, 64u << 20, &recs);
            if (e) {
                printf("| decompression failed: %s\n", tool_error_message(e));
            } else {
                batch_iter it;
                batch_iter_init(&it, &h, recs.data, recs.len);
                log_record r;
                int rc;
                while ((rc = batch_iter_next(&it, &r)) == 1) {
                    if (skip_meta) {
                        if (data) {
                            print_bytes(r.value, r.value_len);
                            printf("\n");
                        }
                        continue;
                    }
                    int32_t seq = h.base_sequence < 0
                                      ? -1
                                      : (int32_t)(((int64_t)h.base_sequence +
                                                   r.offset_delta) %
                                                  ((int64_t)INT32_MAX + 1));
                    printf("| offset: %lld %s: %lld keySize: %d valueSize: %d "
                           "sequence: %d "
                           "headerKeys: [",
                           (long long)r.offset,
                           append_time ? "LogAppendTime" : "CreateTime",
                           (long long)r.timestamp, r.key_len, r.value_len, seq);
                    const uint8_t *hp = r.headers;
                    log_record_header rh;
                    int k = 0;
                    while (batch_header_next(&hp, r.headers + r.headers_len,
                                             &rh) == 1) {
                        printf("%s", k++ ? "," : "");
                        fwrite(rh.key, 1,
                               (size_t)(rh.key_len > 0 ? rh.key_len : 0),
                               stdout);
                    }
                    printf("]");
                    if (batch_is_control(&h) && r.key_len >= 4 &&
                        r.value_len >= 6) {
                        int16_t type = (int16_t)sl_load_be16(r.key + 2);
                        int32_t cepoch = (int32_t)sl_load_be32(r.value + 2);
                        printf(" endTxnMarker: %s coordinatorEpoch: %d",
                               type == 0   ? "ABORT"
                               : type == 1 ? "COMMIT"
                                           : "UNKNOWN",
                               cepoch);
                    } else if (data) {
                        /* Kafka prints only the parts the record has. */
                        if (r.key_len >= 0) {
                            printf(" key: ");
                            print_bytes(r.key, r.key_len);
                        }
                        if (r.value_len >= 0) {
                            printf(" payload: ");
                            print_bytes(r.value, r.value_len);
                        }
                    }
                    printf("\n");
                }
                if (rc < 0)
                    printf("| malformed records in batch at position %zu\n",
                           pos);
            }
            buf_free(&recs);
        }
        pos += (size_t)size;
    }
    if (pos < len) {
        /* Kafka counts trailing bytes that do not form a batch. */
        bool all_zero = true;
        for (size_t i = pos; i < len && all_zero; i++)
            all_zero = d[i] == 0;
        if (!all_zero)
            printf("Found %zu invalid bytes at the end of %s\n", len - pos,
                   strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
    }
    free(d);
}

/* Last offset of the batch starting at position pos in a .log, or -1. */
static int64_t batch_last_at(const uint8_t *d, size_t len, size_t pos) {
    log_batch_header h;
    if (pos >= len || !batch_parse_header(d + pos, len - pos, &h))
        return -1;
    return batch_last_offset(&h);
}

static void dump_index(const char *path, bool verify_only) {
    size_t len;
    uint8_t *d = read_all(path, &len);
    printf("Dumping %s\n", path);
    if (!d)
        return;
    if (len == 0) {
        printf("%s is empty.\n", path);
        free(d);
        return;
    }
    int64_t base = base_of(path);
    char *logp = sibling(path, ".index", ".log");
    size_t llen = 0;
    uint8_t *log = read_all(logp, &llen);
    buf mism;
    buf_init(&mism, 64);
    for (size_t i = 0; i + 8 <= len; i += 8) {
        int32_t rel = (int32_t)sl_load_be32(d + i);
        int32_t posn = (int32_t)sl_load_be32(d + i + 4);
        if (i > 0 && rel == 0 && posn == 0)
            break; /* preallocated, unused slots */
        int64_t off = base + rel;
        int64_t found = log ? batch_last_at(log, llen, (size_t)posn) : -1;
        if (log && found != off)
            buf_printf(&mism, "  Index offset: %lld, log offset: %lld\n",
                       (long long)off, (long long)found);
        if (!verify_only)
            printf("offset: %lld position: %d\n", (long long)off, posn);
    }
    if (mism.len) {
        char *abs = realpath(path, NULL);
        buf_printf(&g_index_errors, "Mismatches in :%s\n", abs ? abs : path);
        buf_put(&g_index_errors, mism.data, mism.len);
        free(abs);
    }
    buf_free(&mism);
    free(log);
    free(logp);
    free(d);
}

static void dump_timeindex(const char *path, bool verify_only) {
    size_t len;
    uint8_t *d = read_all(path, &len);
    printf("Dumping %s\n", path);
    if (!d)
        return;
    if (len == 0) {
        printf("%s is empty.\n", path);
        free(d);
        return;
    }
    int64_t base = base_of(path);
    char *logp = sibling(path, ".timeindex", ".log");
    size_t llen = 0;
    uint8_t *log = read_all(logp, &llen);
    buf notfound, mism;
    buf_init(&notfound, 64);
    buf_init(&mism, 64);
    for (size_t i = 0; i + 12 <= len; i += 12) {
        int64_t ts = (int64_t)sl_load_be64(d + i);
        int32_t rel = (int32_t)sl_load_be32(d + i + 8);
        if (i > 0 && ts == 0 && rel == 0)
            break;
        int64_t off = base + rel;
        if (!verify_only)
            printf("timestamp: %lld offset: %lld\n", (long long)ts,
                   (long long)off);
        /* Kafka: the batch holding the entry's offset must end at it and
         * carry its timestamp. */
        size_t pos = 0;
        int64_t found = -1, found_ts = -1;
        while (log && pos + BATCH_LOG_OVERHEAD <= llen) {
            log_batch_header h;
            if (!batch_parse_header(log + pos, llen - pos, &h) ||
                h.batch_length <= 0)
                break;
            if (batch_last_offset(&h) >= off) {
                found = batch_last_offset(&h);
                found_ts = h.max_timestamp;
                break;
            }
            pos += (size_t)batch_size(&h);
        }
        if (log && found != off)
            buf_printf(&notfound,
                       "Indexed offset: %lld, found log offset: %lld\n",
                       (long long)off, (long long)found);
        else if (log && found_ts != ts)
            buf_printf(&mism, "  Index timestamp: %lld, log timestamp: %lld\n",
                       (long long)ts, (long long)found_ts);
    }
    char *abs = realpath(path, NULL);
    if (mism.len) {
        buf_printf(&g_time_mismatch, "Found timestamp mismatch in :%s\n",
                   abs ? abs : path);
        buf_put(&g_time_mismatch, mism.data, mism.len);
    }
    if (notfound.len) {
        buf_printf(&g_time_notfound,
                   "The following indexed offsets are not found in :%s\n",
                   abs ? abs : path);
        buf_put(&g_time_notfound, notfound.data, notfound.len);
    }
    free(abs);
    buf_free(&mism);
    buf_free(&notfound);
    free(log);
    free(logp);
    free(d);
}

static void dump_snapshot(const char *path) {
    size_t len;
    uint8_t *d = read_all(path, &len);
    printf("Dumping %s\n", path);
    if (!d)
        return;
    rd r;
    rd_init(&r, d, len);
    int16_t version = (int16_t)rd_be16(&r);
    rd_be32(&r); /* crc */
    int32_t n = (int32_t)rd_be32(&r);
    if (r.err || version != 1 || n < 0) {
        printf("Snapshot %s has an unsupported or corrupt layout\n", path);
        free(d);
        return;
    }
    for (int32_t i = 0; i < n && !r.err; i++) {
        int64_t pid = (int64_t)rd_be64(&r);
        int16_t epoch = (int16_t)rd_be16(&r);
        int32_t last_seq = (int32_t)rd_be32(&r);
        int64_t last_off = (int64_t)rd_be64(&r);
        int32_t delta = (int32_t)rd_be32(&r);
        int64_t ts = (int64_t)rd_be64(&r);
        int32_t cepoch = (int32_t)rd_be32(&r);
        int64_t txn_first = (int64_t)rd_be64(&r);
        if (r.err)
            break;
        char first[48];
        if (txn_first >= 0)
            snprintf(first, sizeof(first), "OptionalLong[%lld]",
                     (long long)txn_first);
        else
            snprintf(first, sizeof(first), "OptionalLong.empty");
        printf("producerId: %lld producerEpoch: %d coordinatorEpoch: %d "
               "currentTxnFirstOffset: "
               "%s lastTimestamp: %lld ",
               (long long)pid, epoch, cepoch, first, (long long)ts);
        if (last_off >= 0)
            printf("firstSequence: %d lastSequence: %d lastOffset: %lld "
                   "offsetDelta: %d "
                   "timestamp: %lld",
                   last_seq - delta, last_seq, (long long)last_off, delta,
                   (long long)ts);
        printf("\n");
    }
    free(d);
}

int tool_dump_log_main(int argc, char **argv) {
    tool_args a;
    int rc = tool_parse(
        &a, "kafka-dump-log.sh",
        "This tool helps to parse a log file and dump its contents to the "
        "console, useful for debugging a seemingly corrupt log segment.",
        dl_opts, SL_ARRAY_LEN(dl_opts), argc, argv);
    if (rc >= 0)
        return rc;
    if (tool_has(&a, "version")) {
        printf("4.3.1 (sluice)\n");
        tool_args_free(&a);
        return 0;
    }
    if (!tool_has(&a, "files")) {
        rc = tool_usage_error(&a, "Missing required argument \"[files]\"");
        tool_args_free(&a);
        return rc;
    }
    bool data = tool_has(&a, "print-data-log") ||
                tool_has(&a, "value-decoder-class") ||
                tool_has(&a, "key-decoder-class");
    bool deep = data || tool_has(&a, "deep-iteration");
    int64_t max_bytes = INT32_MAX;
    if (tool_has(&a, "max-bytes"))
        tool_parse_i64(tool_get(&a, "max-bytes"), &max_bytes);
    bool verify =
        tool_has(&a, "verify-index-only") || tool_has(&a, "index-sanity-check");
    buf_init(&g_index_errors, 64);
    buf_init(&g_time_mismatch, 64);
    buf_init(&g_time_notfound, 64);
    char *files = xstrdup(tool_get(&a, "files")), *save = NULL;
    for (char *f = strtok_r(files, ",", &save); f;
         f = strtok_r(NULL, ",", &save)) {
        if (ends_with(f, ".log"))
            dump_log(f, deep, data, tool_has(&a, "skip-record-metadata"),
                     max_bytes);
        else if (ends_with(f, ".index"))
            dump_index(f, verify);
        else if (ends_with(f, ".timeindex"))
            dump_timeindex(f, verify);
        else if (ends_with(f, ".snapshot"))
            dump_snapshot(f);
        else {
            printf("Dumping %s\n", f);
            fprintf(stderr, "Ignoring unknown file %s\n", f);
        }
    }
    fwrite(g_index_errors.data, 1, g_index_errors.len, stdout);
    fwrite(g_time_mismatch.data, 1, g_time_mismatch.len, stdout);
    fwrite(g_time_notfound.data, 1, g_time_notfound.len, stdout);
    buf_free(&g_index_errors);
    buf_free(&g_time_mismatch);
    buf_free(&g_time_notfound);
    free(files);
    tool_args_free(&a);
    return 0;
}
