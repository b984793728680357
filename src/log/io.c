/*
 * io.c - the log's file system seam: log_io_posix (the real one) and the
 * helpers every file of the log (and the cleaner, producer snapshots,
 * checkpoints) uses on a log_io: whole writes and reads, atomic replace,
 * directory listing. Any thread may call them.
 *
 * Keeps: log_io_write_atomic replaces a file so that a crash leaves the
 * old or the new content, never a mix (temp + fsync + rename + fsync of
 * the directory, whose error is reported).
 */
#include <dirent.h>
#include <sys/stat.h>

#include "log_int.h"

/* ---- posix io ---------------------------------------------------------- */
static int px_open(void *c, const char *p, int f, int m) {
    (void)c;
    return open(p, f | O_CLOEXEC, m);
}
static int px_close(void *c, int fd) {
    (void)c;
    return close(fd);
}
static ssize_t px_pread(void *c, int fd, void *b, size_t n, off_t o) {
    (void)c;
    return pread(fd, b, n, o);
}
static ssize_t px_pwrite(void *c, int fd, const void *b, size_t n, off_t o) {
    (void)c;
    return pwrite(fd, b, n, o);
}
static int px_fsync(void *c, int fd) {
    (void)c;
    return fdatasync(fd);
}
static int px_ftruncate(void *c, int fd, off_t l) {
    (void)c;
    return ftruncate(fd, l);
}
static int px_rename(void *c, const char *a, const char *b) {
    (void)c;
    return rename(a, b);
}
static int px_unlink(void *c, const char *p) {
    (void)c;
    return unlink(p);
}
static int px_mkdir(void *c, const char *p, int m) {
    (void)c;
    return mkdir(p, (mode_t)m);
}
static int px_rmdir(void *c, const char *p) {
    (void)c;
    return rmdir(p);
}

static int px_stat(void *c, const char *p, log_io_stat *out) {
    (void)c;
    struct stat st;
    if (stat(p, &st) != 0)
        return -1;
    out->size = st.st_size;
    out->is_dir = S_ISDIR(st.st_mode);
    return 0;
}
static int px_fstat(void *c, int fd, log_io_stat *out) {
    (void)c;
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -1;
    out->size = st.st_size;
    out->is_dir = S_ISDIR(st.st_mode);
    return 0;
}
static int px_list(void *c, const char *dir,
                   void (*fn)(void *arg, const char *name), void *arg) {
    (void)c;
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *de;
    for (;;) {
        errno = 0;
        if (!(de = readdir(d)))
            break;
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            fn(arg, de->d_name);
    }
    int err = errno;
    closedir(d);
    errno = err;
    return err ? -1 : 0;
}
/* fsync (not fdatasync) of the directory, as before the seam existed. */
static int px_fsync_dir(void *c, const char *dir) {
    (void)c;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int err = errno;
    close(fd);
    errno = err;
    return rc;
}
static int px_syncfs(void *c, const char *path) {
    (void)c;
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = syncfs(fd);
    int err = errno;
    close(fd);
    errno = err;
    return rc;
}
static int px_dup(void *c, int fd) {
    (void)c;
    return fcntl(fd, F_DUPFD_CLOEXEC, 0);
}

const log_io log_io_posix = {
    .open = px_open,
    .close = px_close,
    .pread = px_pread,
    .pwrite = px_pwrite,
    .fsync = px_fsync,
    .ftruncate = px_ftruncate,
    .rename = px_rename,
    .unlink = px_unlink,
    .mkdir = px_mkdir,
    .rmdir = px_rmdir,
    .stat = px_stat,
    .fstat = px_fstat,
    .list = px_list,
    .fsync_dir = px_fsync_dir,
    .syncfs = px_syncfs,
    .dup = px_dup,
    .ctx = NULL,
};

char *lg_path_join(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    char *p = xmalloc(la + lb + 2);
    memcpy(p, a, la);
    p[la] = '/';
    memcpy(p + la + 1, b, lb + 1);
    return p;
}

/* Whole-buffer pwrite through io; false on error or short write (errno
 * EIO for a write of 0 bytes). Any thread (the cleaner workers use it). */
bool log_io_write_all(const log_io *io, int fd, const void *p, size_t n,
                      off_t off) {
    const uint8_t *b = p;
    while (n) {
        ssize_t w = io->pwrite(io->ctx, fd, b, n, off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return false;
        }
        b += w;
        n -= (size_t)w;
        off += w;
    }
    return true;
}

/* pread of exactly n bytes through io; returns bytes read (< n at end of
 * file), -1 on error. Any thread (the cleaner workers use it). */
ssize_t log_io_read_full(const log_io *io, int fd, void *p, size_t n,
                         off_t off) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = io->pread(io->ctx, fd, (uint8_t *)p + got, n - got,
                              off + (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* Size of a regular file through io, -1 if it cannot be stat'ed. */
int64_t lg_file_size(const log_manager *mgr, const char *path) {
    log_io_stat st;
    if (IOCALL(mgr, stat, path, &st) != 0)
        return -1;
    return st.size;
}

bool log_io_exists(const log_io *io, const char *path) {
    log_io_stat st;
    return io->stat(io->ctx, path, &st) == 0;
}

uint8_t *log_io_read_file(const log_io *io, const char *path, size_t max,
                          size_t *n) {
    *n = 0;
    int fd = io->open(io->ctx, path, O_RDONLY, 0);
    if (fd < 0)
        return NULL;
    log_io_stat st;
    uint8_t *p = NULL;
    if (io->fstat(io->ctx, fd, &st) != 0)
        goto out;
    if (st.size < 0 || (uint64_t)st.size > max) {
        errno = EFBIG;
        goto out;
    }
    p = xmalloc((size_t)st.size + 1);
    ssize_t got = log_io_read_full(io, fd, p, (size_t)st.size, 0);
    if (got != (ssize_t)st.size) {
        if (got >= 0)
            errno = EIO;
        free(p);
        p = NULL;
        goto out;
    }
    p[st.size] = 0;
    *n = (size_t)st.size;
out:;
    int err = errno;
    io->close(io->ctx, fd);
    errno = err;
    return p;
}

typedef struct name_list {
    char **v;
    int n, cap;
} name_list;

static void name_list_add(void *arg, const char *name) {
    name_list *l = arg;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = xrealloc(l->v, sizeof(*l->v) * (size_t)l->cap);
    }
    l->v[l->n++] = xstrdup(name);
}

char **log_io_list_names(const log_io *io, const char *dir, int *n) {
    name_list l = {xmalloc(sizeof(char *)), 0, 1};
    if (io->list(io->ctx, dir, name_list_add, &l) != 0) {
        int err = errno;
        log_io_free_names(l.v, l.n);
        *n = 0;
        errno = err;
        return NULL;
    }
    *n = l.n;
    return l.v;
}

void log_io_free_names(char **names, int n) {
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Temp + fsync + rename + fsync(dir) (Kafka's checkpoint discipline). */
bool log_io_write_atomic(const log_io *io, const char *path, const void *data,
                         size_t n) {
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = io->open(io->ctx, tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return false;
    bool ok =
        log_io_write_all(io, fd, data, n, 0) && io->fsync(io->ctx, fd) == 0;
    int err = errno;
    io->close(io->ctx, fd);
    if (ok)
        (void)SL_FAULT(LOG_REPLACE_BEFORE_RENAME); /* crash tests */
    if (!ok || io->rename(io->ctx, tmp, path) != 0) {
        if (ok)
            err = errno;
        io->unlink(io->ctx, tmp);
        errno = err;
        return false;
    }
    /* fsync the directory so the rename itself is durable; a failure is an
     * I/O error like any other (the caller poisons or reports it) */
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = 0;
        if (io->fsync_dir(io->ctx, dir[0] ? dir : "/") != 0)
            return false;
    }
    return true;
}

bool lg_write_file_atomic(log_manager *mgr, const char *path, const void *data,
                          size_t n) {
    return log_io_write_atomic(mgr->io, path, data, n);
}

/* Reads a small text file wholly into a NUL-terminated heap string. */
char *lg_read_text(log_manager *mgr, const char *path) {
    size_t n;
    return (char *)log_io_read_file(mgr->io, path, 64u << 20, &n);
}

bool lg_has_suffix(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}
