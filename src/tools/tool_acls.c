/*
 * tool_acls.c - `sluice acls` / kafka-acls.sh: --add, --remove and --list
 * ACLs for topics, groups, the cluster, transactional ids, delegation
 * tokens and user principals (with --producer/--consumer/--idempotent
 * conveniences) through kclient's DescribeAcls / CreateAcls / DeleteAcls
 * (librdkafka 2.0 lacks the last three resource types), printing Kafka's
 * ResourcePattern / AccessControlEntry strings.
 */
#include <stdlib.h>
#include <string.h>

#include "proto/acl.h"
#include "core/buf.h"
#include "core/util.h"
#include "tools/kclient.h"
#include "tools/tool_common.h"

static const tool_optdef acl_opts[] = {
    {"add", TOOL_FLAG, "Indicates you are trying to add ACLs."},
    {"allow-host", TOOL_ARG,
     "Host from which principals listed in --allow-principal will have "
     "access. If you have specified --allow-principal then the default for "
     "this option will be set to '*' which allows access from all hosts."},
    {"allow-principal", TOOL_ARG,
     "principal is in principalType:name format. Note that principalType "
     "must be supported by the Authorizer being used."},
    {"bootstrap-controller", TOOL_ARG,
     "A list of host/port pairs to use for "
     "establishing the connection to the "
     "Kafka controllers."},
    {"bootstrap-server", TOOL_ARG,
     "A list of host/port pairs to use for establishing the connection to "
     "the Kafka cluster."},
    {"cluster", TOOL_FLAG, "Add/Remove cluster ACLs."},
    {"command-config", TOOL_ARG,
     "A property file containing configs to be passed to Admin Client."},
    {"consumer", TOOL_FLAG,
     "Convenience option to add/remove ACLs for consumer role. This will "
     "generate ACLs that allows READ, DESCRIBE on topic and READ on group."},
    {"delegation-token", TOOL_ARG,
     "Delegation token to which ACLs should be added or removed."},
    {"deny-host", TOOL_ARG,
     "Host from which principals listed in --deny-principal will be denied "
     "access."},
    {"deny-principal", TOOL_ARG,
     "principal is in principalType:name format. By default anyone not added "
     "through --allow-principal is denied access."},
    {"force", TOOL_FLAG, "Assume Yes to all queries and do not prompt."},
    {"group", TOOL_ARG,
     "Consumer Group to which the ACLs should be added or removed. A value of "
     "'*' indicates the ACLs should apply to all groups."},
    {"idempotent", TOOL_FLAG,
     "Enable idempotence for the producer. This should be used in "
     "combination with the --producer option."},
    {"list", TOOL_FLAG,
     "List ACLs for the specified resource, use --topic <topic> or --group "
     "<group> or --cluster to specify a resource."},
    {"operation", TOOL_ARG,
     "Operation that is being allowed or denied. Valid operation names are: "
     "Describe, DescribeConfigs, Alter, IdempotentWrite, Read, Delete, "
     "Create, ClusterAction, All, Write, AlterConfigs (default: All)"},
    {"principal", TOOL_ARG,
     "List ACLs for the specified principal. principal is in "
     "principalType:name format."},
    {"producer", TOOL_FLAG,
     "Convenience option to add/remove ACLs for producer role. This will "
     "generate ACLs that allows WRITE, DESCRIBE and CREATE on topic."},
    {"remove", TOOL_FLAG, "Indicates you are trying to remove ACLs."},
    {"resource-pattern-type", TOOL_ARG,
     "The type of the resource pattern or pattern filter. When adding acls, "
     "this should be a specific pattern type, e.g. 'literal' or 'prefixed'. "
     "(default: LITERAL)"},
    {"topic", TOOL_ARG,
     "topic to which ACLs should be added or removed. A value of '*' "
     "indicates ACL should apply to all topics."},
    {"transactional-id", TOOL_ARG,
     "The transactionalId to which ACLs should be added or removed."},
    {"user-principal", TOOL_ARG, "Specifies a user principal as a resource."},
    {"version", TOOL_FLAG, "Display Kafka version."},
};

#define NAME(tab, v)                                                           \
    ((v) >= 0 && (size_t)(v) < SL_ARRAY_LEN(tab) ? tab[v] : "UNKNOWN")

/* "IdempotentWrite", "idempotent_write", "READ" -> enum code, -1 if not. */
static int parse_enum(const char *s, const char *const *tab, size_t n) {
    char norm[64];
    size_t o = 0;
    for (const char *p = s; *p && o + 2 < sizeof(norm); p++) {
        if (*p == '_' || *p == '-' || *p == ' ')
            continue;
        norm[o++] = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
    }
    norm[o] = 0;
    for (size_t i = 0; i < n; i++) {
        char t[64];
        size_t k = 0;
        for (const char *p = tab[i]; *p; p++)
            if (*p != '_')
                t[k++] = *p;
        t[k] = 0;
        if (!strcmp(t, norm))
            return (int)i;
    }
    return -1;
}

typedef struct resource {
    int type; /* proto_acl_resource_type_names index */
    char *name;
} resource;

typedef struct entry {
    char *principal, *host;
    int op, perm;
} entry;

static void print_pattern(buf *b, int type, const char *name, int pat) {
    buf_printf(b, "ResourcePattern(resourceType=%s, name=%s, patternType=%s)",
               NAME(proto_acl_resource_type_names, type), name,
               NAME(proto_acl_pattern_type_names, pat));
}

static void print_entry(buf *b, const char *principal, const char *host, int op,
                        int perm) {
    buf_printf(b, "(principal=%s, host=%s, operation=%s, permissionType=%s)",
               principal, host, NAME(proto_acl_operation_names, op),
               NAME(proto_acl_permission_names, perm));
}

typedef struct acl_ctx {
    tool_args *a;
    kc_conn kc;
    int pattern;
} acl_ctx;

static int cmd_error(const char *msg) {
    printf("Error while executing ACL command: %s\n", msg);
    return 1;
}

/* Resources named by the flags, in Kafka's AclCommand order: topics,
 * cluster, groups, transactional ids, delegation tokens, user principals. */
static int collect_resources(acl_ctx *c, resource *out, int cap) {
    int n = 0;
    const char **v;
    int k = tool_getall(c->a, "topic", &v);
    for (int i = 0; i < k && n < cap; i++)
        out[n++] = (resource){2, (char *)v[i]};
    if (c->pattern == 3 &&
        (tool_has(c->a, "cluster") || tool_has(c->a, "idempotent")))
        out[n++] = (resource){4, "kafka-cluster"};
    static const struct {
        const char *flag;
        int type;
    } more[] = {{"group", 3},
                {"transactional-id", 5},
                {"delegation-token", 6},
                {"user-principal", 7}};
    for (size_t m = 0; m < SL_ARRAY_LEN(more); m++) {
        k = tool_getall(c->a, more[m].flag, &v);
        for (int i = 0; i < k && n < cap; i++)
            out[n++] = (resource){more[m].type, (char *)v[i]};
    }
    return n;
}

/* Entries for the given operations from --allow/--deny principal/host. */
static int collect_entries(acl_ctx *c, const int *ops, int nops, entry *out,
                           int cap) {
    int n = 0;
    static const char *const kinds[2][3] = {
        {"allow-principal", "allow-host", "ALLOW"},
        {"deny-principal", "deny-host", "DENY"}};
    for (int kind = 0; kind < 2; kind++) {
        const char **pr, **hs;
        int np = tool_getall(c->a, kinds[kind][0], &pr);
        int nh = tool_getall(c->a, kinds[kind][1], &hs);
        static const char *star[] = {"*"};
        if (np && !nh) {
            hs = star;
            nh = 1;
        }
        for (int p = 0; p < np; p++)
            for (int o = 0; o < nops; o++)
                for (int h = 0; h < nh && n < cap; h++)
                    out[n++] = (entry){(char *)pr[p], (char *)hs[h], ops[o],
                                       kind ? 2 : 3};
    }
    return n;
}

/* A failed request as Kafka's AclCommand reports it. */
static int req_error(int16_t e, const char *msg) {
    char m[700];
    snprintf(m, sizeof(m), "%s: %s", tool_java_exception(e),
             msg ? msg : tool_error_message(e));
    return cmd_error(m);
}

/* Describe with a filter; prints grouped by resource pattern (Kafka's
 * list format). principal_filter limits entries when non-NULL. */
static int list_for(acl_ctx *c, int rtype, const char *name, int pattern,
                    const char *principal_filter) {
    kc_acl f = {(int8_t)rtype, (int8_t)pattern, 1, 1, (char *)name, NULL, NULL};
    kc_acl *acls;
    int n;
    int16_t e;
    char *msg;
    if (!kc_describe_acls(&c->kc, &f, &acls, &n, &e, &msg))
        return cmd_error("org.apache.kafka.common.errors.TimeoutException: "
                         "Timed out waiting for a node assignment. Call: "
                         "describeAcls");
    if (e) {
        int rc = req_error(e, msg);
        free(msg);
        kc_acls_free(acls, n);
        return rc;
    }
    free(msg);
    bool *done = xcalloc((size_t)n + 1, sizeof(bool));
    for (int i = 0; i < n; i++) {
        if (done[i])
            continue;
        buf b;
        buf_init(&b, 256);
        int shown = 0;
        for (int j = i; j < n; j++) {
            if (acls[j].rt != acls[i].rt || acls[j].pt != acls[i].pt ||
                strcmp(acls[j].name, acls[i].name))
                continue;
            done[j] = true;
            if (principal_filter && strcmp(acls[j].principal, principal_filter))
                continue;
            buf_printf(&b, "%s\t", shown++ ? "\n" : "");
            print_entry(&b, acls[j].principal, acls[j].host, acls[j].op,
                        acls[j].perm);
        }
        buf_put_u8(&b, 0);
        if (shown) {
            buf head;
            buf_init(&head, 128);
            print_pattern(&head, acls[i].rt, acls[i].name, acls[i].pt);
            buf_put_u8(&head, 0);
            printf("Current ACLs for resource `%s`:\n%s\n\n", (char *)head.data,
                   (char *)b.data);
            buf_free(&head);
        }
        buf_free(&b);
    }
    free(done);
    kc_acls_free(acls, n);
    return 0;
}

static int ops_for(acl_ctx *c, int rtype, int *ops) {
    if (tool_has(c->a, "producer") || tool_has(c->a, "consumer")) {
        int n = 0;
        if (rtype == 2) {
            if (tool_has(c->a, "producer")) {
                ops[n++] = 4; /* WRITE */
                ops[n++] = 8; /* DESCRIBE */
                ops[n++] = 5; /* CREATE */
            }
            if (tool_has(c->a, "consumer")) {
                ops[n++] = 3; /* READ */
                if (!tool_has(c->a, "producer"))
                    ops[n++] = 8;
            }
        } else if (rtype == 3 && tool_has(c->a, "consumer")) {
            ops[n++] = 3;
        } else if (rtype == 5 && tool_has(c->a, "producer")) {
            ops[n++] = 4; /* WRITE */
            ops[n++] = 8; /* DESCRIBE */
        } else if (rtype == 4 && tool_has(c->a, "idempotent")) {
            ops[n++] = 12; /* IDEMPOTENT_WRITE */
        }
        return n;
    }
    const char **v;
    int k = tool_getall(c->a, "operation", &v);
    if (k == 0) {
        ops[0] = 2; /* ALL */
        return 1;
    }
    int n = 0;
    for (int i = 0; i < k && n < 16; i++) {
        int op = parse_enum(v[i], proto_acl_operation_names,
                            SL_ARRAY_LEN(proto_acl_operation_names));
        if (op < 2)
            return -1;
        ops[n++] = op;
    }
    return n;
}

static int do_add(acl_ctx *c) {
    resource res[64];
    int nres = collect_resources(c, res, 64);
    if (nres == 0) {
        tool_usage_error(
            c->a,
            "You must provide at least one resource: --topic <topic> or "
            "--cluster or --group <group> or --delegation-token <Delegation "
            "Token ID>");
        return 1;
    }
    if (c->pattern != 3 && c->pattern != 4) {
        tool_usage_error(
            c->a,
            "A '--resource-pattern-type' value of '%s' is not valid when "
            "adding acls.",
            NAME(proto_acl_pattern_type_names, c->pattern));
        return 1;
    }
    for (int r = 0; r < nres; r++) {
        int ops[16];
        int nops = ops_for(c, res[r].type, ops);
        if (nops < 0) {
            tool_usage_error(c->a, "Invalid operation");
            return 1;
        }
        if (nops == 0)
            continue;
        entry ents[256];
        int ne = collect_entries(c, ops, nops, ents, 256);
        if (ne == 0) {
            tool_usage_error(c->a,
                             "You must specify one of: --allow-principal, "
                             "--deny-principal when trying to add ACLs.");
            return 1;
        }
        buf b;
        buf_init(&b, 256);
        buf head;
        buf_init(&head, 128);
        print_pattern(&head, res[r].type, res[r].name, c->pattern);
        buf_put_u8(&head, 0);
        kc_acl *nb = xcalloc((size_t)ne, sizeof(*nb));
        for (int i = 0; i < ne; i++) {
            buf_printf(&b, "%s\t", i ? "\n" : "");
            print_entry(&b, ents[i].principal, ents[i].host, ents[i].op,
                        ents[i].perm);
            nb[i] = (kc_acl){(int8_t)res[r].type, (int8_t)c->pattern,
                             (int8_t)ents[i].op,  (int8_t)ents[i].perm,
                             res[r].name,         ents[i].principal,
                             ents[i].host};
        }
        buf_put_u8(&b, 0);
        printf("Adding ACLs for resource `%s`: \n %s\n\n", (char *)head.data,
               (char *)b.data);
        buf_free(&b);
        buf_free(&head);
        int16_t e;
        char *msg;
        bool ok = kc_create_acls(&c->kc, nb, ne, &e, &msg);
        free(nb);
        if (!ok)
            return cmd_error("org.apache.kafka.common.errors."
                             "TimeoutException: Timed out waiting for a node "
                             "assignment. Call: createAcls");
        if (e) {
            int rc = req_error(e, msg);
            free(msg);
            return rc;
        }
        free(msg);
    }
    return 0;
}

static bool confirm(acl_ctx *c, const char *msg) {
    if (tool_has(c->a, "force"))
        return true;
    printf("%s\n", msg);
    fflush(stdout);
    char line[16];
    if (!fgets(line, sizeof(line), stdin))
        return false;
    return line[0] == 'y' || line[0] == 'Y';
}

static int do_remove(acl_ctx *c) {
    resource res[64];
    int nres = collect_resources(c, res, 64);
    if (nres == 0) {
        tool_usage_error(
            c->a, "You must provide at least one resource: --topic <topic> or "
                  "--cluster or --group <group>");
        return 1;
    }
    for (int r = 0; r < nres; r++) {
        int ops[16];
        int nops = ops_for(c, res[r].type, ops);
        if (nops < 0) {
            tool_usage_error(c->a, "Invalid operation");
            return 1;
        }
        entry ents[256];
        int ne = collect_entries(c, ops, nops, ents, 256);
        buf head;
        buf_init(&head, 128);
        buf_printf(
            &head,
            "ResourcePatternFilter(resourceType=%s, name=%s, patternType=%s)",
            NAME(proto_acl_resource_type_names, res[r].type), res[r].name,
            NAME(proto_acl_pattern_type_names, c->pattern));
        buf_put_u8(&head, 0);
        char msg[2048];
        if (ne == 0) {
            snprintf(msg, sizeof(msg),
                     "Are you sure you want to delete all ACLs for resource "
                     "filter `%s`? "
                     "(y/n)",
                     (char *)head.data);
        } else {
            buf b;
            buf_init(&b, 256);
            for (int i = 0; i < ne; i++) {
                buf_printf(&b, "%s\t", i ? "\n" : "");
                print_entry(&b, ents[i].principal, ents[i].host, ents[i].op,
                            ents[i].perm);
            }
            buf_put_u8(&b, 0);
            snprintf(msg, sizeof(msg),
                     "Are you sure you want to remove ACLs: \n %s\n from "
                     "resource filter "
                     "`%s`? (y/n)",
                     (char *)b.data, (char *)head.data);
            buf_free(&b);
        }
        buf_free(&head);
        if (!confirm(c, msg))
            continue;
        int nf = ne ? ne : 1;
        kc_acl *fs = xcalloc((size_t)nf, sizeof(*fs));
        for (int i = 0; i < nf; i++)
            fs[i] = (kc_acl){(int8_t)res[r].type,
                             (int8_t)c->pattern,
                             (int8_t)(ne ? ents[i].op : 1),
                             (int8_t)(ne ? ents[i].perm : 1),
                             res[r].name,
                             ne ? ents[i].principal : NULL,
                             ne ? ents[i].host : NULL};
        int16_t e;
        char *emsg;
        bool ok = kc_delete_acls(&c->kc, fs, nf, &e, &emsg);
        free(fs);
        if (!ok)
            return cmd_error("org.apache.kafka.common.errors."
                             "TimeoutException: Timed out waiting for a node "
                             "assignment. Call: deleteAcls");
        if (e) {
            int rc = req_error(e, emsg);
            free(emsg);
            return rc;
        }
        free(emsg);
    }
    return 0;
}

static int do_list(acl_ctx *c) {
    resource res[64];
    int nres = collect_resources(c, res, 64);
    const char **pr;
    int np = tool_getall(c->a, "principal", &pr);
    int pat =
        tool_has(c->a, "resource-pattern-type") ? c->pattern : 1; /* ANY */
    if (np == 0) {
        if (nres == 0)
            return list_for(c, 1, NULL, pat, NULL);
        for (int r = 0; r < nres; r++)
            if (list_for(c, res[r].type, res[r].name, pat, NULL))
                return 1;
        return 0;
    }
    for (int p = 0; p < np; p++) {
        printf("ACLs for principal `%s`\n", pr[p]);
        if (nres == 0 && list_for(c, 1, NULL, pat, pr[p]))
            return 1;
        for (int r = 0; r < nres; r++)
            if (list_for(c, res[r].type, res[r].name, pat, pr[p]))
                return 1;
    }
    return 0;
}

int tool_acls_main(int argc, char **argv) {
    tool_args a;
    int rc = tool_parse(&a, "kafka-acls.sh",
                        "This tool helps to manage acls on kafka.", acl_opts,
                        SL_ARRAY_LEN(acl_opts), argc, argv);
    if (rc >= 0)
        return rc;
    acl_ctx c = {.a = &a, .pattern = 3};
    bool open = false;
    if (tool_has(&a, "version")) {
        printf("4.3.1 (sluice)\n");
        rc = 0;
        goto out;
    }
    if (tool_has(&a, "add") + tool_has(&a, "remove") + tool_has(&a, "list") !=
        1) {
        rc = tool_usage_error(
            &a, "Command must include exactly one action: --list, --add, "
                "--remove. ");
        goto out;
    }
    if (!tool_has(&a, "bootstrap-server") &&
        !tool_has(&a, "bootstrap-controller")) {
        rc = tool_usage_error(
            &a, "One of --bootstrap-server or --bootstrap-controller must "
                "be specified");
        goto out;
    }
    if (tool_has(&a, "resource-pattern-type")) {
        c.pattern = parse_enum(tool_get(&a, "resource-pattern-type"),
                               proto_acl_pattern_type_names,
                               SL_ARRAY_LEN(proto_acl_pattern_type_names));
        if (c.pattern < 1) {
            rc = tool_usage_error(&a, "Invalid resource pattern type: %s",
                                  tool_get(&a, "resource-pattern-type"));
            goto out;
        }
    }
    if ((tool_has(&a, "producer") || tool_has(&a, "consumer")) &&
        tool_has(&a, "operation")) {
        rc = tool_usage_error(&a,
                              "Option \"[producer]\" can't be used with option "
                              "\"[operation]\"");
        goto out;
    }
    if (tool_has(&a, "consumer") && !tool_has(&a, "group") &&
        !tool_has(&a, "list")) {
        rc = tool_usage_error(
            &a, "With --consumer you must specify a --topic and a "
                "--group and no --cluster or --transactional-id option "
                "should be specified.");
        goto out;
    }
    {
        tool_props p = {0};
        if (tool_has(&a, "command-config") &&
            !tool_props_load(&p, tool_get(&a, "command-config"))) {
            rc = 1;
            goto out;
        }
        int timeout = tool_timeout_ms(&p, 60000);
        tool_props_free(&p);
        char err[256];
        if (!tool_connect(&a, &c.kc, timeout, err, sizeof(err))) {
            rc = cmd_error("org.apache.kafka.common.errors.TimeoutException: "
                           "Timed out waiting for a node assignment.");
            goto out;
        }
    }
    open = true;
    if (tool_has(&a, "add"))
        rc = do_add(&c);
    else if (tool_has(&a, "remove"))
        rc = do_remove(&c);
    else
        rc = do_list(&c);
out:
    if (open)
        kc_close(&c.kc);
    tool_args_free(&a);
    return rc;
}
