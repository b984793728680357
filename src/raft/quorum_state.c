/*
 * quorum_state.c - the quorum-state file (see quorum_state.h): a writer
 * that prints what Jackson prints for Kafka's QuorumStateData, and a small
 * strict reader for that one flat object.
 */
#include "raft/quorum_state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/uuid.h"
#include "log/log.h"

void raft_qstate_json(buf *out, const raft_qstate *qs, int version,
                      const raft_voters *voters) {
    int32_t voted = qs->voted.id;
    if (version == 0) {
        buf_printf(out,
                   "{\"clusterId\":\"\",\"leaderId\":%d,\"leaderEpoch\":%d,"
                   "\"votedId\":%d,\"appliedOffset\":0,\"currentVoters\":[",
                   qs->leader_id, qs->epoch, voted);
        for (int i = 0; voters && i < voters->n; i++)
            buf_printf(out, "%s{\"voterId\":%d}", i ? "," : "",
                       voters->v[i].id);
        buf_printf(out, "],\"data_version\":0}");
        return;
    }
    char dir[UUID_STR_LEN + 1];
    uint8_t zero[16] = {0};
    uuid_to_string(voted >= 0 ? qs->voted.dir : zero, dir);
    buf_printf(out,
               "{\"leaderId\":%d,\"leaderEpoch\":%d,\"votedId\":%d,"
               "\"votedDirectoryId\":\"%s\",\"data_version\":1}",
               qs->leader_id, qs->epoch, voted, dir);
}

/* ---- reader ---------------------------------------------------------------
 */

typedef struct jp {
    const char *p, *end;
} jp;

static void ws(jp *j) {
    while (j->p < j->end &&
           (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
        j->p++;
}

static bool lit(jp *j, char c) {
    ws(j);
    if (j->p < j->end && *j->p == c) {
        j->p++;
        return true;
    }
    return false;
}

/* A string without escapes (none of Kafka's values has any) into out. */
static bool str(jp *j, char *out, size_t cap) {
    if (!lit(j, '"'))
        return false;
    size_t n = 0;
    while (j->p < j->end && *j->p != '"') {
        if (*j->p == '\\' || (unsigned char)*j->p < 0x20 || n + 1 >= cap)
            return false;
        out[n++] = *j->p++;
    }
    if (j->p >= j->end)
        return false;
    j->p++;
    out[n] = 0;
    return true;
}

static bool num(jp *j, long long *v) {
    ws(j);
    char tmp[32];
    size_t n = 0;
    while (j->p < j->end && n + 1 < sizeof tmp &&
           ((*j->p >= '0' && *j->p <= '9') || *j->p == '-'))
        tmp[n++] = *j->p++;
    if (n == 0 || n + 1 >= sizeof tmp)
        return false;
    tmp[n] = 0;
    char *e;
    errno = 0;
    *v = strtoll(tmp, &e, 10);
    return *e == 0 && errno == 0;
}

static bool int32v(jp *j, int32_t *out) {
    long long v;
    if (!num(j, &v) || v < INT32_MIN || v > INT32_MAX)
        return false;
    *out = (int32_t)v;
    return true;
}

/* currentVoters: [{"voterId":N},...] or null; the ids are not needed
 * (the configured voters are the set), only checked to be well formed. */
static bool voters_v(jp *j) {
    ws(j);
    if (j->end - j->p >= 4 && !memcmp(j->p, "null", 4)) {
        j->p += 4;
        return true;
    }
    if (!lit(j, '['))
        return false;
    if (lit(j, ']'))
        return true;
    for (int k = 0; k < 1024; k++) {
        char key[32];
        int32_t id;
        if (!lit(j, '{') || !str(j, key, sizeof key) ||
            strcmp(key, "voterId") || !lit(j, ':') || !int32v(j, &id) ||
            !lit(j, '}'))
            return false;
        if (lit(j, ']'))
            return true;
        if (!lit(j, ','))
            return false;
    }
    return false;
}

bool raft_qstate_parse(const char *text, size_t n, raft_qstate *out,
                       int *version, char *err, size_t errlen) {
    jp j = {text, text + n};
    raft_qstate qs = {.epoch = -1, .leader_id = -1, .voted = {.id = -1}};
    int ver = -1;
    bool have_epoch = false;
    if (!lit(&j, '{'))
        goto bad;
    if (!lit(&j, '}'))
        for (;;) {
            char key[64];
            if (!str(&j, key, sizeof key) || !lit(&j, ':'))
                goto bad;
            if (!strcmp(key, "leaderId")) {
                if (!int32v(&j, &qs.leader_id))
                    goto bad;
            } else if (!strcmp(key, "leaderEpoch")) {
                if (!int32v(&j, &qs.epoch))
                    goto bad;
                have_epoch = true;
            } else if (!strcmp(key, "votedId")) {
                if (!int32v(&j, &qs.voted.id))
                    goto bad;
            } else if (!strcmp(key, "votedDirectoryId")) {
                char s[64];
                if (!str(&j, s, sizeof s) ||
                    !uuid_parse(s, qs.voted.dir, NULL, 0))
                    goto bad;
            } else if (!strcmp(key, "clusterId")) {
                char s[128];
                if (!str(&j, s, sizeof s))
                    goto bad;
            } else if (!strcmp(key, "appliedOffset")) {
                long long v;
                if (!num(&j, &v))
                    goto bad;
            } else if (!strcmp(key, "currentVoters")) {
                if (!voters_v(&j))
                    goto bad;
            } else if (!strcmp(key, "data_version")) {
                int32_t v;
                if (!int32v(&j, &v))
                    goto bad;
                ver = v;
            } else {
                goto bad; /* Kafka's converter rejects no field, but a
                             value we cannot skip safely is not ours */
            }
            if (lit(&j, '}'))
                break;
            if (!lit(&j, ','))
                goto bad;
        }
    ws(&j);
    if (j.p != j.end)
        goto bad;
    if (ver < 0) {
        snprintf(err, errlen,
                 "Error while reading the Quorum status from the file: it "
                 "does not have data_version field");
        return false;
    }
    if (ver > 1) {
        snprintf(err, errlen,
                 "data_version (%d) is not within the min (0) and max (1) "
                 "supported version",
                 ver);
        return false;
    }
    if (!have_epoch || qs.epoch < 0) {
        snprintf(err, errlen, "quorum state without a leader epoch");
        return false;
    }
    if (qs.voted.id < 0) {
        qs.voted.id = RAFT_NO_ID;
        memset(qs.voted.dir, 0, 16);
    }
    if (qs.leader_id < 0)
        qs.leader_id = RAFT_NO_ID;
    *out = qs;
    if (version)
        *version = ver;
    return true;
bad:
    snprintf(err, errlen,
             "Error while reading the Quorum status from the file: malformed "
             "JSON near byte %zu",
             (size_t)(j.p - text));
    return false;
}

bool raft_qstate_write(const log_io *io, const char *dir, const raft_qstate *qs,
                       int version, const raft_voters *voters, char *err,
                       size_t errlen) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, RAFT_QSTATE_FILE);
    buf b;
    buf_init(&b, 256);
    raft_qstate_json(&b, qs, version, voters);
    bool ok = log_io_write_atomic(io, path, b.data, b.len);
    if (!ok)
        snprintf(err, errlen,
                 "Error while writing the Quorum status from the file %s: %s",
                 path, strerror(errno));
    buf_free(&b);
    return ok;
}

int raft_qstate_read(const log_io *io, const char *dir, raft_qstate *out,
                     char *err, size_t errlen) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, RAFT_QSTATE_FILE);
    if (!log_io_exists(io, path))
        return 0;
    size_t n;
    uint8_t *data = log_io_read_file(io, path, 1 << 16, &n);
    if (!data) {
        snprintf(err, errlen,
                 "Error while reading the Quorum status from the file %s: %s",
                 path, strerror(errno));
        return -1;
    }
    char msg[256];
    bool ok =
        raft_qstate_parse((const char *)data, n, out, NULL, msg, sizeof msg);
    free(data);
    if (!ok) {
        snprintf(err, errlen, "%s (%s)", msg, path);
        return -1;
    }
    return 1;
}
