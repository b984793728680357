/*
 * codec.c - the one table-driven Kafka codec engine (see proto.h).
 *
 * Every generated message is a tree of proto_struct_desc tables; this file
 * walks them. Decoding: the struct is first set to its defaults, then each
 * field present (and not tagged) at the version is read in order, then, in
 * flexible versions, the tagged-field section: known tags are decoded from
 * exactly their declared size, unknown ones are kept as raw bytes.
 *
 * Bounds (one failure path: every reader returns a PROTO_ERR_* that the
 * caller propagates unchanged):
 *   - string/bytes lengths are checked against the bytes left, never copied;
 *   - an array count must fit in bytes-left / minimum element wire size
 *     (computed from the descriptor for the version) before allocation;
 *   - the total arena use of one decode is capped by dctx.budget.
 */
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "core/uuid.h"
#include "proto/proto.h"

/* The innermost field a failed decode on this thread stopped at (for logs,
 * like Kafka's "Error reading field 'topics'"). */
static _Thread_local const char *err_field;

const char *proto_error_field(void) {
    return err_field;
}

typedef struct dctx {
    arena *a;
    size_t budget; /* arena bytes this decode may still take */
} dctx;

const char *proto_strerror(int err) {
    switch (err) {
    case PROTO_OK:
        return "ok";
    case PROTO_ERR_TRUNCATED:
        return "truncated input";
    case PROTO_ERR_INVALID:
        return "malformed input";
    case PROTO_ERR_TOO_LARGE:
        return "size or count over the limit";
    case PROTO_ERR_VERSION:
        return "unsupported version";
    case PROTO_ERR_UNKNOWN_API:
        return "unknown api key";
    default:
        return "unknown error";
    }
}

/* ---- small value helpers ------------------------------------------------ */

proto_str proto_str_c(const char *s) {
    if (!s)
        return PROTO_STR_NULL;
    return (proto_str){s, (int32_t)strlen(s)};
}

bool proto_str_eq(proto_str s, const char *c) {
    if (s.len < 0 || !c)
        return false;
    size_t n = strlen(c);
    return (size_t)s.len == n && (n == 0 || memcmp(s.p, c, n) == 0);
}

char *proto_str_dup(arena *a, proto_str s) {
    if (s.len < 0)
        return NULL;
    return arena_strndup(a, s.len ? s.p : "", (size_t)s.len);
}

bool proto_uuid_is_zero(const proto_uuid *u) {
    return uuid_is_zero(u->b);
}

/* ---- primitives -----------------------------------------------------------
 */

/* Length prefix of a string (int16) or bytes (int32), or the compact form
 * (uvarint of length + 1). Sets *len to -1 for null. */
static int read_len(rd *r, bool compact, bool wide, int32_t *len) {
    if (compact) {
        uint32_t u = rd_uvarint32(r);
        if (r->err)
            return PROTO_ERR_TRUNCATED;
        if (u > (uint32_t)INT32_MAX)
            return PROTO_ERR_TOO_LARGE;
        *len = (int32_t)u - 1;
        return PROTO_OK;
    }
    int32_t n = wide ? (int32_t)rd_be32(r) : (int16_t)rd_be16(r);
    if (r->err)
        return PROTO_ERR_TRUNCATED;
    if (n < -1)
        return PROTO_ERR_INVALID;
    *len = n;
    return PROTO_OK;
}

static int read_blob(rd *r, bool compact, bool wide, const uint8_t **p,
                     int32_t *len) {
    *p = NULL;
    int rc = read_len(r, compact, wide, len);
    if (rc)
        return rc;
    *p = NULL;
    if (*len < 0)
        return PROTO_OK;
    if ((size_t)*len > rd_left(r)) {
        r->err = true;
        return PROTO_ERR_TRUNCATED;
    }
    *p = rd_bytes(r, (size_t)*len);
    return PROTO_OK;
}

int proto_read_string(rd *r, bool compact, proto_str *out) {
    const uint8_t *p = NULL;
    int rc = read_blob(r, compact, false, &p, &out->len);
    out->p = (const char *)p;
    return rc;
}

int proto_read_bytes(rd *r, bool compact, proto_bytes *out) {
    return read_blob(r, compact, true, &out->p, &out->len);
}

static void write_len(buf *b, bool compact, bool wide, int32_t len) {
    if (compact)
        buf_put_uvarint(b, (uint64_t)((int64_t)len + 1));
    else if (wide)
        buf_put_be32(b, (uint32_t)len);
    else {
        SL_ASSERT(len <= INT16_MAX);
        buf_put_be16(b, (uint16_t)(int16_t)len);
    }
}

void proto_write_string(buf *b, bool compact, proto_str s) {
    int32_t len = s.len < 0 ? -1 : s.len;
    write_len(b, compact, false, len);
    if (len > 0)
        buf_put(b, s.p, (size_t)len);
}

void proto_write_bytes(buf *b, bool compact, proto_bytes v) {
    int32_t len = v.len < 0 ? -1 : v.len;
    write_len(b, compact, true, len);
    if (len > 0)
        buf_put(b, v.p, (size_t)len);
}

void proto_write_array_len(buf *b, bool compact, int32_t n) {
    write_len(b, compact, true, n < 0 ? -1 : n);
}

void proto_write_uuid(buf *b, const proto_uuid *u) {
    buf_put(b, u->b, 16);
}

void proto_write_f64(buf *b, double v) {
    uint64_t u;
    memcpy(&u, &v, sizeof(u));
    buf_put_be64(b, u);
}

double proto_read_f64(rd *r) {
    uint64_t u = rd_be64(r);
    double v;
    memcpy(&v, &u, sizeof(v));
    return v;
}

static void *dalloc(dctx *c, size_t n) {
    if (n > c->budget)
        return NULL;
    c->budget -= n;
    return arena_alloc(c->a, n ? n : 1);
}

/* ---- descriptor-driven engine -------------------------------------------- */

static size_t elem_size(const proto_field_desc *f) {
    switch (f->type) {
    case PROTO_T_BOOL:
        return sizeof(bool);
    case PROTO_T_INT8:
        return 1;
    case PROTO_T_INT16:
    case PROTO_T_UINT16:
        return 2;
    case PROTO_T_INT32:
    case PROTO_T_UINT32:
        return 4;
    case PROTO_T_INT64:
    case PROTO_T_FLOAT64:
        return 8;
    case PROTO_T_STRING:
        return sizeof(proto_str);
    case PROTO_T_BYTES:
    case PROTO_T_RECORDS:
        return sizeof(proto_bytes);
    case PROTO_T_UUID:
        return sizeof(proto_uuid);
    case PROTO_T_STRUCT:
        return f->ptr ? sizeof(void *) : f->sub->size;
    }
    return 0;
}

static inline bool is_tagged(const proto_field_desc *f, int16_t ver) {
    return f->tag >= 0 && proto_vin(f->tagged, ver);
}

static size_t struct_min(const proto_struct_desc *d, int16_t ver, bool flex);

/* Minimum wire size of one value of f's (element) type. */
static size_t value_min(const proto_field_desc *f, int16_t ver, bool flex) {
    bool fx = flex && !f->flex_none;
    switch (f->type) {
    case PROTO_T_BOOL:
    case PROTO_T_INT8:
        return 1;
    case PROTO_T_INT16:
    case PROTO_T_UINT16:
        return 2;
    case PROTO_T_INT32:
    case PROTO_T_UINT32:
        return 4;
    case PROTO_T_INT64:
    case PROTO_T_FLOAT64:
        return 8;
    case PROTO_T_STRING:
        return fx ? 1 : 2;
    case PROTO_T_BYTES:
    case PROTO_T_RECORDS:
        return fx ? 1 : 4;
    case PROTO_T_UUID:
        return 16;
    case PROTO_T_STRUCT:
        if (f->ptr && proto_vin(f->nullable, ver))
            return 1;
        return struct_min(f->sub, ver, flex);
    }
    return 0;
}

static size_t struct_min(const proto_struct_desc *d, int16_t ver, bool flex) {
    size_t n = flex ? 1 : 0; /* tag section count */
    for (unsigned i = 0; i < d->nfields; i++) {
        const proto_field_desc *f = &d->fields[i];
        if (!proto_vin(f->versions, ver) || is_tagged(f, ver))
            continue;
        if (f->array)
            n += (flex && !f->flex_none) ? 1 : 4;
        else
            n += value_min(f, ver, flex);
    }
    return n;
}

void proto_struct_init(const proto_struct_desc *d, void *out) {
    uint8_t *base = out;
    memset(out, 0, d->size);
    for (unsigned i = 0; i < d->nfields; i++) {
        const proto_field_desc *f = &d->fields[i];
        void *p = base + f->off;
        if (f->array) {
            if (f->def_null)
                *(int32_t *)p = -1;
            continue;
        }
        switch (f->type) {
        case PROTO_T_BOOL:
            *(bool *)p = f->def_int != 0;
            break;
        case PROTO_T_INT8:
            *(int8_t *)p = (int8_t)f->def_int;
            break;
        case PROTO_T_INT16:
            *(int16_t *)p = (int16_t)f->def_int;
            break;
        case PROTO_T_UINT16:
            *(uint16_t *)p = (uint16_t)f->def_int;
            break;
        case PROTO_T_INT32:
            *(int32_t *)p = (int32_t)f->def_int;
            break;
        case PROTO_T_UINT32:
            *(uint32_t *)p = (uint32_t)f->def_int;
            break;
        case PROTO_T_INT64:
            *(int64_t *)p = f->def_int;
            break;
        case PROTO_T_FLOAT64:
            *(double *)p = f->def_f64;
            break;
        case PROTO_T_STRING:
            if (f->def_null)
                *(proto_str *)p = PROTO_STR_NULL;
            else
                *(proto_str *)p = proto_str_c(f->def_str ? f->def_str : "");
            break;
        case PROTO_T_BYTES:
        case PROTO_T_RECORDS:
            if (f->def_null)
                *(proto_bytes *)p = PROTO_BYTES_NULL;
            break;
        case PROTO_T_UUID:
            break;
        case PROTO_T_STRUCT:
            if (!f->ptr)
                proto_struct_init(f->sub, p);
            break;
        }
    }
}

static int dec_struct(rd *r, dctx *c, const proto_struct_desc *d, int16_t ver,
                      bool flex, void *out);

/* One value of f's (element) type into p. */
static int dec_value(rd *r, dctx *c, const proto_field_desc *f, int16_t ver,
                     bool flex, void *p) {
    bool fx = flex && !f->flex_none;
    bool nullable =
        !f->array && proto_vin(f->nullable, ver); /* elements never null */
    int rc = PROTO_OK;
    switch (f->type) {
    case PROTO_T_BOOL:
        *(bool *)p = rd_u8(r) != 0;
        break;
    case PROTO_T_INT8:
        *(int8_t *)p = (int8_t)rd_u8(r);
        break;
    case PROTO_T_INT16:
        *(int16_t *)p = (int16_t)rd_be16(r);
        break;
    case PROTO_T_UINT16:
        *(uint16_t *)p = rd_be16(r);
        break;
    case PROTO_T_INT32:
        *(int32_t *)p = (int32_t)rd_be32(r);
        break;
    case PROTO_T_UINT32:
        *(uint32_t *)p = rd_be32(r);
        break;
    case PROTO_T_INT64:
        *(int64_t *)p = (int64_t)rd_be64(r);
        break;
    case PROTO_T_FLOAT64:
        *(double *)p = proto_read_f64(r);
        break;
    case PROTO_T_STRING:
        rc = proto_read_string(r, fx, p);
        if (rc == PROTO_OK && ((proto_str *)p)->len < 0 && !nullable)
            rc = PROTO_ERR_INVALID;
        break;
    case PROTO_T_BYTES:
    case PROTO_T_RECORDS:
        rc = proto_read_bytes(r, fx, p);
        if (rc == PROTO_OK && ((proto_bytes *)p)->len < 0 && !nullable)
            rc = PROTO_ERR_INVALID;
        break;
    case PROTO_T_UUID: {
        const uint8_t *u = rd_bytes(r, 16);
        if (u)
            memcpy(p, u, 16);
        break;
    }
    case PROTO_T_STRUCT:
        if (f->ptr) {
            void **pp = p;
            *pp = NULL;
            if (nullable) {
                int8_t marker = (int8_t)rd_u8(r);
                if (r->err)
                    return PROTO_ERR_TRUNCATED;
                if (marker < 0)
                    break;
            }
            void *s = dalloc(c, f->sub->size);
            if (!s)
                return PROTO_ERR_TOO_LARGE;
            proto_struct_init(f->sub, s);
            rc = dec_struct(r, c, f->sub, ver, flex, s);
            *pp = s;
        } else {
            rc = dec_struct(r, c, f->sub, ver, flex, p);
        }
        break;
    }
    if (rc == PROTO_OK && r->err)
        rc = PROTO_ERR_TRUNCATED;
    return rc;
}

static int dec_array(rd *r, dctx *c, const proto_field_desc *f, int16_t ver,
                     bool flex, uint8_t *base) {
    bool fx = flex && !f->flex_none;
    int32_t n;
    int rc = read_len(r, fx, true, &n);
    if (rc)
        return rc;
    int32_t *np = (int32_t *)(base + f->off);
    void **vp = (void **)(base + f->off_v);
    *vp = NULL;
    if (n < 0) {
        if (!proto_vin(f->nullable, ver))
            return PROTO_ERR_INVALID;
        *np = -1;
        return PROTO_OK;
    }
    size_t min = value_min(f, ver, flex);
    if (min == 0 ? n > PROTO_MAX_EMPTY_ELEMS : (size_t)n > rd_left(r) / min)
        return PROTO_ERR_TRUNCATED; /* a lying count */
    size_t esz = elem_size(f);
    uint8_t *v = NULL;
    if (n > 0) {
        v = dalloc(c, (size_t)n * esz);
        if (!v)
            return PROTO_ERR_TOO_LARGE;
    }
    *np = 0;
    *vp = v;
    for (int32_t i = 0; i < n; i++) {
        void *e = v + (size_t)i * esz;
        if (f->type == PROTO_T_STRUCT && !f->ptr)
            proto_struct_init(f->sub, e);
        rc = dec_value(r, c, f, ver, flex, e);
        if (rc)
            return rc;
        *np = i + 1;
    }
    return PROTO_OK;
}

static const proto_field_desc *find_tag(const proto_struct_desc *d, int16_t ver,
                                        uint32_t tag) {
    for (unsigned i = 0; i < d->nfields; i++) {
        const proto_field_desc *f = &d->fields[i];
        if (is_tagged(f, ver) && (uint32_t)f->tag == tag &&
            proto_vin(f->versions, ver))
            return f;
    }
    return NULL;
}

/* The tagged-field section of a struct: known tags into their fields,
 * unknown ones into *unknown. */
static int dec_tags(rd *r, dctx *c, const proto_struct_desc *d, int16_t ver,
                    void *out, proto_tagged_fields *unknown) {
    uint32_t cnt = rd_uvarint32(r);
    if (r->err)
        return PROTO_ERR_TRUNCATED;
    unknown->n = 0;
    unknown->v = NULL;
    if (cnt == 0)
        return PROTO_OK;
    if (cnt > rd_left(r) / 2) /* each entry takes at least 2 bytes */
        return PROTO_ERR_TRUNCATED;
    for (uint32_t i = 0; i < cnt; i++) {
        uint32_t tag = rd_uvarint32(r);
        uint32_t size = rd_uvarint32(r);
        if (r->err)
            return PROTO_ERR_TRUNCATED;
        if (size > rd_left(r)) {
            r->err = true;
            return PROTO_ERR_TRUNCATED;
        }
        const uint8_t *data = rd_bytes(r, size);
        const proto_field_desc *f = d ? find_tag(d, ver, tag) : NULL;
        if (f) {
            rd sub;
            rd_init(&sub, data, size);
            int rc = f->array ? dec_array(&sub, c, f, ver, true, out)
                              : dec_value(&sub, c, f, ver, true,
                                          (uint8_t *)out + f->off);
            if (rc == PROTO_OK && rd_left(&sub) != 0)
                rc = PROTO_ERR_INVALID; /* size disagrees with the value */
            if (rc) {
                if (!err_field)
                    err_field = f->name;
                return rc;
            }
            continue;
        }
        if (!unknown->v) {
            unknown->v = dalloc(c, (cnt - i) * sizeof(proto_tagged_field));
            if (!unknown->v)
                return PROTO_ERR_TOO_LARGE;
        }
        unknown->v[unknown->n].tag = tag;
        unknown->v[unknown->n].data = (proto_bytes){data, (int32_t)size};
        unknown->n++;
    }
    return PROTO_OK;
}

static int dec_struct(rd *r, dctx *c, const proto_struct_desc *d, int16_t ver,
                      bool flex, void *out) {
    uint8_t *base = out;
    for (unsigned i = 0; i < d->nfields; i++) {
        const proto_field_desc *f = &d->fields[i];
        if (!proto_vin(f->versions, ver) || is_tagged(f, ver))
            continue;
        int rc = f->array ? dec_array(r, c, f, ver, flex, base)
                          : dec_value(r, c, f, ver, flex, base + f->off);
        if (rc) {
            if (!err_field)
                err_field = f->name;
            return rc;
        }
    }
    if (flex)
        return dec_tags(r, c, d, ver, out,
                        (proto_tagged_fields *)(base + d->tags_off));
    return PROTO_OK;
}

/* ---- encoding -------------------------------------------------------------
 */

static void enc_struct(buf *b, const proto_struct_desc *d, int16_t ver,
                       bool flex, const void *in);

static void enc_value(buf *b, const proto_field_desc *f, int16_t ver, bool flex,
                      const void *p) {
    bool fx = flex && !f->flex_none;
    bool nullable =
        !f->array && proto_vin(f->nullable, ver); /* elements never null */
    switch (f->type) {
    case PROTO_T_BOOL:
        buf_put_u8(b, *(const bool *)p ? 1 : 0);
        break;
    case PROTO_T_INT8:
        buf_put_u8(b, (uint8_t) * (const int8_t *)p);
        break;
    case PROTO_T_INT16:
        buf_put_be16(b, (uint16_t) * (const int16_t *)p);
        break;
    case PROTO_T_UINT16:
        buf_put_be16(b, *(const uint16_t *)p);
        break;
    case PROTO_T_INT32:
        buf_put_be32(b, (uint32_t) * (const int32_t *)p);
        break;
    case PROTO_T_UINT32:
        buf_put_be32(b, *(const uint32_t *)p);
        break;
    case PROTO_T_INT64:
        buf_put_be64(b, (uint64_t) * (const int64_t *)p);
        break;
    case PROTO_T_FLOAT64:
        proto_write_f64(b, *(const double *)p);
        break;
    case PROTO_T_STRING: {
        proto_str s = *(const proto_str *)p;
        if (s.len < 0 && !nullable)
            s = (proto_str){"", 0};
        proto_write_string(b, fx, s);
        break;
    }
    case PROTO_T_BYTES:
    case PROTO_T_RECORDS: {
        proto_bytes v = *(const proto_bytes *)p;
        if (v.len < 0 && !nullable)
            v = (proto_bytes){NULL, 0};
        proto_write_bytes(b, fx, v);
        break;
    }
    case PROTO_T_UUID:
        proto_write_uuid(b, p);
        break;
    case PROTO_T_STRUCT:
        if (f->ptr) {
            const void *s = *(const void *const *)p;
            if (nullable) {
                buf_put_u8(b, s ? 1 : 0xff);
                if (s)
                    enc_struct(b, f->sub, ver, flex, s);
            } else if (s) {
                enc_struct(b, f->sub, ver, flex, s);
            } else { /* null where it may not be: write the default */
                void *tmp = xmalloc(f->sub->size);
                proto_struct_init(f->sub, tmp);
                enc_struct(b, f->sub, ver, flex, tmp);
                free(tmp);
            }
        } else {
            enc_struct(b, f->sub, ver, flex, p);
        }
        break;
    }
}

static void enc_array(buf *b, const proto_field_desc *f, int16_t ver, bool flex,
                      const uint8_t *base) {
    bool fx = flex && !f->flex_none;
    int32_t n = *(const int32_t *)(base + f->off);
    const uint8_t *v = *(const uint8_t *const *)(base + f->off_v);
    if (n < 0 && !proto_vin(f->nullable, ver))
        n = 0;
    proto_write_array_len(b, fx, n);
    size_t esz = elem_size(f);
    for (int32_t i = 0; i < n; i++)
        enc_value(b, f, ver, flex, v + (size_t)i * esz);
}

static bool struct_is_default(const proto_struct_desc *d, int16_t ver,
                              const void *in);

/* True when the field holds its spec default (tagged fields are written
 * only when they do not, as Kafka does). */
static bool field_is_default(const proto_field_desc *f, int16_t ver,
                             const uint8_t *base) {
    const void *p = base + f->off;
    if (f->array) {
        int32_t n = *(const int32_t *)p;
        return f->def_null ? n < 0 : n == 0;
    }
    switch (f->type) {
    case PROTO_T_BOOL:
        return *(const bool *)p == (f->def_int != 0);
    case PROTO_T_INT8:
        return *(const int8_t *)p == (int8_t)f->def_int;
    case PROTO_T_INT16:
        return *(const int16_t *)p == (int16_t)f->def_int;
    case PROTO_T_UINT16:
        return *(const uint16_t *)p == (uint16_t)f->def_int;
    case PROTO_T_INT32:
        return *(const int32_t *)p == (int32_t)f->def_int;
    case PROTO_T_UINT32:
        return *(const uint32_t *)p == (uint32_t)f->def_int;
    case PROTO_T_INT64:
        return *(const int64_t *)p == f->def_int;
    case PROTO_T_FLOAT64:
        return memcmp(p, &f->def_f64, sizeof(double)) == 0;
    case PROTO_T_STRING: {
        proto_str s = *(const proto_str *)p;
        if (f->def_null)
            return s.len < 0;
        return proto_str_eq(s, f->def_str ? f->def_str : "");
    }
    case PROTO_T_BYTES:
    case PROTO_T_RECORDS: {
        proto_bytes v = *(const proto_bytes *)p;
        return f->def_null ? v.len < 0 : v.len == 0;
    }
    case PROTO_T_UUID:
        return proto_uuid_is_zero(p);
    case PROTO_T_STRUCT:
        if (f->ptr)
            return *(const void *const *)p == NULL;
        return struct_is_default(f->sub, ver, p);
    }
    return true;
}

static bool struct_is_default(const proto_struct_desc *d, int16_t ver,
                              const void *in) {
    const uint8_t *base = in;
    for (unsigned i = 0; i < d->nfields; i++) {
        const proto_field_desc *f = &d->fields[i];
        if (proto_vin(f->versions, ver) && !field_is_default(f, ver, base))
            return false;
    }
    return ((const proto_tagged_fields *)(base + d->tags_off))->n <= 0;
}

static void put_tagged(buf *b, uint32_t tag, const uint8_t *p, size_t n) {
    buf_put_uvarint(b, tag);
    buf_put_uvarint(b, n);
    buf_put(b, p, n);
}

static void enc_known_tag(buf *b, const proto_field_desc *f, int16_t ver,
                          const uint8_t *base) {
    buf tmp;
    buf_init(&tmp, 64);
    if (f->array)
        enc_array(&tmp, f, ver, true, base);
    else
        enc_value(&tmp, f, ver, true, base + f->off);
    put_tagged(b, (uint32_t)f->tag, tmp.data, tmp.len);
    buf_free(&tmp);
}

#define MAX_TAGGED 64

static void enc_struct(buf *b, const proto_struct_desc *d, int16_t ver,
                       bool flex, const void *in) {
    const uint8_t *base = in;
    const proto_field_desc *known[MAX_TAGGED];
    int nk = 0;
    for (unsigned i = 0; i < d->nfields; i++) {
        const proto_field_desc *f = &d->fields[i];
        if (!proto_vin(f->versions, ver))
            continue;
        if (is_tagged(f, ver)) {
            if (flex && !field_is_default(f, ver, base)) {
                SL_ASSERT(nk < MAX_TAGGED);
                /* insertion sort by tag */
                int j = nk++;
                while (j > 0 && known[j - 1]->tag > f->tag) {
                    known[j] = known[j - 1];
                    j--;
                }
                known[j] = f;
            }
            continue;
        }
        if (f->array)
            enc_array(b, f, ver, flex, base);
        else
            enc_value(b, f, ver, flex, base + f->off);
    }
    if (!flex)
        return;
    const proto_tagged_fields *unk =
        (const proto_tagged_fields *)(base + d->tags_off);
    int32_t nu = unk->n > 0 ? unk->n : 0;
    buf_put_uvarint(b, (uint64_t)nk + (uint64_t)nu);
    int i = 0;
    int32_t j = 0;
    while (i < nk || j < nu) {
        if (j < nu && (i >= nk || unk->v[j].tag < (uint32_t)known[i]->tag)) {
            const proto_bytes *data = &unk->v[j].data;
            put_tagged(b, unk->v[j].tag, data->p,
                       data->len > 0 ? (size_t)data->len : 0);
            j++;
        } else {
            enc_known_tag(b, known[i], ver, base);
            i++;
        }
    }
}

/* Non-ignorable fields absent at ver must hold their defaults; recurse
 * into the structs and arrays that are present. */
static const char *lossy_struct(const proto_struct_desc *d, int16_t ver,
                                const void *in) {
    const uint8_t *base = in;
    for (unsigned i = 0; i < d->nfields; i++) {
        const proto_field_desc *f = &d->fields[i];
        if (!proto_vin(f->versions, ver)) {
            if (!f->ignorable && !field_is_default(f, ver, base))
                return f->name;
            continue;
        }
        if (f->type != PROTO_T_STRUCT)
            continue;
        if (f->array) {
            int32_t n = *(const int32_t *)(base + f->off);
            const uint8_t *v = *(const uint8_t *const *)(base + f->off_v);
            for (int32_t j = 0; j < n; j++) {
                const char *bad =
                    lossy_struct(f->sub, ver, v + (size_t)j * f->sub->size);
                if (bad)
                    return bad;
            }
        } else {
            const void *s =
                f->ptr ? *(const void *const *)(base + f->off) : base + f->off;
            const char *bad = s ? lossy_struct(f->sub, ver, s) : NULL;
            if (bad)
                return bad;
        }
    }
    return NULL;
}

const char *proto_msg_lossy_field(const proto_msg_desc *m, int16_t ver,
                                  const void *msg) {
    return lossy_struct(m->root, ver, msg);
}

/* ---- entry points -----------------------------------------------------------
 */

static void dctx_init(dctx *c, arena *a, const rd *r) {
    c->a = a;
    c->budget = rd_left(r) * PROTO_ALLOC_FACTOR + PROTO_ALLOC_SLACK;
}

int proto_struct_decode(const proto_struct_desc *d, rd *r, arena *a,
                        int16_t ver, bool flexible, void *out) {
    dctx c;
    dctx_init(&c, a, r);
    err_field = NULL;
    proto_struct_init(d, out);
    int rc =
        r->err ? PROTO_ERR_TRUNCATED : dec_struct(r, &c, d, ver, flexible, out);
    if (rc == PROTO_OK && r->err)
        rc = PROTO_ERR_TRUNCATED;
    if (rc)
        r->err = true;
    return rc;
}

int proto_msg_decode(const proto_msg_desc *m, rd *r, arena *a, int16_t ver,
                     void *out) {
    if (!proto_vin(m->valid, ver)) {
        r->err = true;
        return PROTO_ERR_VERSION;
    }
    return proto_struct_decode(m->root, r, a, ver, proto_msg_flexible(m, ver),
                               out);
}

void proto_struct_encode(const proto_struct_desc *d, buf *b, int16_t ver,
                         bool flexible, const void *in) {
    enc_struct(b, d, ver, flexible, in);
}

void proto_msg_encode(const proto_msg_desc *m, buf *b, int16_t ver,
                      const void *in) {
    SL_ASSERT(proto_vin(m->valid, ver));
    enc_struct(b, m->root, ver, proto_msg_flexible(m, ver), in);
}

/* Tag sections with no known fields (request/response headers). */
int proto_read_tags(rd *r, arena *a, proto_tagged_fields *out) {
    dctx c;
    dctx_init(&c, a, r);
    int rc = dec_tags(r, &c, NULL, 0, NULL, out);
    if (rc)
        r->err = true;
    return rc;
}

void proto_write_tags(buf *b, const proto_tagged_fields *t) {
    int32_t n = t && t->n > 0 ? t->n : 0;
    buf_put_uvarint(b, (uint64_t)n);
    for (int32_t i = 0; i < n; i++)
        put_tagged(b, t->v[i].tag, t->v[i].data.p,
                   t->v[i].data.len > 0 ? (size_t)t->v[i].data.len : 0);
}
