/*
 * tool_common.c - flag parsing, properties and output helpers shared by the
 * command-line tools. See tool_common.h (librdkafka's part: tool_rdkafka.c).
 */
#include "tools/tool_common.h"

#include <errno.h>
#include <regex.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/util.h"
#include "tools/kclient.h"
#include "proto/errors.h"

/* ---- flags ---------------------------------------------------------- */

static int find_opt(const tool_args *a, const char *name, size_t len,
                    const char **err) {
    int found = -1, nprefix = 0;
    for (size_t i = 0; i < a->ndefs; i++) {
        const char *n = a->defs[i].name;
        if (strlen(n) == len && !strncmp(n, name, len))
            return (int)i;
        if (!strncmp(n, name, len)) {
            found = (int)i;
            nprefix++;
        }
    }
    if (nprefix == 1)
        return found; /* jopt-simple accepts unique abbreviations */
    *err = nprefix > 1 ? "is ambiguous" : "is not a recognized option";
    return -1;
}

static int parse_args(tool_args *a, const char *prog, const char *summary,
                      const tool_optdef *defs, size_t ndefs, int argc,
                      char **argv) {
    memset(a, 0, sizeof(*a));
    SL_ASSERT(ndefs <= TOOL_MAX_OPTS);
    a->prog = prog;
    a->summary = summary;
    a->defs = defs;
    a->ndefs = ndefs;
    a->positional = xcalloc((size_t)argc + 1, sizeof(char *));
    for (size_t i = 0; i < ndefs; i++)
        a->vals[i] = xcalloc((size_t)argc + 1, sizeof(char *));
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (strncmp(s, "--", 2) != 0 || s[2] == 0) {
            a->positional[a->npositional++] = s;
            continue;
        }
        const char *name = s + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        if (len == 4 && !strncmp(name, "help", 4)) {
            tool_usage(a, stdout);
            return 0;
        }
        const char *why = NULL;
        int k = find_opt(a, name, len, &why);
        if (k < 0)
            return tool_usage_error(a, "%.*s %s", (int)len, name, why);
        if (defs[k].arg == TOOL_FLAG) {
            if (eq)
                return tool_usage_error(
                    a, "Option %s does not take an argument", defs[k].name);
            a->vals[k][a->count[k]++] = "";
            continue;
        }
        const char *v;
        if (eq)
            v = eq + 1;
        else if (defs[k].arg == TOOL_OPTARG &&
                 (i + 1 >= argc || !strncmp(argv[i + 1], "--", 2)))
            v = "";
        else if (i + 1 < argc)
            v = argv[++i];
        else
            return tool_usage_error(a, "Option %s requires an argument",
                                    defs[k].name);
        a->vals[k][a->count[k]++] = v;
    }
    return -1;
}

void tool_args_free(tool_args *a) {
    for (size_t i = 0; i < a->ndefs; i++) {
        free(a->vals[i]);
        a->vals[i] = NULL;
    }
    free(a->positional);
    a->positional = NULL;
}

/* When the answer is an exit status (--help, a usage error) the caller
 * returns at once: the parsed values are freed here. */
int tool_parse(tool_args *a, const char *prog, const char *summary,
               const tool_optdef *defs, size_t ndefs, int argc, char **argv) {
    int rc = parse_args(a, prog, summary, defs, ndefs, argc, argv);
    if (rc >= 0)
        tool_args_free(a);
    return rc;
}

static int opt_index(const tool_args *a, const char *name) {
    for (size_t i = 0; i < a->ndefs; i++)
        if (!strcmp(a->defs[i].name, name))
            return (int)i;
    SL_ASSERT(!"unknown option name in tool code");
    return -1;
}

bool tool_has(const tool_args *a, const char *name) {
    return a->count[opt_index(a, name)] > 0;
}

const char *tool_get(const tool_args *a, const char *name) {
    int k = opt_index(a, name);
    return a->count[k] ? a->vals[k][a->count[k] - 1] : NULL;
}

const char *tool_get_or(const tool_args *a, const char *name, const char *d) {
    const char *v = tool_get(a, name);
    return v ? v : d;
}

int tool_getall(const tool_args *a, const char *name, const char ***vals) {
    int k = opt_index(a, name);
    *vals = a->vals[k];
    return a->count[k];
}

/* Word-wraps text into a column like jopt-simple's help formatter. */
static void wrap(FILE *f, const char *text, int col, int width, bool first) {
    const char *p = text;
    int pos = first ? col : 0;
    if (!first)
        fprintf(f, "%*s", col, "");
    pos = col;
    while (*p) {
        const char *w = p;
        while (*p && *p != ' ')
            p++;
        int wl = (int)(p - w);
        if (pos > col && pos + 1 + wl > col + width) {
            fprintf(f, "\n%*s", col + 2, "");
            pos = col + 2;
        } else if (pos > col) {
            fputc(' ', f);
            pos++;
        }
        fwrite(w, 1, (size_t)wl, f);
        pos += wl;
        while (*p == ' ')
            p++;
    }
    fputc('\n', f);
}

void tool_usage(const tool_args *a, FILE *f) {
    if (a->summary)
        fprintf(f, "%s\n", a->summary);
    fprintf(f, "%-40s %s\n", "Option", "Description");
    fprintf(f, "%-40s %s\n", "------", "-----------");
    for (size_t i = 0; i < a->ndefs; i++) {
        char head[128];
        snprintf(head, sizeof(head), "--%s%s", a->defs[i].name,
                 a->defs[i].arg ? " <String>" : "");
        if (strlen(head) > 40) {
            fprintf(f, "%s\n", head);
            wrap(f, a->defs[i].help ? a->defs[i].help : "", 41, 38, false);
        } else {
            fprintf(f, "%-40s ", head);
            wrap(f, a->defs[i].help ? a->defs[i].help : "", 41, 38, true);
        }
    }
    fprintf(f, "%-40s %s\n", "--help", "Print usage information.");
}

int tool_usage_error(const tool_args *a, const char *fmt, ...) {
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
    }
    tool_usage(a, stderr);
    return 1;
}

bool tool_parse_i64(const char *s, int64_t *out) {
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

/* ---- properties ---------------------------------------------------- */

void tool_props_set(tool_props *p, const char *k, const char *v) {
    for (int i = 0; i < p->n; i++)
        if (!strcmp(p->keys[i], k)) {
            free(p->vals[i]);
            p->vals[i] = xstrdup(v);
            return;
        }
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 8;
        p->keys = xrealloc(p->keys, (size_t)p->cap * sizeof(char *));
        p->vals = xrealloc(p->vals, (size_t)p->cap * sizeof(char *));
    }
    p->keys[p->n] = xstrdup(k);
    p->vals[p->n++] = xstrdup(v);
}

const char *tool_props_get(const tool_props *p, const char *k) {
    for (int i = 0; i < p->n; i++)
        if (!strcmp(p->keys[i], k))
            return p->vals[i];
    return NULL;
}

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' ||
                 s[n - 1] == '\n'))
        s[--n] = 0;
    return s;
}

bool tool_props_load(tool_props *p, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "Error: cannot read %s: %s\n", path, strerror(errno));
        return false;
    }
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        char *s = trim(line);
        if (!*s || *s == '#' || *s == '!')
            continue;
        char *sep = strpbrk(s, "=:");
        if (!sep) {
            tool_props_set(p, s, "");
            continue;
        }
        *sep = 0;
        tool_props_set(p, trim(s), trim(sep + 1));
    }
    free(line);
    fclose(f);
    return true;
}

bool tool_props_add_kv(tool_props *p, const char *kv) {
    const char *eq = strchr(kv, '=');
    if (!eq)
        return false;
    char *k = xstrndup(kv, (size_t)(eq - kv));
    tool_props_set(p, k, eq + 1);
    free(k);
    return true;
}

void tool_props_free(tool_props *p) {
    for (int i = 0; i < p->n; i++) {
        free(p->keys[i]);
        free(p->vals[i]);
    }
    free(p->keys);
    free(p->vals);
    memset(p, 0, sizeof(*p));
}

int tool_timeout_ms(const tool_props *props, int dflt) {
    const char *v =
        props ? tool_props_get(props, "default.api.timeout.ms") : NULL;
    int64_t t;
    if (v && tool_parse_i64(v, &t) && t > 0 && t < INT32_MAX)
        return (int)t;
    return dflt;
}

/* ---- output helpers ----------------------------------------------- */

int tool_strcmp_p(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

bool tool_topic_is_internal(const char *t) {
    return !strcmp(t, "__consumer_offsets") ||
           !strcmp(t, "__transaction_state") ||
           !strcmp(t, "__share_group_state");
}

bool tool_topic_matches(const char *pattern, const char *topic) {
    if (!strcmp(pattern, topic))
        return true;
    char *anch = xmalloc(strlen(pattern) + 8);
    sprintf(anch, "^(%s)$", pattern);
    regex_t re;
    bool ok = false;
    if (regcomp(&re, anch, REG_EXTENDED | REG_NOSUB) == 0) {
        ok = regexec(&re, topic, 0, NULL, 0) == 0;
        regfree(&re);
    }
    free(anch);
    return ok;
}

int64_t tool_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- Kafka error presentation --------------------------------------- */

const char *tool_error_message(int code) {
    if (code < -1 || code > 32767)
        return "Unknown error code";
    return proto_error_message((int16_t)code);
}

const char *tool_java_exception(int code) {
    static char out[160];
    /* Where Kafka's class name is not the CamelCase of the error name. */
    static const struct {
        int code;
        const char *cls;
    } special[] = {
        {-1, "UnknownServerException"},
        {3, "UnknownTopicOrPartitionException"},
        {6, "NotLeaderOrFollowerException"},
        {7, "TimeoutException"},
        {17, "InvalidTopicException"},
        {29, "TopicAuthorizationException"},
        {30, "GroupAuthorizationException"},
        {36, "TopicExistsException"},
        {68, "GroupNotEmptyException"},
        {69, "GroupIdNotFoundException"},
        {86, "GroupSubscribedToTopicException"},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(special); i++)
        if (special[i].code == code) {
            snprintf(out, sizeof(out), "org.apache.kafka.common.errors.%s",
                     special[i].cls);
            return out;
        }
    const char *name = code >= -1 && code <= 32767
                           ? proto_error_name((int16_t)code)
                           : "UNKNOWN_SERVER_ERROR";
    int o = snprintf(out, sizeof(out), "org.apache.kafka.common.errors.");
    bool up = true;
    for (const char *p = name; *p && o < (int)sizeof(out) - 12; p++) {
        if (*p == '_') {
            up = true;
            continue;
        }
        out[o++] = up ? *p : (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
        up = false;
    }
    size_t nl = strlen(name);
    if (nl < 9 || strcmp(name + nl - 9, "EXCEPTION") != 0)
        snprintf(out + o, sizeof(out) - (size_t)o, "Exception");
    else
        out[o] = 0;
    return out;
}

/* Java's Double.toString: shortest round-trip digits, plain notation for
 * 1e-3 <= |x| < 1e7, otherwise d.dddE±n. */
void tool_java_double(double v, char *out, size_t cap) {
    if (v == 0) {
        snprintf(out, cap, "0.0");
        return;
    }
    char tmp[64];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    double av = v < 0 ? -v : v;
    if (av >= 1e-3 && av < 1e7) {
        /* digits after the point = significant digits - integer digits */
        int exp10 = 0;
        for (double t = av; t >= 10; t /= 10)
            exp10++;
        for (double t = av; t < 1; t *= 10)
            exp10--;
        int frac = prec - 1 - exp10;
        if (frac < 1)
            frac = 1;
        snprintf(out, cap, "%.*f", frac, v);
        /* trim trailing zeros but keep one digit after the point */
        char *dot = strchr(out, '.');
        char *e = out + strlen(out) - 1;
        while (e > dot + 1 && *e == '0')
            *e-- = 0;
        return;
    }
    /* 1.2345E7 */
    snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, v);
    char *ep = strchr(tmp, 'e');
    *ep = 0;
    int ex = atoi(ep + 1);
    if (!strchr(tmp, '.'))
        strcat(tmp, ".0");
    snprintf(out, cap, "%sE%d", tmp, ex);
}

/* Kafka's ToolsUtils.prettyPrintTable: cells left-aligned to the column
 * width, each followed by a tab. */
void tool_pretty_table(const char *const *hdr, int ncol, char ***rows,
                       int nrows) {
    int *w = xcalloc((size_t)ncol, sizeof(int));
    for (int c = 0; c < ncol; c++) {
        w[c] = (int)strlen(hdr[c]);
        for (int r = 0; r < nrows; r++)
            w[c] = SL_MAX(w[c], (int)strlen(rows[r][c]));
    }
    for (int c = 0; c < ncol; c++)
        printf("%-*s\t", w[c], hdr[c]);
    printf("\n");
    for (int r = 0; r < nrows; r++) {
        for (int c = 0; c < ncol; c++)
            printf("%-*s\t", w[c], rows[r][c]);
        printf("\n");
    }
    free(w);
}

bool tool_connect(const tool_args *a, kc_conn *kc, int timeout_ms, char *err,
                  size_t errsz) {
    if (tool_has(a, "bootstrap-server"))
        return kc_connect(kc, tool_get(a, "bootstrap-server"), timeout_ms, err,
                          errsz);
    return kc_connect_controller(kc, tool_get(a, "bootstrap-controller"),
                                 timeout_ms, err, errsz);
}
