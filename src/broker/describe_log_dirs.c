/*
 * describe_log_dirs.c - DescribeLogDirs (api key 35), versions 1-5: every
 * log dir with the size of each partition it holds (all partitions when
 * topics is null), offset_lag max(0, HW - LEO) as Kafka reports for a
 * current replica, and (v4+) the file system's total and usable bytes.
 * v5's is_cordoned stays false: Sluice has no cordoned.log.dirs.
 * Threading: loop thread.
 */
#include <string.h>
#include <sys/statvfs.h>

#include "broker/broker.h"
#include "broker/data.h"
#include "cluster/image.h"
#include "log/log.h"
#include "proto/errors.h"
#include "proto/gen/messages.h"
#include "proto/proto.h"

typedef struct dld_ctx {
    brk_req *req;
    const proto_describe_log_dirs_request *rq;
    int dir;
    const char *dir_path;
    /* topics being built for this dir */
    proto_describe_log_dirs_response_describe_log_dirs_topic *topics;
    int32_t nt, capt;
} dld_ctx;

static bool wanted(const proto_describe_log_dirs_request *rq, const char *topic,
                   int32_t p) {
    if (rq->topics.n < 0)
        return true; /* null: everything */
    for (int32_t i = 0; i < rq->topics.n; i++) {
        const proto_describe_log_dirs_request_describable_log_dir_topic *t =
            &rq->topics.v[i];
        if (t->topic.len == (int32_t)strlen(topic) &&
            !memcmp(t->topic.p, topic, (size_t)t->topic.len))
            for (int32_t j = 0; j < t->partitions.n; j++)
                if (t->partitions.v[j] == p)
                    return true;
    }
    return false;
}

static void add_entry(dld_ctx *c, log_partition *part, bool future,
                      int64_t size, int64_t lag) {
    const char *topic = log_topic(part);
    arena *a = c->req->arena;
    proto_describe_log_dirs_response_describe_log_dirs_topic *t = NULL;
    for (int32_t i = 0; i < c->nt; i++)
        if (c->topics[i].name.len == (int32_t)strlen(topic) &&
            !memcmp(c->topics[i].name.p, topic, strlen(topic)))
            t = &c->topics[i];
    if (!t) {
        if (c->nt == c->capt) {
            int32_t nc = c->capt ? c->capt * 2 : 8;
            void *nv = arena_calloc(a, (size_t)nc, sizeof(*c->topics));
            if (c->nt)
                memcpy(nv, c->topics, sizeof(*c->topics) * (size_t)c->nt);
            c->topics = nv;
            c->capt = nc;
        }
        t = &c->topics[c->nt++];
        proto_describe_log_dirs_response_describe_log_dirs_topic_init(t);
        t->name = proto_str_c(arena_strndup(a, topic, strlen(topic)));
        t->partitions.n = 0;
        t->partitions.v = NULL;
    }
    /* grow partitions by copying (arena) in chunks of 16 */
    if (t->partitions.n % 16 == 0) {
        void *nv = arena_calloc(a, (size_t)t->partitions.n + 16,
                                sizeof(*t->partitions.v));
        if (t->partitions.n)
            memcpy(nv, t->partitions.v,
                   sizeof(*t->partitions.v) * (size_t)t->partitions.n);
        t->partitions.v = nv;
    }
    proto_describe_log_dirs_response_describe_log_dirs_partition *p =
        &t->partitions.v[t->partitions.n++];
    proto_describe_log_dirs_response_describe_log_dirs_partition_init(p);
    p->partition_index = log_partition_id(part);
    p->partition_size = size;
    p->offset_lag = lag;
    p->is_future_key = future;
}

static void collect(void *ctx, log_partition *part) {
    dld_ctx *c = ctx;
    const char *topic = log_topic(part);
    if (!strcmp(topic, "__cluster_metadata"))
        return;
    if (!wanted(c->rq, topic, log_partition_id(part)))
        return;
    if (!strcmp(log_dir_path(part), c->dir_path)) {
        /* Kafka: max(HW - LEO, 0) for a current log; an offline one has
         * no entry (its dir is reported with KAFKA_STORAGE_ERROR). */
        int64_t lag = log_high_watermark(part) - log_end_offset(part);
        add_entry(c, part, false, log_size_bytes(part), lag > 0 ? lag : 0);
    }
    /* A move in progress: the future log in its destination dir, its lag
     * behind the current log's end (ReplicaManager.getLogEndOffsetLag). */
    int dest;
    int64_t size, leo;
    if (log_move_info(part, &dest, &size, &leo) && dest == c->dir)
        add_entry(c, part, true, size, log_end_offset(part) - leo);
}

brk_status brk_handle_describe_log_dirs(brk_req *req) {
    brk_broker *brk = req->brk;
    proto_describe_log_dirs_request rq;
    if (proto_describe_log_dirs_request_decode(
            &req->body, req->arena, req->api_version, &rq) != PROTO_OK)
        return BRK_CLOSE;
    proto_describe_log_dirs_response rs;
    proto_describe_log_dirs_response_init(&rs);
    int nd = brk->logs ? log_manager_n_dirs(brk->logs) : 0;
    rs.results.n = nd;
    rs.results.v =
        arena_calloc(req->arena, (size_t)(nd ? nd : 1), sizeof(*rs.results.v));
    for (int d = 0; d < nd; d++) {
        proto_describe_log_dirs_response_describe_log_dirs_result *r =
            &rs.results.v[d];
        proto_describe_log_dirs_response_describe_log_dirs_result_init(r);
        dld_ctx c = {req, &rq, d, log_manager_dir(brk->logs, d), NULL, 0, 0};
        r->log_dir = proto_str_c(c.dir_path);
        if (log_manager_dir_offline(brk->logs, d)) {
            /* Kafka: only the path and KAFKA_STORAGE_ERROR; no topics, the
             * byte counts at their defaults (-1). */
            r->error_code = KERR_KAFKA_STORAGE_ERROR;
            r->topics.n = 0;
            continue;
        }
        log_manager_foreach(brk->logs, collect, &c);
        r->topics.n = c.nt;
        r->topics.v = c.topics;
        struct statvfs sv;
        if (statvfs(c.dir_path, &sv) == 0) {
            r->total_bytes = (int64_t)sv.f_blocks * (int64_t)sv.f_frsize;
            r->usable_bytes = (int64_t)sv.f_bavail * (int64_t)sv.f_frsize;
        } else {
            r->error_code = KERR_KAFKA_STORAGE_ERROR;
        }
    }
    proto_describe_log_dirs_response_encode(brk_resp_buf(req), req->api_version,
                                            &rs);
    return BRK_DONE;
}
