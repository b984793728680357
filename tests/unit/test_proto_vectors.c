/*
 * test_proto_vectors.c - decode every captured frame under tests/vectors/
 * (real clients <-> Apache Kafka 4.3.1, see tests/vectors/README.md):
 * <source>/NNNN_<apiKey>_v<version>_{req,resp}.bin, one frame without its
 * size prefix. Each must decode (header + body), consume every byte, and
 * re-encode to the same bytes. Frames at a version newer than our spec
 * (Kafka 4.1+ clients; they negotiate down against Sluice) decode their
 * header only and are counted separately. Runs from the repo root.
 */
#include <dirent.h>
#include <stdlib.h>

#include "core/util.h"
#include "proto/gen/messages.h"
#include "test.h"

#define VEC_DIR "tests/vectors"

static uint8_t *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    buf b;
    buf_init(&b, 4096);
    uint8_t tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        buf_put(&b, tmp, n);
    fclose(f);
    *len = b.len;
    return b.data;
}

typedef struct vec_stats {
    int files, full, newer, trailing;
} vec_stats;

static void check_frame(const char *path, int key, int ver, bool req,
                        vec_stats *st) {
    size_t len;
    uint8_t *data = read_all(path, &len);
    if (!data) {
        test_fail(__FILE__, __LINE__, "%s: cannot read", path);
        return;
    }
    st->files++;
    arena a;
    arena_init(&a, 64 * 1024);
    rd r;
    rd_init(&r, data, len);
    buf out;
    buf_init(&out, len + 64);
    const proto_api_info *api = proto_api((int16_t)key);
    int rc;
    if (!api) {
        test_fail(__FILE__, __LINE__, "%s: api key %d not in the table", path,
                  key);
        goto done;
    }
    if (req) {
        proto_request_header h;
        rc = proto_request_header_decode(&r, &a, &h);
        if (rc || h.api_key != key || h.api_version != ver) {
            test_fail(__FILE__, __LINE__, "%s: request header: %s (key %d v%d)",
                      path, proto_strerror(rc), h.api_key, h.api_version);
            goto done;
        }
        proto_request_header_encode(&out, &h);
    } else {
        proto_response_header h;
        rc = proto_response_header_decode(&r, &a, (int16_t)key, (int16_t)ver,
                                          &h);
        if (rc) {
            test_fail(__FILE__, __LINE__, "%s: response header: %s", path,
                      proto_strerror(rc));
            goto done;
        }
        proto_response_header_encode(&out, (int16_t)key, (int16_t)ver,
                                     h.correlation_id);
        if (h.tags.n > 0) { /* never sent by Kafka; keep the check honest */
            test_fail(__FILE__, __LINE__, "%s: response header has tags", path);
            goto done;
        }
    }
    if (ver > api->max_version) {
        st->newer++;
        goto done;
    }
    const proto_msg_desc *m = req ? api->req : api->resp;
    size_t size = req ? api->req_size : api->resp_size;
    void *body = arena_alloc(&a, size);
    rc = proto_msg_decode(m, &r, &a, (int16_t)ver, body);
    if (rc) {
        test_fail(__FILE__, __LINE__, "%s: %s v%d: %s", path, m->name, ver,
                  proto_strerror(rc));
        goto done;
    }
    if (rd_left(&r)) {
        /* Kafka ignores bytes after a request body, and librdkafka 2.6.1
         * sends 3 extra after Metadata v12 (python/0006): accept those in
         * requests, compare what was consumed. Responses must be exact. */
        if (!req) {
            test_fail(__FILE__, __LINE__, "%s: %zu bytes left", path,
                      rd_left(&r));
            goto done;
        }
        st->trailing++;
        len -= rd_left(&r);
    }
    proto_msg_encode(m, &out, (int16_t)ver, body);
    if (out.len != len || memcmp(out.data, data, len) != 0) {
        size_t i = 0;
        while (i < len && i < out.len && out.data[i] == data[i])
            i++;
        test_fail(__FILE__, __LINE__,
                  "%s: re-encoding differs at byte %zu (%zu vs %zu bytes)",
                  path, i, out.len, len);
        goto done;
    }
    st->full++;
done:
    buf_free(&out);
    arena_free(&a);
    free(data);
}

TEST(proto_vectors) {
    DIR *top = opendir(VEC_DIR);
    CHECK(top != NULL); /* the captured vectors must be present */
    if (!top)
        return;
    vec_stats st = {0};
    struct dirent *src;
    while ((src = readdir(top))) {
        if (src->d_name[0] == '.')
            continue;
        char dir[512];
        snprintf(dir, sizeof(dir), VEC_DIR "/%s", src->d_name);
        DIR *d = opendir(dir);
        if (!d)
            continue; /* README.md */
        struct dirent *e;
        while ((e = readdir(d))) {
            int seq, key, ver;
            char kind[8];
            if (sscanf(e->d_name, "%d_%d_v%d_%4[a-z].bin", &seq, &key, &ver,
                       kind) != 4)
                continue;
            char path[1024];
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            check_frame(path, key, ver, strcmp(kind, "req") == 0, &st);
        }
        closedir(d);
    }
    closedir(top);
    printf("proto vectors: %d frames, %d decoded and re-encoded byte for byte, "
           "%d newer than the spec (header only), %d requests with trailing "
           "bytes\n",
           st.files, st.full, st.newer, st.trailing);
    CHECK(st.files >= 100);
    CHECK(st.full >= st.files / 2);
    CHECK(st.trailing <= 2);
}
