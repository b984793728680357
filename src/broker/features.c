/*
 * features.c - UpdateFeatures (57): finalizes feature levels as Kafka's
 * QuorumController / FeatureControlManager does. Each update is validated
 * (upgrade type, level >= 0, the range this node supports - the very
 * ranges ApiVersions advertises, brk_feature_supported - direction against
 * the upgrade type, metadata.version downgrades that might lose metadata,
 * dependencies); the first failure fails the whole request with
 * INVALID_UPDATE_VERSION and Kafka's message. Accepted updates become
 * FeatureLevelRecords written through the controller to
 * __cluster_metadata-0, so the image (and ApiVersions' FinalizedFeatures)
 * follows them and a restart replays them.
 * Loop thread only; memory from the request arena.
 */
#include "broker/features.h"

#include <stdio.h>
#include <string.h>

#include "broker/internal.h"
#include "core/util.h"
#include "proto/errors.h"
#include "proto/gen/messages.h"

/* Kafka 4.3.1's MetadataVersion.didMetadataChange, levels 7 (3.3-IV3) ..
 * 31 (4.4-IV0). */
static const bool mv_changed[] = {
    /* 7 */ true,   /* 8 */ true,   /* 9 */ false,  /* 10 */ false,
    /* 11 */ true,  /* 12 */ false, /* 13 */ true,  /* 14 */ true,
    /* 15 */ true,  /* 16 */ false, /* 17 */ true,  /* 18 */ false,
    /* 19 */ false, /* 20 */ false, /* 21 */ false, /* 22 */ false,
    /* 23 */ true,  /* 24 */ false, /* 25 */ false, /* 26 */ false,
    /* 27 */ false, /* 28 */ false, /* 29 */ false, /* 30 */ true,
    /* 31 */ false,
};
#define MV_MIN 7
#define MV_MAX_KNOWN 31

/* Kafka's production features and, per level, the metadata.version level
 * that level depends on (FeatureVersion.dependencies; 0: none). */
static const struct {
    const char *name;
    int16_t max_known;
    int16_t mv_dep[3];
} known[] = {
    {"eligible.leader.replicas.version", 1, {0, 23, 0}},
    {"group.version", 1, {0, 0, 0}},
    {"kraft.version", 1, {0, 0, 0}},
    {"share.version", 1, {0, 0, 0}},
    {"streams.version", 1, {0, 0, 0}},
    {"transaction.version", 2, {0, 0, 0}},
};

static int16_t finalized(brk_broker *brk, const char *name) {
    size_t n;
    const cl_feature *fs = cl_features(brk->image, &n);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(fs[i].name, name))
            return fs[i].level;
    return 0;
}

/* Kafka's MetadataVersion.checkIfMetadataChanged for hi > lo. */
static bool mv_metadata_changed(int16_t hi, int16_t lo) {
    int16_t v = hi;
    while (v > lo && v >= MV_MIN && v <= MV_MAX_KNOWN &&
           !mv_changed[v - MV_MIN])
        v--;
    return v != lo;
}

/* Kafka's QuorumFeatures.reasonNotSupported + VersionRange.toString. */
static bool not_supported(brk_broker *brk, const char *name, int16_t level,
                          char *why, size_t cap) {
    int16_t mn = 0, mx = 0;
    if (!brk_feature_supported(name, &mn, &mx)) {
        mn = 0;
        mx = 0;
    }
    if (level >= mn && level <= mx)
        return false;
    if (mx == 0)
        snprintf(why, cap, "Local controller %d does not support this feature.",
                 brk->node_id);
    else if (mn == mx)
        snprintf(why, cap, "Local controller %d only supports versions %d",
                 brk->node_id, mn);
    else
        snprintf(why, cap, "Local controller %d only supports versions %d-%d",
                 brk->node_id, mn, mx);
    return true;
}

typedef struct fupd {
    char name[64];
    int16_t level;
    int8_t type; /* 1 upgrade, 2 safe downgrade, 3 unsafe downgrade */
} fupd;

static int16_t brk_metadata_version(brk_broker *brk) {
    return finalized(brk, "metadata.version");
}

/* The proposed level of a feature after every update of the request. */
static int16_t proposed(brk_broker *brk, const fupd *u, int n,
                        const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(u[i].name, name))
            return u[i].level;
    if (!strcmp(name, "metadata.version"))
        return brk_metadata_version(brk);
    return finalized(brk, name);
}

/* FeatureControlManager.updateFeature; on success appends the record. */
static int16_t update_one(brk_broker *brk, const fupd *u, const fupd *all,
                          int n, buf *rec, bool *has_rec, char *msg,
                          size_t cap) {
    char why[256];
    *has_rec = false;
    bool is_mv = !strcmp(u->name, "metadata.version");
    int16_t cur = is_mv ? brk_metadata_version(brk) : finalized(brk, u->name);
    int16_t lvl = u->level;
#define INVALID(...)                                                           \
    do {                                                                       \
        snprintf(why, sizeof why, __VA_ARGS__);                                \
        snprintf(msg, cap, "Invalid update version %d for feature %s. %s",     \
                 lvl, u->name, why);                                           \
        return KERR_INVALID_UPDATE_VERSION;                                    \
    } while (0)
    if (u->type < 1 || u->type > 3)
        INVALID("The controller does not support the given upgrade type.");
    if (lvl < 0)
        INVALID("A feature version cannot be less than 0.");
    if (not_supported(brk, u->name, lvl, why, sizeof why)) {
        snprintf(msg, cap, "Invalid update version %d for feature %s. %s", lvl,
                 u->name, why);
        return KERR_INVALID_UPDATE_VERSION;
    }
    if (lvl < cur && u->type == 1)
        INVALID("Can't downgrade the version of this feature without setting "
                "the upgrade type to either safe or unsafe downgrade.");
    if (lvl > cur && u->type != 1)
        INVALID("Can't downgrade to a newer version.");
    if (is_mv) {
        if (lvl < MV_MIN || lvl > MV_MAX_KNOWN) {
            snprintf(msg, cap,
                     "Invalid metadata.version %d. Valid versions are from %d "
                     "to %d.",
                     lvl, MV_MIN, MV_MAX_KNOWN);
            return KERR_INVALID_UPDATE_VERSION;
        }
        if (lvl < cur && mv_metadata_changed(cur, lvl)) {
            snprintf(msg, cap,
                     "Unsupported metadata.version downgrade from %d to %d. %s",
                     cur, lvl,
                     u->type == 3
                         ? "Unsafe metadata downgrade is not supported in this "
                           "version."
                         : "Refusing to perform the requested downgrade "
                           "because it might delete metadata information.");
            return KERR_INVALID_UPDATE_VERSION;
        }
    } else if (!strcmp(u->name, "kraft.version")) {
        /* only reachable at the current level (Sluice supports 0 only) */
        if (lvl != cur)
            INVALID("Can't downgrade the version of this feature.");
        return KERR_NONE;
    } else {
        int k = -1;
        for (size_t i = 0; i < SL_ARRAY_LEN(known); i++)
            if (!strcmp(known[i].name, u->name))
                k = (int)i;
        if (k < 0)
            INVALID("Feature %s not found.", u->name);
        int16_t mv = proposed(brk, all, n, "metadata.version");
        if (lvl >= 1 && mv < MV_MIN)
            INVALID("%s could not be set to %d because it depends on "
                    "metadata.version=%d (3.3-IV3)",
                    u->name, lvl, MV_MIN);
        int16_t dep =
            lvl <= known[k].max_known && lvl < 3 ? known[k].mv_dep[lvl] : 0;
        if (dep && mv < dep)
            INVALID("%s could not be set to %d because it depends on "
                    "metadata.version level %d",
                    u->name, lvl, dep);
    }
#undef INVALID
    ctl_rec_feature_level(rec, u->name, lvl);
    *has_rec = true;
    return KERR_NONE;
}

/* UpdateFeatures' reply once its records committed (or failed, or
 * nothing was written). In req->arena. */
typedef struct update_features_reply {
    int16_t err;
    const char *msg; /* for a validation error */
    proto_update_features_request_feature_update_key *updates;
    int n;
} update_features_reply;

static void update_features_finish(brk_req *req, void *ctx) {
    update_features_reply *c = ctx;
    proto_update_features_response rs;
    proto_update_features_response_init(&rs);
    rs.error_code = c->err;
    rs.error_message = c->err ? proto_str_c(c->msg) : PROTO_STR_NULL;
    if (!c->err && req->api_version <= 1) {
        int32_t nr = BRK_RESP_ARRAY(req, rs.results, c->n);
        for (int32_t i = 0; i < nr; i++) {
            proto_update_features_response_updatable_feature_result_init(
                &rs.results.v[i]);
            rs.results.v[i].feature = c->updates[i].feature;
            rs.results.v[i].error_message = PROTO_STR_NULL;
        }
    }
    proto_update_features_response_encode(brk_resp_buf(req), req->api_version,
                                          &rs);
}

brk_status brk_handle_update_features(brk_req *req) {
    proto_update_features_request rq;
    if (proto_update_features_request_decode(&req->body, req->arena,
                                             req->api_version, &rq) != PROTO_OK)
        return BRK_CLOSE;
    brk_broker *brk = req->brk;
    int n = rq.feature_updates.n > 0 ? rq.feature_updates.n : 0;
    fupd *u = arena_calloc(req->arena, (size_t)n + 1, sizeof *u);
    int16_t err = KERR_NONE;
    char msg[768] = "";
    for (int i = 0; i < n; i++) {
        proto_update_features_request_feature_update_key *k =
            &rq.feature_updates.v[i];
        snprintf(u[i].name, sizeof u[i].name, "%.*s",
                 k->feature.len > 0 ? (int)k->feature.len : 0,
                 k->feature.p ? k->feature.p : "");
        u[i].level = k->max_version_level;
        /* v0: AllowDowngrade, as UpdateFeaturesRequest.upgradeType() */
        u[i].type = req->api_version == 0 ? (k->allow_downgrade ? 2 : 1)
                                          : k->upgrade_type;
        for (int j = 0; j < i && !err; j++)
            if (!strcmp(u[j].name, u[i].name)) {
                err = KERR_INVALID_REQUEST;
                snprintf(msg, sizeof msg,
                         "Feature %s was specified more "
                         "than once.",
                         u[i].name);
            }
    }
    buf *recs = arena_calloc(req->arena, (size_t)n + 1, sizeof(buf));
    int nrec = 0;
    for (int i = 0; i < n && !err; i++) {
        bool has;
        buf_init(&recs[nrec], 64);
        char m[512];
        err = update_one(brk, &u[i], u, n, &recs[nrec], &has, m, sizeof m);
        if (err)
            snprintf(msg, sizeof msg,
                     "The update failed for all features since the following "
                     "feature had an error: %s",
                     m);
        if (has)
            nrec++;
        else
            buf_free(&recs[nrec]);
    }
    update_features_reply *reply = arena_calloc(req->arena, 1, sizeof *reply);
    reply->err = err;
    reply->msg = arena_strndup(req->arena, msg, strlen(msg));
    reply->updates = rq.feature_updates.v;
    reply->n = n;
    brk_commit_wait *w = brk_commit_begin(req, update_features_finish, reply);
    if (!err && !(req->api_version >= 1 && rq.validate_only))
        brk_commit(w, recs, nrec, &reply->err);
    for (int i = 0; i < nrec; i++)
        buf_free(&recs[i]);
    return brk_commit_end(w);
}
