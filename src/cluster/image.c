/*
 * image.c - the metadata image, changed only by applying KRaft metadata
 * records (see image.h). Record value framing (Kafka's MetadataRecordSerde):
 *   uvarint frame_version (1) | uvarint record type (apiKey) |
 *   uvarint record version | the record, flexible encoding.
 *
 * Invariants:
 *  1. A topic's parts[] has n_partitions entries, parts[i]->id == i, and no
 *     hole once PartitionRecords 0..n-1 have been applied (a PartitionRecord
 *     beyond the end grows the array with NULLs until it is filled).
 *  2. by-name and by-id lookups see exactly the topics in `topics`.
 *  3. Broker configs (ConfigRecord type BROKER) of keys the node applies
 *     go to the node through the config hooks (the image never touches
 *     its configuration); topic configs into the topic's overrides, whose
 *     effective log config the hooks compute.
 */
#include "cluster/image.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/log.h"
#include "core/util.h"
#include "proto/gen/messages.h"

/* The broker quota that throttles moves between log dirs (a ConfigRecord
 * of the BROKER resource that is not in the broker config table). */

struct cl_image {
    cl_config_hooks hooks; /* the node's, or none */
    cl_topic **topics;     /* sorted by name */
    size_t n_topics, cap_topics;
    cl_broker *brokers;
    size_t n_brokers;
    int64_t offset;
    cl_listener_fn listener;
    void *listener_ctx;
    /* open-addressing index by topic id (Fetch v13+ looks partitions up by
     * id, so this must not be a scan); power-of-two size, NULL = empty,
     * TOMB = deleted */
    cl_topic **by_id;
    size_t id_cap, id_used;
    cl_topic id_tomb; /* ID_TOMB: never a topic, only its address counts */
    /* group and client-metrics config overrides: (resource type, resource
     * name, config name, value) */
    struct grp_cfg {
        int8_t type;
        bool hooked; /* a BROKER key the node applies (through the hooks):
                        kept only so the image can be written out */
        char *group, *name, *value;
    } * gcfg;
    size_t n_gcfg;
    /* replica.alter.log.dirs.io.max.bytes.per.second per broker id ("":
     * the cluster default): name = resource, value = rate. */
    int16_t metadata_version;
    /* finalized features (FeatureLevelRecord; level 0 = not finalized) */
    cl_feature features[16];
    size_t n_features;
    /* first producer id not yet handed to any broker (ProducerIdsRecord) */
    int64_t next_producer_id;
    /* client quotas (ClientQuotaRecord) */
    cl_quota *quotas;
    size_t n_quotas;
    /* SCRAM credentials (UserScramCredentialRecord), one per (user,
     * mechanism), in insertion order */
    cl_scram *scram;
    size_t n_scram;
    /* ACLs (AccessControlEntryRecord), in insertion order */
    cl_acl *acls;
    size_t n_acls;
};

static void quota_free(cl_quota *q);

static void scram_free(cl_scram *c) {
    free(c->user);
    free(c->salt);
    free(c->stored_key);
    free(c->server_key);
}

static uint8_t *bytes_dup(proto_bytes b, int32_t *len) {
    *len = b.len > 0 ? b.len : 0;
    uint8_t *p = xmalloc((size_t)*len + 1);
    if (*len)
        memcpy(p, b.p, (size_t)*len);
    return p;
}

/* Kafka's ScramControlManager.replay: upsert or remove (user, mechanism). */
static void apply_scram(cl_image *img, proto_str name, int8_t mechanism,
                        const proto_user_scram_credential_record *r) {
    size_t i = 0;
    while (i < img->n_scram && !(img->scram[i].mechanism == mechanism &&
                                 proto_str_eq(name, img->scram[i].user)))
        i++;
    if (!r) {
        if (i < img->n_scram) {
            scram_free(&img->scram[i]);
            memmove(&img->scram[i], &img->scram[i + 1],
                    (img->n_scram - i - 1) * sizeof(cl_scram));
            img->n_scram--;
        }
        return;
    }
    if (i == img->n_scram) {
        img->scram =
            xrealloc(img->scram, (img->n_scram + 1) * sizeof(cl_scram));
        img->n_scram++;
    } else {
        scram_free(&img->scram[i]);
    }
    cl_scram *c = &img->scram[i];
    c->user =
        xstrndup(name.p ? name.p : "", name.len > 0 ? (size_t)name.len : 0);
    c->mechanism = mechanism;
    c->iterations = r->iterations;
    c->salt = bytes_dup(r->salt, &c->salt_len);
    c->stored_key = bytes_dup(r->stored_key, &c->stored_key_len);
    c->server_key = bytes_dup(r->server_key, &c->server_key_len);
}

static void acl_free(cl_acl *a) {
    free(a->resource_name);
    free(a->principal);
    free(a->host);
}

static char *str_dup(proto_str s) {
    return xstrndup(s.p ? s.p : "", s.len > 0 ? (size_t)s.len : 0);
}

/* Kafka's AclControlManager.replay: add by id / remove by id. */
static void apply_acl(cl_image *img, const uint8_t id[16],
                      const proto_access_control_entry_record *r) {
    size_t i = 0;
    while (i < img->n_acls && memcmp(img->acls[i].id, id, 16))
        i++;
    if (!r) {
        if (i < img->n_acls) {
            acl_free(&img->acls[i]);
            memmove(&img->acls[i], &img->acls[i + 1],
                    (img->n_acls - i - 1) * sizeof(cl_acl));
            img->n_acls--;
        }
        return;
    }
    if (i < img->n_acls)
        return; /* ids are unique */
    img->acls = xrealloc(img->acls, (img->n_acls + 1) * sizeof(cl_acl));
    cl_acl *a = &img->acls[img->n_acls++];
    memcpy(a->id, id, 16);
    a->resource_type = r->resource_type;
    a->pattern_type = r->pattern_type;
    a->operation = r->operation;
    a->permission_type = r->permission_type;
    a->resource_name = str_dup(r->resource_name);
    a->principal = str_dup(r->principal);
    a->host = str_dup(r->host);
}

const cl_acl *cl_acls(const cl_image *img, size_t *n) {
    *n = img->n_acls;
    return img->acls;
}

const cl_scram *cl_scram_creds(const cl_image *img, size_t *n) {
    *n = img->n_scram;
    return img->scram;
}

cl_image *cl_image_new(void) {
    cl_image *img = xcalloc(1, sizeof *img);
    img->offset = -1;
    return img;
}

void cl_image_set_config_hooks(cl_image *img, const cl_config_hooks *h) {
    img->hooks = *h;
}

static void refresh_log_config(cl_image *img, cl_topic *t) {
    if (img->hooks.topic_log_config)
        img->hooks.topic_log_config(img->hooks.ctx, t);
    else
        log_config_default(&t->log_cfg);
}

static void partition_free(cl_partition *p) {
    if (!p)
        return;
    free(p->replicas);
    free(p->isr);
    free(p->adding);
    free(p->removing);
    free(p);
}

static void topic_free(cl_topic *t) {
    for (int32_t i = 0; i < t->n_partitions; i++)
        partition_free(t->parts[i]);
    free(t->parts);
    for (size_t i = 0; i < t->n_configs; i++) {
        free((char *)t->configs[i].name);
        free((char *)t->configs[i].value);
    }
    free(t->configs);
    free(t->name);
    free(t);
}

void cl_image_free(cl_image *img) {
    if (!img)
        return;
    for (size_t i = 0; i < img->n_topics; i++)
        topic_free(img->topics[i]);
    free(img->topics);
    free(img->by_id);
    for (size_t i = 0; i < img->n_gcfg; i++) {
        free(img->gcfg[i].group);
        free(img->gcfg[i].name);
        free(img->gcfg[i].value);
    }
    free(img->gcfg);
    for (size_t i = 0; i < img->n_quotas; i++)
        quota_free(&img->quotas[i]);
    free(img->quotas);
    for (size_t i = 0; i < img->n_scram; i++)
        scram_free(&img->scram[i]);
    free(img->scram);
    for (size_t i = 0; i < img->n_acls; i++)
        acl_free(&img->acls[i]);
    free(img->acls);
    for (size_t i = 0; i < img->n_brokers; i++) {
        cl_broker *b = &img->brokers[i];
        for (int32_t j = 0; j < b->n_endpoints; j++) {
            free(b->endpoints[j].name);
            free(b->endpoints[j].host);
        }
        free(b->endpoints);
        free(b->rack);
    }
    free(img->brokers);
    free(img);
}

void cl_image_set_listener(cl_image *img, cl_listener_fn fn, void *ctx) {
    img->listener = fn;
    img->listener_ctx = ctx;
}

static void emit(cl_image *img, cl_event ev, cl_topic *t, cl_partition *p) {
    if (img->listener)
        img->listener(img->listener_ctx, ev, t, p);
}

static void quota_free(cl_quota *q) {
    for (int i = 0; i < q->n_ent; i++) {
        free(q->etype[i]);
        free(q->ename[i]);
    }
    for (int i = 0; i < q->n_vals; i++)
        free(q->key[i]);
}

/* Kafka's ClientQuotaControlManager: one value of one entity per record;
 * an entity without values is gone. Entity parts are kept sorted by type. */
static void apply_client_quota(cl_image *img,
                               const proto_client_quota_record *r) {
    if (r->entity.n <= 0 || r->entity.n > 3 || r->key.len <= 0)
        return;
    cl_quota e = {0};
    e.n_ent = r->entity.n;
    for (int i = 0; i < e.n_ent; i++) {
        proto_str t = r->entity.v[i].entity_type,
                  n = r->entity.v[i].entity_name;
        e.etype[i] = xstrndup(t.p ? t.p : "", t.len > 0 ? (size_t)t.len : 0);
        e.ename[i] =
            n.len >= 0 ? xstrndup(n.p ? n.p : "", (size_t)n.len) : NULL;
    }
    for (int i = 1; i < e.n_ent; i++)
        for (int j = i; j > 0 && strcmp(e.etype[j - 1], e.etype[j]) > 0; j--) {
            char *t = e.etype[j], *n = e.ename[j];
            e.etype[j] = e.etype[j - 1];
            e.ename[j] = e.ename[j - 1];
            e.etype[j - 1] = t;
            e.ename[j - 1] = n;
        }
    size_t qi = 0;
    for (; qi < img->n_quotas; qi++) {
        cl_quota *q = &img->quotas[qi];
        bool same = q->n_ent == e.n_ent;
        for (int i = 0; same && i < e.n_ent; i++)
            same = !strcmp(q->etype[i], e.etype[i]) &&
                   (q->ename[i] && e.ename[i] ? !strcmp(q->ename[i], e.ename[i])
                                              : q->ename[i] == e.ename[i]);
        if (same)
            break;
    }
    if (qi == img->n_quotas) {
        if (r->remove) {
            quota_free(&e);
            return;
        }
        img->quotas =
            xrealloc(img->quotas, (img->n_quotas + 1) * sizeof(cl_quota));
        img->quotas[img->n_quotas++] = e;
    } else {
        e.n_vals = 0;
        quota_free(&e);
    }
    cl_quota *q = &img->quotas[qi];
    int k = 0;
    while (k < q->n_vals && !proto_str_eq(r->key, q->key[k]))
        k++;
    if (r->remove) {
        if (k < q->n_vals) {
            free(q->key[k]);
            q->key[k] = q->key[q->n_vals - 1];
            q->val[k] = q->val[q->n_vals - 1];
            q->n_vals--;
        }
        if (q->n_vals == 0) {
            quota_free(q);
            img->quotas[qi] = img->quotas[--img->n_quotas];
        }
        return;
    }
    if (k == q->n_vals) {
        if (k == (int)SL_ARRAY_LEN(q->key))
            return;
        q->key[k] = xstrndup(r->key.p, (size_t)r->key.len);
        q->n_vals++;
    }
    q->val[k] = r->value;
}

const cl_quota *cl_quotas(const cl_image *img, size_t *n) {
    *n = img->n_quotas;
    return img->quotas;
}

/* Kafka's FeatureControlManager: level 0 removes the feature. */
static void set_feature(cl_image *img, proto_str name, int16_t level) {
    if (name.len <= 0 || (size_t)name.len >= sizeof img->features[0].name)
        return;
    size_t i = 0;
    while (i < img->n_features && !proto_str_eq(name, img->features[i].name))
        i++;
    if (level == 0) {
        if (i < img->n_features)
            img->features[i] = img->features[--img->n_features];
        return;
    }
    if (i == img->n_features) {
        if (i == SL_ARRAY_LEN(img->features))
            return;
        memcpy(img->features[i].name, name.p, (size_t)name.len);
        img->features[i].name[name.len] = 0;
        img->n_features++;
    }
    img->features[i].level = level;
}

const cl_feature *cl_features(const cl_image *img, size_t *n) {
    *n = img->n_features;
    return img->features;
}

int64_t cl_image_offset(const cl_image *img) {
    return img->offset;
}
void cl_image_set_offset(cl_image *img, int64_t off) {
    img->offset = off;
}

/* binary search by name; returns index of match or insertion point */
static size_t topic_search(const cl_image *img, const char *name, size_t nl,
                           bool *found) {
    size_t lo = 0, hi = img->n_topics;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const char *m = img->topics[mid]->name;
        size_t ml = strlen(m);
        int c = memcmp(m, name, ml < nl ? ml : nl);
        if (c == 0)
            c = ml < nl ? -1 : ml > nl ? 1 : 0;
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

cl_topic *cl_topic_find(cl_image *img, const char *name, size_t name_len) {
    bool found;
    size_t i = topic_search(img, name, name_len, &found);
    return found ? img->topics[i] : NULL;
}

/* The deleted-slot marker of by_id: the image's own tomb (no static). */
#define ID_TOMB (&img->id_tomb)

static size_t id_hash(const uint8_t id[16]) {
    uint64_t h;
    memcpy(&h, id + 8, 8);
    return (size_t)(h * 0x9E3779B97F4A7C15ull >> 17);
}

static void id_index_put(cl_image *img, cl_topic *t);

static void id_index_grow(cl_image *img) {
    cl_topic **old = img->by_id;
    size_t oc = img->id_cap;
    img->id_cap = oc ? oc * 2 : 256;
    img->by_id = xcalloc(img->id_cap, sizeof(cl_topic *));
    img->id_used = 0;
    for (size_t i = 0; i < oc; i++)
        if (old[i] && old[i] != ID_TOMB)
            id_index_put(img, old[i]);
    free(old);
}

static void id_index_put(cl_image *img, cl_topic *t) {
    if ((img->id_used + 1) * 2 > img->id_cap)
        id_index_grow(img);
    size_t m = img->id_cap - 1;
    for (size_t i = id_hash(t->id) & m;; i = (i + 1) & m)
        if (!img->by_id[i] || img->by_id[i] == ID_TOMB) {
            if (!img->by_id[i])
                img->id_used++;
            img->by_id[i] = t;
            return;
        }
}

static void id_index_del(cl_image *img, cl_topic *t) {
    if (!img->id_cap)
        return;
    size_t m = img->id_cap - 1;
    for (size_t i = id_hash(t->id) & m; img->by_id[i]; i = (i + 1) & m)
        if (img->by_id[i] == t) {
            img->by_id[i] = ID_TOMB;
            return;
        }
}

cl_topic *cl_topic_find_id(cl_image *img, const uint8_t id[16]) {
    if (!img->id_cap)
        return NULL;
    size_t m = img->id_cap - 1;
    for (size_t i = id_hash(id) & m; img->by_id[i]; i = (i + 1) & m)
        if (img->by_id[i] != ID_TOMB && !memcmp(img->by_id[i]->id, id, 16))
            return img->by_id[i];
    return NULL;
}

cl_topic **cl_topics(cl_image *img, size_t *n) {
    *n = img->n_topics;
    return img->topics;
}

size_t cl_topic_count(const cl_image *img) {
    return img->n_topics;
}

const cl_broker *cl_broker_find(const cl_image *img, int32_t id) {
    for (size_t i = 0; i < img->n_brokers; i++)
        if (img->brokers[i].id == id)
            return &img->brokers[i];
    return NULL;
}

const cl_broker *cl_brokers(const cl_image *img, size_t *n) {
    *n = img->n_brokers;
    return img->brokers;
}

const char *cl_group_config(const cl_image *img, const char *group,
                            const char *name) {
    for (size_t i = 0; i < img->n_gcfg; i++)
        if (img->gcfg[i].type == 32 && !img->gcfg[i].hooked &&
            !strcmp(img->gcfg[i].group, group) &&
            !strcmp(img->gcfg[i].name, name))
            return img->gcfg[i].value;
    return NULL;
}

size_t cl_group_configs(const cl_image *img, const char *group, sl_kv *out,
                        size_t max) {
    return cl_resource_configs(img, 32, group, out, max);
}

size_t cl_resource_configs(const cl_image *img, int8_t type, const char *res,
                           sl_kv *out, size_t max) {
    const char *group = res;
    size_t n = 0;
    for (size_t i = 0; i < img->n_gcfg && n < max; i++)
        if (img->gcfg[i].type == type && !img->gcfg[i].hooked &&
            !strcmp(img->gcfg[i].group, group)) {
            out[n].name = img->gcfg[i].name;
            out[n].value = img->gcfg[i].value;
            n++;
        }
    return n;
}

size_t cl_config_resources(const cl_image *img, int8_t type, const char **out,
                           size_t max) {
    size_t n = 0;
    for (size_t i = 0; i < img->n_gcfg && n < max; i++) {
        if (img->gcfg[i].type != type || img->gcfg[i].hooked)
            continue;
        bool seen = false;
        for (size_t j = 0; j < n && !seen; j++)
            seen = !strcmp(out[j], img->gcfg[i].group);
        if (!seen)
            out[n++] = img->gcfg[i].group;
    }
    return n;
}

static void apply_group_config(cl_image *img, int8_t type, bool hooked,
                               const char *group, const char *name,
                               const proto_str *value) {
    size_t i;
    for (i = 0; i < img->n_gcfg; i++)
        if (img->gcfg[i].type == type && img->gcfg[i].hooked == hooked &&
            !strcmp(img->gcfg[i].group, group) &&
            !strcmp(img->gcfg[i].name, name))
            break;
    if (value->len < 0) {
        if (i < img->n_gcfg) {
            free(img->gcfg[i].group);
            free(img->gcfg[i].name);
            free(img->gcfg[i].value);
            img->gcfg[i] = img->gcfg[--img->n_gcfg];
        }
        return;
    }
    char *v = xstrndup(value->p, (size_t)value->len);
    if (i < img->n_gcfg) {
        free(img->gcfg[i].value);
        img->gcfg[i].value = v;
        return;
    }
    img->gcfg = xrealloc(img->gcfg, (img->n_gcfg + 1) * sizeof *img->gcfg);
    img->gcfg[img->n_gcfg].type = type;
    img->gcfg[img->n_gcfg].hooked = hooked;
    img->gcfg[img->n_gcfg].group = xstrdup(group);
    img->gcfg[img->n_gcfg].name = xstrdup(name);
    img->gcfg[img->n_gcfg].value = v;
    img->n_gcfg++;
}

const char *cl_topic_config(const cl_topic *t, const char *name) {
    for (size_t i = 0; i < t->n_configs; i++)
        if (!strcmp(t->configs[i].name, name))
            return t->configs[i].value;
    return NULL;
}

static int32_t *dup_ints(const int32_t *v, int32_t n) {
    int32_t *o = xmalloc((size_t)(n > 0 ? n : 1) * sizeof *o);
    if (n > 0)
        memcpy(o, v, (size_t)n * sizeof *o);
    return o;
}

static void apply_topic(cl_image *img, const proto_topic_record *r) {
    if (r->name.len <= 0)
        return;
    bool found;
    size_t at = topic_search(img, r->name.p, (size_t)r->name.len, &found);
    if (found)
        return; /* replay of a record already applied */
    cl_topic *t = xcalloc(1, sizeof *t);
    t->name = xstrndup(r->name.p, (size_t)r->name.len);
    memcpy(t->id, r->topic_id.b, 16);
    t->internal = !strcmp(t->name, "__consumer_offsets") ||
                  !strcmp(t->name, "__transaction_state") ||
                  !strcmp(t->name, "__share_group_state");
    refresh_log_config(img, t);
    if (img->n_topics == img->cap_topics) {
        img->cap_topics = img->cap_topics ? img->cap_topics * 2 : 64;
        img->topics =
            xrealloc(img->topics, img->cap_topics * sizeof(cl_topic *));
    }
    memmove(&img->topics[at + 1], &img->topics[at],
            (img->n_topics - at) * sizeof(cl_topic *));
    img->topics[at] = t;
    img->n_topics++;
    id_index_put(img, t);
    emit(img, CL_EV_TOPIC_ADDED, t, NULL);
}

static void apply_partition(cl_image *img, const proto_partition_record *r) {
    cl_topic *t = cl_topic_find_id(img, r->topic_id.b);
    if (!t || r->partition_id < 0 || r->partition_id > 1000000)
        return;
    if (r->partition_id >= t->n_partitions) {
        int32_t n = r->partition_id + 1;
        t->parts = xrealloc(t->parts, (size_t)n * sizeof(cl_partition *));
        for (int32_t i = t->n_partitions; i < n; i++)
            t->parts[i] = NULL;
        t->n_partitions = n;
    }
    cl_partition *p = t->parts[r->partition_id];
    bool added = !p;
    if (!p) {
        p = xcalloc(1, sizeof *p);
        p->topic = t;
        p->id = r->partition_id;
        t->parts[r->partition_id] = p;
    } else {
        free(p->replicas);
        free(p->isr);
        free(p->adding);
        free(p->removing);
    }
    p->leader = r->leader;
    p->leader_epoch = r->leader_epoch;
    p->partition_epoch = r->partition_epoch;
    p->n_replicas = r->replicas.n > 0 ? r->replicas.n : 0;
    p->replicas = dup_ints(r->replicas.v, p->n_replicas);
    p->n_isr = r->isr.n > 0 ? r->isr.n : 0;
    p->isr = dup_ints(r->isr.v, p->n_isr);
    p->n_adding = r->adding_replicas.n > 0 ? r->adding_replicas.n : 0;
    p->adding = dup_ints(r->adding_replicas.v, p->n_adding);
    p->n_removing = r->removing_replicas.n > 0 ? r->removing_replicas.n : 0;
    p->removing = dup_ints(r->removing_replicas.v, p->n_removing);
    emit(img, added ? CL_EV_PARTITION_ADDED : CL_EV_PARTITION_CHANGED, t, p);
}

static void apply_partition_change(cl_image *img,
                                   const proto_partition_change_record *r) {
    cl_topic *t = cl_topic_find_id(img, r->topic_id.b);
    if (!t || r->partition_id < 0 || r->partition_id >= t->n_partitions ||
        !t->parts[r->partition_id])
        return;
    cl_partition *p = t->parts[r->partition_id];
    if (r->isr.n >= 0) {
        free(p->isr);
        p->n_isr = r->isr.n;
        p->isr = dup_ints(r->isr.v, r->isr.n);
    }
    if (r->replicas.n >= 0) {
        free(p->replicas);
        p->n_replicas = r->replicas.n;
        p->replicas = dup_ints(r->replicas.v, r->replicas.n);
    }
    /* tagged, null (n < 0) when unchanged */
    if (r->adding_replicas.n >= 0) {
        free(p->adding);
        p->n_adding = r->adding_replicas.n;
        p->adding = dup_ints(r->adding_replicas.v, r->adding_replicas.n);
    }
    if (r->removing_replicas.n >= 0) {
        free(p->removing);
        p->n_removing = r->removing_replicas.n;
        p->removing = dup_ints(r->removing_replicas.v, r->removing_replicas.n);
    }
    /* leader -2: unchanged; any other value bumps the leader epoch, the
     * same leader too (Kafka's PartitionRegistration.merge: a
     * reassignment that removes replicas bumps it so). */
    if (r->leader != -2) {
        p->leader = r->leader;
        p->leader_epoch++;
    }
    p->partition_epoch++;
    emit(img, CL_EV_PARTITION_CHANGED, t, p);
}

static void apply_remove_topic(cl_image *img,
                               const proto_remove_topic_record *r) {
    for (size_t i = 0; i < img->n_topics; i++) {
        cl_topic *t = img->topics[i];
        if (memcmp(t->id, r->topic_id.b, 16))
            continue;
        emit(img, CL_EV_TOPIC_REMOVING, t, NULL);
        id_index_del(img, t);
        memmove(&img->topics[i], &img->topics[i + 1],
                (img->n_topics - i - 1) * sizeof(cl_topic *));
        img->n_topics--;
        topic_free(t);
        return;
    }
}

static void apply_config(cl_image *img, const proto_config_record *r) {
    if (r->name.len <= 0)
        return;
    char name[256];
    snprintf(name, sizeof name, "%.*s", (int)r->name.len, r->name.p);
    if (r->resource_type == 2) { /* TOPIC */
        cl_topic *t = cl_topic_find(
            img, r->resource_name.p,
            r->resource_name.len > 0 ? (size_t)r->resource_name.len : 0);
        if (!t)
            return;
        size_t i;
        for (i = 0; i < t->n_configs; i++)
            if (!strcmp(t->configs[i].name, name))
                break;
        if (r->value.len < 0) {
            if (i < t->n_configs) {
                free((char *)t->configs[i].name);
                free((char *)t->configs[i].value);
                t->configs[i] = t->configs[--t->n_configs];
            }
        } else {
            char *v = xstrndup(r->value.p, (size_t)r->value.len);
            if (i < t->n_configs) {
                free((char *)t->configs[i].value);
                t->configs[i].value = v;
            } else {
                t->configs =
                    xrealloc(t->configs, (t->n_configs + 1) * sizeof(sl_kv));
                t->configs[t->n_configs].name = xstrdup(name);
                t->configs[t->n_configs].value = v;
                t->n_configs++;
            }
        }
        refresh_log_config(img, t);
        emit(img, CL_EV_TOPIC_CONFIG, t, NULL);
    } else if (r->resource_type == 32 ||
               r->resource_type == 16) { /* GROUP, CLIENT_METRICS */
        char group[512];
        snprintf(group, sizeof group, "%.*s",
                 (int)(r->resource_name.len > 0 ? r->resource_name.len : 0),
                 r->resource_name.p ? r->resource_name.p : "");
        apply_group_config(img, r->resource_type, false, group, name,
                           &r->value);
    } else if (r->resource_type == 4) { /* BROKER */
        char res[64];
        snprintf(res, sizeof res, "%.*s",
                 (int)(r->resource_name.len > 0 ? r->resource_name.len : 0),
                 r->resource_name.p ? r->resource_name.p : "");
        if (!img->hooks.broker_key ||
            !img->hooks.broker_key(img->hooks.ctx, name)) {
            /* a key KafkaConfig does not define: kept (and described) as
             * Kafka keeps it, with no effect */
            apply_group_config(img, 4, false, res, name, &r->value);
            return;
        }
        apply_group_config(img, 4, true, res, name, &r->value);
        bool def_scope = r->resource_name.len <= 0;
        char *v = r->value.len < 0 ? NULL
                                   : xstrndup(r->value.p, (size_t)r->value.len);
        img->hooks.broker_config(img->hooks.ctx, name, v, def_scope);
        free(v);
        for (size_t i = 0; i < img->n_topics; i++)
            refresh_log_config(img, img->topics[i]);
        emit(img, CL_EV_BROKER_CONFIG, NULL, NULL);
    }
}

static void apply_register_broker(cl_image *img,
                                  const proto_register_broker_record *r) {
    cl_broker *b = NULL;
    for (size_t i = 0; i < img->n_brokers; i++)
        if (img->brokers[i].id == r->broker_id)
            b = &img->brokers[i];
    if (!b) {
        img->brokers =
            xrealloc(img->brokers, (img->n_brokers + 1) * sizeof(cl_broker));
        b = &img->brokers[img->n_brokers++];
        memset(b, 0, sizeof *b);
    } else {
        for (int32_t j = 0; j < b->n_endpoints; j++) {
            free(b->endpoints[j].name);
            free(b->endpoints[j].host);
        }
        free(b->endpoints);
        free(b->rack);
    }
    b->id = r->broker_id;
    b->epoch = r->broker_epoch;
    memcpy(b->incarnation_id, r->incarnation_id.b, 16);
    b->n_endpoints = r->end_points.n > 0 ? r->end_points.n : 0;
    b->endpoints = xcalloc((size_t)(b->n_endpoints ? b->n_endpoints : 1),
                           sizeof(cl_endpoint));
    for (int32_t j = 0; j < b->n_endpoints; j++) {
        const proto_register_broker_record_broker_endpoint *e =
            &r->end_points.v[j];
        b->endpoints[j].name =
            xstrndup(e->name.p ? e->name.p : "",
                     e->name.len > 0 ? (size_t)e->name.len : 0);
        b->endpoints[j].host =
            xstrndup(e->host.p ? e->host.p : "",
                     e->host.len > 0 ? (size_t)e->host.len : 0);
        b->endpoints[j].port = e->port;
        b->endpoints[j].security_protocol = e->security_protocol;
    }
    b->rack =
        r->rack.len >= 0 ? xstrndup(r->rack.p, (size_t)r->rack.len) : NULL;
    b->fenced = r->fenced;
    b->in_controlled_shutdown = r->in_controlled_shutdown;
}

static cl_broker *broker_at_epoch(cl_image *img, int32_t id, int64_t epoch) {
    for (size_t i = 0; i < img->n_brokers; i++)
        if (img->brokers[i].id == id)
            return img->brokers[i].epoch == epoch ? &img->brokers[i] : NULL;
    return NULL;
}

/* BrokerRegistrationChangeRecord: fenced -1 unfenced, 1 fenced, 0 no
 * change; in_cs 1 entered controlled shutdown. Ignored for another epoch
 * (Kafka's replay refuses it; a stale record changes nothing). */
static void apply_broker_change(cl_image *img, int32_t id, int64_t epoch,
                                int8_t fenced, int8_t in_cs) {
    cl_broker *b = broker_at_epoch(img, id, epoch);
    if (!b)
        return;
    if (fenced == 1)
        b->fenced = true;
    else if (fenced == -1)
        b->fenced = false;
    if (in_cs == 1)
        b->in_controlled_shutdown = true;
}

static void apply_unregister_broker(cl_image *img, int32_t id) {
    for (size_t i = 0; i < img->n_brokers; i++) {
        cl_broker *b = &img->brokers[i];
        if (b->id != id)
            continue;
        for (int32_t j = 0; j < b->n_endpoints; j++) {
            free(b->endpoints[j].name);
            free(b->endpoints[j].host);
        }
        free(b->endpoints);
        free(b->rack);
        memmove(&img->brokers[i], &img->brokers[i + 1],
                (img->n_brokers - i - 1) * sizeof *img->brokers);
        img->n_brokers--;
        return;
    }
}

bool cl_image_apply(cl_image *img, const uint8_t *val, size_t len) {
    rd r;
    rd_init(&r, val, len);
    uint32_t frame = rd_uvarint32(&r);
    uint32_t type = rd_uvarint32(&r);
    uint32_t ver = rd_uvarint32(&r);
    if (r.err || frame != 1 || ver > 0x7fff)
        return false;
    arena a;
    arena_init(&a, 1024);
    bool ok = true;
    int rc = PROTO_OK;
#define DECODE(T, fn)                                                          \
    T m;                                                                       \
    rc = fn(&r, &a, (int16_t)ver, &m);                                         \
    if (rc != PROTO_OK) {                                                      \
        ok = false;                                                            \
        break;                                                                 \
    }
    switch (type) {
    case 0: {
        DECODE(proto_register_broker_record,
               proto_register_broker_record_decode)
        apply_register_broker(img, &m);
        break;
    }
    case 1: {
        DECODE(proto_unregister_broker_record,
               proto_unregister_broker_record_decode)
        apply_unregister_broker(img, m.broker_id);
        break;
    }
    case 7: {
        DECODE(proto_fence_broker_record, proto_fence_broker_record_decode)
        apply_broker_change(img, m.id, m.epoch, 1, 0);
        break;
    }
    case 8: {
        DECODE(proto_unfence_broker_record, proto_unfence_broker_record_decode)
        apply_broker_change(img, m.id, m.epoch, -1, 0);
        break;
    }
    case 17: {
        DECODE(proto_broker_registration_change_record,
               proto_broker_registration_change_record_decode)
        apply_broker_change(img, m.broker_id, m.broker_epoch, m.fenced,
                            m.in_controlled_shutdown);
        break;
    }
    case 2: {
        DECODE(proto_topic_record, proto_topic_record_decode)
        apply_topic(img, &m);
        break;
    }
    case 3: {
        DECODE(proto_partition_record, proto_partition_record_decode)
        apply_partition(img, &m);
        break;
    }
    case 4: {
        DECODE(proto_config_record, proto_config_record_decode)
        apply_config(img, &m);
        break;
    }
    case 5: {
        DECODE(proto_partition_change_record,
               proto_partition_change_record_decode)
        apply_partition_change(img, &m);
        break;
    }
    case 9: {
        DECODE(proto_remove_topic_record, proto_remove_topic_record_decode)
        apply_remove_topic(img, &m);
        break;
    }
    case 14: {
        DECODE(proto_client_quota_record, proto_client_quota_record_decode)
        apply_client_quota(img, &m);
        break;
    }
    case 11: {
        DECODE(proto_user_scram_credential_record,
               proto_user_scram_credential_record_decode)
        apply_scram(img, m.name, m.mechanism, &m);
        break;
    }
    case 18: {
        DECODE(proto_access_control_entry_record,
               proto_access_control_entry_record_decode)
        apply_acl(img, m.id.b, &m);
        break;
    }
    case 19: {
        DECODE(proto_remove_access_control_entry_record,
               proto_remove_access_control_entry_record_decode)
        apply_acl(img, m.id.b, NULL);
        break;
    }
    case 22: {
        DECODE(proto_remove_user_scram_credential_record,
               proto_remove_user_scram_credential_record_decode)
        apply_scram(img, m.name, m.mechanism, NULL);
        break;
    }
    case 15: {
        DECODE(proto_producer_ids_record, proto_producer_ids_record_decode)
        if (m.next_producer_id > img->next_producer_id)
            img->next_producer_id = m.next_producer_id;
        break;
    }
    case 12: {
        DECODE(proto_feature_level_record, proto_feature_level_record_decode)
        if (proto_str_eq(m.name, "metadata.version"))
            img->metadata_version = m.feature_level;
        set_feature(img, m.name, m.feature_level);
        break;
    }
    default:
        break; /* records this image does not track */
    }
#undef DECODE
    arena_free(&a);
    return ok;
}

int64_t cl_next_producer_id(const cl_image *img) {
    return img->next_producer_id;
}

/* Serializes a record value: frame version 1, type, version, body. */
void cl_record_frame(buf *b, int16_t type, int16_t version) {
    buf_put_uvarint(b, 1);
    buf_put_uvarint(b, (uint64_t)type);
    buf_put_uvarint(b, (uint64_t)version);
}

/* ---- the image written out as records (cl_image_dump) -------------------- */

typedef struct dumper {
    cl_record_sink fn;
    void *arg;
    buf b;
} dumper;

static void dump_emit(dumper *d) {
    d->fn(d->arg, d->b.data, d->b.len);
    buf_reset(&d->b);
}

static proto_str pstr(const char *s) {
    return s ? proto_str_c(s) : (proto_str){NULL, -1};
}

static void dump_config(dumper *d, int8_t type, const char *res,
                        const char *name, const char *value) {
    proto_config_record r;
    proto_config_record_init(&r);
    r.resource_type = type;
    r.resource_name = pstr(res ? res : "");
    r.name = pstr(name);
    r.value = pstr(value);
    cl_record_frame(&d->b, PROTO_MD_CONFIG_RECORD, 0);
    proto_config_record_encode(&d->b, 0, &r);
    dump_emit(d);
}

/* Kafka's MetadataImage.write order: features (metadata.version first),
 * cluster (brokers), topics, configs, client quotas, producer ids, ACLs,
 * SCRAM. Topic configs follow the topics they name. */
void cl_image_dump(const cl_image *img, cl_record_sink fn, void *arg) {
    dumper d = {fn, arg, {0}};
    buf_init(&d.b, 256);
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < img->n_features; i++) {
            const cl_feature *f = &img->features[i];
            bool mv = !strcmp(f->name, "metadata.version");
            if (mv != (pass == 0))
                continue;
            proto_feature_level_record r;
            proto_feature_level_record_init(&r);
            r.name = proto_str_c(f->name);
            r.feature_level = f->level;
            cl_record_frame(&d.b, PROTO_MD_FEATURE_LEVEL_RECORD, 0);
            proto_feature_level_record_encode(&d.b, 0, &r);
            dump_emit(&d);
        }
    for (size_t i = 0; i < img->n_brokers; i++) {
        const cl_broker *b = &img->brokers[i];
        proto_register_broker_record r;
        proto_register_broker_record_init(&r);
        proto_register_broker_record_broker_endpoint eps[16];
        int ne = b->n_endpoints < 16 ? b->n_endpoints : 16;
        for (int j = 0; j < ne; j++) {
            proto_register_broker_record_broker_endpoint_init(&eps[j]);
            eps[j].name = proto_str_c(b->endpoints[j].name);
            eps[j].host = proto_str_c(b->endpoints[j].host);
            eps[j].port = (uint16_t)b->endpoints[j].port;
            eps[j].security_protocol = b->endpoints[j].security_protocol;
        }
        r.broker_id = b->id;
        r.broker_epoch = b->epoch;
        memcpy(r.incarnation_id.b, b->incarnation_id, 16);
        r.end_points.n = ne;
        r.end_points.v = ne ? eps : NULL;
        r.rack = pstr(b->rack);
        r.fenced = b->fenced;
        r.in_controlled_shutdown = b->in_controlled_shutdown;
        cl_record_frame(&d.b, PROTO_MD_REGISTER_BROKER_RECORD, 1);
        proto_register_broker_record_encode(&d.b, 1, &r);
        dump_emit(&d);
    }
    for (size_t i = 0; i < img->n_topics; i++) {
        const cl_topic *t = img->topics[i];
        proto_topic_record tr;
        proto_topic_record_init(&tr);
        tr.name = proto_str_c(t->name);
        memcpy(tr.topic_id.b, t->id, 16);
        cl_record_frame(&d.b, PROTO_MD_TOPIC_RECORD, 0);
        proto_topic_record_encode(&d.b, 0, &tr);
        dump_emit(&d);
        for (int32_t k = 0; k < t->n_partitions; k++) {
            const cl_partition *p = t->parts[k];
            if (!p)
                continue;
            proto_partition_record r;
            proto_partition_record_init(&r);
            r.partition_id = p->id;
            memcpy(r.topic_id.b, t->id, 16);
            r.replicas.n = p->n_replicas;
            r.replicas.v = p->replicas;
            r.isr.n = p->n_isr;
            r.isr.v = p->isr;
            r.adding_replicas.n = p->n_adding;
            r.adding_replicas.v = p->adding;
            r.removing_replicas.n = p->n_removing;
            r.removing_replicas.v = p->removing;
            r.leader = p->leader;
            r.leader_epoch = p->leader_epoch;
            r.partition_epoch = p->partition_epoch;
            cl_record_frame(&d.b, PROTO_MD_PARTITION_RECORD, 0);
            proto_partition_record_encode(&d.b, 0, &r);
            dump_emit(&d);
        }
    }
    for (size_t i = 0; i < img->n_topics; i++) {
        const cl_topic *t = img->topics[i];
        for (size_t k = 0; k < t->n_configs; k++)
            dump_config(&d, 2, t->name, t->configs[k].name,
                        t->configs[k].value);
    }
    for (size_t i = 0; i < img->n_gcfg; i++) {
        const struct grp_cfg *g = &img->gcfg[i];
        dump_config(&d, g->type, g->group, g->name, g->value);
    }
    for (size_t i = 0; i < img->n_quotas; i++) {
        const cl_quota *q = &img->quotas[i];
        proto_client_quota_record_entity_data ent[3];
        for (int j = 0; j < q->n_ent; j++) {
            proto_client_quota_record_entity_data_init(&ent[j]);
            ent[j].entity_type = proto_str_c(q->etype[j]);
            ent[j].entity_name = pstr(q->ename[j]);
        }
        for (int k = 0; k < q->n_vals; k++) {
            proto_client_quota_record r;
            proto_client_quota_record_init(&r);
            r.entity.n = q->n_ent;
            r.entity.v = ent;
            r.key = proto_str_c(q->key[k]);
            r.value = q->val[k];
            r.remove = false;
            cl_record_frame(&d.b, PROTO_MD_CLIENT_QUOTA_RECORD, 0);
            proto_client_quota_record_encode(&d.b, 0, &r);
            dump_emit(&d);
        }
    }
    if (img->next_producer_id > 0) {
        proto_producer_ids_record r;
        proto_producer_ids_record_init(&r);
        r.broker_id = -1; /* ProducerIdsImage.write */
        r.broker_epoch = -1;
        r.next_producer_id = img->next_producer_id;
        cl_record_frame(&d.b, PROTO_MD_PRODUCER_IDS_RECORD, 0);
        proto_producer_ids_record_encode(&d.b, 0, &r);
        dump_emit(&d);
    }
    for (size_t i = 0; i < img->n_acls; i++) {
        const cl_acl *a = &img->acls[i];
        proto_access_control_entry_record r;
        proto_access_control_entry_record_init(&r);
        memcpy(r.id.b, a->id, 16);
        r.resource_type = a->resource_type;
        r.resource_name = proto_str_c(a->resource_name);
        r.pattern_type = a->pattern_type;
        r.principal = proto_str_c(a->principal);
        r.host = proto_str_c(a->host);
        r.operation = a->operation;
        r.permission_type = a->permission_type;
        cl_record_frame(&d.b, PROTO_MD_ACCESS_CONTROL_ENTRY_RECORD, 0);
        proto_access_control_entry_record_encode(&d.b, 0, &r);
        dump_emit(&d);
    }
    for (size_t i = 0; i < img->n_scram; i++) {
        const cl_scram *c = &img->scram[i];
        proto_user_scram_credential_record r;
        proto_user_scram_credential_record_init(&r);
        r.name = proto_str_c(c->user);
        r.mechanism = c->mechanism;
        r.salt = (proto_bytes){c->salt, c->salt_len};
        r.stored_key = (proto_bytes){c->stored_key, c->stored_key_len};
        r.server_key = (proto_bytes){c->server_key, c->server_key_len};
        r.iterations = c->iterations;
        cl_record_frame(&d.b, PROTO_MD_USER_SCRAM_CREDENTIAL_RECORD, 0);
        proto_user_scram_credential_record_encode(&d.b, 0, &r);
        dump_emit(&d);
    }
    buf_free(&d.b);
}

static bool quota_same_entity(const cl_quota *a, const cl_quota *b) {
    if (a->n_ent != b->n_ent)
        return false;
    for (int i = 0; i < a->n_ent; i++)
        if (strcmp(a->etype[i], b->etype[i]) ||
            (a->ename[i] && b->ename[i] ? strcmp(a->ename[i], b->ename[i])
                                        : a->ename[i] != b->ename[i]))
            return false;
    return true;
}

static bool gcfg_in(const cl_image *img, const struct grp_cfg *g) {
    for (size_t i = 0; i < img->n_gcfg; i++)
        if (img->gcfg[i].type == g->type &&
            !strcmp(img->gcfg[i].group, g->group) &&
            !strcmp(img->gcfg[i].name, g->name))
            return true;
    return false;
}

/* What a snapshot replaces (Kafka's MetadataLoader builds the new image
 * and publishes the delta; here the removals come first, then the
 * snapshot's records, which upsert). */
static void collect_record(void *arg, const uint8_t *v, size_t len) {
    buf *all = arg;
    buf_put_be32(all, (uint32_t)len);
    buf_put(all, v, len);
}

void cl_image_diff_removals(cl_image *cur, cl_image *next, cl_record_sink fn,
                            void *arg) {
    /* collected first: applying them changes cur, which this walks */
    buf all;
    buf_init(&all, 256);
    dumper d = {collect_record, &all, {0}};
    buf_init(&d.b, 128);
    for (size_t i = 0; i < cur->n_features; i++) {
        bool keep = false;
        for (size_t j = 0; j < next->n_features && !keep; j++)
            keep = !strcmp(cur->features[i].name, next->features[j].name);
        if (keep)
            continue;
        proto_feature_level_record r;
        proto_feature_level_record_init(&r);
        r.name = proto_str_c(cur->features[i].name);
        r.feature_level = 0;
        cl_record_frame(&d.b, PROTO_MD_FEATURE_LEVEL_RECORD, 0);
        proto_feature_level_record_encode(&d.b, 0, &r);
        dump_emit(&d);
    }
    for (size_t i = 0; i < cur->n_brokers; i++) {
        if (cl_broker_find(next, cur->brokers[i].id))
            continue;
        proto_unregister_broker_record r;
        proto_unregister_broker_record_init(&r);
        r.broker_id = cur->brokers[i].id;
        r.broker_epoch = cur->brokers[i].epoch;
        cl_record_frame(&d.b, PROTO_MD_UNREGISTER_BROKER_RECORD, 0);
        proto_unregister_broker_record_encode(&d.b, 0, &r);
        dump_emit(&d);
    }
    for (size_t i = 0; i < cur->n_topics; i++) {
        cl_topic *t = cur->topics[i];
        cl_topic *n = cl_topic_find_id(next, t->id);
        if (!n) {
            proto_remove_topic_record r;
            proto_remove_topic_record_init(&r);
            memcpy(r.topic_id.b, t->id, 16);
            cl_record_frame(&d.b, PROTO_MD_REMOVE_TOPIC_RECORD, 0);
            proto_remove_topic_record_encode(&d.b, 0, &r);
            dump_emit(&d);
            continue;
        }
        for (size_t k = 0; k < t->n_configs; k++)
            if (!cl_topic_config(n, t->configs[k].name))
                dump_config(&d, 2, t->name, t->configs[k].name, NULL);
    }
    for (size_t i = 0; i < cur->n_gcfg; i++)
        if (!gcfg_in(next, &cur->gcfg[i]))
            dump_config(&d, cur->gcfg[i].type, cur->gcfg[i].group,
                        cur->gcfg[i].name, NULL);
    for (size_t i = 0; i < cur->n_quotas; i++) {
        const cl_quota *q = &cur->quotas[i];
        const cl_quota *nq = NULL;
        for (size_t j = 0; j < next->n_quotas && !nq; j++)
            if (quota_same_entity(q, &next->quotas[j]))
                nq = &next->quotas[j];
        proto_client_quota_record_entity_data ent[3];
        for (int j = 0; j < q->n_ent; j++) {
            proto_client_quota_record_entity_data_init(&ent[j]);
            ent[j].entity_type = proto_str_c(q->etype[j]);
            ent[j].entity_name = pstr(q->ename[j]);
        }
        for (int k = 0; k < q->n_vals; k++) {
            bool keep = false;
            for (int j = 0; nq && j < nq->n_vals && !keep; j++)
                keep = !strcmp(nq->key[j], q->key[k]);
            if (keep)
                continue;
            proto_client_quota_record r;
            proto_client_quota_record_init(&r);
            r.entity.n = q->n_ent;
            r.entity.v = ent;
            r.key = proto_str_c(q->key[k]);
            r.remove = true;
            cl_record_frame(&d.b, PROTO_MD_CLIENT_QUOTA_RECORD, 0);
            proto_client_quota_record_encode(&d.b, 0, &r);
            dump_emit(&d);
        }
    }
    for (size_t i = 0; i < cur->n_acls; i++) {
        bool keep = false;
        for (size_t j = 0; j < next->n_acls && !keep; j++)
            keep = !memcmp(cur->acls[i].id, next->acls[j].id, 16);
        if (keep)
            continue;
        proto_remove_access_control_entry_record r;
        proto_remove_access_control_entry_record_init(&r);
        memcpy(r.id.b, cur->acls[i].id, 16);
        cl_record_frame(&d.b, PROTO_MD_REMOVE_ACCESS_CONTROL_ENTRY_RECORD, 0);
        proto_remove_access_control_entry_record_encode(&d.b, 0, &r);
        dump_emit(&d);
    }
    for (size_t i = 0; i < cur->n_scram; i++) {
        bool keep = false;
        for (size_t j = 0; j < next->n_scram && !keep; j++)
            keep = next->scram[j].mechanism == cur->scram[i].mechanism &&
                   !strcmp(next->scram[j].user, cur->scram[i].user);
        if (keep)
            continue;
        proto_remove_user_scram_credential_record r;
        proto_remove_user_scram_credential_record_init(&r);
        r.name = proto_str_c(cur->scram[i].user);
        r.mechanism = cur->scram[i].mechanism;
        cl_record_frame(&d.b, PROTO_MD_REMOVE_USER_SCRAM_CREDENTIAL_RECORD, 0);
        proto_remove_user_scram_credential_record_encode(&d.b, 0, &r);
        dump_emit(&d);
    }
    buf_free(&d.b);
    for (size_t pos = 0; pos + 4 <= all.len;) {
        uint32_t len = sl_load_be32(all.data + pos);
        fn(arg, all.data + pos + 4, len);
        pos += 4 + (size_t)len;
    }
    buf_free(&all);
}
