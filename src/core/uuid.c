/*
 * uuid.c - Kafka's Uuid: base64url text form, fromString parsing, random ids.
 */
#include "core/uuid.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void uuid_to_string(const uint8_t id[16], char out[UUID_STR_LEN + 1]) {
    int o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (int i = 0; i < 16; i++) {
        acc = (acc << 8) | id[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = b64url[(acc >> bits) & 63];
        }
    }
    /* 128 bits leave 2: the last character carries them, zero-filled. */
    out[o++] = b64url[(acc << 4) & 63];
    out[o] = 0;
}

static int b64url_value(unsigned char c) {
    return c >= 'A' && c <= 'Z'   ? c - 'A'
           : c >= 'a' && c <= 'z' ? c - 'a' + 26
           : c >= '0' && c <= '9' ? c - '0' + 52
           : c == '-'             ? 62
           : c == '_'             ? 63
                                  : -1;
}

static bool fail(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool fail(char *err, size_t cap, const char *fmt, ...) {
    if (err && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return false;
}

/* java.util.Base64.getUrlDecoder().decode, as Uuid.fromString calls it:
 * '=' padding optional but exact when present, nothing after it, no other
 * characters; a last unit of one character lacks bits. Java reports an
 * illegal byte as Integer.toString(signed byte, 16), hence "-3d" for 0xc3. */
bool uuid_parse(const char *s, uint8_t out[16], char *err, size_t cap) {
    size_t len = strlen(s);
    if (len > 24)
        return fail(err, cap,
                    "Input string with prefix `%.24s` is too long to be "
                    "decoded as a base64 UUID",
                    s);
    if (len == 1) /* Base64.Decoder.decodedOutLength */
        return fail(err, cap,
                    "Input byte[] should at least have 2 bytes for base64 "
                    "bytes");
    uint8_t b[18];
    size_t nb = 0, sp = 0;
    int nchar = 0; /* characters in the current 4-character unit */
    uint32_t acc = 0;
    while (sp < len) {
        unsigned char c = (unsigned char)s[sp++];
        if (c == '=') {
            if (nchar == 0 || (nchar == 2 && (sp == len || s[sp++] != '=')))
                return fail(err, cap,
                            "Input byte array has wrong 4-byte ending unit");
            break;
        }
        int v = b64url_value(c);
        if (v < 0) {
            if (c >= 0x80)
                return fail(err, cap, "Illegal base64 character -%x", 256u - c);
            return fail(err, cap, "Illegal base64 character %x", c);
        }
        acc = (acc << 6) | (uint32_t)v;
        if (++nchar == 4) {
            b[nb++] = (uint8_t)(acc >> 16);
            b[nb++] = (uint8_t)(acc >> 8);
            b[nb++] = (uint8_t)acc;
            nchar = 0;
            acc = 0;
        }
    }
    if (nchar == 1)
        return fail(err, cap, "Last unit does not have enough valid bits");
    if (nchar == 2) {
        b[nb++] = (uint8_t)(acc >> 4);
    } else if (nchar == 3) {
        b[nb++] = (uint8_t)(acc >> 10);
        b[nb++] = (uint8_t)(acc >> 2);
    }
    if (sp < len)
        return fail(err, cap,
                    "Input byte array has incorrect ending byte at %zu", sp);
    if (nb != 16)
        return fail(err, cap,
                    "Input string `%s` decoded as %zu bytes, which is not "
                    "equal to the expected 16 bytes of a base64-encoded UUID",
                    s, nb);
    memcpy(out, b, 16);
    return true;
}

bool uuid_is_zero(const uint8_t id[16]) {
    static const uint8_t zero[16];
    return memcmp(id, zero, 16) == 0;
}

const uint8_t uuid_metadata_topic_id[16] = {[15] = 1};

bool uuid_is_reserved(const uint8_t id[16]) {
    return uuid_is_zero(id) || memcmp(id, uuid_metadata_topic_id, 16) == 0;
}

void uuid_v4(uint8_t id[16]) {
    rng_os_bytes(id, 16);
    id[6] = (uint8_t)((id[6] & 0x0f) | 0x40);
    id[8] = (uint8_t)((id[8] & 0x3f) | 0x80);
}

void uuid_random(uint8_t id[16]) {
    for (;;) {
        uuid_v4(id);
        char s[UUID_STR_LEN + 1];
        uuid_to_string(id, s);
        if (!uuid_is_reserved(id) && s[0] != '-')
            return;
    }
}

void uuid_random_string(char out[UUID_STR_LEN + 1]) {
    uint8_t id[16];
    uuid_random(id);
    uuid_to_string(id, out);
}
