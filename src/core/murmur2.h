/*
 * murmur2.h - Kafka's murmur2 (seed 0x9747b28c), the hash of the Java
 * client's default partitioner: partition = (murmur2(key) & 0x7fffffff) % n.
 * Pure function; thread-safe.
 */
#ifndef SL_MURMUR2_H
#define SL_MURMUR2_H

#include <stddef.h>
#include <stdint.h>

int32_t murmur2(const void *data, size_t n);
/* Java's String.hashCode over the UTF-16 code units of a UTF-8 string, as
 * Kafka uses to map a group id to its __consumer_offsets partition. */
int32_t java_string_hash(const char *s, size_t n);

#endif
