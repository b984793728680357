/*
 * cluster_ctl.c - broker registrations, heartbeats and fencing as records
 * (cluster_ctl.h): Kafka 4.3's ClusterControlManager.registerBroker,
 * BrokerHeartbeatManager.calculateNextBrokerState and
 * ReplicationControlManager's handleBroker{Fenced,Unfenced,
 * InControlledShutdown} with PartitionChangeBuilder's clean and unclean
 * elections (no ELR).
 */
#include "controller/cluster_ctl.h"
#include "controller/placement.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "core/uuid.h"
#include "proto/errors.h"

buf *ctl_records_add(ctl_records *r) {
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 8;
        r->v = xrealloc(r->v, (size_t)r->cap * sizeof *r->v);
    }
    buf *b = &r->v[r->n++];
    buf_init(b, 64);
    return b;
}

void ctl_records_free(ctl_records *r) {
    for (int i = 0; i < r->n; i++)
        buf_free(&r->v[i]);
    free(r->v);
    memset(r, 0, sizeof *r);
}

typedef struct session {
    int32_t id;
    int64_t epoch;
    uint8_t incarnation[16];
    int64_t last_contact_ms;
    bool contact; /* a heartbeat at this epoch not yet expired (Kafka's
                     BrokerHeartbeatTracker entry) */
    int64_t metadata_offset; /* from its last heartbeat */
    int64_t cs_offset;       /* next offset when it entered controlled
                                shutdown, -1 if it has not */
} session;

struct ctl_cluster {
    char *cluster_id;
    int64_t timeout_ms;
    session *s;
    size_t n, cap;
};

ctl_cluster *ctl_cluster_new(const char *cluster_id,
                             int64_t session_timeout_ms) {
    ctl_cluster *cc = xcalloc(1, sizeof *cc);
    cc->cluster_id = xstrdup(cluster_id ? cluster_id : "");
    cc->timeout_ms = session_timeout_ms;
    return cc;
}

void ctl_cluster_free(ctl_cluster *cc) {
    if (!cc)
        return;
    free(cc->cluster_id);
    free(cc->s);
    free(cc);
}

static session *session_find(ctl_cluster *cc, int32_t id) {
    for (size_t i = 0; i < cc->n; i++)
        if (cc->s[i].id == id)
            return &cc->s[i];
    return NULL;
}

static session *session_put(ctl_cluster *cc, int32_t id) {
    session *s = session_find(cc, id);
    if (s)
        return s;
    if (cc->n == cc->cap) {
        cc->cap = cc->cap ? cc->cap * 2 : 8;
        cc->s = xrealloc(cc->s, cc->cap * sizeof *cc->s);
    }
    s = &cc->s[cc->n++];
    memset(s, 0, sizeof *s);
    s->id = id;
    s->cs_offset = -1;
    return s;
}

static bool session_alive(const ctl_cluster *cc, const session *s,
                          int64_t now_ms) {
    return s->contact && now_ms - s->last_contact_ms < cc->timeout_ms;
}

void ctl_cluster_activate(ctl_cluster *cc, const cl_image *img,
                          int64_t now_ms) {
    cc->n = 0;
    size_t nb;
    const cl_broker *bs = cl_brokers(img, &nb);
    for (size_t i = 0; i < nb; i++) {
        session *s = session_put(cc, bs[i].id);
        s->epoch = bs[i].epoch;
        memcpy(s->incarnation, bs[i].incarnation_id, 16);
        s->metadata_offset = -1;
        /* Kafka: a broker already in controlled shutdown waits for every
         * active broker's next heartbeat */
        s->cs_offset = bs[i].in_controlled_shutdown ? 0 : -1;
        if (!bs[i].fenced) {
            s->contact = true;
            s->last_contact_ms = now_ms;
        }
    }
}

/* ---- partitions: Kafka's generateLeaderAndIsrUpdates ---- */

static bool contains(const int32_t *v, int32_t n, int32_t x) {
    for (int32_t i = 0; i < n; i++)
        if (v[i] == x)
            return true;
    return false;
}

static bool topic_unclean(const cl_topic *t, bool dflt) {
    for (size_t i = 0; i < t->n_configs; i++)
        if (!strcmp(t->configs[i].name, "unclean.leader.election.enable"))
            return !strcmp(t->configs[i].value, "true");
    return dflt;
}

/* One partition's change with `remove` out of the ISR and `add` an
 * acceptable leader even if still fenced (Kafka's PartitionChangeBuilder
 * with its LeaderAcceptor): ONLINE keeps a valid leader or takes the first
 * valid replica (in the ISR, acceptable), then, when the topic allows it,
 * the first acceptable one out of the ISR (unclean: ISR = it alone,
 * RECOVERING); PREFERRED tries the first replica before those; UNCLEAN is
 * ONLINE with the unclean step whatever the topic says. *unclean_out (may
 * be NULL) says whether the result is an unclean election. False if
 * nothing changes. */
static bool partition_change(const cl_image *img, const cl_topic *t,
                             const cl_partition *p, int32_t remove, int32_t add,
                             bool unclean_default, ctl_election election,
                             buf *b, bool *unclean_out) {
    int32_t *isr = xmalloc((size_t)(p->n_isr ? p->n_isr : 1) * sizeof *isr);
    int32_t n_isr = 0;
    for (int32_t i = 0; i < p->n_isr; i++)
        if (p->isr[i] != remove)
            isr[n_isr++] = p->isr[i];
#define ACCEPTABLE(r)                                                          \
    ((r) != remove && ((r) == add || ctl_broker_active(img, r)))
#define VALID(r) (contains(isr, n_isr, r) && ACCEPTABLE(r))
    int32_t leader = -1;
    bool unclean = false;
    if (election == CTL_ELECT_PREFERRED && p->n_replicas > 0 &&
        VALID(p->replicas[0])) {
        leader = p->replicas[0];
    } else if (p->leader >= 0 && VALID(p->leader)) {
        leader = p->leader;
    } else {
        for (int32_t i = 0; i < p->n_replicas && leader < 0; i++)
            if (VALID(p->replicas[i]))
                leader = p->replicas[i];
        bool may_unclean =
            election == CTL_ELECT_UNCLEAN ||
            (election == CTL_ELECT_ONLINE && topic_unclean(t, unclean_default));
        if (leader < 0 && may_unclean)
            for (int32_t i = 0; i < p->n_replicas && leader < 0; i++)
                if (ACCEPTABLE(p->replicas[i]))
                    leader = p->replicas[i], unclean = true;
    }
#undef VALID
#undef ACCEPTABLE
    if (unclean_out)
        *unclean_out = unclean;
    proto_partition_change_record r;
    proto_partition_change_record_init(&r);
    r.partition_id = p->id;
    memcpy(r.topic_id.b, t->id, 16);
    bool changed = false;
    if (leader != p->leader) {
        r.leader = leader;
        changed = true;
    }
    if (unclean) {
        /* the new leader alone, recovering: data may be lost */
        r.isr.n = 1;
        r.isr.v = &leader;
        r.leader_recovery_state = 1;
        changed = true;
    } else if (n_isr > 0 && n_isr != p->n_isr) {
        r.isr.n = n_isr;
        r.isr.v = isr;
        changed = true;
    }
    if (changed) {
        cl_record_frame(b, PROTO_MD_PARTITION_CHANGE_RECORD, 0);
        proto_partition_change_record_encode(b, 0, &r);
    }
    free(isr);
    return changed;
}

int ctl_leader_and_isr_updates(const cl_image *img, int32_t remove, int32_t add,
                               bool unclean_default, ctl_records *out) {
    size_t nt;
    cl_topic **ts = cl_topics((cl_image *)img, &nt);
    int made = 0;
    buf tmp;
    buf_init(&tmp, 64);
    for (size_t i = 0; i < nt; i++)
        for (int32_t k = 0; k < ts[i]->n_partitions; k++) {
            const cl_partition *p = ts[i]->parts[k];
            if (!p)
                continue;
            /* fencing: partitions with remove in the ISR; unfencing:
             * leaderless ones */
            if (remove >= 0 ? !contains(p->isr, p->n_isr, remove)
                            : p->leader >= 0)
                continue;
            tmp.len = 0;
            if (partition_change(img, ts[i], p, remove, add, unclean_default,
                                 CTL_ELECT_ONLINE, &tmp, NULL)) {
                buf *b = ctl_records_add(out);
                buf_put(b, tmp.data, tmp.len);
                made++;
            }
        }
    buf_free(&tmp);
    return made;
}

static void log_partition_info(char *out, size_t len, const cl_partition *p) {
    size_t o = 0;
    o += (size_t)snprintf(out + o, len - o, "(isr: [");
    for (int32_t i = 0; i < p->n_isr && o < len; i++)
        o += (size_t)snprintf(out + o, len - o, "%s%d", i ? ", " : "",
                              p->isr[i]);
    if (o < len)
        o += (size_t)snprintf(out + o, len - o, "], replicaSet: [");
    for (int32_t i = 0; i < p->n_replicas && o < len; i++)
        o += (size_t)snprintf(out + o, len - o, "%s%d", i ? ", " : "",
                              p->replicas[i]);
    if (o < len)
        snprintf(out + o, len - o, "], partitionEpoch: %d, leaderEpoch: %d)",
                 p->partition_epoch, p->leader_epoch);
}

int16_t ctl_elect_leader(const cl_image *img, const cl_topic *t,
                         const cl_partition *p, int8_t type, buf *out) {
    bool has_leader = p->leader >= 0;
    bool preferred = p->n_replicas > 0 && p->leader == p->replicas[0];
    if ((type == 0 && preferred) || (type == 1 && has_leader))
        return KERR_ELECTION_NOT_NEEDED;
    if (!partition_change(img, t, p, -1, -1, false,
                          type == 0 ? CTL_ELECT_PREFERRED : CTL_ELECT_UNCLEAN,
                          out, NULL))
        return type == 0 ? KERR_PREFERRED_LEADER_NOT_AVAILABLE
                         : KERR_ELIGIBLE_LEADERS_NOT_AVAILABLE;
    return KERR_NONE;
}

int ctl_elect_unclean_leaderless(const cl_image *img, bool unclean_default,
                                 int max, ctl_records *out) {
    size_t nt;
    cl_topic **ts = cl_topics((cl_image *)img, &nt);
    int made = 0;
    buf tmp;
    buf_init(&tmp, 64);
    for (size_t i = 0; i < nt; i++)
        for (int32_t k = 0; k < ts[i]->n_partitions && made < max; k++) {
            const cl_partition *p = ts[i]->parts[k];
            if (!p || p->leader >= 0 || !topic_unclean(ts[i], unclean_default))
                continue;
            tmp.len = 0;
            int16_t e = ctl_elect_leader(img, ts[i], p, 1, &tmp);
            char info[256];
            log_partition_info(info, sizeof info, p);
            if (e == KERR_NONE) {
                SL_INFO("controller",
                        "Triggering unclean leader election for offline "
                        "partition %s-%d. %s",
                        ts[i]->name, p->id, info);
                buf *b = ctl_records_add(out);
                buf_put(b, tmp.data, tmp.len);
                made++;
            } else {
                SL_WARN("controller",
                        "Cannot trigger unclean leader election for offline "
                        "partition %s-%d: %s. %s",
                        ts[i]->name, p->id, proto_error_name(e), info);
            }
        }
    buf_free(&tmp);
    return made;
}

int ctl_elect_preferred_imbalanced(const cl_image *img, int max,
                                   ctl_records *out) {
    size_t nt;
    cl_topic **ts = cl_topics((cl_image *)img, &nt);
    int made = 0;
    buf tmp;
    buf_init(&tmp, 64);
    for (size_t i = 0; i < nt; i++)
        for (int32_t k = 0; k < ts[i]->n_partitions && made < max; k++) {
            const cl_partition *p = ts[i]->parts[k];
            /* Kafka's imbalancedPartitions: not led by the preferred
             * replica (leaderless ones included) */
            if (!p || p->n_replicas == 0 || p->leader == p->replicas[0])
                continue;
            tmp.len = 0;
            if (partition_change(img, ts[i], p, -1, -1, false,
                                 CTL_ELECT_PREFERRED, &tmp, NULL)) {
                buf *b = ctl_records_add(out);
                buf_put(b, tmp.data, tmp.len);
                made++;
            }
        }
    buf_free(&tmp);
    return made;
}

static bool has_leaderships(const cl_image *img, int32_t id) {
    size_t nt;
    cl_topic **ts = cl_topics((cl_image *)img, &nt);
    for (size_t i = 0; i < nt; i++)
        for (int32_t k = 0; k < ts[i]->n_partitions; k++)
            if (ts[i]->parts[k] && ts[i]->parts[k]->leader == id)
                return true;
    return false;
}

/* ---- broker state records ---- */

static void change_record(ctl_records *out, int32_t id, int64_t epoch,
                          int8_t fenced, int8_t in_cs) {
    proto_broker_registration_change_record r;
    proto_broker_registration_change_record_init(&r);
    r.broker_id = id;
    r.broker_epoch = epoch;
    r.fenced = fenced;
    r.in_controlled_shutdown = in_cs;
    int16_t v = in_cs ? 1 : 0;
    buf *b = ctl_records_add(out);
    cl_record_frame(b, PROTO_MD_BROKER_REGISTRATION_CHANGE_RECORD, v);
    proto_broker_registration_change_record_encode(b, v, &r);
}

static void fence(const cl_image *img, const cl_broker *b, bool unclean,
                  ctl_records *out) {
    ctl_leader_and_isr_updates(img, b->id, -1, unclean, out);
    change_record(out, b->id, b->epoch, 1, 0);
}

/* ---- registration ---- */

/* Kafka's registerBroker checks of LogDirs (directory assignment is on at
 * every metadata.version Sluice writes). */
static int16_t check_dirs(const proto_broker_registration_request *rq,
                          char *msg, size_t msglen) {
    if (rq->log_dirs.n <= 0) {
        snprintf(msg, msglen, "No directories specified in request");
        return KERR_INVALID_REGISTRATION;
    }
    for (int32_t i = 0; i < rq->log_dirs.n; i++) {
        if (uuid_is_reserved(rq->log_dirs.v[i].b)) {
            snprintf(msg, msglen, "Reserved directory ID in request");
            return KERR_INVALID_REGISTRATION;
        }
        for (int32_t j = 0; j < i; j++)
            if (!memcmp(rq->log_dirs.v[i].b, rq->log_dirs.v[j].b, 16)) {
                snprintf(msg, msglen, "Duplicate directory ID in request");
                return KERR_INVALID_REGISTRATION;
            }
    }
    return KERR_NONE;
}

static int16_t finalized_level(const cl_image *img, const char *name,
                               size_t len) {
    size_t n;
    const cl_feature *fs = cl_features(img, &n);
    for (size_t i = 0; i < n; i++)
        if (strlen(fs[i].name) == len && !memcmp(fs[i].name, name, len))
            return fs[i].level;
    return 0;
}

static int16_t unsupported(char *msg, size_t msglen, int16_t level,
                           const char *name, int name_len, int16_t lo,
                           int16_t hi) {
    snprintf(msg, msglen,
             "Unable to register because the broker does not support "
             "finalized version %d of %.*s. The broker wants a version "
             "between %d and %d, inclusive.",
             level, name_len, name, lo, hi);
    return KERR_UNSUPPORTED_VERSION;
}

/* Kafka's processRegistrationFeature over the request's features, then
 * every finalized feature the request leaves out (as the range [0, 0]). */
static int16_t check_features(const cl_image *img,
                              const proto_broker_registration_request *rq,
                              char *msg, size_t msglen) {
    bool has_mv = false;
    for (int32_t i = 0; i < rq->features.n; i++) {
        const proto_broker_registration_request_feature *f = &rq->features.v[i];
        size_t len = f->name.len > 0 ? (size_t)f->name.len : 0;
        has_mv |= proto_str_eq(f->name, "metadata.version");
        int16_t lvl = finalized_level(img, f->name.p, len);
        if (lvl < f->min_supported_version || lvl > f->max_supported_version)
            return unsupported(msg, msglen, lvl, f->name.p, (int)len,
                               f->min_supported_version,
                               f->max_supported_version);
    }
    if (!has_mv) {
        snprintf(msg, msglen,
                 "Request features do not contain 'metadata.version'");
        return KERR_INVALID_REGISTRATION;
    }
    size_t n;
    const cl_feature *fs = cl_features(img, &n);
    for (size_t k = 0; k < n; k++) {
        bool listed = false;
        for (int32_t i = 0; i < rq->features.n && !listed; i++)
            listed = proto_str_eq(rq->features.v[i].name, fs[k].name);
        if (!listed && fs[k].level != 0)
            return unsupported(msg, msglen, fs[k].level, fs[k].name,
                               (int)strlen(fs[k].name), 0, 0);
    }
    return KERR_NONE;
}

int16_t ctl_cluster_register(ctl_cluster *cc, const cl_image *img,
                             const proto_broker_registration_request *rq,
                             int64_t new_epoch, int64_t now_ms,
                             ctl_records *out, int64_t *epoch, char *msg,
                             size_t msglen) {
    size_t cl = rq->cluster_id.len > 0 ? (size_t)rq->cluster_id.len : 0;
    if (cl != strlen(cc->cluster_id) ||
        memcmp(rq->cluster_id.p, cc->cluster_id, cl)) {
        snprintf(msg, msglen, "Expected cluster ID %s, but got cluster ID %.*s",
                 cc->cluster_id, (int)(cl > 64 ? 64 : cl),
                 cl ? rq->cluster_id.p : "");
        return KERR_INCONSISTENT_CLUSTER_ID;
    }
    const cl_broker *existing = cl_broker_find(img, rq->broker_id);
    session *s = session_find(cc, rq->broker_id);
    bool same =
        existing && !memcmp(existing->incarnation_id, rq->incarnation_id.b, 16);
    if (existing && !same && s && s->epoch == existing->epoch &&
        session_alive(cc, s, now_ms)) {
        snprintf(msg, msglen,
                 "Another broker is registered with that broker id. If the "
                 "broker was recently restarted this should self-resolve "
                 "once the heartbeat manager expires the broker's session.");
        return KERR_DUPLICATE_BROKER_REGISTRATION;
    }
    if (rq->is_migrating_zk_broker) {
        snprintf(msg, msglen,
                 "Controller does not support registering ZK brokers.");
        return KERR_BROKER_ID_NOT_REGISTERED;
    }
    int16_t e = check_dirs(rq, msg, msglen);
    if (!e)
        e = check_features(img, rq, msg, msglen);
    if (e)
        return e;
    if (rq->listeners.n < 0 || rq->listeners.n > 64) {
        snprintf(msg, msglen, "Too many listeners in request");
        return KERR_INVALID_REGISTRATION;
    }
    proto_register_broker_record r;
    proto_register_broker_record_init(&r);
    r.broker_id = rq->broker_id;
    r.incarnation_id = rq->incarnation_id;
    r.rack = rq->rack;
    proto_register_broker_record_broker_endpoint eps[64];
    for (int32_t i = 0; i < rq->listeners.n; i++) {
        proto_register_broker_record_broker_endpoint_init(&eps[i]);
        eps[i].name = rq->listeners.v[i].name;
        eps[i].host = rq->listeners.v[i].host;
        eps[i].port = rq->listeners.v[i].port;
        eps[i].security_protocol = rq->listeners.v[i].security_protocol;
    }
    r.end_points.n = rq->listeners.n;
    r.end_points.v = eps;
    if (same) {
        /* an amended registration: epoch and state kept */
        r.broker_epoch = existing->epoch;
        r.fenced = existing->fenced;
        r.in_controlled_shutdown = existing->in_controlled_shutdown;
    } else {
        r.broker_epoch = new_epoch;
        r.fenced = true;
    }
    buf *b = ctl_records_add(out);
    cl_record_frame(b, PROTO_MD_REGISTER_BROKER_RECORD, 1);
    proto_register_broker_record_encode(b, 1, &r);
    /* A new incarnation starts a new session; only heartbeats make it
     * valid (Kafka tracks contact times from heartbeats alone). */
    if (!same || !s) {
        s = session_put(cc, rq->broker_id);
        s->metadata_offset = -1;
        s->cs_offset = -1;
        s->contact = false;
    }
    (void)now_ms;
    s->epoch = r.broker_epoch;
    memcpy(s->incarnation, rq->incarnation_id.b, 16);
    *epoch = r.broker_epoch;
    return KERR_NONE;
}

/* ---- heartbeats ---- */

enum { ST_FENCED, ST_UNFENCED, ST_CONTROLLED_SHUTDOWN, ST_SHUTDOWN_NOW };

/* The lowest metadata offset any active broker has reported. */
static int64_t lowest_active_offset(const ctl_cluster *cc,
                                    const cl_image *img) {
    int64_t low = INT64_MAX;
    for (size_t i = 0; i < cc->n; i++)
        if (ctl_broker_active(img, cc->s[i].id) &&
            cc->s[i].metadata_offset < low)
            low = cc->s[i].metadata_offset;
    return low;
}

int16_t ctl_cluster_heartbeat(ctl_cluster *cc, const cl_image *img,
                              const proto_broker_heartbeat_request *rq,
                              int64_t next_offset, int64_t now_ms,
                              bool unclean_default, ctl_records *out,
                              proto_broker_heartbeat_response *reply, char *msg,
                              size_t msglen) {
    const cl_broker *b = cl_broker_find(img, rq->broker_id);
    session *s = session_find(cc, rq->broker_id);
    if (!b) { /* Kafka's checkBrokerEpoch: stale either way */
        snprintf(msg, msglen, "No broker registration found for broker id %d",
                 rq->broker_id);
        return KERR_STALE_BROKER_EPOCH;
    }
    if (b->epoch != rq->broker_epoch) {
        snprintf(msg, msglen,
                 "Expected broker epoch %lld, but got broker epoch %lld",
                 (long long)b->epoch, (long long)rq->broker_epoch);
        return KERR_STALE_BROKER_EPOCH;
    }
    if (!s) { /* a new controller: the session starts now */
        s = session_put(cc, rq->broker_id);
        s->epoch = b->epoch;
        s->cs_offset = b->in_controlled_shutdown ? 0 : -1;
    }
    int cur = b->fenced                   ? ST_FENCED
              : b->in_controlled_shutdown ? ST_CONTROLLED_SHUTDOWN
                                          : ST_UNFENCED;
    int next = cur;
    bool caught_up = rq->current_metadata_offset >= b->epoch;
    switch (cur) {
    case ST_FENCED:
        if (rq->want_shut_down)
            next = ST_SHUTDOWN_NOW;
        else if (!rq->want_fence && caught_up)
            next = ST_UNFENCED;
        break;
    case ST_UNFENCED:
        if (rq->want_fence)
            next = rq->want_shut_down ? ST_SHUTDOWN_NOW : ST_FENCED;
        else if (rq->want_shut_down)
            next = has_leaderships(img, b->id) ? ST_CONTROLLED_SHUTDOWN
                                               : ST_SHUTDOWN_NOW;
        break;
    case ST_CONTROLLED_SHUTDOWN:
        if (rq->want_fence)
            next = ST_SHUTDOWN_NOW;
        else if (!has_leaderships(img, b->id) &&
                 s->cs_offset <= lowest_active_offset(cc, img))
            next = ST_SHUTDOWN_NOW;
        break;
    }
    if (next != cur) {
        switch (next) {
        case ST_FENCED:
        case ST_SHUTDOWN_NOW:
            if (!b->fenced)
                fence(img, b, unclean_default, out);
            break;
        case ST_UNFENCED:
            change_record(out, b->id, b->epoch, -1, 0);
            ctl_leader_and_isr_updates(img, -1, b->id, unclean_default, out);
            break;
        case ST_CONTROLLED_SHUTDOWN:
            change_record(out, b->id, b->epoch, 0, 1);
            ctl_leader_and_isr_updates(img, b->id, -1, unclean_default, out);
            break;
        }
    }
    /* Kafka waits until every active broker has seen the records that
     * took leadership away (they end at next_offset + out->n - 1). */
    if (next == ST_CONTROLLED_SHUTDOWN && s->cs_offset < 0)
        s->cs_offset = next_offset + out->n - 1;
    s->last_contact_ms = now_ms;
    s->contact = true;
    s->epoch = b->epoch;
    s->metadata_offset = rq->current_metadata_offset;
    reply->error_code = KERR_NONE;
    reply->is_caught_up = caught_up;
    reply->is_fenced = next == ST_FENCED || next == ST_SHUTDOWN_NOW;
    reply->should_shut_down = next == ST_SHUTDOWN_NOW;
    return KERR_NONE;
}

int32_t ctl_cluster_expire(ctl_cluster *cc, const cl_image *img, int64_t now_ms,
                           bool unclean_default, ctl_records *out) {
    for (size_t i = 0; i < cc->n; i++) {
        session *s = &cc->s[i];
        const cl_broker *b = cl_broker_find(img, s->id);
        if (!s->contact || now_ms - s->last_contact_ms < cc->timeout_ms)
            continue;
        s->contact = false; /* expired once (Kafka removes the entry) */
        if (!b || b->fenced || b->epoch != s->epoch)
            continue;
        fence(img, b, unclean_default, out);
        return s->id;
    }
    return -1;
}
