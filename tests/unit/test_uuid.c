/* core/uuid: Kafka's Uuid text form, fromString rules, random ids. The
 * vectors were printed by org.apache.kafka.common.Uuid from
 * kafka-clients-4.3.1.jar (toString of new Uuid(msb, lsb), and fromString's
 * IllegalArgumentException messages). */
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/uuid.h"
#include "test.h"

static void from_longs(uint64_t msb, uint64_t lsb, uint8_t id[16]) {
    for (int i = 0; i < 8; i++) {
        id[i] = (uint8_t)(msb >> (56 - 8 * i));
        id[8 + i] = (uint8_t)(lsb >> (56 - 8 * i));
    }
}

TEST(uuid_to_string_matches_kafka) {
    static const struct {
        uint64_t msb, lsb;
        const char *s;
    } v[] = {
        {0, 0, "AAAAAAAAAAAAAAAAAAAAAA"},
        {0, 1, "AAAAAAAAAAAAAAAAAAAAAQ"},
        {0x123456789abcdef0ULL, 0x0fedcba987654321ULL,
         "EjRWeJq83vAP7cuph2VDIQ"},
        {UINT64_MAX, UINT64_MAX, "_____________________w"},
        {0x8000000000000000ULL, 0x7fffffffffffffffULL,
         "gAAAAAAAAAB__________w"},
        {0xfbffffffffffffffULL, 0, "-_________8AAAAAAAAAAA"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint8_t id[16], back[16];
        char s[UUID_STR_LEN + 1], err[200];
        from_longs(v[i].msb, v[i].lsb, id);
        uuid_to_string(id, s);
        CHECK_STR(s, v[i].s);
        CHECK(uuid_parse(v[i].s, back, err, sizeof err));
        CHECK_MEM(back, id, 16);
    }
}

TEST(uuid_parse_accepts_as_kafka_does) {
    uint8_t id[16], zero[16] = {0};
    /* Padding is optional; the last character's spare bits are ignored. */
    const char *ok[] = {"AAAAAAAAAAAAAAAAAAAAAA==", "AAAAAAAAAAAAAAAAAAAAAB",
                        "AAAAAAAAAAAAAAAAAAAAAP"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        memset(id, 0xee, sizeof id);
        CHECK(uuid_parse(ok[i], id, NULL, 0));
        CHECK_MEM(id, zero, 16);
    }
}

TEST(uuid_parse_refuses_as_kafka_does) {
    static const struct {
        const char *s, *msg;
    } v[] = {
        {"", "Input string `` decoded as 0 bytes, which is not equal to the "
             "expected 16 bytes of a base64-encoded UUID"},
        {"A", "Input byte[] should at least have 2 bytes for base64 bytes"},
        {"AAAAAAAAAAAAAAAAAAAAAAA=",
         "Input string `AAAAAAAAAAAAAAAAAAAAAAA=` decoded as 17 bytes, which "
         "is not equal to the expected 16 bytes of a base64-encoded UUID"},
        {"AAAAAAAAAAAAAAAAAAAAA", "Last unit does not have enough valid bits"},
        {"AAAAAAAAAAAAAAAAAAAAAAAAA",
         "Input string with prefix `AAAAAAAAAAAAAAAAAAAAAAAA` is too long to "
         "be decoded as a base64 UUID"},
        {"AAAAAAAAAAAAAAAAAAAAA+", "Illegal base64 character 2b"},
        {"AAAAAAAAAAAAAAAAAAAAA/", "Illegal base64 character 2f"},
        {"AAAA AAAAAAAAAAAAAAAAA", "Illegal base64 character 20"},
        {"AAAAAAAAAAAAAAAAAAAAAA=", "Input byte array has wrong 4-byte ending "
                                    "unit"},
        {"AAAAAAAAAAAAAAAAAAAAAA=A", "Input byte array has wrong 4-byte "
                                     "ending unit"},
        {"=AAAAAAAAAAAAAAAAAAAAAA", "Input byte array has wrong 4-byte "
                                    "ending unit"},
        {"AAAAAAAAAAAAAAAAAAAAA=", "Last unit does not have enough valid "
                                   "bits"},
        {"AAAAAAAAAAAAAAAAAAAA=", "Input byte array has wrong 4-byte ending "
                                  "unit"},
        {"AAAAAAAAAAAAAAAAAAA=A", "Input byte array has incorrect ending byte "
                                  "at 20"},
        {"AAAAAAAAAAAAAAAAAAAAA==A", "Last unit does not have enough valid "
                                     "bits"},
        /* Java sees the Latin-1 byte 0xe9 as (byte)-23. */
        {"AAAAAAAAAAAAAAAAAAAAA\xe9", "Illegal base64 character -17"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint8_t id[16], keep[16];
        memset(id, 0xee, sizeof id);
        memcpy(keep, id, sizeof id);
        char err[256] = "";
        CHECK(!uuid_parse(v[i].s, id, err, sizeof err));
        CHECK_STR(err, v[i].msg);
        CHECK_MEM(id, keep, 16); /* untouched on failure */
    }
}

TEST(uuid_reserved_ids) {
    uint8_t id[16] = {0};
    CHECK(uuid_is_zero(id) && uuid_is_reserved(id));
    id[15] = 1; /* ONE_UUID = METADATA_TOPIC_ID */
    CHECK(!uuid_is_zero(id) && uuid_is_reserved(id));
    CHECK_MEM(id, uuid_metadata_topic_id, 16);
    char s[UUID_STR_LEN + 1];
    uuid_to_string(uuid_metadata_topic_id, s);
    CHECK_STR(s, "AAAAAAAAAAAAAAAAAAAAAQ");
    id[15] = 2;
    CHECK(!uuid_is_reserved(id));
    id[15] = 1;
    id[0] = 1;
    CHECK(!uuid_is_reserved(id));
}

/* uuid_random draws from the installed rng: a seed replays the ids, and
 * none is reserved, starts with '-' or lacks the v4 version/variant bits. */
TEST(uuid_random_is_seedable_and_kafka_shaped) {
    rng a, b, c;
    rng_seed(&a, 7);
    rng_seed(&b, 7);
    rng_seed(&c, 8);
    int dash_first_v4 = 0;
    for (int i = 0; i < 2000; i++) {
        uint8_t x[16], y[16];
        rng_os_install(&a);
        uuid_random(x);
        rng_os_install(&b);
        uuid_random(y);
        CHECK_MEM(x, y, 16);
        char s[UUID_STR_LEN + 1];
        uuid_to_string(x, s);
        CHECK(s[0] != '-' && strlen(s) == UUID_STR_LEN);
        CHECK(!uuid_is_reserved(x));
        CHECK((x[6] & 0xf0) == 0x40 && (x[8] & 0xc0) == 0x80);
        /* uuid_v4 alone does produce '-' first (1 in 64), so the loop
         * in uuid_random is exercised. */
        rng_os_install(&c);
        uuid_v4(x);
        uuid_to_string(x, s);
        dash_first_v4 += s[0] == '-';
    }
    rng_os_install(NULL);
    CHECK(dash_first_v4 > 0);
    char s1[UUID_STR_LEN + 1], s2[UUID_STR_LEN + 1];
    uuid_random_string(s1);
    uuid_random_string(s2);
    CHECK(strcmp(s1, s2) != 0); /* the OS source again */
}
