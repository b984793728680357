/*
 * features.h - the feature ranges this node supports (the table lives in
 * api_versions.c, which advertises it in ApiVersions) for UpdateFeatures'
 * validation (features.c).
 * Threading: read-only data, any thread.
 */
#ifndef SL_BROKER_FEATURES_H
#define SL_BROKER_FEATURES_H

#include <stdbool.h>
#include <stdint.h>

/* The supported [min, max] of a feature Sluice knows; false otherwise. */
bool brk_feature_supported(const char *name, int16_t *min, int16_t *max);

/* bootstrap.c: at the first start, commits the records of the metadata
 * dir's bootstrap.checkpoint (kafka-storage format); false when there is no
 * usable file (the caller then bootstraps metadata.version alone). */
typedef struct brk_broker brk_broker;
bool brk_bootstrap_commit(brk_broker *brk);

#endif
