/*
 * tool_quorum.c - kafka-metadata-quorum.sh add-controller and
 * remove-controller (AddRaftVoter / RemoveRaftVoter), with Kafka 4.3.1's
 * MetadataQuorumCommand checks and messages. add-controller reads the new
 * controller's configuration from --command-config (node.id,
 * process.roles, metadata.log.dir or the first log.dirs entry and its
 * meta.properties directory.id, controller.listener.names, listeners /
 * advertised.listeners).
 */
#include "tools/tool_quorum.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/list.h"
#include "core/util.h"

/* Kafka's TerseException: the message on stderr, exit 1. */
static int terse(const char *fmt, const char *arg) {
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return 1;
}

/* Prints an admin call's failure as Kafka's tool does (the exception's
 * message line; Java adds its stack trace after it). */
static int call_failed(int16_t e, const char *msg) {
    fprintf(stderr, "%s: %s\n", tool_java_exception(e),
            msg ? msg : tool_error_message(e));
    return 1;
}

typedef struct lep {
    char name[128], host[256];
    int port;
} lep;

/* SocketServerConfigs.listenerListToEndPoints for one CSV list; later
 * lists override earlier entries of the same listener. */
static void parse_listeners(const char *csv, lep *v, int *n, int cap) {
    list_iter it = list_start(csv, true);
    const char *item;
    size_t len;
    while (list_next(&it, &item, &len)) {
        char t[512];
        if (len >= sizeof t)
            continue;
        memcpy(t, item, len);
        t[len] = 0;
        char *sep = strstr(t, "://");
        if (!sep)
            continue;
        lep e = {{0}, {0}, 0};
        size_t nl = (size_t)(sep - t);
        if (nl >= sizeof e.name)
            continue;
        for (size_t i = 0; i < nl; i++)
            e.name[i] = (char)(t[i] >= 'a' && t[i] <= 'z' ? t[i] - 32 : t[i]);
        char *hp = sep + 3;
        char *colon = strrchr(hp, ':');
        if (!colon)
            continue;
        *colon = 0;
        if (*hp == '[' && colon > hp && colon[-1] == ']') {
            colon[-1] = 0;
            hp++;
        }
        snprintf(e.host, sizeof e.host, "%s", *hp ? hp : "localhost");
        e.port = atoi(colon + 1);
        int k = 0;
        while (k < *n && strcmp(v[k].name, e.name))
            k++;
        if (k == *n) {
            if (*n == cap)
                continue;
            (*n)++;
        }
        v[k] = e;
    }
}

int tool_quorum_add_controller(tool_args *a, kc_conn *kc) {
    const char *path = tool_get(a, "command-config");
    tool_props p = {0};
    int rc = 1;
    if (!tool_props_load(&p, path))
        return 1;
    const char *nid = tool_props_get(&p, "node.id");
    int64_t id;
    const char *roles = tool_props_get(&p, "process.roles");
    const char *dir = tool_props_get(&p, "metadata.log.dir");
    char first[4096] = "";
    uint8_t dirid[16];
    char dirid_s[23];
    lep eps[32];
    int neps = 0;
    kc_endpoint req[32];
    int nreq = 0;
    if (!nid) {
        rc = terse("node.id not found in configuration file. Is this a valid "
                   "controller configuration file?%s",
                   "");
        goto out;
    }
    if (!tool_parse_i64(nid, &id) || id > INT32_MAX) {
        fprintf(stderr, "For input string: \"%s\"\n", nid);
        goto out;
    }
    if (id < 0) {
        rc = terse("node.id was negative in configuration file. Is this a "
                   "valid controller configuration file?%s",
                   "");
        goto out;
    }
    if (!roles || !strstr(roles, "controller")) {
        rc = terse("process.roles did not contain 'controller' in "
                   "configuration file. Is this a valid controller "
                   "configuration file?%s",
                   "");
        goto out;
    }
    if (!dir) {
        const char *ld = tool_props_get(&p, "log.dirs");
        if (ld) {
            while (*ld == ' ')
                ld++;
            size_t n = strcspn(ld, ",");
            while (n && ld[n - 1] == ' ')
                n--;
            snprintf(first, sizeof first, "%.*s", (int)n, ld);
            dir = first;
        }
    }
    if (!dir) {
        rc = terse("Neither metadata.log.dir nor log.dirs were found. Is this "
                   "a valid controller configuration file?%s",
                   "");
        goto out;
    }
    {
        char mp[4200];
        snprintf(mp, sizeof mp, "%s/meta.properties", dir);
        tool_props meta = {0};
        struct stat st;
        if (stat(mp, &st) != 0) {
            rc = terse("Unable to read meta.properties from %s", dir);
            goto out;
        }
        if (!tool_props_load(&meta, mp)) {
            rc = terse("Unable to read meta.properties from %s", dir);
            goto out;
        }
        const char *d = tool_props_get(&meta, "directory.id");
        char err[256];
        bool ok = d && uuid_parse(d, dirid, err, sizeof err);
        tool_props_free(&meta);
        if (!ok) {
            rc = terse("No directory id found in %s", dir);
            goto out;
        }
        uuid_to_string(dirid, dirid_s);
    }
    parse_listeners(tool_props_get(&p, "listeners"), eps, &neps, 32);
    parse_listeners(tool_props_get(&p, "advertised.listeners"), eps, &neps, 32);
    const char *cln = tool_props_get(&p, "controller.listener.names");
    if (!cln) {
        rc = terse("controller.listener.names was not found. Is this a valid "
                   "controller configuration file?%s",
                   "");
        goto out;
    }
    {
        char *s = xstrdup(cln), *save = NULL;
        bool bad = false;
        for (char *t = strtok_r(s, ",", &save); t && !bad;
             t = strtok_r(NULL, ",", &save)) {
            for (char *c = t; *c; c++)
                if (*c >= 'a' && *c <= 'z')
                    *c = (char)(*c - 32);
            int k = 0;
            while (k < neps && strcmp(eps[k].name, t))
                k++;
            if (k == neps) {
                terse("Cannot find information about controller listener "
                      "name: %s",
                      t);
                bad = true;
                break;
            }
            bool dup = false;
            for (int j = 0; j < nreq; j++)
                dup |= !strcmp(req[j].listener, eps[k].name);
            if (!dup && nreq < 32)
                req[nreq++] =
                    (kc_endpoint){eps[k].name, eps[k].host, eps[k].port};
        }
        free(s);
        if (bad)
            goto out;
    }
    if (!tool_has(a, "dry-run")) {
        int16_t e;
        char *msg = NULL;
        if (!kc_add_raft_voter(kc, (int32_t)id, dirid, req, nreq, &e, &msg)) {
            fprintf(stderr, "org.apache.kafka.common.errors.TimeoutException: "
                            "AddRaftVoter request failed\n");
            goto out;
        }
        if (e) {
            rc = call_failed(e, msg);
            free(msg);
            goto out;
        }
        free(msg);
    }
    printf("%s controller %lld with directory id %s and endpoints: ",
           tool_has(a, "dry-run") ? "DRY RUN of adding" : "Added",
           (long long)id, dirid_s);
    for (int i = 0; i < nreq; i++) {
        bool v6 = strchr(req[i].host, ':') != NULL;
        printf("%s%s://%s%s%s:%d", i ? ", " : "", req[i].listener,
               v6 ? "[" : "", req[i].host, v6 ? "]" : "", req[i].port);
    }
    printf("\n");
    rc = 0;
out:
    tool_props_free(&p);
    return rc;
}

int tool_quorum_remove_controller(tool_args *a, kc_conn *kc) {
    int64_t id;
    const char *ids = tool_get(a, "controller-id");
    if (!tool_parse_i64(ids, &id) || id < INT32_MIN || id > INT32_MAX) {
        fprintf(stderr,
                "kafka-metadata-quorum remove-controller: error: argument "
                "--controller-id/-i: could not convert '%s' to Integer\n",
                ids);
        return 1;
    }
    if (id < 0) {
        fprintf(stderr, "Invalid negative --controller-id: %lld\n",
                (long long)id);
        return 1;
    }
    uint8_t dir[16];
    char err[256], ds[23];
    if (!uuid_parse(tool_get(a, "controller-directory-id"), dir, err,
                    sizeof err))
        return terse("Failed to parse --controller-directory-id: %s", err);
    uuid_to_string(dir, ds);
    if (!tool_has(a, "dry-run")) {
        int16_t e;
        char *msg = NULL;
        if (!kc_remove_raft_voter(kc, (int32_t)id, dir, &e, &msg)) {
            fprintf(stderr, "org.apache.kafka.common.errors.TimeoutException: "
                            "RemoveRaftVoter request failed\n");
            return 1;
        }
        if (e) {
            call_failed(e, msg);
            free(msg);
            return 1;
        }
        free(msg);
    }
    /* Kafka's format string has both spaces ("... removing " + " KRaft") */
    printf("%s KRaft controller %lld with directory id %s\n",
           tool_has(a, "dry-run") ? "DRY RUN of removing " : "Removed ",
           (long long)id, ds);
    return 0;
}
