/*
 * group.c - the classic group coordinator state machine (see group.h).
 *
 * Kafka's ClassicGroup states and the moves between them:
 *   Empty --join--> PreparingRebalance --all joined / timeout--> Completing-
 *   Rebalance --leader's SyncGroup--> Stable --join/leave/expiry--> Preparing-
 *   Rebalance ...; a join phase that ends with no members goes to Empty.
 * Invariants:
 *   - a member is in exactly one group; g->leader is NULL or a member id;
 *   - awaiting_join <=> join_fn set; awaiting_sync <=> sync_fn set; every
 *     waiter gets exactly one answer (completion, error, or shutdown);
 *   - members awaiting a join/sync answer do not expire by session timeout
 *     (the join phase and the sync deadline bound how long they wait);
 *   - a change is applied in memory only after its records were appended
 *     (commits), except membership, which Kafka also keeps in memory first
 *     and persists at the end of a rebalance.
 */
#include "group/group.h"
#include "group/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/murmur2.h"
#include "core/util.h"
#include "core/uuid.h"
#include "proto/errors.h"
#include "proto/gen/messages.h"

/* ---- small helpers ------------------------------------------------------- */

static uint64_t hash_str(proto_str s) {
    uint64_t h = 1469598103934665603ULL;
    for (int32_t i = 0; i < s.len; i++)
        h = (h ^ (uint8_t)s.p[i]) * 1099511628211ULL;
    return h;
}

proto_str gs_dup(proto_str s) {
    if (!s.p || s.len < 0)
        return PROTO_STR_NULL;
    char *p = xmalloc((size_t)s.len + 1);
    memcpy(p, s.p, (size_t)s.len);
    p[s.len] = 0;
    return (proto_str){p, s.len};
}

void gs_free(proto_str *s) {
    free((void *)s->p);
    *s = PROTO_STR_NULL;
}

bool gs_eq(proto_str a, proto_str b) {
    if (a.len < 0 || b.len < 0)
        return a.len < 0 && b.len < 0;
    return a.len == b.len && (a.len == 0 || !memcmp(a.p, b.p, (size_t)a.len));
}

/* A string of a request or record, "" if null. */
static proto_str or_empty(proto_str s) {
    return s.len >= 0 ? s : proto_str_c("");
}

/* The length of a group id (0 for the null string, which no group has). */
static size_t gid_len(proto_str s) {
    return s.len > 0 ? (size_t)s.len : 0;
}

static int64_t now_ms(void) {
    return clk_mono_ms();
}

void grp_config_default(grp_config *cfg) {
    cfg->num_partitions = 50;
    cfg->min_session_ms = 6000;
    cfg->max_session_ms = 1800000;
    cfg->initial_delay_ms = 3000;
    cfg->max_size = INT32_MAX;
    cfg->offsets_retention_ms = 10080LL * 60000;
    cfg->metadata_max_bytes = 4096;
}

int32_t grp_partition_for(const char *group_id, size_t len, int32_t n_parts) {
    int32_t h = java_string_hash(group_id, len);
    /* Kafka's Utils.abs: MIN_VALUE maps to 0. */
    int32_t a = h == INT32_MIN ? 0 : (h < 0 ? -h : h);
    return n_parts > 0 ? a % n_parts : 0;
}

const char *grp_state_name(int state) {
    switch (state) {
    case GRP_EMPTY:
        return "Empty";
    case GRP_PREPARING_REBALANCE:
        return "PreparingRebalance";
    case GRP_COMPLETING_REBALANCE:
        return "CompletingRebalance";
    case GRP_STABLE:
        return "Stable";
    default:
        return "Dead";
    }
}

/* A member id as Kafka makes it: "<clientId or instanceId>-<UUID>". */
static proto_str new_member_id(proto_str prefix) {
    uint8_t u[16];
    uuid_v4(u);
    buf b;
    buf_init(&b, 64);
    if (prefix.len > 0)
        buf_put(&b, prefix.p, (size_t)prefix.len);
    buf_put_u8(&b, '-');
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            buf_printf(&b, "-");
        buf_printf(&b, "%02x", u[i]);
    }
    proto_str s = gs_dup((proto_str){(const char *)b.data, (int32_t)b.len});
    buf_free(&b);
    return s;
}

/* ---- coordinator and group table ------------------------------------------
 */

grp_coord *grp_new(const grp_config *cfg, const grp_store *store) {
    grp_coord *c = xcalloc(1, sizeof *c);
    c->cfg = *cfg;
    if (store)
        c->store = *store;
    c->tab_size = 64;
    c->tab = xcalloc(c->tab_size, sizeof *c->tab);
    c->part_state =
        xcalloc((size_t)(cfg->num_partitions > 0 ? cfg->num_partitions : 1), 1);
    return c;
}

const grp_config *grp_cfg(const grp_coord *c) {
    return &c->cfg;
}

static void member_free(grp_member *m) {
    gs_free(&m->id);
    gs_free(&m->instance_id);
    gs_free(&m->client_id);
    gs_free(&m->client_host);
    for (int i = 0; i < m->n_protos; i++) {
        gs_free(&m->protos[i].name);
        free(m->protos[i].meta);
    }
    free(m->protos);
    free(m->assignment);
    free(m);
}

static void offset_free(grp_offset *o) {
    free(o->topic);
    free(o->metadata);
}

static void group_free(grp_group *g) {
    for (int i = 0; i < g->n; i++)
        member_free(g->m[i]);
    free(g->m);
    for (int i = 0; i < g->n_pending; i++)
        gs_free(&g->pending[i].id);
    free(g->pending);
    for (int i = 0; i < g->n_offs; i++)
        offset_free(&g->offs[i]);
    free(g->offs);
    gs_free(&g->id);
    gs_free(&g->protocol_type);
    gs_free(&g->protocol_name);
    gs_free(&g->leader);
    cg_free(g->cg);
    free(g);
}

void grp_free(grp_coord *c) {
    if (!c)
        return;
    for (size_t i = 0; i < c->tab_size; i++) {
        grp_group *g = c->tab[i];
        while (g) {
            grp_group *n = g->next;
            group_free(g);
            g = n;
        }
    }
    free(c->tab);
    free(c->part_state);
    free(c);
}

grp_group *grp_find(grp_coord *c, proto_str id) {
    if (id.len < 0)
        return NULL;
    for (grp_group *g = c->tab[hash_str(id) & (c->tab_size - 1)]; g;
         g = g->next)
        if (gs_eq(g->id, id))
            return g;
    return NULL;
}

static void tab_grow(grp_coord *c) {
    size_t ns = c->tab_size * 2;
    grp_group **nt = xcalloc(ns, sizeof *nt);
    for (size_t i = 0; i < c->tab_size; i++) {
        grp_group *g = c->tab[i];
        while (g) {
            grp_group *n = g->next;
            size_t h = hash_str(g->id) & (ns - 1);
            g->next = nt[h];
            nt[h] = g;
            g = n;
        }
    }
    free(c->tab);
    c->tab = nt;
    c->tab_size = ns;
}

static grp_group *group_create(grp_coord *c, proto_str id) {
    if (c->n_groups + 1 > c->tab_size)
        tab_grow(c);
    grp_group *g = xcalloc(1, sizeof *g);
    g->id = gs_dup(id.len < 0 ? proto_str_c("") : id);
    g->protocol_type = g->protocol_name = g->leader = PROTO_STR_NULL;
    g->partition =
        grp_partition_for(g->id.p, gid_len(g->id), c->cfg.num_partitions);
    g->state = GRP_EMPTY;
    g->state_ts = clk_wall_ms();
    size_t h = hash_str(id) & (c->tab_size - 1);
    g->next = c->tab[h];
    c->tab[h] = g;
    c->n_groups++;
    return g;
}

static void group_remove(grp_coord *c, grp_group *g) {
    grp_group **pp = &c->tab[hash_str(g->id) & (c->tab_size - 1)];
    while (*pp && *pp != g)
        pp = &(*pp)->next;
    if (*pp) {
        *pp = g->next;
        c->n_groups--;
    }
    g->state = GRP_DEAD;
    group_free(g);
}

void grp_foreach(grp_coord *c, void (*fn)(void *ctx, grp_group *g), void *ctx) {
    for (size_t i = 0; i < c->tab_size; i++)
        for (grp_group *g = c->tab[i]; g; g = g->next)
            if (g->state != GRP_DEAD)
                fn(ctx, g);
}

void grp_set_partition_state(grp_coord *c, int32_t p, int state) {
    if (p >= 0 && p < c->cfg.num_partitions)
        c->part_state[p] = (int8_t)state;
}

int grp_partition_state(const grp_coord *c, int32_t p) {
    if (p < 0 || p >= c->cfg.num_partitions)
        return GRP_PART_NONE;
    return c->part_state[p];
}

int16_t grp_check_coordinator(const grp_coord *c, proto_str group_id) {
    int32_t p =
        grp_partition_for(group_id.p, gid_len(group_id), c->cfg.num_partitions);
    switch (c->part_state[p]) {
    case GRP_PART_ACTIVE:
        return KERR_NONE;
    case GRP_PART_LOADING:
        return KERR_COORDINATOR_LOAD_IN_PROGRESS;
    default:
        return KERR_NOT_COORDINATOR;
    }
}

/* ---- members --------------------------------------------------------------
 */

static grp_member *member_find(const grp_group *g, proto_str id) {
    if (id.len < 0)
        return NULL;
    for (int i = 0; i < g->n; i++)
        if (gs_eq(g->m[i]->id, id))
            return g->m[i];
    return NULL;
}

static grp_member *member_by_instance(const grp_group *g, proto_str iid) {
    if (iid.len < 0)
        return NULL;
    for (int i = 0; i < g->n; i++)
        if (gs_eq(g->m[i]->instance_id, iid))
            return g->m[i];
    return NULL;
}

static int pending_find(const grp_group *g, proto_str id) {
    for (int i = 0; i < g->n_pending; i++)
        if (gs_eq(g->pending[i].id, id))
            return i;
    return -1;
}

static void pending_remove_at(grp_group *g, int i) {
    gs_free(&g->pending[i].id);
    g->pending[i] = g->pending[--g->n_pending];
}

/* A JoinGroup protocol's name as a string. */
static proto_str proto_in_name(const grp_protocol_in *p) {
    return (proto_str){p->name ? p->name : "", (int32_t)p->name_len};
}

static void member_set_protocols(grp_member *m, const grp_protocol_in *p,
                                 int n) {
    for (int i = 0; i < m->n_protos; i++) {
        gs_free(&m->protos[i].name);
        free(m->protos[i].meta);
    }
    free(m->protos);
    m->protos = xcalloc((size_t)(n ? n : 1), sizeof *m->protos);
    m->n_protos = n;
    for (int i = 0; i < n; i++) {
        m->protos[i].name = gs_dup(proto_in_name(&p[i]));
        int32_t len = p[i].metadata_len > 0 ? p[i].metadata_len : 0;
        m->protos[i].meta = xmalloc((size_t)len + 1);
        if (len)
            memcpy(m->protos[i].meta, p[i].metadata, (size_t)len);
        m->protos[i].len = len;
    }
}

static bool member_supports(const grp_member *m, proto_str name) {
    for (int i = 0; i < m->n_protos; i++)
        if (gs_eq(m->protos[i].name, name))
            return true;
    return false;
}

static const gproto *member_proto(const grp_member *m, proto_str name) {
    if (name.len < 0)
        return NULL;
    for (int i = 0; i < m->n_protos; i++)
        if (gs_eq(m->protos[i].name, name))
            return &m->protos[i];
    return NULL;
}

/* Same protocols, same order, same metadata (Kafka's member.matches). */
static bool member_matches(const grp_member *m, const grp_protocol_in *p,
                           int n) {
    if (m->n_protos != n)
        return false;
    for (int i = 0; i < n; i++) {
        if (!gs_eq(m->protos[i].name, proto_in_name(&p[i])))
            return false;
        int32_t len = p[i].metadata_len > 0 ? p[i].metadata_len : 0;
        if (m->protos[i].len != len ||
            (len && memcmp(m->protos[i].meta, p[i].metadata, (size_t)len)))
            return false;
    }
    return true;
}

static void member_set_assignment(grp_member *m, const uint8_t *a,
                                  int32_t len) {
    free(m->assignment);
    m->assignment = NULL;
    m->assignment_len = 0;
    if (len > 0) {
        m->assignment = xmalloc((size_t)len);
        memcpy(m->assignment, a, (size_t)len);
        m->assignment_len = len;
    }
}

/* Kafka's supportsProtocols. */
static bool group_supports(const grp_group *g, proto_str type,
                           const grp_protocol_in *p, int n) {
    if (g->n == 0)
        return type.len > 0 && n > 0;
    if (!gs_eq(g->protocol_type, type))
        return false;
    for (int i = 0; i < n; i++) {
        proto_str name = proto_in_name(&p[i]);
        bool all = true;
        for (int j = 0; j < g->n && all; j++)
            all = member_supports(g->m[j], name);
        if (all)
            return true;
    }
    return false;
}

/* Kafka's selectProtocol: among the protocols every member supports, each
 * member votes for the first of its own list; most votes wins. */
static proto_str select_protocol(const grp_group *g) {
    if (g->n == 0)
        return PROTO_STR_NULL;
    const grp_member *first = g->m[0];
    proto_str best = PROTO_STR_NULL;
    int best_votes = -1;
    for (int i = 0; i < first->n_protos; i++) {
        proto_str cand = first->protos[i].name;
        bool all = true;
        for (int j = 1; j < g->n && all; j++)
            all = member_supports(g->m[j], cand);
        if (!all)
            continue;
        int votes = 0;
        for (int j = 0; j < g->n; j++) {
            const grp_member *m = g->m[j];
            for (int k = 0; k < m->n_protos; k++) {
                proto_str pn = m->protos[k].name;
                bool ok = true;
                for (int q = 0; q < g->n && ok; q++)
                    ok = member_supports(g->m[q], pn);
                if (ok) {
                    if (gs_eq(pn, cand))
                        votes++;
                    break;
                }
            }
        }
        if (votes > best_votes) {
            best = cand;
            best_votes = votes;
        }
    }
    return best;
}

static int32_t group_rebalance_timeout(const grp_group *g) {
    int32_t t = 0;
    for (int i = 0; i < g->n; i++)
        if (g->m[i]->rebalance_ms > t)
            t = g->m[i]->rebalance_ms;
    return t;
}

static void set_state(grp_group *g, int st) {
    g->state = st;
    g->state_ts = clk_wall_ms();
}

/* ---- answers ----------------------------------------------------------------
 */

static void join_error(grp_join_fn fn, void *ctx, int16_t err,
                       proto_str member_id) {
    grp_join_result r = {0};
    r.error = err;
    r.generation = -1;
    r.leader = proto_str_c("");
    r.member_id = member_id.len >= 0 ? member_id : proto_str_c("");
    fn(ctx, &r);
}

static void sync_error(grp_sync_fn fn, void *ctx, int16_t err) {
    grp_sync_result r = {0};
    r.error = err;
    fn(ctx, &r);
}

/* The JoinGroup answer of the current generation for m (the leader gets
 * every member with its metadata for the selected protocol). */
static void join_answer_ex(grp_group *g, grp_member *m, grp_join_fn fn,
                           void *ctx, bool skip_assignment,
                           bool members_to_leader) {
    grp_join_result r = {0};
    r.error = KERR_NONE;
    r.generation = g->generation;
    r.protocol_type = g->protocol_type;
    r.protocol_name = g->protocol_name;
    r.leader = g->leader.len >= 0 ? g->leader : proto_str_c("");
    r.member_id = m->id;
    r.skip_assignment = skip_assignment;
    grp_join_member *mem = NULL;
    if (members_to_leader && gs_eq(g->leader, m->id)) {
        mem = xcalloc((size_t)(g->n ? g->n : 1), sizeof *mem);
        for (int i = 0; i < g->n; i++) {
            const gproto *p = member_proto(g->m[i], g->protocol_name);
            mem[i].member_id = g->m[i]->id;
            mem[i].instance_id = g->m[i]->instance_id;
            mem[i].metadata = p ? p->meta : (const uint8_t *)"";
            mem[i].metadata_len = p ? p->len : 0;
        }
        r.n_members = g->n;
        r.members = mem;
    }
    fn(ctx, &r);
    free(mem);
}

static void join_answer(grp_group *g, grp_member *m, grp_join_fn fn, void *ctx,
                        bool skip_assignment) {
    join_answer_ex(g, m, fn, ctx, skip_assignment, true);
}

static void complete_join_waiter(grp_member *m, int16_t err) {
    if (!m->join_fn)
        return;
    grp_join_fn fn = m->join_fn;
    void *ctx = m->join_ctx;
    m->join_fn = NULL;
    m->join_ctx = NULL;
    join_error(fn, ctx, err, m->id);
}

static void complete_sync_waiter(grp_member *m, int16_t err) {
    if (!m->sync_fn)
        return;
    grp_sync_fn fn = m->sync_fn;
    void *ctx = m->sync_ctx;
    m->sync_fn = NULL;
    m->sync_ctx = NULL;
    sync_error(fn, ctx, err);
}

/* ---- records --------------------------------------------------------------
 */

static void encode_group_key(buf *b, proto_str group) {
    proto_group_metadata_key k;
    proto_group_metadata_key_init(&k);
    k.group = group;
    buf_put_be16(b, 2);
    proto_group_metadata_key_encode(b, 2, &k);
}

static void encode_offset_key(buf *b, proto_str group, const char *topic,
                              int32_t partition) {
    proto_offset_commit_key k;
    proto_offset_commit_key_init(&k);
    k.group = group;
    k.topic = proto_str_c(topic);
    k.partition = partition;
    buf_put_be16(b, 1);
    proto_offset_commit_key_encode(b, 1, &k);
}

static void encode_offset_value(buf *b, const grp_offset *o) {
    proto_offset_commit_value v;
    proto_offset_commit_value_init(&v);
    v.offset = o->offset;
    v.leader_epoch = o->leader_epoch;
    v.metadata = o->metadata
                     ? (proto_str){o->metadata, (int32_t)o->metadata_len}
                     : proto_str_c("");
    v.commit_timestamp = o->commit_ts;
    v.expire_timestamp = o->expire_ts;
    /* Kafka writes v1 only when an explicit expire timestamp exists. */
    int16_t ver = o->expire_ts >= 0 ? 1 : 3;
    buf_put_be16(b, (uint16_t)ver);
    proto_offset_commit_value_encode(b, ver, &v);
}

static void encode_group_value(buf *b, const grp_group *g) {
    proto_group_metadata_value v;
    proto_group_metadata_value_init(&v);
    v.protocol_type =
        g->protocol_type.len >= 0 ? g->protocol_type : proto_str_c("");
    v.generation = g->generation;
    v.protocol = g->protocol_name;
    v.leader = g->leader;
    v.current_state_timestamp = g->state_ts;
    proto_group_metadata_value_member_metadata *mm =
        xcalloc((size_t)(g->n ? g->n : 1), sizeof *mm);
    for (int i = 0; i < g->n; i++) {
        const grp_member *m = g->m[i];
        proto_group_metadata_value_member_metadata_init(&mm[i]);
        mm[i].member_id = m->id;
        mm[i].group_instance_id = m->instance_id;
        mm[i].client_id = m->client_id;
        mm[i].client_host = m->client_host;
        mm[i].rebalance_timeout = m->rebalance_ms;
        mm[i].session_timeout = m->session_ms;
        const gproto *p = member_proto(m, g->protocol_name);
        mm[i].subscription =
            (proto_bytes){p ? p->meta : (const uint8_t *)"", p ? p->len : 0};
        mm[i].assignment =
            (proto_bytes){m->assignment ? m->assignment : (const uint8_t *)"",
                          m->assignment_len};
    }
    v.members.n = g->n;
    v.members.v = mm;
    buf_put_be16(b, 3);
    proto_group_metadata_value_encode(b, 3, &v);
    free(mm);
}

static int16_t store_append(grp_coord *c, int32_t partition,
                            const grp_record *r, int n) {
    if (!c->store.append || n == 0)
        return KERR_NONE;
    return c->store.append(c->store.ctx, partition, r, n);
}

/* Writes the group's metadata record (Kafka's storeGroup). */
static int16_t store_group(grp_coord *c, grp_group *g) {
    buf k, v;
    buf_init(&k, 64);
    buf_init(&v, 256);
    encode_group_key(&k, g->id);
    encode_group_value(&v, g);
    grp_record r = {k.data, k.len, v.data, v.len};
    int16_t e = store_append(c, g->partition, &r, 1);
    buf_free(&k);
    buf_free(&v);
    if (e)
        SL_WARN("group", "writing metadata of group %s failed: %s", g->id.p,
                proto_error_name(e));
    return e;
}

/* ---- the rebalance
 * ----------------------------------------------------------- */

static void prepare_rebalance(grp_coord *c, grp_group *g, const char *reason);
static void maybe_complete_join(grp_coord *c, grp_group *g);

static void reset_sync_phase(grp_group *g, int16_t err) {
    for (int i = 0; i < g->n; i++) {
        grp_member *m = g->m[i];
        m->pending_sync = false;
        if (err) {
            member_set_assignment(m, NULL, 0);
            complete_sync_waiter(m, err);
        }
    }
    g->sync_deadline = 0;
}

static void add_member(grp_group *g, grp_member *m) {
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 4;
        g->m = xrealloc(g->m, (size_t)g->cap * sizeof *g->m);
    }
    g->m[g->n++] = m;
    if (g->leader.len < 0)
        g->leader = gs_dup(m->id);
    g->new_member_added = true;
}

/* Removes m from the group (answering its waiters) and frees it. */
static void remove_member(grp_group *g, grp_member *m) {
    int idx = -1;
    for (int i = 0; i < g->n; i++)
        if (g->m[i] == m)
            idx = i;
    if (idx < 0)
        return;
    memmove(&g->m[idx], &g->m[idx + 1],
            (size_t)(g->n - idx - 1) * sizeof *g->m);
    g->n--;
    if (gs_eq(g->leader, m->id)) {
        gs_free(&g->leader);
        if (g->n)
            g->leader = gs_dup(g->m[0]->id);
    }
    complete_join_waiter(m, KERR_UNKNOWN_MEMBER_ID);
    complete_sync_waiter(m, KERR_UNKNOWN_MEMBER_ID);
    member_free(m);
}

/* Kafka's removeMemberAndUpdateClassicGroup. */
static void remove_member_and_update(grp_coord *c, grp_group *g, grp_member *m,
                                     const char *reason) {
    remove_member(g, m);
    switch (g->state) {
    case GRP_STABLE:
    case GRP_COMPLETING_REBALANCE:
        prepare_rebalance(c, g, reason);
        break;
    case GRP_PREPARING_REBALANCE:
        maybe_complete_join(c, g);
        break;
    default:
        break;
    }
}

static void prepare_rebalance(grp_coord *c, grp_group *g, const char *reason) {
    if (g->state == GRP_COMPLETING_REBALANCE)
        reset_sync_phase(g, KERR_REBALANCE_IN_PROGRESS);
    else
        reset_sync_phase(g, KERR_NONE);
    bool initial = g->state == GRP_EMPTY;
    int64_t now = now_ms();
    if (initial) {
        int32_t d = c->cfg.initial_delay_ms > 0 ? c->cfg.initial_delay_ms : 0;
        int64_t rem = (int64_t)group_rebalance_timeout(g) - d;
        g->initial = true;
        g->initial_remaining = rem > 0 ? rem : 0;
        g->new_member_added = false;
        g->join_deadline = now + d;
    } else {
        g->initial = false;
        g->join_deadline = now + group_rebalance_timeout(g);
    }
    SL_INFO(
        "group",
        "Preparing to rebalance group %s in state %s with old generation %d "
        "(__consumer_offsets-%d) (reason: %s)",
        g->id.p, grp_state_name(g->state), g->generation, g->partition, reason);
    set_state(g, GRP_PREPARING_REBALANCE);
    if (!initial)
        maybe_complete_join(c, g);
}

static bool all_joined(const grp_group *g) {
    for (int i = 0; i < g->n; i++)
        if (!g->m[i]->join_fn)
            return false;
    return g->n_pending == 0;
}

static void complete_join(grp_coord *c, grp_group *g) {
    g->join_deadline = 0;
    g->initial = false;
    /* Members that did not rejoin in time are out. */
    for (int i = g->n - 1; i >= 0; i--)
        if (!g->m[i]->join_fn) {
            SL_INFO("group",
                    "Member %s in group %s has failed to rejoin, removing it",
                    g->m[i]->id.p, g->id.p);
            remove_member(g, g->m[i]);
        }
    /* The leader must be a member that rejoined. */
    if (g->n && !member_find(g, g->leader)) {
        gs_free(&g->leader);
        g->leader = gs_dup(g->m[0]->id);
    }
    g->generation++;
    gs_free(&g->protocol_name);
    if (g->n == 0) {
        gs_free(&g->leader);
        set_state(g, GRP_EMPTY);
        SL_INFO(
            "group",
            "Group %s with generation %d is now empty (__consumer_offsets-%d)",
            g->id.p, g->generation, g->partition);
        store_group(c, g);
        return;
    }
    g->protocol_name = gs_dup(select_protocol(g));
    set_state(g, GRP_COMPLETING_REBALANCE);
    SL_INFO("group",
            "Stabilized group %s generation %d (__consumer_offsets-%d) with %d "
            "members",
            g->id.p, g->generation, g->partition, g->n);
    int64_t now = now_ms();
    for (int i = 0; i < g->n; i++) {
        grp_member *m = g->m[i];
        grp_join_fn fn = m->join_fn;
        void *ctx = m->join_ctx;
        m->join_fn = NULL;
        m->join_ctx = NULL;
        m->hb_deadline = now + m->session_ms;
        m->pending_sync = true;
        join_answer(g, m, fn, ctx, false);
    }
    g->sync_deadline = now + group_rebalance_timeout(g);
}

static void maybe_complete_join(grp_coord *c, grp_group *g) {
    if (g->state == GRP_PREPARING_REBALANCE && !g->initial && all_joined(g))
        complete_join(c, g);
}

/* Kafka's maybePrepareRebalanceOrCompleteJoin. */
static void rebalance_or_complete(grp_coord *c, grp_group *g,
                                  const char *reason) {
    if (g->state == GRP_STABLE || g->state == GRP_COMPLETING_REBALANCE ||
        g->state == GRP_EMPTY)
        prepare_rebalance(c, g, reason);
    else
        maybe_complete_join(c, g);
}

/* ---- JoinGroup
 * ----------------------------------------------------------------- */

static grp_member *member_new(const grp_join_req *rq, proto_str id) {
    grp_member *m = xcalloc(1, sizeof *m);
    m->id = id;
    m->instance_id = gs_dup(rq->instance_id);
    m->client_id = gs_dup(or_empty(rq->client_id));
    m->client_host = gs_dup(or_empty(rq->client_host));
    m->session_ms = rq->session_timeout_ms;
    m->rebalance_ms = rq->rebalance_timeout_ms;
    member_set_protocols(m, rq->protocols, rq->n_protocols);
    m->hb_deadline = now_ms() + m->session_ms;
    return m;
}

static void member_update(grp_member *m, const grp_join_req *rq) {
    member_set_protocols(m, rq->protocols, rq->n_protocols);
    m->session_ms = rq->session_timeout_ms;
    m->rebalance_ms = rq->rebalance_timeout_ms;
    gs_free(&m->client_id);
    m->client_id = gs_dup(or_empty(rq->client_id));
    gs_free(&m->client_host);
    m->client_host = gs_dup(or_empty(rq->client_host));
    m->hb_deadline = now_ms() + m->session_ms;
}

static void add_member_and_rebalance(grp_coord *c, grp_group *g,
                                     const grp_join_req *rq, proto_str id,
                                     grp_join_fn fn, void *ctx) {
    grp_member *m = member_new(rq, id);
    m->join_fn = fn;
    m->join_ctx = ctx;
    bool was_empty = g->n == 0;
    add_member(g, m);
    if (was_empty) {
        gs_free(&g->protocol_type);
        g->protocol_type = gs_dup(or_empty(rq->protocol_type));
    }
    char reason[256];
    snprintf(reason, sizeof reason,
             "Adding new member %s with group instance id %s", id.p,
             rq->instance_id.len >= 0 ? rq->instance_id.p : "None");
    rebalance_or_complete(c, g, reason);
}

static void update_member_and_rebalance(grp_coord *c, grp_group *g,
                                        grp_member *m, const grp_join_req *rq,
                                        grp_join_fn fn, void *ctx) {
    member_update(m, rq);
    if (m->join_fn && (m->join_fn != fn || m->join_ctx != ctx))
        complete_join_waiter(m, KERR_REBALANCE_IN_PROGRESS);
    m->join_fn = fn;
    m->join_ctx = ctx;
    char reason[256];
    snprintf(reason, sizeof reason, "Updating metadata for member %s during %s",
             m->id.p, grp_state_name(g->state));
    rebalance_or_complete(c, g, reason);
}

/* A static member comes back with an unknown member id: it takes over its
 * old identity (and assignment) under a new member id. */
static void static_rejoin(grp_coord *c, grp_group *g, grp_member *m,
                          const grp_join_req *rq, grp_join_fn fn, void *ctx) {
    proto_str new_id = new_member_id(rq->instance_id);
    complete_join_waiter(m, KERR_FENCED_INSTANCE_ID);
    complete_sync_waiter(m, KERR_FENCED_INSTANCE_ID);
    proto_str old_id = m->id;
    bool was_leader = gs_eq(g->leader, old_id);
    m->id = new_id;
    if (was_leader) {
        gs_free(&g->leader);
        g->leader = gs_dup(new_id);
    }
    SL_INFO("group",
            "Static member %s of group %s with unknown member id rejoins, "
            "assigning new member id %s (was %s)",
            rq->instance_id.p, g->id.p, new_id.p, old_id.p);
    gs_free(&old_id);
    proto_str old_proto_name = gs_dup(g->protocol_name);
    member_update(m, rq);
    switch (g->state) {
    case GRP_STABLE: {
        proto_str sel = select_protocol(g);
        bool same = old_proto_name.len >= 0 && gs_eq(old_proto_name, sel);
        if (same) {
            /* Nothing to rebalance: persist the new member id and hand the
             * member the current generation. A leader that can skip the
             * assignment (v9+) gets the members with skip_assignment;
             * older ones get no members (Kafka does the same). */
            store_group(c, g);
            bool v9 = rq->supports_skip_assignment;
            join_answer_ex(g, m, fn, ctx, v9 && was_leader, v9);
        } else {
            m->join_fn = fn;
            m->join_ctx = ctx;
            prepare_rebalance(
                c, g,
                "Group's selectedProtocol will change because static "
                "member rejoined with different protocols");
        }
        break;
    }
    case GRP_COMPLETING_REBALANCE:
        m->join_fn = fn;
        m->join_ctx = ctx;
        prepare_rebalance(c, g,
                          "Updating metadata for static member during "
                          "CompletingRebalance");
        break;
    default:
        m->join_fn = fn;
        m->join_ctx = ctx;
        maybe_complete_join(c, g);
        break;
    }
    gs_free(&old_proto_name);
}

void grp_join(grp_coord *c, const grp_join_req *rq, grp_join_fn fn, void *ctx) {
    proto_str mid = or_empty(rq->member_id);
    if (rq->group_id.len <= 0) {
        join_error(fn, ctx, KERR_INVALID_GROUP_ID, mid);
        return;
    }
    if (rq->session_timeout_ms < c->cfg.min_session_ms ||
        rq->session_timeout_ms > c->cfg.max_session_ms) {
        join_error(fn, ctx, KERR_INVALID_SESSION_TIMEOUT, mid);
        return;
    }
    bool unknown = mid.len == 0;
    grp_group *g = grp_find(c, rq->group_id);
    if (!g) {
        if (!unknown) {
            join_error(fn, ctx, KERR_UNKNOWN_MEMBER_ID, mid);
            return;
        }
        g = group_create(c, rq->group_id);
    }
    if (g->state == GRP_DEAD) {
        join_error(fn, ctx, KERR_COORDINATOR_NOT_AVAILABLE, mid);
        return;
    }
    if (g->cg) {
        /* A consumer (KIP-848) group: classic members cannot join it while
         * it has members (Kafka's online migration is not implemented);
         * an empty one becomes a classic group, its offsets kept. */
        if (cg_n_members(g->cg) > 0 || cg_write_tombstones(c, g)) {
            join_error(fn, ctx, KERR_INCONSISTENT_GROUP_PROTOCOL, mid);
            return;
        }
        cg_free(g->cg);
        g->cg = NULL;
    }
    if (!group_supports(g, rq->protocol_type, rq->protocols, rq->n_protocols)) {
        join_error(fn, ctx, KERR_INCONSISTENT_GROUP_PROTOCOL, mid);
        return;
    }
    if (unknown) {
        grp_member *sm = member_by_instance(g, rq->instance_id);
        if (sm) {
            static_rejoin(c, g, sm, rq, fn, ctx);
            return;
        }
        if (g->n + g->n_pending >= c->cfg.max_size) {
            join_error(fn, ctx, KERR_GROUP_MAX_SIZE_REACHED, mid);
            return;
        }
        proto_str id =
            new_member_id(rq->instance_id.len >= 0 ? rq->instance_id
                                                   : or_empty(rq->client_id));
        if (rq->instance_id.len < 0 && rq->require_known_member_id) {
            /* KIP-394: hand out the id first; the member joins with it. */
            if (g->n_pending == g->cap_pending) {
                g->cap_pending = g->cap_pending ? g->cap_pending * 2 : 4;
                g->pending = xrealloc(g->pending, (size_t)g->cap_pending *
                                                      sizeof *g->pending);
            }
            g->pending[g->n_pending].id = id;
            g->pending[g->n_pending].deadline =
                now_ms() + rq->session_timeout_ms;
            g->n_pending++;
            join_error(fn, ctx, KERR_MEMBER_ID_REQUIRED, id);
            return;
        }
        add_member_and_rebalance(c, g, rq, id, fn, ctx);
        return;
    }
    /* known member id */
    int pi = pending_find(g, mid);
    if (pi >= 0) {
        if (g->n >= c->cfg.max_size) {
            pending_remove_at(g, pi);
            join_error(fn, ctx, KERR_GROUP_MAX_SIZE_REACHED, mid);
            return;
        }
        proto_str id = g->pending[pi].id;
        g->pending[pi].id = PROTO_STR_NULL;
        g->pending[pi] = g->pending[--g->n_pending];
        add_member_and_rebalance(c, g, rq, id, fn, ctx);
        return;
    }
    grp_member *sm = member_by_instance(g, rq->instance_id);
    if (sm && !gs_eq(sm->id, mid)) {
        join_error(fn, ctx, KERR_FENCED_INSTANCE_ID, mid);
        return;
    }
    grp_member *m = member_find(g, mid);
    if (!m) {
        join_error(fn, ctx, KERR_UNKNOWN_MEMBER_ID, mid);
        return;
    }
    switch (g->state) {
    case GRP_PREPARING_REBALANCE:
        update_member_and_rebalance(c, g, m, rq, fn, ctx);
        break;
    case GRP_COMPLETING_REBALANCE:
        if (member_matches(m, rq->protocols, rq->n_protocols)) {
            m->hb_deadline = now_ms() + m->session_ms;
            join_answer(g, m, fn, ctx, false);
        } else
            update_member_and_rebalance(c, g, m, rq, fn, ctx);
        break;
    case GRP_STABLE:
        if (gs_eq(g->leader, m->id) ||
            !member_matches(m, rq->protocols, rq->n_protocols))
            update_member_and_rebalance(c, g, m, rq, fn, ctx);
        else {
            m->hb_deadline = now_ms() + m->session_ms;
            join_answer(g, m, fn, ctx, false);
        }
        break;
    default:
        join_error(fn, ctx, KERR_UNKNOWN_MEMBER_ID, mid);
        break;
    }
}

/* ---- member validation (Kafka's validateMember)
 * ------------------------------------ */

static int16_t validate_member(const grp_group *g, proto_str member_id,
                               proto_str instance_id, grp_member **out) {
    *out = NULL;
    if (instance_id.len >= 0) {
        grp_member *sm = member_by_instance(g, instance_id);
        if (!sm)
            return KERR_UNKNOWN_MEMBER_ID;
        if (!gs_eq(sm->id, member_id))
            return KERR_FENCED_INSTANCE_ID;
    }
    grp_member *m = member_find(g, member_id);
    if (!m)
        return KERR_UNKNOWN_MEMBER_ID;
    *out = m;
    return KERR_NONE;
}

/* ---- SyncGroup --------------------------------------------------------------
 */

void grp_sync(grp_coord *c, const grp_sync_req *rq, grp_sync_fn fn, void *ctx) {
    grp_group *g = grp_find(c, rq->group_id);
    if (!g) {
        sync_error(fn, ctx, KERR_UNKNOWN_MEMBER_ID);
        return;
    }
    if (g->state == GRP_DEAD) {
        sync_error(fn, ctx, KERR_COORDINATOR_NOT_AVAILABLE);
        return;
    }
    grp_member *m;
    int16_t e = validate_member(g, rq->member_id, rq->instance_id, &m);
    if (e) {
        sync_error(fn, ctx, e);
        return;
    }
    if (rq->generation != g->generation) {
        sync_error(fn, ctx, KERR_ILLEGAL_GENERATION);
        return;
    }
    if ((rq->protocol_type.len >= 0 &&
         !gs_eq(rq->protocol_type, g->protocol_type)) ||
        (rq->protocol_name.len >= 0 &&
         !gs_eq(rq->protocol_name, g->protocol_name))) {
        sync_error(fn, ctx, KERR_INCONSISTENT_GROUP_PROTOCOL);
        return;
    }
    switch (g->state) {
    case GRP_EMPTY:
        sync_error(fn, ctx, KERR_UNKNOWN_MEMBER_ID);
        return;
    case GRP_PREPARING_REBALANCE:
        sync_error(fn, ctx, KERR_REBALANCE_IN_PROGRESS);
        return;
    case GRP_COMPLETING_REBALANCE: {
        complete_sync_waiter(m, KERR_REBALANCE_IN_PROGRESS);
        m->sync_fn = fn;
        m->sync_ctx = ctx;
        m->pending_sync = false;
        m->hb_deadline = now_ms() + m->session_ms;
        if (!gs_eq(g->leader, m->id))
            break;
        for (int i = 0; i < g->n; i++) {
            grp_member *x = g->m[i];
            const grp_assignment_in *a = NULL;
            for (int j = 0; j < rq->n_assignments; j++)
                if ((size_t)x->id.len == rq->assignments[j].member_id_len &&
                    !memcmp(x->id.p, rq->assignments[j].member_id,
                            rq->assignments[j].member_id_len))
                    a = &rq->assignments[j];
            member_set_assignment(x, a ? a->assignment : NULL,
                                  a ? a->assignment_len : 0);
        }
        e = store_group(c, g);
        if (e) {
            /* Kafka: the assignment is lost; everyone rejoins. */
            int16_t err =
                e == KERR_NOT_COORDINATOR ? e : KERR_COORDINATOR_NOT_AVAILABLE;
            reset_sync_phase(g, err);
            prepare_rebalance(c, g, "failed to persist the assignment");
            return;
        }
        set_state(g, GRP_STABLE);
        SL_INFO(
            "group",
            "Assignment received from leader %s for group %s for generation "
            "%d. The group has %d members.",
            m->id.p, g->id.p, g->generation, g->n);
        for (int i = 0; i < g->n; i++) {
            grp_member *x = g->m[i];
            if (!x->sync_fn)
                continue;
            grp_sync_fn f = x->sync_fn;
            void *cx = x->sync_ctx;
            x->sync_fn = NULL;
            x->sync_ctx = NULL;
            grp_sync_result r = {KERR_NONE, g->protocol_type, g->protocol_name,
                                 x->assignment, x->assignment_len};
            f(cx, &r);
        }
        break;
    }
    case GRP_STABLE: {
        m->pending_sync = false;
        m->hb_deadline = now_ms() + m->session_ms;
        grp_sync_result r = {KERR_NONE, g->protocol_type, g->protocol_name,
                             m->assignment, m->assignment_len};
        fn(ctx, &r);
        break;
    }
    default:
        sync_error(fn, ctx, KERR_COORDINATOR_NOT_AVAILABLE);
        return;
    }
    bool any = false;
    for (int i = 0; i < g->n; i++)
        any |= g->m[i]->pending_sync;
    if (!any)
        g->sync_deadline = 0;
}

/* ---- Heartbeat / LeaveGroup
 * --------------------------------------------------- */

int16_t grp_heartbeat(grp_coord *c, proto_str group_id, int32_t generation,
                      proto_str member_id, proto_str instance_id) {
    grp_group *g = grp_find(c, group_id);
    if (!g)
        return KERR_UNKNOWN_MEMBER_ID;
    if (g->state == GRP_DEAD)
        return KERR_COORDINATOR_NOT_AVAILABLE;
    grp_member *m;
    int16_t e = validate_member(g, member_id, instance_id, &m);
    if (e)
        return e;
    if (generation != g->generation)
        return KERR_ILLEGAL_GENERATION;
    switch (g->state) {
    case GRP_EMPTY:
        return KERR_UNKNOWN_MEMBER_ID;
    case GRP_PREPARING_REBALANCE:
        m->hb_deadline = now_ms() + m->session_ms;
        return KERR_REBALANCE_IN_PROGRESS;
    default:
        m->hb_deadline = now_ms() + m->session_ms;
        return KERR_NONE;
    }
}

int16_t grp_leave_check(grp_coord *c, proto_str group_id) {
    grp_group *g = grp_find(c, group_id);
    if (!g)
        return KERR_UNKNOWN_MEMBER_ID;
    if (g->state == GRP_DEAD)
        return KERR_COORDINATOR_NOT_AVAILABLE;
    return KERR_NONE;
}

int16_t grp_leave(grp_coord *c, proto_str group_id, proto_str member_id,
                  proto_str instance_id, const char *reason) {
    grp_group *g = grp_find(c, group_id);
    if (!g)
        return KERR_UNKNOWN_MEMBER_ID;
    if (g->state == GRP_DEAD)
        return KERR_COORDINATOR_NOT_AVAILABLE;
    proto_str mid = or_empty(member_id);
    grp_member *m = NULL;
    if (mid.len == 0) {
        m = member_by_instance(g, instance_id);
        if (!m)
            return KERR_UNKNOWN_MEMBER_ID;
    } else {
        int pi = pending_find(g, mid);
        if (pi >= 0) {
            pending_remove_at(g, pi);
            maybe_complete_join(c, g);
            return KERR_NONE;
        }
        m = member_find(g, mid);
        if (instance_id.len >= 0) {
            grp_member *sm = member_by_instance(g, instance_id);
            if (!sm)
                return KERR_UNKNOWN_MEMBER_ID;
            if (sm != m)
                return KERR_FENCED_INSTANCE_ID;
        }
        if (!m)
            return KERR_UNKNOWN_MEMBER_ID;
    }
    char why[512];
    snprintf(why, sizeof why, "Removing member %s on LeaveGroup%s%s", m->id.p,
             reason ? ": " : "", reason ? reason : "");
    SL_INFO("group", "%s (group %s)", why, g->id.p);
    remove_member_and_update(c, g, m, why);
    return KERR_NONE;
}

/* ---- offsets
 * ------------------------------------------------------------------ */

static grp_offset *offset_find(grp_group *g, const char *topic, size_t tlen,
                               int32_t p) {
    for (int i = 0; i < g->n_offs; i++) {
        grp_offset *o = &g->offs[i];
        if (o->partition == p && strlen(o->topic) == tlen &&
            !memcmp(o->topic, topic, tlen))
            return o;
    }
    return NULL;
}

const grp_offset *grp_offset_get(const grp_group *g, const char *topic,
                                 size_t tlen, int32_t partition) {
    return offset_find((grp_group *)g, topic, tlen, partition);
}

static int offset_cmp(const void *a, const void *b) {
    const grp_offset *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    if (c)
        return c;
    return (x->partition > y->partition) - (x->partition < y->partition);
}

const grp_offset *grp_offsets(grp_group *g, int *n) {
    if (!g->offs_sorted && g->n_offs > 1)
        qsort(g->offs, (size_t)g->n_offs, sizeof *g->offs, offset_cmp);
    g->offs_sorted = true;
    *n = g->n_offs;
    return g->offs;
}

static void offset_put(grp_group *g, const char *topic, size_t tlen, int32_t p,
                       int64_t off, int32_t epoch, const char *md, size_t mdlen,
                       int64_t cts, int64_t ets) {
    grp_offset *o = offset_find(g, topic, tlen, p);
    if (!o) {
        if (g->n_offs == g->cap_offs) {
            g->cap_offs = g->cap_offs ? g->cap_offs * 2 : 8;
            g->offs = xrealloc(g->offs, (size_t)g->cap_offs * sizeof *g->offs);
        }
        o = &g->offs[g->n_offs++];
        memset(o, 0, sizeof *o);
        o->topic = xstrndup(topic, tlen);
        o->partition = p;
        g->offs_sorted = false;
    }
    free(o->metadata);
    o->metadata = xstrndup(md ? md : "", md ? mdlen : 0);
    o->metadata_len = md ? mdlen : 0;
    o->offset = off;
    o->leader_epoch = epoch;
    o->commit_ts = cts;
    o->expire_ts = ets;
}

static void offset_remove(grp_group *g, grp_offset *o) {
    offset_free(o);
    *o = g->offs[--g->n_offs];
    g->offs_sorted = false;
}

/* Kafka's ClassicGroup.validateOffsetCommit (non-transactional). */
static int16_t validate_commit(grp_group *g, int32_t generation,
                               proto_str member_id, proto_str instance_id) {
    if (g->state == GRP_DEAD)
        return KERR_COORDINATOR_NOT_AVAILABLE;
    bool simple = generation < 0 && member_id.len <= 0 && instance_id.len < 0;
    if (generation < 0 && g->state == GRP_EMPTY)
        return KERR_NONE;
    if (!simple) {
        grp_member *m;
        int16_t e = validate_member(g, member_id, instance_id, &m);
        if (e)
            return e;
        if (generation != g->generation)
            return KERR_ILLEGAL_GENERATION;
    } else if (g->state != GRP_EMPTY) {
        return KERR_UNKNOWN_MEMBER_ID;
    }
    if (g->state == GRP_COMPLETING_REBALANCE)
        return KERR_REBALANCE_IN_PROGRESS;
    return KERR_NONE;
}

void grp_commit(grp_coord *c, proto_str group_id, int32_t generation,
                proto_str member_id, proto_str instance_id, grp_commit_in *offs,
                int n, int16_t api_version) {
    int16_t top = KERR_NONE;
    grp_group *g = grp_find(c, group_id);
    if (group_id.len <= 0)
        top = KERR_INVALID_GROUP_ID;
    else if (!g) {
        if (generation < 0)
            g = group_create(c, group_id);
        else
            top = api_version >= 9 ? KERR_GROUP_ID_NOT_FOUND
                                   : KERR_ILLEGAL_GENERATION;
    }
    if (!top && g->cg)
        top = cg_validate_commit(g->cg, member_id, generation, api_version);
    else if (!top)
        top = validate_commit(g, generation, member_id, instance_id);
    if (top) {
        for (int i = 0; i < n; i++)
            if (!offs[i].error)
                offs[i].error = top;
        return;
    }
    /* records for the partitions that are fine */
    grp_record *recs = xcalloc((size_t)(n ? n : 1), sizeof *recs);
    buf *bufs = xcalloc((size_t)(n ? n : 1) * 2, sizeof *bufs);
    grp_offset *vals = xcalloc((size_t)(n ? n : 1), sizeof *vals);
    int nr = 0;
    int64_t now = clk_wall_ms();
    for (int i = 0; i < n; i++) {
        grp_commit_in *o = &offs[i];
        if (o->error)
            continue;
        if (o->metadata &&
            (int64_t)o->metadata_len > (int64_t)c->cfg.metadata_max_bytes) {
            o->error = KERR_OFFSET_METADATA_TOO_LARGE;
            continue;
        }
        grp_offset *v = &vals[i];
        v->topic = xstrndup(o->topic, o->topic_len);
        v->partition = o->partition;
        v->offset = o->offset;
        v->leader_epoch = o->leader_epoch;
        v->metadata = xstrndup(o->metadata ? o->metadata : "",
                               o->metadata ? o->metadata_len : 0);
        v->metadata_len = o->metadata ? o->metadata_len : 0;
        v->commit_ts = now;
        v->expire_ts = o->expire_ts;
        buf_init(&bufs[2 * nr], 64);
        buf_init(&bufs[2 * nr + 1], 64);
        encode_offset_key(&bufs[2 * nr], g->id, v->topic, v->partition);
        encode_offset_value(&bufs[2 * nr + 1], v);
        recs[nr] = (grp_record){bufs[2 * nr].data, bufs[2 * nr].len,
                                bufs[2 * nr + 1].data, bufs[2 * nr + 1].len};
        nr++;
    }
    int16_t e = store_append(c, g->partition, recs, nr);
    if (e && e != KERR_NOT_COORDINATOR &&
        e != KERR_COORDINATOR_LOAD_IN_PROGRESS)
        e = KERR_COORDINATOR_NOT_AVAILABLE; /* Kafka maps storage errors so */
    for (int i = 0; i < n; i++) {
        grp_commit_in *o = &offs[i];
        if (o->error || !vals[i].topic)
            continue;
        if (e)
            o->error = e;
        else
            offset_put(g, o->topic, o->topic_len, o->partition, vals[i].offset,
                       vals[i].leader_epoch, vals[i].metadata,
                       vals[i].metadata_len, vals[i].commit_ts,
                       vals[i].expire_ts);
    }
    for (int i = 0; i < n; i++)
        offset_free(&vals[i]);
    for (int i = 0; i < 2 * nr; i++)
        buf_free(&bufs[i]);
    free(vals);
    free(bufs);
    free(recs);
}

/* Topics the members subscribe to (ConsumerProtocolSubscription of the
 * selected protocol: version int16, topics []string, ...). Returns false if
 * the group is not a "consumer" group or a subscription does not parse. */
static bool subscribed_topics_contain(const grp_group *g, const char *topic,
                                      bool *found) {
    *found = false;
    if (g->cg) {
        *found = cg_subscribed_to(g->cg, topic);
        return true;
    }
    if (!gs_eq(g->protocol_type, proto_str_c("consumer")) ||
        g->protocol_name.len < 0)
        return g->n == 0;
    for (int i = 0; i < g->n; i++) {
        const gproto *p = member_proto(g->m[i], g->protocol_name);
        if (!p)
            return false;
        rd r;
        rd_init(&r, p->meta, (size_t)p->len);
        rd_be16(&r);
        int32_t nt = (int32_t)rd_be32(&r);
        if (r.err || nt < 0)
            return false;
        for (int32_t k = 0; k < nt; k++) {
            int16_t len = (int16_t)rd_be16(&r);
            if (r.err || len < 0)
                return false;
            const uint8_t *s = rd_bytes(&r, (size_t)len);
            if (!s)
                return false;
            if ((size_t)len == strlen(topic) && !memcmp(s, topic, (size_t)len))
                *found = true;
        }
    }
    return true;
}

static int16_t write_offset_tombstones(grp_coord *c, grp_group *g,
                                       grp_offset **which, int n,
                                       bool with_group) {
    int total = n + (with_group ? 1 : 0);
    if (!total)
        return KERR_NONE;
    if (with_group && g->cg) {
        int16_t ce = cg_write_tombstones(c, g);
        if (ce)
            return ce;
    }
    grp_record *recs = xcalloc((size_t)total, sizeof *recs);
    buf *keys = xcalloc((size_t)total, sizeof *keys);
    for (int i = 0; i < n; i++) {
        buf_init(&keys[i], 64);
        encode_offset_key(&keys[i], g->id, which[i]->topic,
                          which[i]->partition);
        recs[i] = (grp_record){keys[i].data, keys[i].len, NULL, 0};
    }
    if (with_group) {
        buf_init(&keys[n], 64);
        encode_group_key(&keys[n], g->id);
        recs[n] = (grp_record){keys[n].data, keys[n].len, NULL, 0};
    }
    int16_t e = store_append(c, g->partition, recs, total);
    for (int i = 0; i < total; i++)
        buf_free(&keys[i]);
    free(keys);
    free(recs);
    return e;
}

int16_t grp_offset_delete(grp_coord *c, proto_str group_id,
                          const char *const *topics, const int32_t *parts,
                          int n, int16_t *errs) {
    grp_group *g = grp_find(c, group_id);
    if (!g || g->state == GRP_DEAD)
        return KERR_GROUP_ID_NOT_FOUND;
    if (g->state != GRP_EMPTY &&
        !gs_eq(g->protocol_type, proto_str_c("consumer")))
        return KERR_NON_EMPTY_GROUP;
    grp_offset **del = xcalloc((size_t)(n ? n : 1), sizeof *del);
    int nd = 0;
    for (int i = 0; i < n; i++) {
        errs[i] = KERR_NONE;
        bool found = false;
        if (g->state != GRP_EMPTY) {
            /* Kafka's isSubscribedToTopic: a consumer group whose
             * subscriptions cannot be read counts as subscribed. */
            bool known = subscribed_topics_contain(g, topics[i], &found);
            bool consumer = gs_eq(g->protocol_type, proto_str_c("consumer"));
            if (known ? found : (consumer && g->n > 0)) {
                errs[i] = KERR_GROUP_SUBSCRIBED_TO_TOPIC;
                continue;
            }
        }
        grp_offset *o = offset_find(g, topics[i], strlen(topics[i]), parts[i]);
        if (o) {
            bool dup = false;
            for (int k = 0; k < nd; k++)
                dup |= del[k] == o;
            if (!dup)
                del[nd++] = o;
        }
    }
    int16_t e = write_offset_tombstones(c, g, del, nd, false);
    if (e) {
        free(del);
        return e == KERR_NOT_COORDINATOR ? e : KERR_COORDINATOR_NOT_AVAILABLE;
    }
    /* remove from the end backwards: offset_remove moves the last entry */
    for (int k = 0; k < nd; k++) {
        grp_offset *o = del[k];
        int idx = (int)(o - g->offs);
        for (int j = k + 1; j < nd; j++)
            if (del[j] == &g->offs[g->n_offs - 1])
                del[j] = &g->offs[idx];
        offset_remove(g, o);
    }
    free(del);
    return KERR_NONE;
}

int16_t grp_delete_group(grp_coord *c, proto_str group_id) {
    grp_group *g = grp_find(c, group_id);
    if (!g || g->state == GRP_DEAD)
        return KERR_GROUP_ID_NOT_FOUND;
    if (g->state != GRP_EMPTY || cg_n_members(g->cg) > 0)
        return KERR_NON_EMPTY_GROUP;
    grp_offset **all =
        xcalloc((size_t)(g->n_offs ? g->n_offs : 1), sizeof *all);
    for (int i = 0; i < g->n_offs; i++)
        all[i] = &g->offs[i];
    int16_t e = write_offset_tombstones(c, g, all, g->n_offs, true);
    free(all);
    if (e)
        return e == KERR_NOT_COORDINATOR ? e : KERR_COORDINATOR_NOT_AVAILABLE;
    /* pending members get nothing more; drop the group */
    SL_INFO("group", "Deleted group %s", g->id.p);
    group_remove(c, g);
    return KERR_NONE;
}

int grp_expire_offsets(grp_coord *c) {
    int64_t now = clk_wall_ms();
    int64_t ret = c->cfg.offsets_retention_ms;
    int removed = 0;
    for (size_t b = 0; b < c->tab_size; b++) {
        grp_group *g = c->tab[b];
        while (g) {
            grp_group *next = g->next;
            if (c->part_state[g->partition] != GRP_PART_ACTIVE) {
                g = next;
                continue;
            }
            if (g->cg && cg_n_members(g->cg) > 0) {
                /* members keep their offsets */
                g = next;
                continue;
            }
            bool has_type = g->protocol_type.len > 0;
            grp_offset **exp =
                xcalloc((size_t)(g->n_offs ? g->n_offs : 1), sizeof *exp);
            int ne = 0;
            for (int i = 0; i < g->n_offs; i++) {
                grp_offset *o = &g->offs[i];
                bool expired = false;
                if (o->expire_ts >= 0)
                    expired = now >= o->expire_ts;
                else if (!has_type)
                    expired = now - o->commit_ts >= ret;
                else if (g->state == GRP_EMPTY)
                    expired =
                        now - (g->state_ts >= 0 ? g->state_ts : o->commit_ts) >=
                        ret;
                else if (g->state == GRP_STABLE) {
                    bool found;
                    if (subscribed_topics_contain(g, o->topic, &found) &&
                        !found)
                        expired = now - o->commit_ts >= ret;
                }
                if (expired)
                    exp[ne++] = o;
            }
            /* Kafka deletes an Empty group once it has no offsets left. */
            bool drop_group =
                g->state == GRP_EMPTY && ne == g->n_offs && g->n_pending == 0;
            if (ne || drop_group) {
                int16_t e = write_offset_tombstones(c, g, exp, ne, drop_group);
                if (!e) {
                    if (ne)
                        SL_INFO("group",
                                "Removed %d expired offsets of group %s", ne,
                                g->id.p);
                    removed += ne;
                    if (drop_group) {
                        free(exp);
                        group_remove(c, g);
                        g = next;
                        continue;
                    }
                    for (int k = 0; k < ne; k++) {
                        grp_offset *o = exp[k];
                        int idx = (int)(o - g->offs);
                        for (int j = k + 1; j < ne; j++)
                            if (exp[j] == &g->offs[g->n_offs - 1])
                                exp[j] = &g->offs[idx];
                        offset_remove(g, o);
                    }
                }
            }
            free(exp);
            g = next;
        }
    }
    return removed;
}

int grp_drop_deleted_topics(grp_coord *c,
                            bool (*topic_exists)(void *ctx, const char *topic),
                            void *ctx) {
    int removed = 0;
    for (size_t b = 0; b < c->tab_size; b++)
        for (grp_group *g = c->tab[b]; g; g = g->next) {
            if (c->part_state[g->partition] != GRP_PART_ACTIVE || !g->n_offs)
                continue;
            grp_offset **gone = xcalloc((size_t)g->n_offs, sizeof *gone);
            int ng = 0;
            for (int i = 0; i < g->n_offs; i++)
                if (!topic_exists(ctx, g->offs[i].topic))
                    gone[ng++] = &g->offs[i];
            if (ng && !write_offset_tombstones(c, g, gone, ng, false)) {
                SL_INFO("group",
                        "Removed %d offsets of deleted topics from group %s",
                        ng, g->id.p);
                removed += ng;
                for (int k = 0; k < ng; k++) {
                    grp_offset *o = gone[k];
                    int idx = (int)(o - g->offs);
                    for (int j = k + 1; j < ng; j++)
                        if (gone[j] == &g->offs[g->n_offs - 1])
                            gone[j] = &g->offs[idx];
                    offset_remove(g, o);
                }
            }
            free(gone);
        }
    return removed;
}

/* ---- timers
 * ------------------------------------------------------------------- */

static void tick_group(grp_coord *c, grp_group *g, int64_t now) {
    for (int i = g->n_pending - 1; i >= 0; i--)
        if (now >= g->pending[i].deadline) {
            pending_remove_at(g, i);
            maybe_complete_join(c, g);
        }
    if (g->state == GRP_PREPARING_REBALANCE && g->join_deadline &&
        now >= g->join_deadline) {
        if (g->initial && g->new_member_added && g->initial_remaining > 0 &&
            c->cfg.initial_delay_ms > 0) {
            int64_t d = c->cfg.initial_delay_ms;
            if (d > g->initial_remaining)
                d = g->initial_remaining;
            g->initial_remaining -= d;
            g->new_member_added = false;
            g->join_deadline = now + d;
        } else {
            complete_join(c, g);
        }
    }
    if ((g->state == GRP_COMPLETING_REBALANCE || g->state == GRP_STABLE) &&
        g->sync_deadline && now >= g->sync_deadline) {
        g->sync_deadline = 0;
        bool removed = false;
        for (int i = g->n - 1; i >= 0; i--)
            if (g->m[i]->pending_sync) {
                SL_INFO(
                    "group",
                    "Member %s of group %s did not sync in time, removing it",
                    g->m[i]->id.p, g->id.p);
                remove_member(g, g->m[i]);
                removed = true;
            }
        if (removed)
            prepare_rebalance(
                c, g, "members failed to sync within the rebalance timeout");
    }
    for (int i = g->n - 1; i >= 0 && i < g->n; i--) {
        grp_member *m = g->m[i];
        if (m->join_fn || m->sync_fn || now < m->hb_deadline)
            continue;
        char why[300];
        snprintf(why, sizeof why, "removing member %s on heartbeat expiration",
                 m->id.p);
        SL_INFO("group", "Member %s in group %s has failed, %s", m->id.p,
                g->id.p, why);
        remove_member_and_update(c, g, m, why);
        i = g->n; /* the array changed: rescan */
    }
}

void grp_tick(grp_coord *c) {
    int64_t now = now_ms();
    for (size_t b = 0; b < c->tab_size; b++)
        for (grp_group *g = c->tab[b]; g; g = g->next)
            if (c->part_state[g->partition] == GRP_PART_ACTIVE) {
                if (g->cg)
                    cg_tick(c, g, now);
                else
                    tick_group(c, g, now);
            }
}

void grp_fail_waiters(grp_coord *c, int16_t error) {
    for (size_t b = 0; b < c->tab_size; b++)
        for (grp_group *g = c->tab[b]; g; g = g->next)
            for (int i = 0; i < g->n; i++) {
                complete_join_waiter(g->m[i], error);
                complete_sync_waiter(g->m[i], error);
            }
}

void grp_unload_partition(grp_coord *c, int32_t p) {
    for (size_t b = 0; b < c->tab_size; b++) {
        grp_group *g = c->tab[b];
        while (g) {
            grp_group *next = g->next;
            if (g->partition == p) {
                for (int i = 0; i < g->n; i++) {
                    complete_join_waiter(g->m[i], KERR_NOT_COORDINATOR);
                    complete_sync_waiter(g->m[i], KERR_NOT_COORDINATOR);
                }
                group_remove(c, g);
            }
            g = next;
        }
    }
    grp_set_partition_state(c, p, GRP_PART_NONE);
}

/* ---- loading
 * --------------------------------------------------------------------- */

bool grp_replay(grp_coord *c, int32_t partition, const uint8_t *key,
                size_t key_len, const uint8_t *value, size_t value_len) {
    arena a;
    arena_init(&a, 4096);
    bool ok = false;
    rd r;
    rd_init(&r, key, key_len);
    int16_t kver = (int16_t)rd_be16(&r);
    if (r.err)
        goto out;
    if (kver == 0 || kver == 1) {
        proto_offset_commit_key k;
        if (proto_offset_commit_key_decode(&r, &a, kver, &k) != PROTO_OK)
            goto out;
        proto_str gid = k.group;
        grp_group *g = grp_find(c, gid);
        if (!value) {
            if (g) {
                grp_offset *o =
                    offset_find(g, k.topic.p, (size_t)k.topic.len, k.partition);
                if (o)
                    offset_remove(g, o);
            }
            ok = true;
            goto out;
        }
        rd vr;
        rd_init(&vr, value, value_len);
        int16_t vver = (int16_t)rd_be16(&vr);
        proto_offset_commit_value v;
        if (vr.err || vver < 0 || vver > 4 ||
            proto_offset_commit_value_decode(&vr, &a, vver, &v) != PROTO_OK)
            goto out;
        if (!g)
            g = group_create(c, gid);
        g->partition = partition;
        offset_put(g, k.topic.p, (size_t)k.topic.len, k.partition, v.offset,
                   v.leader_epoch, v.metadata.len > 0 ? v.metadata.p : "",
                   v.metadata.len > 0 ? (size_t)v.metadata.len : 0,
                   v.commit_timestamp, vver == 1 ? v.expire_timestamp : -1);
        ok = true;
    } else if (kver == 2) {
        proto_group_metadata_key k;
        if (proto_group_metadata_key_decode(&r, &a, kver, &k) != PROTO_OK)
            goto out;
        proto_str gid = k.group;
        grp_group *g = grp_find(c, gid);
        if (!value) {
            if (g) {
                if (g->n_offs == 0)
                    group_remove(c, g);
                else {
                    while (g->n)
                        remove_member(g, g->m[g->n - 1]);
                    gs_free(&g->protocol_type);
                }
            }
            ok = true;
            goto out;
        }
        rd vr;
        rd_init(&vr, value, value_len);
        int16_t vver = (int16_t)rd_be16(&vr);
        proto_group_metadata_value v;
        if (vr.err || vver < 0 || vver > 4 ||
            proto_group_metadata_value_decode(&vr, &a, vver, &v) != PROTO_OK)
            goto out;
        if (!g)
            g = group_create(c, gid);
        g->partition = partition;
        while (g->n)
            remove_member(g, g->m[g->n - 1]);
        gs_free(&g->protocol_type);
        gs_free(&g->protocol_name);
        gs_free(&g->leader);
        if (v.protocol_type.len > 0)
            g->protocol_type = gs_dup(v.protocol_type);
        g->protocol_name = gs_dup(v.protocol);
        g->leader = gs_dup(v.leader);
        g->generation = v.generation;
        g->state_ts = v.current_state_timestamp >= 0 ? v.current_state_timestamp
                                                     : clk_wall_ms();
        for (int32_t i = 0; i < v.members.n; i++) {
            proto_group_metadata_value_member_metadata *mm = &v.members.v[i];
            grp_member *m = xcalloc(1, sizeof *m);
            m->id = gs_dup(or_empty(mm->member_id));
            m->instance_id = gs_dup(mm->group_instance_id);
            m->client_id = gs_dup(or_empty(mm->client_id));
            m->client_host = gs_dup(or_empty(mm->client_host));
            m->session_ms = mm->session_timeout;
            m->rebalance_ms = mm->rebalance_timeout >= 0 ? mm->rebalance_timeout
                                                         : mm->session_timeout;
            grp_protocol_in pin = {
                g->protocol_name.len >= 0 ? g->protocol_name.p : "",
                g->protocol_name.len >= 0 ? (size_t)g->protocol_name.len : 0,
                mm->subscription.p, mm->subscription.len};
            member_set_protocols(m, &pin, 1);
            member_set_assignment(m, mm->assignment.p, mm->assignment.len);
            if (g->n == g->cap) {
                g->cap = g->cap ? g->cap * 2 : 4;
                g->m = xrealloc(g->m, (size_t)g->cap * sizeof *g->m);
            }
            g->m[g->n++] = m;
        }
        if (g->leader.len >= 0 && !member_find(g, g->leader)) {
            gs_free(&g->leader);
            if (g->n)
                g->leader = gs_dup(g->m[0]->id);
        }
        ok = true;
    } else {
        ok = cg_replay(c, partition, kver, key, key_len, value, value_len);
    }
out:
    arena_free(&a);
    return ok;
}

void grp_partition_loaded(grp_coord *c, int32_t partition) {
    int64_t now = now_ms();
    for (size_t b = 0; b < c->tab_size; b++)
        for (grp_group *g = c->tab[b]; g; g = g->next) {
            if (g->partition != partition)
                continue;
            if (g->cg)
                cg_loaded(c, g);
            g->state = g->n ? GRP_STABLE : GRP_EMPTY;
            for (int i = 0; i < g->n; i++)
                g->m[i]->hb_deadline = now + g->m[i]->session_ms;
        }
}

/* ---- read access
 * -------------------------------------------------------------------- */

void grp_get_info(const grp_group *g, grp_info *out) {
    out->group_id = g->id;
    out->state = g->state;
    out->generation = g->generation;
    out->protocol_type = or_empty(g->protocol_type);
    out->protocol_name = or_empty(g->protocol_name);
    out->leader = g->leader.len >= 0 ? g->leader : proto_str_c("");
    out->partition = g->partition;
    out->n_members = g->n;
}

void grp_get_member(const grp_group *g, int i, grp_member_info *out) {
    const grp_member *m = g->m[i];
    out->member_id = m->id;
    out->instance_id = m->instance_id;
    out->client_id = m->client_id;
    out->client_host = m->client_host;
    const gproto *p = member_proto(m, g->protocol_name);
    out->metadata = p ? p->meta : NULL;
    out->metadata_len = p ? p->len : 0;
    out->assignment = m->assignment;
    out->assignment_len = m->assignment_len;
}

/* ---- for consumer.c (internal.h)
 * -------------------------------------------------------- */

grp_group *grp_group_create(grp_coord *c, proto_str id) {
    return group_create(c, id);
}

void grp_group_remove(grp_coord *c, grp_group *g) {
    group_remove(c, g);
}

int16_t grp_store_append(grp_coord *c, int32_t partition, const grp_record *r,
                         int n) {
    return store_append(c, partition, r, n);
}

/* An Empty classic group becomes a consumer group (Kafka's
 * maybeDeleteEmptyClassicGroup): its metadata record goes, offsets stay. */
void grp_classic_tombstone(grp_coord *c, grp_group *g) {
    buf k;
    buf_init(&k, 64);
    encode_group_key(&k, g->id);
    grp_record r = {k.data, k.len, NULL, 0};
    store_append(c, g->partition, &r, 1);
    buf_free(&k);
    gs_free(&g->protocol_type);
    gs_free(&g->protocol_name);
    gs_free(&g->leader);
    g->generation = 0;
}

int16_t grp_txn_commit_check(grp_coord *c, proto_str group_id,
                             proto_str member_id, int32_t generation) {
    grp_group *g = grp_find(c, group_id);
    if (!g || generation < 0)
        return KERR_NONE;
    if (g->cg) {
        int16_t e = cg_validate_commit(g->cg, member_id, generation, 9);
        return e == KERR_STALE_MEMBER_EPOCH ? KERR_ILLEGAL_GENERATION : e;
    }
    if (g->generation != generation)
        return KERR_ILLEGAL_GENERATION;
    return member_find(g, or_empty(member_id)) ? KERR_NONE
                                               : KERR_UNKNOWN_MEMBER_ID;
}
