/*
 * tool_features.c - kafka-features.sh upgrade / downgrade / disable
 * (UpdateFeatures v1) and version-mapping, with Kafka 4.3.1's
 * FeatureCommand messages: one line per feature in name order
 * ("metadata.version was upgraded to 30.", "Could not ... . <error>"),
 * then "N out of M operation(s) failed." on stderr and exit 1.
 */
#include "tools/tool_features.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/util.h"

/* Kafka 4.3.1's MetadataVersion values: level, ibp version, production. */
static const struct {
    int level;
    const char *ibp;
} mvs[] = {
    {7, "3.3-IV3"},  {8, "3.4-IV0"},  {9, "3.5-IV0"},  {10, "3.5-IV1"},
    {11, "3.5-IV2"}, {12, "3.6-IV0"}, {13, "3.6-IV1"}, {14, "3.6-IV2"},
    {15, "3.7-IV0"}, {16, "3.7-IV1"}, {17, "3.7-IV2"}, {18, "3.7-IV3"},
    {19, "3.7-IV4"}, {20, "3.8-IV0"}, {21, "3.9-IV0"}, {22, "4.0-IV0"},
    {23, "4.0-IV1"}, {24, "4.0-IV2"}, {25, "4.0-IV3"}, {26, "4.1-IV0"},
    {27, "4.1-IV1"}, {28, "4.2-IV0"}, {29, "4.2-IV1"}, {30, "4.3-IV0"},
    {31, "4.4-IV0"},
};
#define MV_LATEST_PRODUCTION 30

/* Feature.PRODUCTION_FEATURES in Kafka's order, each level with the
 * metadata.version it is the default from (bootstrapMetadataVersion). */
static const struct {
    const char *name;
    int n;
    int boot_mv[3];
} prod_features[] = {
    {"kraft.version", 2, {7, 21}},
    {"transaction.version", 3, {7, 24, 24}},
    {"group.version", 2, {7, 22}},
    {"eligible.leader.replicas.version", 2, {7, 26}},
    {"share.version", 2, {7, 28}},
    {"streams.version", 2, {7, 29}},
};

/* Feature.defaultLevel(metadataVersion). */
static int default_level(int f, int mv) {
    int lvl = 0;
    for (int i = 0; i < prod_features[f].n; i++) {
        if (prod_features[f].boot_mv[i] <= mv)
            lvl = i;
        else
            break;
    }
    return lvl;
}

/* MetadataVersion.fromVersionString(s, true): "3.7-IV1" or "3.7" (the
 * release's last production IV); extra segments ("3.7.1") are ignored.
 * Writes Kafka's message into err on failure and returns -1. */
static int mv_from_string(const char *s, char *err, size_t cap) {
    char key[64];
    const char *d1 = strchr(s, '.');
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    snprintf(key, sizeof key, "%.*s", d2 ? (int)(d2 - s) : (int)strlen(s), s);
    int found = -1;
    for (size_t i = 0; i < SL_ARRAY_LEN(mvs); i++) {
        if (!strcmp(mvs[i].ibp, key))
            found = mvs[i].level;
        size_t rl = strcspn(mvs[i].ibp, "-");
        if (mvs[i].level <= MV_LATEST_PRODUCTION && strlen(key) == rl &&
            !strncmp(mvs[i].ibp, key, rl))
            found = mvs[i].level; /* the last one of the release wins */
    }
    if (found < 0) {
        int k = snprintf(err, cap,
                         "Unknown metadata.version '%s'. Supported "
                         "metadata.version are: ",
                         s);
        for (size_t i = 0; i < SL_ARRAY_LEN(mvs) && k > 0 && (size_t)k < cap;
             i++)
            k += snprintf(err + k, cap - (size_t)k, "%s%s", i ? ", " : "",
                          mvs[i].ibp);
    }
    return found;
}

typedef struct upd {
    char *name;
    int16_t level;
} upd;

static int cmp_upd(const void *a, const void *b) {
    return strcmp(((const upd *)a)->name, ((const upd *)b)->name);
}

/* Adds (name, level); false (with Kafka's message) on a duplicate. */
static bool add_upd(upd *u, int *n, const char *name, size_t len, int level,
                    bool replace) {
    for (int i = 0; i < *n; i++)
        if (strlen(u[i].name) == len && !memcmp(u[i].name, name, len)) {
            if (replace) {
                u[i].level = (int16_t)level;
                return true;
            }
            fprintf(stderr, "Feature %.*s was specified more than once.\n",
                    (int)len, name);
            return false;
        }
    u[*n].name = xstrndup(name, len);
    u[*n].level = (int16_t)level;
    (*n)++;
    return true;
}

/* FeatureCommand.parseNameAndLevel. */
static bool parse_name_level(const char *in, const char **name, size_t *nlen,
                             int *level) {
    const char *eq = strchr(in, '=');
    if (!eq) {
        fprintf(stderr,
                "Can't parse feature=level string %s: equals sign not "
                "found.\n",
                in);
        return false;
    }
    const char *s = in, *e = eq;
    while (s < e && (unsigned char)*s <= ' ')
        s++;
    while (e > s && (unsigned char)e[-1] <= ' ')
        e--;
    char lv[64];
    const char *ls = eq + 1;
    while (*ls && (unsigned char)*ls <= ' ')
        ls++;
    snprintf(lv, sizeof lv, "%s", ls);
    size_t ll = strlen(lv);
    while (ll && (unsigned char)lv[ll - 1] <= ' ')
        lv[--ll] = 0;
    int64_t v;
    if (!tool_parse_i64(lv, &v) || v < -32768 || v > 32767) {
        fprintf(stderr,
                "Can't parse feature=level string %s: unable to parse %s as "
                "a short.\n",
                in, lv);
        return false;
    }
    *name = s;
    *nlen = (size_t)(e - s);
    *level = (int)v;
    return true;
}

int tool_features_update(tool_args *a, const char *op, kc_conn *kc) {
    bool disable = !strcmp(op, "disable");
    bool downgrade = !disable && !strcmp(op, "downgrade");
    bool dry = tool_has(a, "dry-run");
    /* 1 upgrade, 2 safe downgrade, 3 unsafe downgrade */
    int8_t type = (downgrade || disable) ? (tool_has(a, "unsafe") ? 3 : 2) : 1;
    const char **feats;
    int nfeat = tool_getall(a, "feature", &feats);
    const char *meta = disable ? NULL : tool_get(a, "metadata");
    const char *rel = disable ? NULL : tool_get(a, "release-version");
    upd *u = xcalloc((size_t)nfeat + 16, sizeof(upd));
    int n = 0, rc = 1;
    char err[2048];
    if (rel && (meta || nfeat)) {
        fprintf(
            stderr,
            "Can not specify `release-version` with other feature flags.\n");
        goto out;
    }
    if (disable) {
        for (int i = 0; i < nfeat; i++)
            if (!add_upd(u, &n, feats[i], strlen(feats[i]), 0, false))
                goto out;
    } else if (rel) {
        int mv = mv_from_string(rel, err, sizeof err);
        if (mv < 0) {
            fprintf(stderr, "%s\n", err);
            goto out;
        }
        add_upd(u, &n, "metadata.version", 16, mv, true);
        for (size_t f = 0; f < SL_ARRAY_LEN(prod_features); f++) {
            int lvl = default_level((int)f, mv);
            /* Kafka does not send an upgrade to level 0 */
            if (type != 1 || lvl > 0)
                add_upd(u, &n, prod_features[f].name,
                        strlen(prod_features[f].name), lvl, true);
        }
    } else {
        if (meta) {
            printf(" `metadata` flag is deprecated and may be removed in a "
                   "future release.\n");
            int mv = mv_from_string(meta, err, sizeof err);
            if (mv < 0) {
                fflush(stdout);
                fprintf(stderr, "%s\n", err);
                goto out;
            }
            add_upd(u, &n, "metadata.version", 16, mv, true);
        }
        for (int i = 0; i < nfeat; i++) {
            const char *name;
            size_t len;
            int lvl;
            if (!parse_name_level(feats[i], &name, &len, &lvl))
                goto out;
            /* Kafka: HashMap.put of a name already there (also the
             * --metadata one) is an error */
            if (!add_upd(u, &n, name, len, lvl, false))
                goto out;
        }
    }
    if (n == 0) {
        fprintf(stderr, "You must specify at least one feature to %s\n", op);
        goto out;
    }
    if (kc->api_max[57] < 1) {
        fprintf(stderr,
                "org.apache.kafka.common.errors.UnsupportedVersionException: "
                "The broker does not support UPDATE_FEATURES\n");
        goto out;
    }
    /* UpdateFeatures v1 */
    buf body, resp;
    buf_init(&body, 256);
    buf_init(&resp, 256);
    buf_put_be32(&body, 60000);
    buf_put_uvarint(&body, (uint64_t)n + 1);
    for (int i = 0; i < n; i++) {
        size_t l = strlen(u[i].name);
        buf_put_uvarint(&body, l + 1);
        buf_put(&body, u[i].name, l);
        buf_put_be16(&body, (uint16_t)u[i].level);
        buf_put_u8(&body, (uint8_t)type);
        buf_put_uvarint(&body, 0);
    }
    buf_put_u8(&body, dry ? 1 : 0);
    buf_put_uvarint(&body, 0);
    bool ok = kc_call(kc, 57, 1, true, &body, &resp);
    buf_free(&body);
    int16_t top = 0;
    char *top_msg = NULL;
    int16_t *ferr = xcalloc((size_t)n, sizeof(int16_t));
    char **fmsg = xcalloc((size_t)n, sizeof(char *));
    if (ok) {
        rd r;
        rd_init(&r, resp.data, resp.len);
        rd_be32(&r);
        top = (int16_t)rd_be16(&r);
        uint32_t ml = rd_uvarint32(&r);
        if (ml > 0) {
            const uint8_t *p = rd_bytes(&r, ml - 1);
            if (p)
                top_msg = xstrndup((const char *)p, ml - 1);
        }
        uint32_t nr = rd_uvarint32(&r);
        for (uint32_t i = 0; nr && i < nr - 1 && !r.err; i++) {
            uint32_t fl = rd_uvarint32(&r);
            const uint8_t *fp = fl ? rd_bytes(&r, fl - 1) : NULL;
            int16_t e = (int16_t)rd_be16(&r);
            uint32_t el = rd_uvarint32(&r);
            const uint8_t *ep = el ? rd_bytes(&r, el - 1) : NULL;
            uint32_t nt = rd_uvarint32(&r);
            for (uint32_t t = 0; t < nt && !r.err; t++) {
                rd_uvarint32(&r);
                rd_skip(&r, rd_uvarint32(&r));
            }
            for (int k = 0; fp && k < n; k++)
                if (strlen(u[k].name) == fl - 1 &&
                    !memcmp(u[k].name, fp, fl - 1) && e) {
                    ferr[k] = e;
                    fmsg[k] = ep ? xstrndup((const char *)ep, el - 1) : NULL;
                }
        }
        ok = !r.err;
    }
    buf_free(&resp);
    if (!ok) {
        fprintf(stderr, "UpdateFeatures request failed\n");
        free(top_msg);
        free(ferr);
        free(fmsg);
        goto out;
    }
    qsort(u, (size_t)n, sizeof(upd), cmp_upd); /* Kafka: a TreeMap */
    int fails = 0;
    for (int i = 0; i < n; i++) {
        int16_t e = top ? top : ferr[i];
        const char *m = top ? top_msg : fmsg[i];
        if (e) {
            fails++;
            if (disable)
                printf("%s disable %s. %s\n", dry ? "Can not" : "Could not",
                       u[i].name, m ? m : tool_error_message(e));
            else
                printf("%s %s %s to %d. %s\n", dry ? "Can not" : "Could not",
                       op, u[i].name, u[i].level,
                       m ? m : tool_error_message(e));
        } else if (disable) {
            printf("%s%sdisabled.\n", u[i].name, dry ? " can be " : " was ");
        } else {
            printf("%s%s%sd to %d.\n", u[i].name, dry ? " can be " : " was ",
                   op, u[i].level);
        }
    }
    for (int i = 0; i < n; i++)
        free(fmsg[i]);
    free(fmsg);
    free(ferr);
    free(top_msg);
    if (fails) {
        fflush(stdout);
        fprintf(stderr, "%d out of %d operation(s) failed.\n", fails, n);
        goto out;
    }
    rc = 0;
out:
    for (int i = 0; i < n; i++)
        free(u[i].name);
    free(u);
    return rc;
}

int tool_metadata_version_level(const char *s, char *err, size_t cap) {
    return mv_from_string(s, err, cap);
}

const char *tool_metadata_version_name(int level) {
    for (size_t i = 0; i < SL_ARRAY_LEN(mvs); i++)
        if (mvs[i].level == level)
            return mvs[i].ibp;
    return NULL;
}

int tool_features_version_mapping(tool_args *a) {
    char err[2048];
    const char *rel = tool_get_or(a, "release-version", "4.3-IV0");
    int mv = mv_from_string(rel, err, sizeof err);
    if (mv < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    printf("metadata.version=%d (%s)\n", mv, rel);
    for (size_t f = 0; f < SL_ARRAY_LEN(prod_features); f++)
        printf("%s=%d\n", prod_features[f].name, default_level((int)f, mv));
    return 0;
}

/* FeatureCommand feature-dependencies. Of Kafka 4.3.1's production features
 * only eligible.leader.replicas.version 1 depends on another
 * (metadata.version 23, 4.0-IV1); every metadata.version has none. Lines
 * are printed as each --feature is checked, so an error stops after the
 * features before it, as Kafka's tool does. */
int tool_features_dependencies(tool_args *a) {
    const char **feats;
    int nfeat = tool_getall(a, "feature", &feats);
    if (nfeat <= 0) {
        fprintf(stderr, "Command line error: argument --feature is required. "
                        "Type --help for help.\n");
        return 1;
    }
    for (int i = 0; i < nfeat; i++) {
        const char *name;
        size_t nlen;
        int level;
        if (!parse_name_level(feats[i], &name, &nlen, &level))
            return 1;
        if (nlen == strlen("metadata.version") &&
            !strncmp(name, "metadata.version", nlen)) {
            const char *mv = tool_metadata_version_name(level);
            if (!mv) {
                fprintf(stderr, "Unknown metadata.version %d\n", level);
                return 1;
            }
            printf("metadata.version=%d (%s) has no dependencies.\n", level,
                   mv);
            continue;
        }
        size_t f = 0;
        while (f < SL_ARRAY_LEN(prod_features) &&
               (strlen(prod_features[f].name) != nlen ||
                strncmp(prod_features[f].name, name, nlen)))
            f++;
        if (f == SL_ARRAY_LEN(prod_features)) {
            fprintf(stderr, "Unknown feature: %.*s\n", (int)nlen, name);
            return 1;
        }
        if (level < 0 || level >= prod_features[f].n) {
            fprintf(stderr, "No feature:%s with feature level %d\n",
                    prod_features[f].name, level);
            return 1;
        }
        if (!strcmp(prod_features[f].name,
                    "eligible.leader.replicas.version") &&
            level >= 1)
            printf("%s=%d requires:\n    metadata.version=23 (%s)\n",
                   prod_features[f].name, level,
                   tool_metadata_version_name(23));
        else
            printf("%s=%d has no dependencies.\n", prod_features[f].name,
                   level);
    }
    return 0;
}
