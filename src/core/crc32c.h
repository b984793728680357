/*
 * crc32c.h - CRC-32C (Castagnoli), the checksum of Kafka record batches.
 * Uses the SSE4.2 crc32 instruction when the CPU has it (checked once, at
 * first use) and a slicing-by-8 table otherwise; both give identical results.
 * Thread-safe after the first call (initialisation is idempotent).
 */
#ifndef SL_CRC32C_H
#define SL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC: start with crc = 0. */
uint32_t crc32c(uint32_t crc, const void *data, size_t n);
/* The portable implementation, exposed so tests can compare both. */
uint32_t crc32c_sw(uint32_t crc, const void *data, size_t n);
/* 1 when the hardware path is in use. */
int crc32c_hw_available(void);

#endif
