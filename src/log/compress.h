/*
 * compress.h - the five record-batch codecs of Kafka: none, gzip (zlib),
 * snappy (xerial framing as the Java client writes it; plain snappy as
 * librdkafka may send it is accepted on input), lz4 (LZ4 frame format,
 * independent 64 KiB blocks as Kafka's KafkaLZ4BlockOutputStream) and zstd.
 *
 * Decompression is bounded: output larger than max_out is an error, found
 * while inflating (a compression bomb is never fully inflated), and memory
 * grows only with output actually produced (plus a codec's own small state).
 *
 * Errors are Kafka codes: KERR_CORRUPT_MESSAGE for malformed input,
 * KERR_MESSAGE_TOO_LARGE when the output would exceed max_out,
 * KERR_UNSUPPORTED_COMPRESSION_TYPE for an unknown codec id.
 * Ownership: output is appended to the caller's buf. Threading: pure,
 * thread-safe.
 */
#ifndef SL_LOG_COMPRESS_H
#define SL_LOG_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

enum compress_codec {
    COMPRESS_NONE = 0,
    COMPRESS_GZIP = 1,
    COMPRESS_SNAPPY = 2,
    COMPRESS_LZ4 = 3,
    COMPRESS_ZSTD = 4,
};

/* Appends the decompressed form of in[0..n) to out; at most max_out bytes. */
int16_t compress_decompress(int codec, const uint8_t *in, size_t n,
                            size_t max_out, buf *out);
/* Appends the compressed form of in[0..n) to out. level < 0: the codec's
 * default (Kafka's: gzip 6, lz4 9 is Kafka's default but we use 1 (fast),
 * zstd 3). */
int16_t compress_compress(int codec, const uint8_t *in, size_t n, int level,
                          buf *out);
/* "none", "gzip", "snappy", "lz4", "zstd"; "unknown" otherwise. */
const char *compress_name(int codec);
/* Kafka's compression.type values: "producer" -> -1, "uncompressed" and
 * "none" -> 0, "gzip" 1, "snappy" 2, "lz4" 3, "zstd" 4; -2 if unknown. */
int compress_parse_type(const char *s);

#endif
