/*
 * bootstrap.c - the bootstrap metadata of a new cluster: at the first start
 * (empty __cluster_metadata-0) the records of <metadata dir>/
 * bootstrap.checkpoint, written by `kafka-storage format` (Sluice's or
 * Kafka's: a KRaft checkpoint file, SnapshotHeader / records / SnapshotFooter
 * batches), are committed through the controller, as Kafka's
 * BootstrapDirectory + QuorumController do: metadata.version, feature
 * levels, SCRAM credentials (--add-scram).
 *
 * Feature levels this node does not support (transaction.version 2,
 * group.version 1 ... as Kafka 4.3.1's own format writes them) are left
 * out with a warning: finalizing them would make clients use protocols
 * Sluice lacks. A metadata.version outside 7..30 makes the file unusable
 * (Sluice then bootstraps with its default, as without a file).
 * Loop thread only (called from brk_cluster_start).
 */
#include "broker/features.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/internal.h"
#include "core/log.h"
#include "core/util.h"
#include "log/batch.h"
#include "log/log.h"
#include "proto/gen/messages.h"

#define BOOTSTRAP_MAX (16 << 20)

/* Reads the record type and, for a FeatureLevelRecord, name and level. */
static bool peek_feature(const uint8_t *v, size_t n, char *name, size_t cap,
                         int16_t *level, int *type) {
    rd r;
    rd_init(&r, v, n);
    rd_uvarint32(&r); /* frame version */
    *type = (int)rd_uvarint32(&r);
    int16_t ver = (int16_t)rd_uvarint32(&r);
    if (r.err)
        return false;
    if (*type != 12)
        return true;
    arena a;
    arena_init(&a, 256);
    proto_feature_level_record f;
    bool ok = proto_feature_level_record_decode(&r, &a, ver, &f) == PROTO_OK &&
              f.name.len > 0 && (size_t)f.name.len < cap;
    if (ok) {
        memcpy(name, f.name.p, (size_t)f.name.len);
        name[f.name.len] = 0;
        *level = f.feature_level;
    }
    arena_free(&a);
    return ok;
}

bool brk_bootstrap_commit(brk_broker *brk) {
    if (!brk->logs)
        return false;
    char path[4200];
    snprintf(path, sizeof path, "%s/bootstrap.checkpoint",
             log_manager_dir(brk->logs, 0));
    /* Through the node's file system, as every disk read of the node. */
    size_t len = 0;
    uint8_t *raw =
        log_io_read_file(log_manager_io(brk->logs), path, BOOTSTRAP_MAX, &len);
    if (!raw)
        return false;
    buf data;
    buf_init(&data, len + 1);
    buf_put(&data, raw, len);
    free(raw);
    buf *vals = NULL;
    int n = 0, cap = 0;
    bool has_mv = false, bad = false;
    size_t pos = 0;
    while (!bad && pos + 12 <= data.len) {
        log_batch_header h;
        if (!batch_parse_header(data.data + pos, data.len - pos, &h) ||
            batch_size(&h) <= 0 || pos + (size_t)batch_size(&h) > data.len) {
            bad = true;
            break;
        }
        size_t bl = (size_t)batch_size(&h);
        if (batch_is_control(&h)) {
            pos += bl;
            continue;
        }
        buf recs;
        buf_init(&recs, bl);
        if (batch_decompress_records(&h, data.data + pos, BOOTSTRAP_MAX,
                                     &recs)) {
            buf_free(&recs);
            bad = true;
            break;
        }
        batch_iter it;
        batch_iter_init(&it, &h, recs.data, recs.len);
        log_record rec;
        int rc;
        while ((rc = batch_iter_next(&it, &rec)) == 1) {
            if (rec.value_len <= 0)
                continue;
            char name[64];
            int16_t level = 0;
            int type;
            if (!peek_feature(rec.value, (size_t)rec.value_len, name,
                              sizeof name, &level, &type)) {
                bad = true;
                break;
            }
            if (type == 12) {
                int16_t mn, mx;
                bool sup = brk_feature_supported(name, &mn, &mx) &&
                           level >= mn && level <= mx;
                if (!strcmp(name, "metadata.version")) {
                    if (!sup) {
                        SL_WARN("server",
                                "%s: metadata.version %d is not supported "
                                "(%d..%d); ignoring the file",
                                path, level, mn, mx);
                        bad = true;
                        break;
                    }
                    has_mv = true;
                } else if (!sup && level > 0) {
                    SL_WARN("server",
                            "%s: feature %s level %d is not supported by "
                            "Sluice; left unfinalized",
                            path, name, level);
                    continue;
                }
            }
            if (n == cap) {
                cap = cap ? cap * 2 : 8;
                vals = xrealloc(vals, (size_t)cap * sizeof(buf));
            }
            buf_init(&vals[n], (size_t)rec.value_len);
            buf_put(&vals[n], rec.value, (size_t)rec.value_len);
            n++;
        }
        if (rc < 0)
            bad = true;
        buf_free(&recs);
        pos += bl;
    }
    buf_free(&data);
    bool ok = !bad && has_mv;
    if (!ok)
        SL_WARN("server", "%s is not a usable bootstrap checkpoint", path);
    else if (ctl_commit(brk, vals, n) != 0)
        ok = false;
    else
        SL_INFO("server",
                "bootstrapped the cluster metadata from %s (%d records)", path,
                n);
    for (int i = 0; i < n; i++)
        buf_free(&vals[i]);
    free(vals);
    return ok;
}
