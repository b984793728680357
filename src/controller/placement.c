/*
 * placement.c - Kafka's striped replica placer (placement.h).
 *
 * Kafka's RackList/Rack/BrokerList, in arrays: racks sorted by name (no
 * rack first), each with its sorted unfenced and fenced broker lists; a
 * list hands out each of its brokers once per iteration epoch, from an
 * offset that advances by one at every new epoch.
 */
#include "controller/placement.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/util.h"
#include "proto/errors.h"

typedef struct blist {
    int32_t *ids;
    int n;
    int index, offset, epoch;
} blist;

typedef struct rack {
    const char *name; /* NULL: no rack */
    blist unfenced, fenced;
} rack;

typedef struct racks {
    rack *v;
    int n;
    int n_total, n_unfenced;
    int epoch, offset;
} racks;

static uint32_t rnd_below(uint32_t n) {
    uint32_t x;
    rng_os_bytes(&x, sizeof x);
    return n ? x % n : 0;
}

static int cmp_id(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static int cmp_rack_name(const char *a, const char *b) {
    if (!a)
        return b ? -1 : 0;
    if (!b)
        return 1;
    return strcmp(a, b);
}

static int cmp_rack(const void *a, const void *b) {
    return cmp_rack_name(((const rack *)a)->name, ((const rack *)b)->name);
}

static void blist_init(blist *l) {
    if (l->n) {
        qsort(l->ids, (size_t)l->n, sizeof *l->ids, cmp_id);
        l->offset = (int)rnd_below((uint32_t)l->n);
    }
}

static void blist_shuffle(blist *l) {
    for (int i = l->n - 1; i > 0; i--) {
        int j = (int)rnd_below((uint32_t)i + 1);
        int32_t t = l->ids[i];
        l->ids[i] = l->ids[j];
        l->ids[j] = t;
    }
}

/* The next broker of this epoch, or -1 once all were handed out. */
static int32_t blist_next(blist *l, int epoch) {
    if (!l->n)
        return -1;
    if (l->epoch != epoch) {
        l->epoch = epoch;
        l->index = 0;
        l->offset = (l->offset + 1) % l->n;
    }
    if (l->index >= l->n)
        return -1;
    return l->ids[(l->index++ + l->offset) % l->n];
}

static int32_t rack_next(rack *r, int epoch) {
    int32_t b = blist_next(&r->unfenced, epoch);
    return b >= 0 ? b : blist_next(&r->fenced, epoch);
}

static void racks_build(racks *rl, const cl_image *img) {
    size_t nb;
    const cl_broker *bs = cl_brokers(img, &nb);
    memset(rl, 0, sizeof *rl);
    rl->v = xcalloc(nb ? nb : 1, sizeof *rl->v);
    for (size_t i = 0; i < nb; i++) {
        if (bs[i].in_controlled_shutdown)
            continue; /* not usable (BrokerHeartbeatManager.usableBrokers) */
        rack *r = NULL;
        for (int k = 0; k < rl->n && !r; k++)
            if (!cmp_rack_name(rl->v[k].name, bs[i].rack))
                r = &rl->v[k];
        if (!r) {
            r = &rl->v[rl->n++];
            r->name = bs[i].rack;
            r->unfenced.ids = xcalloc(nb, sizeof(int32_t));
            r->fenced.ids = xcalloc(nb, sizeof(int32_t));
        }
        blist *l = bs[i].fenced ? &r->fenced : &r->unfenced;
        l->ids[l->n++] = bs[i].id;
        rl->n_unfenced += !bs[i].fenced;
        rl->n_total++;
    }
    for (int k = 0; k < rl->n; k++) {
        blist_init(&rl->v[k].fenced);
        blist_init(&rl->v[k].unfenced);
    }
    qsort(rl->v, (size_t)rl->n, sizeof *rl->v, cmp_rack);
    rl->offset = rl->n ? (int)rnd_below((uint32_t)rl->n) : 0;
}

static void racks_free(racks *rl) {
    for (int k = 0; k < rl->n; k++) {
        free(rl->v[k].unfenced.ids);
        free(rl->v[k].fenced.ids);
    }
    free(rl->v);
}

static void racks_shuffle(racks *rl) {
    for (int i = rl->n - 1; i > 0; i--) {
        int j = (int)rnd_below((uint32_t)i + 1);
        rack t = rl->v[i];
        rl->v[i] = rl->v[j];
        rl->v[j] = t;
    }
    for (int k = 0; k < rl->n; k++) {
        blist_shuffle(&rl->v[k].fenced);
        blist_shuffle(&rl->v[k].unfenced);
    }
}

/* One partition (RackList.place): the leader from the first rack, starting
 * at the offset, that has an unfenced broker left; the other replicas from
 * the racks in turn from the offset, skipping the leader's rack once. */
static void racks_place(racks *rl, int16_t rf, int32_t *out) {
    if (rl->epoch == rl->n_unfenced && rl->n_unfenced > 1) {
        racks_shuffle(rl);
        rl->epoch = 0;
    }
    if (rl->offset == rl->n)
        rl->offset = 0;
    int first = rl->offset;
    for (;;) {
        int32_t b = blist_next(&rl->v[first].unfenced, rl->epoch);
        if (b >= 0) {
            out[0] = b;
            break;
        }
        if (++first == rl->n)
            first = 0;
    }
    int idx = rl->offset;
    for (int16_t r = 1; r < rf; r++) {
        int32_t b = -1;
        do {
            if (idx == first)
                first = -1;
            else
                b = rack_next(&rl->v[idx], rl->epoch);
            if (++idx == rl->n)
                idx = 0;
        } while (b < 0);
        out[r] = b;
    }
    rl->epoch++;
    rl->offset++;
}

int16_t ctl_place_replicas(const cl_image *img, int32_t n_parts, int16_t rf,
                           int32_t *out, char *msg, size_t msglen) {
    if (rf <= 0) {
        snprintf(msg, msglen,
                 "Invalid replication factor %d: the replication factor must "
                 "be positive.",
                 rf);
        return KERR_INVALID_REPLICATION_FACTOR;
    }
    racks rl;
    racks_build(&rl, img);
    int16_t e = KERR_NONE;
    if (rl.n_unfenced == 0) {
        snprintf(msg, msglen,
                 "All brokers are currently fenced, or have all their log "
                 "directories cordoned.");
        e = KERR_INVALID_REPLICATION_FACTOR;
    } else if (rf > rl.n_total) {
        snprintf(msg, msglen,
                 "The target replication factor of %d cannot be reached "
                 "because only %d broker(s) are registered or some brokers "
                 "have all their log directories cordoned.",
                 rf, rl.n_total);
        e = KERR_INVALID_REPLICATION_FACTOR;
    } else {
        for (int32_t p = 0; p < n_parts; p++)
            racks_place(&rl, rf, out + (size_t)p * (size_t)rf);
    }
    racks_free(&rl);
    return e;
}

bool ctl_broker_active(const cl_image *img, int32_t id) {
    const cl_broker *b = cl_broker_find(img, id);
    return b && !b->fenced && !b->in_controlled_shutdown;
}

int16_t ctl_active_replicas(const cl_image *img, const int32_t *replicas,
                            int16_t rf, int32_t *isr) {
    int16_t n = 0;
    for (int16_t r = 0; r < rf; r++)
        if (ctl_broker_active(img, replicas[r]))
            isr[n++] = replicas[r];
    return n;
}
