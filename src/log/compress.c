/*
 * compress.c - bounded codecs for record batches (see compress.h).
 *
 * Every decompressor writes into `out` in steps and checks the running total
 * against max_out before growing, so a bomb costs at most max_out bytes.
 */
#include "compress.h"

#include <lz4frame.h>
#include <snappy-c.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>
#include <zstd.h>

#include "core/util.h"
#include "proto/errors.h"

#define STEP (64 * 1024)

static const uint8_t xerial_magic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};

const char *compress_name(int codec) {
    switch (codec) {
    case COMPRESS_NONE:
        return "none";
    case COMPRESS_GZIP:
        return "gzip";
    case COMPRESS_SNAPPY:
        return "snappy";
    case COMPRESS_LZ4:
        return "lz4";
    case COMPRESS_ZSTD:
        return "zstd";
    default:
        return "unknown";
    }
}

int compress_parse_type(const char *s) {
    static const char *names[] = {"uncompressed", "gzip", "snappy", "lz4",
                                  "zstd"};
    if (!strcasecmp(s, "producer"))
        return -1;
    if (!strcasecmp(s, "none"))
        return 0;
    for (int i = 0; i < 5; i++)
        if (!strcasecmp(s, names[i]))
            return i;
    return -2;
}

/* Room for at most `want` more bytes without passing max_out (start is the
 * length of out when the call began). Returns bytes available, 0 if the
 * bound is reached. */
static size_t room(buf *out, size_t start, size_t max_out, size_t want) {
    size_t used = out->len - start;
    if (used >= max_out)
        return 0;
    size_t n = SL_MIN(want, max_out - used);
    buf_reserve(out, n);
    return n;
}

static int16_t gunzip(const uint8_t *in, size_t n, size_t max_out, buf *out) {
    size_t start = out->len;
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    /* 15 + 32: accept gzip or zlib headers (auto-detect). */
    if (inflateInit2(&zs, 15 + 32) != Z_OK)
        return KERR_CORRUPT_MESSAGE;
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)SL_MIN(n, (size_t)UINT32_MAX);
    int16_t err = KERR_NONE;
    for (;;) {
        size_t r = room(out, start, max_out, STEP);
        if (!r) {
            /* Bound reached: it is a bomb only if more output would follow. */
            uint8_t probe;
            zs.next_out = &probe;
            zs.avail_out = 1;
            int rc = inflate(&zs, Z_NO_FLUSH);
            if (rc == Z_STREAM_END && zs.avail_out == 1)
                break;
            err = (zs.avail_out == 0) ? KERR_MESSAGE_TOO_LARGE
                                      : KERR_CORRUPT_MESSAGE;
            break;
        }
        zs.next_out = out->data + out->len;
        zs.avail_out = (uInt)r;
        int rc = inflate(&zs, Z_NO_FLUSH);
        out->len += r - zs.avail_out;
        if (rc == Z_STREAM_END)
            break;
        if (rc != Z_OK) {
            err = KERR_CORRUPT_MESSAGE;
            break;
        }
        if (zs.avail_in == 0 && zs.avail_out != 0) {
            err = KERR_CORRUPT_MESSAGE; /* truncated stream */
            break;
        }
    }
    inflateEnd(&zs);
    return err;
}

static int16_t snappy_raw(const uint8_t *in, size_t n, size_t max_out,
                          size_t start, buf *out) {
    size_t ulen;
    if (snappy_uncompressed_length((const char *)in, n, &ulen) != SNAPPY_OK)
        return KERR_CORRUPT_MESSAGE;
    if (ulen > max_out - SL_MIN(max_out, out->len - start))
        return KERR_MESSAGE_TOO_LARGE;
    if (snappy_validate_compressed_buffer((const char *)in, n) != SNAPPY_OK)
        return KERR_CORRUPT_MESSAGE;
    if (ulen == 0)
        return KERR_NONE;
    buf_reserve(out, ulen);
    size_t got = ulen;
    if (snappy_uncompress((const char *)in, n, (char *)out->data + out->len,
                          &got) != SNAPPY_OK ||
        got != ulen)
        return KERR_CORRUPT_MESSAGE;
    out->len += got;
    return KERR_NONE;
}

static int16_t unsnappy(const uint8_t *in, size_t n, size_t max_out, buf *out) {
    size_t start = out->len;
    if (n < 16 || memcmp(in, xerial_magic, 8) != 0)
        return snappy_raw(in, n, max_out, start, out);
    /* xerial: magic, version int32, compatible version int32, then blocks of
     * int32 length + raw snappy. */
    size_t pos = 16;
    while (pos < n) {
        if (n - pos < 4)
            return KERR_CORRUPT_MESSAGE;
        uint32_t blen = sl_load_be32(in + pos);
        pos += 4;
        if (blen > n - pos)
            return KERR_CORRUPT_MESSAGE;
        int16_t err = snappy_raw(in + pos, blen, max_out, start, out);
        if (err)
            return err;
        pos += blen;
    }
    return KERR_NONE;
}

static int16_t unlz4(const uint8_t *in, size_t n, size_t max_out, buf *out) {
    size_t start = out->len;
    LZ4F_dctx *dctx;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION)))
        return KERR_CORRUPT_MESSAGE;
    int16_t err = KERR_NONE;
    size_t pos = 0;
    size_t hint = 1;
    while (hint != 0) {
        size_t r = room(out, start, max_out, STEP);
        size_t in_sz = n - pos;
        if (!r) {
            uint8_t probe;
            size_t one = 1;
            hint = LZ4F_decompress(dctx, &probe, &one, in + pos, &in_sz, NULL);
            if (!LZ4F_isError(hint) && one == 0 && hint == 0)
                break;
            err = (!LZ4F_isError(hint) && one) ? KERR_MESSAGE_TOO_LARGE
                                               : KERR_CORRUPT_MESSAGE;
            break;
        }
        size_t out_sz = r;
        hint = LZ4F_decompress(dctx, out->data + out->len, &out_sz, in + pos,
                               &in_sz, NULL);
        if (LZ4F_isError(hint)) {
            err = KERR_CORRUPT_MESSAGE;
            break;
        }
        out->len += out_sz;
        pos += in_sz;
        if (hint != 0 && pos >= n && out_sz < r) {
            err = KERR_CORRUPT_MESSAGE; /* truncated frame */
            break;
        }
    }
    LZ4F_freeDecompressionContext(dctx);
    return err;
}

static int16_t unzstd(const uint8_t *in, size_t n, size_t max_out, buf *out) {
    size_t start = out->len;
    ZSTD_DStream *ds = ZSTD_createDStream();
    if (!ds)
        return KERR_CORRUPT_MESSAGE;
    /* Refuse frames whose window would need a large allocation. */
    ZSTD_DCtx_setParameter(ds, ZSTD_d_windowLogMax, 24);
    ZSTD_inBuffer ib = {in, n, 0};
    int16_t err = KERR_NONE;
    size_t ret = 1;
    for (;;) {
        size_t r = room(out, start, max_out, STEP);
        if (!r) {
            uint8_t probe;
            ZSTD_outBuffer ob = {&probe, 1, 0};
            ret = ZSTD_decompressStream(ds, &ob, &ib);
            if (!ZSTD_isError(ret) && ob.pos == 0 && ret == 0)
                break;
            if (!ZSTD_isError(ret) && ob.pos == 0 && ib.pos == ib.size)
                err = KERR_CORRUPT_MESSAGE;
            else
                err = ZSTD_isError(ret) ? KERR_CORRUPT_MESSAGE
                                        : KERR_MESSAGE_TOO_LARGE;
            break;
        }
        ZSTD_outBuffer ob = {out->data + out->len, r, 0};
        ret = ZSTD_decompressStream(ds, &ob, &ib);
        if (ZSTD_isError(ret)) {
            err = KERR_CORRUPT_MESSAGE;
            break;
        }
        out->len += ob.pos;
        if (ret == 0 && ib.pos == ib.size)
            break;
        if (ib.pos == ib.size && ob.pos < r) {
            /* Input consumed, output not full, frame not finished. */
            if (ret != 0)
                err = KERR_CORRUPT_MESSAGE;
            break;
        }
    }
    ZSTD_freeDStream(ds);
    return err;
}

int16_t compress_decompress(int codec, const uint8_t *in, size_t n,
                            size_t max_out, buf *out) {
    size_t start = out->len;
    int16_t err;
    switch (codec) {
    case COMPRESS_NONE:
        if (n > max_out)
            return KERR_MESSAGE_TOO_LARGE;
        buf_put(out, in, n);
        return KERR_NONE;
    case COMPRESS_GZIP:
        err = gunzip(in, n, max_out, out);
        break;
    case COMPRESS_SNAPPY:
        err = unsnappy(in, n, max_out, out);
        break;
    case COMPRESS_LZ4:
        err = unlz4(in, n, max_out, out);
        break;
    case COMPRESS_ZSTD:
        err = unzstd(in, n, max_out, out);
        break;
    default:
        return KERR_UNSUPPORTED_COMPRESSION_TYPE;
    }
    if (err)
        out->len = start;
    return err;
}

static int16_t gzip_compress(const uint8_t *in, size_t n, int level, buf *out) {
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (deflateInit2(&zs, level < 0 ? 6 : level, Z_DEFLATED, 15 + 16, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        return KERR_UNKNOWN_SERVER_ERROR;
    size_t bound = deflateBound(&zs, (uLong)n) + 32;
    buf_reserve(out, bound);
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)n;
    zs.next_out = out->data + out->len;
    zs.avail_out = (uInt)bound;
    int rc = deflate(&zs, Z_FINISH);
    out->len += bound - zs.avail_out;
    deflateEnd(&zs);
    return rc == Z_STREAM_END ? KERR_NONE : KERR_UNKNOWN_SERVER_ERROR;
}

static int16_t snappy_xerial_compress(const uint8_t *in, size_t n, buf *out) {
    /* As org.xerial.snappy.SnappyOutputStream: 32 KiB blocks. */
    const size_t block = 32 * 1024;
    buf_put(out, xerial_magic, 8);
    buf_put_be32(out, 1);
    buf_put_be32(out, 1);
    for (size_t pos = 0; pos < n; pos += block) {
        size_t len = SL_MIN(block, n - pos);
        size_t max = snappy_max_compressed_length(len);
        size_t at = out->len;
        buf_extend(out, 4);
        buf_reserve(out, max);
        size_t clen = max;
        if (snappy_compress((const char *)in + pos, len,
                            (char *)out->data + out->len, &clen) != SNAPPY_OK)
            return KERR_UNKNOWN_SERVER_ERROR;
        sl_store_be32(out->data + at, (uint32_t)clen);
        out->len += clen;
    }
    return KERR_NONE;
}

static int16_t lz4_compress(const uint8_t *in, size_t n, int level, buf *out) {
    LZ4F_preferences_t prefs;
    memset(&prefs, 0, sizeof(prefs));
    prefs.frameInfo.blockSizeID = LZ4F_max64KB;
    prefs.frameInfo.blockMode = LZ4F_blockIndependent;
    prefs.compressionLevel = level < 0 ? 0 : level;
    size_t bound = LZ4F_compressFrameBound(n, &prefs);
    buf_reserve(out, bound);
    size_t r = LZ4F_compressFrame(out->data + out->len, bound, in, n, &prefs);
    if (LZ4F_isError(r))
        return KERR_UNKNOWN_SERVER_ERROR;
    out->len += r;
    return KERR_NONE;
}

static int16_t zstd_compress(const uint8_t *in, size_t n, int level, buf *out) {
    size_t bound = ZSTD_compressBound(n);
    buf_reserve(out, bound);
    size_t r = ZSTD_compress(out->data + out->len, bound, in, n,
                             level < 0 ? 3 : level);
    if (ZSTD_isError(r))
        return KERR_UNKNOWN_SERVER_ERROR;
    out->len += r;
    return KERR_NONE;
}

int16_t compress_compress(int codec, const uint8_t *in, size_t n, int level,
                          buf *out) {
    switch (codec) {
    case COMPRESS_NONE:
        buf_put(out, in, n);
        return KERR_NONE;
    case COMPRESS_GZIP:
        return gzip_compress(in, n, level, out);
    case COMPRESS_SNAPPY:
        return snappy_xerial_compress(in, n, out);
    case COMPRESS_LZ4:
        return lz4_compress(in, n, level, out);
    case COMPRESS_ZSTD:
        return zstd_compress(in, n, level, out);
    default:
        return KERR_UNSUPPORTED_COMPRESSION_TYPE;
    }
}
