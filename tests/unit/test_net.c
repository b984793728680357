/* Unit tests: event loop timers, response chains (memory + file ranges via
 * sendfile), framing limits and in-order pipelined responses over a real
 * loopback socket. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/util.h"
#include "net/net.h"
#include "test.h"

static int fired[8];
static int n_fired;
static void on_timer(net_loop *loop, void *ctx) {
    fired[n_fired++] = (int)(intptr_t)ctx;
    if (n_fired == 3)
        net_loop_stop(loop);
}

TEST(net_timers_fire_in_deadline_order_and_cancel) {
    net_loop *loop = net_loop_new();
    n_fired = 0;
    net_timer_add(loop, 30, on_timer, (void *)3);
    net_timer_add(loop, 10, on_timer, (void *)1);
    uint64_t id = net_timer_add(loop, 15, on_timer, (void *)9);
    net_timer_add(loop, 20, on_timer, (void *)2);
    CHECK(net_timer_cancel(loop, id));
    CHECK(!net_timer_cancel(loop, id));
    net_loop_run(loop);
    CHECK_EQ(n_fired, 3);
    CHECK_EQ(fired[0], 1);
    CHECK_EQ(fired[1], 2);
    CHECK_EQ(fired[2], 3);
    net_loop_free(loop);
}

/* Test server: every frame is answered by a slot holding
 * [len][frame bytes][file range], except a frame "defer" whose slot is
 * filled by a timer later (responses must still leave in order). */
static int file_fd = -1;
static net_slot *deferred;
static net_chain deferred_chain;

static void fill_later(net_loop *loop, void *ctx) {
    (void)loop;
    (void)ctx;
    net_slot_fill(deferred, &deferred_chain, false);
    deferred = NULL;
}

static bool on_frame(net_conn *conn, const uint8_t *frame, size_t len) {
    net_slot *slot = net_conn_reserve(conn);
    net_chain c;
    net_chain_init(&c);
    buf *b = net_chain_mem(&c);
    buf_put_be32(b, (uint32_t)(len + 4));
    buf_put(b, frame, len);
    CHECK(net_chain_file(&c, file_fd, 2, 4)); /* "cdef" */
    CHECK_EQ(net_chain_total(&c), 4 + len + 4);
    if (len == 5 && !memcmp(frame, "defer", 5)) {
        deferred = slot;
        deferred_chain = c;
        net_timer_add(net_conn_loop(conn), 50, fill_later, NULL);
    } else {
        net_slot_fill(slot, &c, false);
    }
    return true;
}

static void stop_soon(net_loop *loop, void *ctx) {
    (void)ctx;
    net_loop_stop(loop);
}

static int connect_to(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void put_frame(buf *b, const char *s) {
    buf_put_be32(b, (uint32_t)strlen(s));
    buf_put(b, s, strlen(s));
}

/* A timer for "never" (INT64_MAX ms) does not overflow the deadline (UBSan
 * in the asan run) and sorts after every real one. */
TEST(net_timer_never_saturates) {
    net_loop *loop = net_loop_new();
    n_fired = 0;
    uint64_t never = net_timer_add(loop, INT64_MAX, on_timer, (void *)7);
    net_timer_add(loop, 5, on_timer, (void *)1);
    uint64_t far = net_timer_add(loop, INT64_MAX - 1, on_timer, (void *)8);
    net_timer_add(loop, 10, on_timer, (void *)2);
    CHECK(net_timer_cancel(loop, never));
    net_timer_add(loop, 15, on_timer, (void *)3);
    net_loop_run(loop); /* stops at the third */
    CHECK(net_timer_cancel(loop, far));
    CHECK_EQ(n_fired, 3);
    CHECK_EQ(fired[0], 1);
    CHECK_EQ(fired[1], 2);
    CHECK_EQ(fired[2], 3);
    net_loop_free(loop);
}

TEST(net_pipelined_frames_answered_in_order_with_file_ranges) {
    char path[512];
    snprintf(path, sizeof path, "%s/net_file", test_tmpdir());
    FILE *f = fopen(path, "w");
    fputs("abcdefgh", f);
    fclose(f);
    file_fd = open(path, O_RDONLY);
    CHECK(file_fd >= 0);

    net_loop *loop = net_loop_new();
    net_endpoint ep = {.name = "PLAINTEXT", .host = "127.0.0.1", .port = 0};
    net_listen_opts o = {
        .ep = &ep, .max_request_bytes = 64, .idle_ms = 0, .on_frame = on_frame};
    char err[256];
    net_listener *l = net_listen(loop, &o, err, sizeof err);
    CHECK(l != NULL);
    int port = net_listener_port(l);
    int fd = connect_to(port);
    CHECK(fd >= 0);
    buf out;
    buf_init(&out, 64);
    put_frame(&out, "one");
    put_frame(&out, "defer");
    put_frame(&out, "three");
    CHECK_EQ(write(fd, out.data, out.len), (ssize_t)out.len);
    /* an oversize frame on a second connection closes it */
    int fd2 = connect_to(port);
    uint8_t big[4];
    sl_store_be32(big, 65);
    CHECK_EQ(write(fd2, big, 4), 4);
    net_timer_add(loop, 300, stop_soon, NULL);
    net_loop_run(loop);

    char got[256];
    ssize_t n = read(fd, got, sizeof got);
    const char want[] = "\0\0\0\x07onecdef\0\0\0\x09"
                        "defercdef\0\0\0\x09threecdef";
    CHECK_EQ(n, (ssize_t)(sizeof want - 1));
    CHECK_MEM(got, want, sizeof want - 1);
    char c;
    CHECK_EQ(read(fd2, &c, 1), 0); /* EOF: closed by the server */
    close(fd);
    close(fd2);
    buf_free(&out);
    net_loop_free(loop);
    close(file_fd);
}
