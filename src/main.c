/*
 * main.c - the multi-call binaries. build/sluice runs the broker
 * (`sluice server ...`) and the tools that need no librdkafka;
 * build/sluice-tools (this file built with SL_MAIN_TOOLS) runs the tools
 * built on librdkafka, so the broker never links it. Either runs every
 * command of src/commands.def: for the other binary's it execs that binary,
 * found beside itself. The kafka-<tool>.sh aliases that make puts beside
 * them exec the right one directly.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "main.h"

#include "broker/node.h"       /* server_main, checked against commands.def */
#include "tools/tool_common.h" /* tool_run_class_main */

#ifdef SL_MAIN_TOOLS
#define SL_SELF "sluice-tools"
#define SL_OTHER "sluice"
#define SL_CMD(name, fn, help) {name, NULL, help},
#define SL_RDK_CMD(name, fn, help) {name, fn, help},
#else
#define SL_SELF "sluice"
#define SL_OTHER "sluice-tools"
#define SL_CMD(name, fn, help) {name, fn, help},
#define SL_RDK_CMD(name, fn, help) {name, NULL, help},
#endif

/* Every command; fn is NULL for those of the other binary. */
static const sl_command commands[] = {
#include "commands.def"
};
#undef SL_CMD
#undef SL_RDK_CMD

static void usage(FILE *f) {
    fprintf(f, "Usage: %s <command> [args...]\n\nCommands:\n", SL_SELF);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-22s %s\n", commands[i].name, commands[i].help);
}

/* Execs <dir of this executable>/SL_OTHER name argv[1..argc); returns only
 * on failure. */
static int exec_other(const char *name, int argc, char **argv) {
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0) {
        fprintf(stderr, "%s: cannot find its own path: %s\n", SL_SELF,
                strerror(errno));
        return 127;
    }
    self[n] = 0;
    char *slash = strrchr(self, '/');
    char path[PATH_MAX + sizeof(SL_OTHER)];
    snprintf(path, sizeof(path), "%.*s/%s", slash ? (int)(slash - self) : 1,
             slash ? self : ".", SL_OTHER);
    char *args[argc + 2];
    args[0] = path;
    args[1] = (char *)name;
    for (int i = 1; i < argc; i++)
        args[i + 1] = argv[i];
    args[argc + 1] = NULL;
    execv(path, args);
    fprintf(stderr, "%s: cannot run %s (for '%s'): %s\n", SL_SELF, path, name,
            strerror(errno));
    return 127;
}

static const sl_command *find(const char *name) {
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(commands[i].name, name))
            return &commands[i];
    return NULL;
}

int sl_command_run(const char *name, int argc, char **argv) {
    const sl_command *c = find(name);
    if (!c)
        return -1;
    return c->fn ? c->fn(argc, argv) : exec_other(name, argc, argv);
}

/* `run-class`: kafka-run-class.sh runs other commands through the
 * dispatcher above (the tools cannot call up into main). */
int sl_run_class(int argc, char **argv) {
    return tool_run_class_main(argc, argv, sl_command_run);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 1;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("%s %s\n", SL_SELF, SLUICE_VERSION);
        return 0;
    }
    if (find(cmd))
        return sl_command_run(cmd, argc - 1, argv + 1);
    fprintf(stderr, "%s: unknown command '%s'\n\n", SL_SELF, cmd);
    usage(stderr);
    return 1;
}
