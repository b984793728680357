/*
 * ckpt_file.h - the text format of Kafka's checkpoint files
 * (CheckpointFile.scala): a version line, a count line, then one entry a
 * line. Used by the recovery-point, log-start and high-watermark checkpoints
 * (checkpoint.c), the cleaner's offset checkpoint (cleaner.c) and the leader
 * epoch checkpoint (epoch_cache.c); each parses its own entry lines.
 *
 * Ownership: the parser writes NULs into txt (the caller's buffer) and hands
 * each entry line to the callback, valid only during the call.
 * Threading: none of its own; pure over its arguments.
 */
#ifndef SL_LOG_CKPT_FILE_H
#define SL_LOG_CKPT_FILE_H

#include <stdbool.h>

/* Called once per entry line; returns false to stop (a malformed line: the
 * entries before it are kept, as they are by every caller today). */
typedef bool (*ckpt_entry_fn)(void *arg, const char *line);

/* Parses txt: false (and no callback) unless the first line is `version`
 * and the second a count in [0, 10,000,000]; then up to count entry lines
 * go to fn in order. true if the header was good (even when fn stopped or
 * fewer lines than the count were present). */
bool ckpt_file_parse(char *txt, int version, ckpt_entry_fn fn, void *arg);

#endif
