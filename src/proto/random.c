/*
 * random.c - fill any generated message with random values that are valid
 * for one version (see proto_random_fill in proto.h). Drives the round-trip
 * tests over every (api, version, direction) and builds fuzz seeds.
 */
#include <string.h>

#include "core/clock.h"
#include "proto/proto.h"

static void fill_struct(const proto_struct_desc *d, int16_t ver, bool flex,
                        rng *r, arena *a, void *out, int depth);

static bool one_in(rng *r, uint64_t n) {
    return rng_below(r, n) == 0;
}

static int64_t rand_int(rng *r) {
    switch (rng_below(r, 5)) {
    case 0:
        return 0;
    case 1:
        return -1;
    case 2:
        return (int64_t)rng_below(r, 100);
    default:
        return (int64_t)rng_next(r);
    }
}

static const uint8_t *rand_blob(rng *r, arena *a, int32_t *len, bool text) {
    int32_t n = (int32_t)rng_below(r, 13);
    uint8_t *p = arena_alloc(a, (size_t)n + 1);
    for (int32_t i = 0; i < n; i++)
        p[i] = text ? (uint8_t)('a' + rng_below(r, 26)) : (uint8_t)rng_next(r);
    p[n] = 0;
    *len = n;
    return p;
}

static void fill_value(const proto_field_desc *f, int16_t ver, bool flex,
                       rng *r, arena *a, void *p, int depth) {
    bool nullable =
        !f->array && proto_vin(f->nullable, ver); /* elements never null */
    int64_t v = rand_int(r);
    switch (f->type) {
    case PROTO_T_BOOL:
        *(bool *)p = rng_below(r, 2);
        break;
    case PROTO_T_INT8:
        *(int8_t *)p = (int8_t)v;
        break;
    case PROTO_T_INT16:
        *(int16_t *)p = (int16_t)v;
        break;
    case PROTO_T_UINT16:
        *(uint16_t *)p = (uint16_t)v;
        break;
    case PROTO_T_INT32:
        *(int32_t *)p = (int32_t)v;
        break;
    case PROTO_T_UINT32:
        *(uint32_t *)p = (uint32_t)v;
        break;
    case PROTO_T_INT64:
        *(int64_t *)p = v;
        break;
    case PROTO_T_FLOAT64: {
        double d = (double)(int32_t)v / 8.0;
        *(double *)p = d;
        break;
    }
    case PROTO_T_STRING: {
        proto_str *s = p;
        if (nullable && one_in(r, 5)) {
            *s = PROTO_STR_NULL;
            break;
        }
        s->p = (const char *)rand_blob(r, a, &s->len, true);
        break;
    }
    case PROTO_T_BYTES:
    case PROTO_T_RECORDS: {
        proto_bytes *b = p;
        if (nullable && one_in(r, 5)) {
            *b = PROTO_BYTES_NULL;
            break;
        }
        b->p = rand_blob(r, a, &b->len, false);
        break;
    }
    case PROTO_T_UUID:
        for (int i = 0; i < 16; i++)
            ((proto_uuid *)p)->b[i] = (uint8_t)rng_next(r);
        break;
    case PROTO_T_STRUCT:
        if (f->ptr) {
            void **pp = p;
            if (nullable && one_in(r, 3)) {
                *pp = NULL;
                break;
            }
            *pp = arena_alloc(a, f->sub->size);
            fill_struct(f->sub, ver, flex, r, a, *pp, depth + 1);
        } else {
            fill_struct(f->sub, ver, flex, r, a, p, depth + 1);
        }
        break;
    }
}

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
    default:
        return f->ptr ? sizeof(void *) : f->sub->size;
    }
}

static void fill_field(const proto_field_desc *f, int16_t ver, bool flex,
                       rng *r, arena *a, uint8_t *base, int depth) {
    if (!f->array) {
        fill_value(f, ver, flex, r, a, base + f->off, depth);
        return;
    }
    int32_t *np = (int32_t *)(base + f->off);
    void **vp = (void **)(base + f->off_v);
    if (proto_vin(f->nullable, ver) && one_in(r, 5)) {
        *np = -1;
        *vp = NULL;
        return;
    }
    int32_t n = (int32_t)rng_below(r, depth >= 2 ? 2 : 4);
    size_t esz = elem_size(f);
    uint8_t *v = arena_calloc(a, (size_t)n + 1, esz);
    for (int32_t i = 0; i < n; i++)
        fill_value(f, ver, flex, r, a, v + (size_t)i * esz, depth + 1);
    *np = n;
    *vp = v;
}

static bool tag_known(const proto_struct_desc *d, uint32_t tag) {
    for (unsigned i = 0; i < d->nfields; i++)
        if (d->fields[i].tag >= 0 && (uint32_t)d->fields[i].tag == tag)
            return true;
    return false;
}

static void fill_struct(const proto_struct_desc *d, int16_t ver, bool flex,
                        rng *r, arena *a, void *out, int depth) {
    uint8_t *base = out;
    proto_struct_init(d, out);
    for (unsigned i = 0; i < d->nfields; i++) {
        const proto_field_desc *f = &d->fields[i];
        if (!proto_vin(f->versions, ver))
            continue;
        if (f->tag >= 0 && proto_vin(f->tagged, ver) && one_in(r, 3))
            continue; /* leave a tagged field at its default (not written) */
        fill_field(f, ver, flex, r, a, base, depth);
    }
    if (!flex || !one_in(r, 3))
        return;
    /* unknown tags, ascending, not clashing with known ones */
    proto_tagged_fields *t = (proto_tagged_fields *)(base + d->tags_off);
    int n = 1 + (int)rng_below(r, 2);
    t->v = arena_calloc(a, (size_t)n, sizeof(proto_tagged_field));
    t->n = 0;
    uint32_t tag = (uint32_t)rng_below(r, 3);
    for (int i = 0; i < n; i++) {
        while (tag_known(d, tag))
            tag++;
        proto_tagged_field *tf = &t->v[t->n++];
        tf->tag = tag;
        tf->data.p = rand_blob(r, a, &tf->data.len, false);
        tag += 1 + (uint32_t)rng_below(r, 3);
    }
}

void proto_random_fill(const proto_msg_desc *m, int16_t ver, rng *r, arena *a,
                       void *out) {
    fill_struct(m->root, ver, proto_msg_flexible(m, ver), r, a, out, 0);
}
