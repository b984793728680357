/*
 * uuid.h - Kafka's Uuid (org.apache.kafka.common.Uuid): 16 bytes, written as
 * URL-safe base64 without padding (22 characters), parsed by Uuid.fromString
 * with java.util.Base64's URL decoder rules and messages.
 *
 * Generation draws from the process random source (rng_os_bytes in
 * core/clock.h), which a simulator replaces with a seeded rng, so every
 * cluster id, topic id, directory id and member id is replayable there.
 *
 * Threading: thread-safe as rng_os_bytes is (no state here).
 */
#ifndef SL_UUID_H
#define SL_UUID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UUID_STR_LEN 22 /* base64url of 16 bytes, no padding */

/* Uuid.toString: out receives UUID_STR_LEN characters and a NUL. */
void uuid_to_string(const uint8_t id[16], char out[UUID_STR_LEN + 1]);

/* Uuid.fromString: true with out filled, or false with Kafka's
 * IllegalArgumentException message in err (out untouched). err may be NULL. */
bool uuid_parse(const char *s, uint8_t out[16], char *err, size_t cap);

/* Uuid.ZERO_UUID (also "no id" on the wire). */
bool uuid_is_zero(const uint8_t id[16]);
/* Uuid.METADATA_TOPIC_ID = ONE_UUID, 0...01 (AAAAAAAAAAAAAAAAAAAAAQ): the
 * topic id of __cluster_metadata. */
extern const uint8_t uuid_metadata_topic_id[16];
/* Uuid.RESERVED: ZERO_UUID and ONE_UUID (= METADATA_TOPIC_ID). */
bool uuid_is_reserved(const uint8_t id[16]);

/* java.util.UUID.randomUUID's bytes: version 4, IETF variant. */
void uuid_v4(uint8_t id[16]);
/* Uuid.randomUuid: a v4 id that is not reserved and whose string does not
 * start with '-' (it would read like a command-line flag). */
void uuid_random(uint8_t id[16]);
/* uuid_random, as its string (kafka-storage random-uuid). */
void uuid_random_string(char out[UUID_STR_LEN + 1]);

#endif
