/*
 * main.h - entry points of the multi-call binaries (build/sluice and
 * build/sluice-tools, both from main.c). Each command is
 * int fn(int argc, char **argv) with argv[0] the command name; it returns the
 * process exit code. Commands are listed once, in src/commands.def.
 */
#ifndef SL_MAIN_H
#define SL_MAIN_H

#include "core/version.h" /* SLUICE_VERSION */

typedef struct sl_command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} sl_command;

#define SL_CMD(name, fn, help) int fn(int argc, char **argv);
#define SL_RDK_CMD(name, fn, help) int fn(int argc, char **argv);
#include "commands.def"
#undef SL_CMD
#undef SL_RDK_CMD

/* Runs command name with argv[0..argc) (argv[0] the command name): in this
 * process when this binary has it (returns its exit code), else by exec of
 * the binary that does, from this one's directory (returns only if that
 * fails: 127). -1 if neither binary has such a command. */
int sl_command_run(const char *name, int argc, char **argv);

#endif
