/*
 * main.h - entry points of the multi-call binary. Each command is
 * int fn(int argc, char **argv) with argv[0] the command name; it returns the
 * process exit code. Commands are listed once, in src/commands.def.
 */
#ifndef SL_MAIN_H
#define SL_MAIN_H

#define SLUICE_VERSION "0.1.0"

typedef struct sl_command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} sl_command;

#define SL_CMD(name, fn, help) int fn(int argc, char **argv);
#include "commands.def"
#undef SL_CMD

#endif
