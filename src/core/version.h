/*
 * version.h - the version of Sluice (printed by `sluice --version`, logged
 * at start, written into meta.properties). Here, in core, so any layer may
 * name it.
 */
#ifndef SL_CORE_VERSION_H
#define SL_CORE_VERSION_H

#define SLUICE_VERSION "0.1.0"

#endif
