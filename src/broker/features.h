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

#endif
