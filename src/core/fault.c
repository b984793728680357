/*
 * fault.c - the registry of named fault points (fault.h, faults.def).
 */
#include "core/fault.h"

#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "core/env.h"
#include "core/list.h"
#include "core/log.h"

static const char *const names[SL_FAULT_COUNT] = {
#define SL_FAULT_POINT(id, name, doc) [SL_FAULT_##id] = name,
#include "core/faults.def"
#undef SL_FAULT_POINT
};

int sl_faults_armed;
static sl_faults process_faults;

static sl_faults *registry(sl_faults *f) {
    return f ? f : &process_faults;
}

int sl_fault_lookup(const char *name) {
    for (int i = 0; i < SL_FAULT_COUNT; i++)
        if (!strcmp(names[i], name))
            return i;
    return -1;
}

const char *sl_fault_name(sl_fault_id id) {
    return (unsigned)id < SL_FAULT_COUNT ? names[id] : "?";
}

void sl_fault_arm(sl_faults *f, sl_fault_id id, int64_t nth) {
    SL_ASSERT((unsigned)id < SL_FAULT_COUNT);
    f = registry(f);
    bool was = f->armed[id] != 0, now = nth != 0;
    f->armed[id] = nth;
    sl_faults_armed += (int)now - (int)was;
}

void sl_fault_reset(sl_faults *f) {
    f = registry(f);
    for (int i = 0; i < SL_FAULT_COUNT; i++) {
        sl_fault_arm(f, (sl_fault_id)i, 0);
        f->hits[i] = f->fired[i] = 0;
    }
}

int sl_fault_arm_list(sl_faults *f, const char *list, char *err,
                      size_t errlen) {
    list_iter it = list_start(list, true);
    const char *p;
    size_t len;
    while (list_next(&it, &p, &len)) {
        char one[128];
        if (len >= sizeof one) {
            snprintf(err, errlen, "fault point name too long: %.*s", (int)len,
                     p);
            return -1;
        }
        memcpy(one, p, len);
        one[len] = 0;
        int64_t nth = 1;
        char *at = strchr(one, '@');
        if (at) {
            *at = 0;
            char *end;
            nth = strtoll(at + 1, &end, 10);
            if (end == at + 1 || *end || nth < -1) {
                snprintf(err, errlen, "bad count in fault point %s@%s", one,
                         at + 1);
                return -1;
            }
        }
        int id = sl_fault_lookup(one);
        if (id < 0) {
            snprintf(err, errlen, "unknown fault point %s", one);
            return -1;
        }
        sl_fault_arm(f, (sl_fault_id)id, nth);
    }
    return 0;
}

bool sl_fault_hit_(sl_fault_id id) {
    sl_faults *f = registry(sl_env_cur()->faults);
    int64_t a = f->armed[id];
    if (!a)
        return false;
    f->hits[id]++;
    if (a > 1) {
        f->armed[id] = a - 1;
        return false;
    }
    if (a == 1)
        sl_fault_arm(f, id, 0);
    f->fired[id]++;
    if (f->on_fire) {
        f->on_fire(f->ctx, id);
        return true;
    }
    SL_WARN("fault", "fault point %s fired: killing the process", names[id]);
    fflush(NULL);
    raise(SIGKILL);
    return true;
}
