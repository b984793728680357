/*
 * main.c - the multi-call binary: `sluice server ...` runs the broker,
 * `sluice <tool> ...` runs a command-line tool (also reached through the
 * kafka-<tool>.sh aliases that make puts beside the binary).
 */
#include <stdio.h>
#include <string.h>

#include "main.h"

static const sl_command commands[] = {
#define SL_CMD(name, fn, help) {name, fn, help},
#include "commands.def"
#undef SL_CMD
};

static void usage(FILE *f) {
    fprintf(f, "Usage: sluice <command> [args...]\n\nCommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-22s %s\n", commands[i].name, commands[i].help);
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
        printf("sluice %s\n", SLUICE_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(commands[i].name, cmd))
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "sluice: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 1;
}
