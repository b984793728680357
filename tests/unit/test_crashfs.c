/* The crash file system itself (tests/sim/crashfs.c): every rule of its
 * model - unsynced writes lost, kept or torn, synced ones survive, namespace
 * operations revert without a directory fsync, renames are atomic, faults,
 * the power cut, and a crash replayed from its seed gives the same state. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>

#include "../sim/crashfs.h"
#include "core/clock.h"
#include "core/util.h"
#include "log/log.h"
#include "test.h"

#define NSEEDS 64

static int put_file(const log_io *io, const char *path, const char *txt,
                    bool sync) {
    int fd = io->open(io->ctx, path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    bool ok = log_io_write_all(io, fd, txt, strlen(txt), 0) &&
              (!sync || io->fsync(io->ctx, fd) == 0);
    io->close(io->ctx, fd);
    return ok ? 0 : -1;
}

/* The file's content as a string ("<none>" if absent), in out. */
static const char *content(crashfs *fs, const char *path, char *out,
                           size_t cap) {
    size_t n;
    uint8_t *p = crashfs_read(fs, path, &n);
    if (!p) {
        snprintf(out, cap, "<none>");
        return out;
    }
    snprintf(out, cap, "%.*s", (int)n, (const char *)p);
    free(p);
    return out;
}

TEST(crashfs_basic_ops_behave_as_posix) {
    crashfs *fs = crashfs_new();
    const log_io *io = crashfs_io(fs);
    CHECK_EQ(io->mkdir(io->ctx, "/d", 0755), 0);
    CHECK_EQ(io->mkdir(io->ctx, "/d", 0755), -1);
    CHECK_EQ(errno, EEXIST);
    CHECK_EQ(io->mkdir(io->ctx, "/", 0755), -1);
    CHECK_EQ(io->open(io->ctx, "/d/x", O_RDONLY, 0), -1);
    CHECK_EQ(errno, ENOENT);
    CHECK_EQ(io->open(io->ctx, "/nope/x", O_RDWR | O_CREAT, 0644), -1);
    CHECK_EQ(errno, ENOENT);
    int fd = io->open(io->ctx, "/d/x", O_RDWR | O_CREAT, 0644);
    CHECK(fd >= 0);
    CHECK_EQ(io->pwrite(io->ctx, fd, "hello", 5, 3), 5); /* hole of zeros */
    char b[16] = {0};
    CHECK_EQ(io->pread(io->ctx, fd, b, sizeof b, 0), 8);
    CHECK_MEM(b, "\0\0\0hello", 8);
    CHECK_EQ(io->pread(io->ctx, fd, b, 4, 100), 0);
    log_io_stat st;
    CHECK_EQ(io->fstat(io->ctx, fd, &st), 0);
    CHECK_EQ(st.size, 8);
    CHECK_EQ(io->ftruncate(io->ctx, fd, 4), 0);
    CHECK_EQ(io->stat(io->ctx, "/d/x", &st), 0);
    CHECK_EQ(st.size, 4);
    CHECK(!st.is_dir);
    CHECK_EQ(io->stat(io->ctx, "/d", &st), 0);
    CHECK(st.is_dir);
    int fd2 = io->dup(io->ctx, fd);
    CHECK(fd2 >= 0 && fd2 != fd);
    CHECK_EQ(io->close(io->ctx, fd), 0);
    CHECK_EQ(io->pread(io->ctx, fd2, b, 4, 0), 4); /* the dup still reads */
    CHECK_EQ(io->close(io->ctx, fd2), 0);
    CHECK_EQ(io->close(io->ctx, fd2), -1);
    CHECK_EQ(errno, EBADF);
    CHECK_EQ(put_file(io, "/d/y", "y", false), 0);
    int n;
    char **names = log_io_list_names(io, "/d", &n);
    CHECK(names != NULL);
    CHECK_EQ(n, 2);
    if (n == 2) { /* sorted: deterministic */
        CHECK_STR(names[0], "x");
        CHECK_STR(names[1], "y");
    }
    log_io_free_names(names, n);
    CHECK_EQ(io->rmdir(io->ctx, "/d"), -1);
    CHECK_EQ(errno, ENOTEMPTY);
    CHECK_EQ(io->rename(io->ctx, "/d/y", "/y"), -1);
    CHECK_EQ(errno, EXDEV);
    CHECK_EQ(io->rename(io->ctx, "/d/y", "/d/x"), 0);
    char t[32];
    CHECK_STR(content(fs, "/d/x", t, sizeof t), "y");
    CHECK_EQ(io->unlink(io->ctx, "/d/x"), 0);
    CHECK_EQ(io->rmdir(io->ctx, "/d"), 0);
    CHECK(!log_io_exists(io, "/d"));
    CHECK_EQ(io->open(io->ctx, "/z", O_WRONLY | O_APPEND | O_CREAT, 0644), -1);
    CHECK_EQ(errno, EINVAL);
    CHECK_EQ(crashfs_open_fds(fs), 0);
    crashfs_free(fs);
}

/* A synced write survives every crash; an unsynced one is, over the seeds,
 * sometimes kept, sometimes lost and sometimes torn - a torn one is always a
 * prefix of what was written over the old bytes. */
TEST(crashfs_unsynced_write_lost_kept_or_torn_synced_survives) {
    int kept = 0, lost = 0, torn = 0;
    for (uint64_t seed = 1; seed <= NSEEDS; seed++) {
        crashfs *fs = crashfs_new();
        const log_io *io = crashfs_io(fs);
        CHECK_EQ(put_file(io, "/f", "durable-", true), 0);
        CHECK_EQ(io->fsync_dir(io->ctx, "/"), 0);
        int fd = io->open(io->ctx, "/f", O_RDWR, 0);
        CHECK_EQ(io->pwrite(io->ctx, fd, "VOLATILE", 8, 8), 8);
        io->close(io->ctx, fd);
        crashfs_crash(fs, seed);
        size_t n;
        uint8_t *p = crashfs_read(fs, "/f", &n);
        CHECK(p != NULL);
        if (!p) {
            crashfs_free(fs);
            continue;
        }
        CHECK(n >= 8 && !memcmp(p, "durable-", 8));
        if (n == 8)
            lost++;
        else if (n == 16 && !memcmp(p + 8, "VOLATILE", 8))
            kept++;
        else if (n > 8 && n < 16 && !memcmp(p + 8, "VOLATILE", n - 8))
            torn++;
        else
            test_fail(__FILE__, __LINE__, "seed %llu: unexpected %zu bytes",
                      (unsigned long long)seed, n);
        free(p);
        crashfs_free(fs);
    }
    printf("  %d seeds: write kept %d, lost %d, torn %d\n", NSEEDS, kept, lost,
           torn);
    CHECK(kept > 0);
    CHECK(lost > 0);
    CHECK(torn > 0);
}

/* An overwrite that is not synced leaves the old bytes or the new ones
 * (or a prefix of the new over the old), never zeros. */
TEST(crashfs_unsynced_overwrite_keeps_old_bytes_when_dropped) {
    for (uint64_t seed = 1; seed <= NSEEDS; seed++) {
        crashfs *fs = crashfs_new();
        const log_io *io = crashfs_io(fs);
        CHECK_EQ(put_file(io, "/f", "AAAAAAAA", true), 0);
        CHECK_EQ(io->fsync_dir(io->ctx, "/"), 0);
        int fd = io->open(io->ctx, "/f", O_RDWR, 0);
        CHECK_EQ(io->pwrite(io->ctx, fd, "BBBB", 4, 2), 4);
        io->close(io->ctx, fd);
        crashfs_crash(fs, seed);
        char t[32];
        content(fs, "/f", t, sizeof t);
        CHECK(!strcmp(t, "AAAAAAAA") || !strcmp(t, "AABBBBAA") ||
              !strcmp(t, "AABAAAAA") || !strcmp(t, "AABBAAAA") ||
              !strcmp(t, "AABBBAAA"));
        crashfs_free(fs);
    }
}

/* A new file, written and fsynced, but whose directory was not fsynced,
 * may vanish; with the directory fsync it never does. */
TEST(crashfs_new_file_needs_directory_fsync) {
    int vanished = 0;
    for (uint64_t seed = 1; seed <= NSEEDS; seed++) {
        for (int dsync = 0; dsync < 2; dsync++) {
            crashfs *fs = crashfs_new();
            const log_io *io = crashfs_io(fs);
            CHECK_EQ(io->mkdir(io->ctx, "/d", 0755), 0);
            CHECK_EQ(io->fsync_dir(io->ctx, "/"), 0);
            CHECK_EQ(put_file(io, "/d/new", "data", true), 0);
            if (dsync)
                CHECK_EQ(io->fsync_dir(io->ctx, "/d"), 0);
            crashfs_crash(fs, seed);
            char t[32];
            content(fs, "/d/new", t, sizeof t);
            if (dsync)
                CHECK_STR(t, "data");
            else if (!strcmp(t, "<none>"))
                vanished++;
            else
                CHECK_STR(t, "data"); /* its data was synced */
            crashfs_free(fs);
        }
    }
    CHECK(vanished > 0);
}

/* The checkpoint discipline: temp + fsync + rename. Without the directory
 * fsync the rename may revert (the old checkpoint stays); it never leaves
 * neither or a mix. With log_io_write_atomic (which fsyncs the directory)
 * the new one always survives. */
TEST(crashfs_rename_without_dir_fsync_may_revert) {
    int reverted = 0, renamed = 0;
    for (uint64_t seed = 1; seed <= NSEEDS; seed++) {
        crashfs *fs = crashfs_new();
        const log_io *io = crashfs_io(fs);
        CHECK(log_io_write_atomic(io, "/ckpt", "old", 3));
        CHECK_EQ(put_file(io, "/ckpt.tmp", "new", true), 0);
        CHECK_EQ(io->rename(io->ctx, "/ckpt.tmp", "/ckpt"), 0);
        crashfs_crash(fs, seed);
        char t[32];
        content(fs, "/ckpt", t, sizeof t);
        if (!strcmp(t, "old"))
            reverted++;
        else if (!strcmp(t, "new"))
            renamed++;
        else
            test_fail(__FILE__, __LINE__, "seed %llu: /ckpt is %s",
                      (unsigned long long)seed, t);
        crashfs_free(fs);

        fs = crashfs_new();
        io = crashfs_io(fs);
        CHECK(log_io_write_atomic(io, "/ckpt", "old", 3));
        CHECK(log_io_write_atomic(io, "/ckpt", "new", 3));
        crashfs_crash(fs, seed);
        CHECK_STR(content(fs, "/ckpt", t, sizeof t), "new");
        CHECK(!log_io_exists(crashfs_io(fs), "/ckpt.tmp"));
        crashfs_free(fs);
    }
    CHECK(reverted > 0);
    CHECK(renamed > 0);
}

/* Unlink and mkdir are namespace operations too: an unlink may come back,
 * a directory (and what is in it) may vanish, unless the parent is synced. */
TEST(crashfs_unlink_and_mkdir_revert_without_dir_fsync) {
    int back = 0, gone = 0;
    for (uint64_t seed = 1; seed <= NSEEDS; seed++) {
        crashfs *fs = crashfs_new();
        const log_io *io = crashfs_io(fs);
        CHECK_EQ(put_file(io, "/a", "a", true), 0);
        CHECK_EQ(io->fsync_dir(io->ctx, "/"), 0);
        CHECK_EQ(io->unlink(io->ctx, "/a"), 0);
        CHECK_EQ(io->mkdir(io->ctx, "/d", 0755), 0);
        CHECK_EQ(put_file(io, "/d/f", "f", true), 0);
        CHECK_EQ(io->fsync_dir(io->ctx, "/d"), 0);
        crashfs_crash(fs, seed);
        back += log_io_exists(io, "/a");
        bool d = log_io_exists(io, "/d");
        gone += !d;
        if (d) /* the directory's own entries were synced */
            CHECK(log_io_exists(io, "/d/f"));
        crashfs_free(fs);
    }
    CHECK(back > 0 && back < NSEEDS);
    CHECK(gone > 0 && gone < NSEEDS);
}

/* A kill -9 loses nothing; syncfs makes everything durable. */
TEST(crashfs_kill_keeps_everything_syncfs_syncs_everything) {
    crashfs *fs = crashfs_new();
    const log_io *io = crashfs_io(fs);
    CHECK_EQ(io->mkdir(io->ctx, "/d", 0755), 0);
    CHECK_EQ(put_file(io, "/d/f", "unsynced", false), 0);
    int fd = io->open(io->ctx, "/d/f", O_RDONLY, 0);
    CHECK(fd >= 0);
    crashfs_kill(fs);
    CHECK_EQ(crashfs_open_fds(fs), 0);
    CHECK_EQ(io->close(io->ctx, fd), -1); /* fds died with the process */
    char t[32];
    CHECK_STR(content(fs, "/d/f", t, sizeof t), "unsynced");
    CHECK_EQ(put_file(io, "/d/g", "g", false), 0);
    CHECK_EQ(io->syncfs(io->ctx, "/d"), 0);
    for (uint64_t seed = 1; seed <= 8; seed++) {
        crashfs_crash(fs, seed);
        CHECK_STR(content(fs, "/d/f", t, sizeof t), "unsynced");
        CHECK_STR(content(fs, "/d/g", t, sizeof t), "g");
    }
    crashfs_free(fs);
}

/* Faults: the nth call of a kind fails once with the given errno and has no
 * effect; the power cut fails everything after n operations. */
TEST(crashfs_faults_and_power_cut) {
    crashfs *fs = crashfs_new();
    const log_io *io = crashfs_io(fs);
    int fd = io->open(io->ctx, "/f", O_RDWR | O_CREAT, 0644);
    crashfs_fail(fs, CRASHFS_OP_WRITE, 2, ENOSPC);
    CHECK_EQ(io->pwrite(io->ctx, fd, "a", 1, 0), 1);
    CHECK_EQ(io->pwrite(io->ctx, fd, "b", 1, 1), -1);
    CHECK_EQ(errno, ENOSPC);
    CHECK_EQ(io->pwrite(io->ctx, fd, "c", 1, 1), 1);
    crashfs_fail(fs, CRASHFS_OP_FSYNC, 1, EIO);
    CHECK_EQ(io->fsync(io->ctx, fd), -1);
    CHECK_EQ(errno, EIO);
    size_t n;
    uint8_t *p = crashfs_read_durable(fs, "/f", &n);
    CHECK(p && n == 0); /* the failed fsync synced nothing */
    free(p);
    CHECK_EQ(io->fsync(io->ctx, fd), 0);
    p = crashfs_read_durable(fs, "/f", &n);
    CHECK(p && n == 2 && !memcmp(p, "ac", 2));
    free(p);
    crashfs_cut_after(fs, 2);
    CHECK_EQ(io->pwrite(io->ctx, fd, "d", 1, 2), 1);
    CHECK_EQ(io->fsync(io->ctx, fd), 0);
    CHECK_EQ(io->pwrite(io->ctx, fd, "e", 1, 3), -1);
    CHECK_EQ(errno, EIO);
    CHECK_EQ(io->stat(io->ctx, "/f", &(log_io_stat){0}), -1);
    int64_t before = crashfs_op_count(fs);
    CHECK_EQ(io->mkdir(io->ctx, "/x", 0755), -1);
    CHECK_EQ(crashfs_op_count(fs), before + 1);
    crashfs_crash(fs, 7);
    CHECK_EQ(io->mkdir(io->ctx, "/x", 0755), 0); /* power back */
    crashfs_stats st;
    crashfs_get_stats(fs, &st);
    CHECK_EQ(st.crashes, 1);
    CHECK(st.ops[CRASHFS_OP_WRITE] >= 5);
    crashfs_free(fs);
}

/* The same operations and the same seed give the same state, byte for byte;
 * other seeds give other states. */
static uint64_t scripted_run(uint64_t seed) {
    crashfs *fs = crashfs_new();
    const log_io *io = crashfs_io(fs);
    rng r;
    rng_seed(&r, 42); /* the operations: the same for every crash seed */
    io->mkdir(io->ctx, "/d", 0755);
    for (int i = 0; i < 200; i++) {
        char path[32], data[64];
        snprintf(path, sizeof path, "/d/f%d", (int)rng_below(&r, 6));
        int fd = io->open(io->ctx, path, O_RDWR | O_CREAT, 0644);
        int len = 1 + (int)rng_below(&r, 60);
        for (int k = 0; k < len; k++)
            data[k] = (char)('a' + rng_below(&r, 26));
        io->pwrite(io->ctx, fd, data, (size_t)len, (off_t)rng_below(&r, 100));
        switch (rng_below(&r, 8)) {
        case 0:
            io->fsync(io->ctx, fd);
            break;
        case 1:
            io->fsync_dir(io->ctx, "/d");
            break;
        case 2:
            io->ftruncate(io->ctx, fd, (off_t)rng_below(&r, 50));
            break;
        case 3: {
            char to[32];
            snprintf(to, sizeof to, "/d/f%d", (int)rng_below(&r, 6));
            io->rename(io->ctx, path, to);
            break;
        }
        case 4:
            io->unlink(io->ctx, path);
            break;
        default:
            break;
        }
        io->close(io->ctx, fd);
    }
    crashfs_crash(fs, seed);
    uint64_t h = crashfs_digest(fs);
    crashfs_free(fs);
    return h;
}

TEST(crashfs_replay_from_seed_gives_identical_state) {
    uint64_t base = test_seed();
    int differ = 0;
    for (uint64_t i = 0; i < 16; i++) {
        uint64_t a = scripted_run(base + i), b = scripted_run(base + i);
        if (a != b)
            test_fail(__FILE__, __LINE__,
                      "crash seed %llu gave two states (replay: "
                      "SLUICE_TEST_SEED=%llu build/test_unit crashfs_replay)",
                      (unsigned long long)(base + i), (unsigned long long)base);
        differ += a != scripted_run(base + i + 1000);
    }
    CHECK(differ > 0);
}
