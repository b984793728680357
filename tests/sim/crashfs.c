/*
 * crashfs.c - the crash file system (model, ownership and threading in
 * crashfs.h).
 *
 * Invariants:
 *  1. Every inode ever created is in fs->inodes (creation order) until a
 *     crash finds it unreachable or crashfs_free; an unlinked file stays
 *     there because a durable entry may still name it.
 *  2. A file's volatile image = its durable image with its pending ops
 *     applied in order; fsync empties pending and copies the image.
 *  3. A directory's volatile entries = its durable entries with its pending
 *     namespace ops applied in order; fsync_dir empties them. Entries are
 *     sorted by name.
 *  4. fds index fs->fds; a free slot has ino NULL. A crash or kill empties
 *     the table.
 */
#include "crashfs.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/util.h"

#define FD_BASE 1000 /* never mistaken for a kernel fd in a test */

typedef struct cf_inode cf_inode;

typedef struct cf_dirent {
    char *name;
    cf_inode *ino;
} cf_dirent;

typedef struct cf_entries {
    cf_dirent *v;
    int n, cap;
} cf_entries;

enum { FOP_WRITE, FOP_TRUNCATE };
typedef struct cf_fop {
    int kind;
    int64_t off; /* write offset, or truncate length */
    int64_t len;
    uint8_t *data;
} cf_fop;

enum { NOP_LINK, NOP_UNLINK, NOP_RENAME };
typedef struct cf_nop {
    int kind;
    char *name, *to;
    cf_inode *ino;
} cf_nop;

typedef struct cf_bytes {
    uint8_t *p;
    int64_t size, cap;
} cf_bytes;

struct cf_inode {
    uint64_t id;
    bool is_dir;
    bool mark;
    /* file */
    cf_bytes data, durable;
    cf_fop *fops;
    int nfops, capfops;
    /* directory */
    cf_entries ents, dents;
    cf_nop *nops;
    int nnops, capnops;
};

typedef struct cf_fd {
    cf_inode *ino;
    int flags;
} cf_fd;

typedef struct cf_fault {
    int countdown; /* 0: none */
    int err;
} cf_fault;

struct crashfs {
    pthread_mutex_t mu;
    log_io io;
    cf_inode *root;
    cf_inode **inodes;
    int ninodes, capinodes;
    uint64_t next_id;
    cf_fd *fds;
    int nfds;
    cf_fault faults[CRASHFS_OP_COUNT];
    int64_t cut_left; /* -1: no cut; 0: the power is off */
    int64_t op_count;
    crashfs_stats st;
};

/* ---- bytes and entries --------------------------------------------------- */
static void bytes_resize(cf_bytes *b, int64_t size) {
    if (size > b->cap) {
        int64_t cap = b->cap ? b->cap : 64;
        while (cap < size)
            cap *= 2;
        b->p = xrealloc(b->p, (size_t)cap);
        b->cap = cap;
    }
    if (size > b->size)
        memset(b->p + b->size, 0, (size_t)(size - b->size));
    b->size = size;
}

static void bytes_write(cf_bytes *b, int64_t off, const void *p, int64_t n) {
    if (off + n > b->size)
        bytes_resize(b, off + n);
    memcpy(b->p + off, p, (size_t)n);
}

static void bytes_copy(cf_bytes *dst, const cf_bytes *src) {
    dst->size = 0;
    bytes_resize(dst, src->size);
    if (src->size)
        memcpy(dst->p, src->p, (size_t)src->size);
}

static int ents_find(const cf_entries *e, const char *name, bool *found) {
    int lo = 0, hi = e->n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        int c = strcmp(e->v[mid].name, name);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static cf_inode *ents_get(const cf_entries *e, const char *name) {
    bool found;
    int i = ents_find(e, name, &found);
    return found ? e->v[i].ino : NULL;
}

static void ents_set(cf_entries *e, const char *name, cf_inode *ino) {
    bool found;
    int i = ents_find(e, name, &found);
    if (found) {
        e->v[i].ino = ino;
        return;
    }
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 8;
        e->v = xrealloc(e->v, sizeof(*e->v) * (size_t)e->cap);
    }
    memmove(e->v + i + 1, e->v + i, sizeof(*e->v) * (size_t)(e->n - i));
    e->v[i].name = xstrdup(name);
    e->v[i].ino = ino;
    e->n++;
}

static void ents_del(cf_entries *e, const char *name) {
    bool found;
    int i = ents_find(e, name, &found);
    if (!found)
        return;
    free(e->v[i].name);
    memmove(e->v + i, e->v + i + 1, sizeof(*e->v) * (size_t)(e->n - i - 1));
    e->n--;
}

static void ents_clear(cf_entries *e) {
    for (int i = 0; i < e->n; i++)
        free(e->v[i].name);
    e->n = 0;
}

static void ents_copy(cf_entries *dst, const cf_entries *src) {
    ents_clear(dst);
    for (int i = 0; i < src->n; i++)
        ents_set(dst, src->v[i].name, src->v[i].ino);
}

/* ---- inodes -------------------------------------------------------------- */
static cf_inode *inode_new(crashfs *fs, bool is_dir) {
    cf_inode *ino = xcalloc(1, sizeof(*ino));
    ino->id = fs->next_id++;
    ino->is_dir = is_dir;
    if (fs->ninodes == fs->capinodes) {
        fs->capinodes = fs->capinodes ? fs->capinodes * 2 : 64;
        fs->inodes =
            xrealloc(fs->inodes, sizeof(*fs->inodes) * (size_t)fs->capinodes);
    }
    fs->inodes[fs->ninodes++] = ino;
    return ino;
}

static void fops_clear(cf_inode *ino) {
    for (int i = 0; i < ino->nfops; i++)
        free(ino->fops[i].data);
    ino->nfops = 0;
}

static void nops_clear(cf_inode *ino) {
    for (int i = 0; i < ino->nnops; i++) {
        free(ino->nops[i].name);
        free(ino->nops[i].to);
    }
    ino->nnops = 0;
}

static void inode_free(cf_inode *ino) {
    fops_clear(ino);
    nops_clear(ino);
    free(ino->fops);
    free(ino->nops);
    free(ino->data.p);
    free(ino->durable.p);
    ents_clear(&ino->ents);
    ents_clear(&ino->dents);
    free(ino->ents.v);
    free(ino->dents.v);
    free(ino);
}

static void fop_add(cf_inode *ino, int kind, int64_t off, const void *p,
                    int64_t len) {
    if (ino->nfops == ino->capfops) {
        ino->capfops = ino->capfops ? ino->capfops * 2 : 8;
        ino->fops =
            xrealloc(ino->fops, sizeof(*ino->fops) * (size_t)ino->capfops);
    }
    cf_fop *op = &ino->fops[ino->nfops++];
    op->kind = kind;
    op->off = off;
    op->len = len;
    op->data = NULL;
    if (p && len > 0) {
        op->data = xmalloc((size_t)len);
        memcpy(op->data, p, (size_t)len);
    }
}

static void nop_add(cf_inode *dir, int kind, const char *name, const char *to,
                    cf_inode *ino) {
    if (dir->nnops == dir->capnops) {
        dir->capnops = dir->capnops ? dir->capnops * 2 : 8;
        dir->nops =
            xrealloc(dir->nops, sizeof(*dir->nops) * (size_t)dir->capnops);
    }
    cf_nop *op = &dir->nops[dir->nnops++];
    op->kind = kind;
    op->name = xstrdup(name);
    op->to = to ? xstrdup(to) : NULL;
    op->ino = ino;
}

static void nop_apply(cf_entries *e, const cf_nop *op) {
    switch (op->kind) {
    case NOP_LINK:
        ents_set(e, op->name, op->ino);
        break;
    case NOP_UNLINK:
        if (ents_get(e, op->name) == op->ino)
            ents_del(e, op->name);
        break;
    default: /* NOP_RENAME */
        if (ents_get(e, op->name) == op->ino)
            ents_del(e, op->name);
        ents_set(e, op->to, op->ino);
        break;
    }
}

static void file_sync(cf_inode *ino) {
    bytes_copy(&ino->durable, &ino->data);
    fops_clear(ino);
}

static void dir_sync(cf_inode *dir) {
    ents_copy(&dir->dents, &dir->ents);
    nops_clear(dir);
}

/* ---- paths --------------------------------------------------------------- */
/* Resolves path's parent directory into *dir and copies its last component
 * into name. -1 with errno. The root itself has no parent (EINVAL). */
static int resolve_parent(crashfs *fs, const char *path, cf_inode **dir,
                          char *name, size_t cap) {
    if (!path || path[0] != '/') {
        errno = EINVAL;
        return -1;
    }
    cf_inode *cur = fs->root;
    const char *p = path;
    char comp[256];
    bool have = false;
    for (;;) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *e = strchr(p, '/');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l >= sizeof(comp) || l >= cap) {
            errno = ENAMETOOLONG;
            return -1;
        }
        if (have) { /* descend through the previous component */
            cf_inode *nx = ents_get(&cur->ents, comp);
            if (!nx) {
                errno = ENOENT;
                return -1;
            }
            if (!nx->is_dir) {
                errno = ENOTDIR;
                return -1;
            }
            cur = nx;
        }
        memcpy(comp, p, l);
        comp[l] = 0;
        if (!strcmp(comp, "..")) {
            errno = EINVAL;
            return -1;
        }
        have = strcmp(comp, ".") != 0;
        if (!have)
            comp[0] = 0;
        p += l;
    }
    if (!have) {
        errno = EINVAL;
        return -1;
    }
    *dir = cur;
    memcpy(name, comp, strlen(comp) + 1);
    return 0;
}

/* The inode at path, or NULL with errno. */
static cf_inode *lookup(crashfs *fs, const char *path) {
    char name[256];
    cf_inode *dir;
    bool root = true;
    for (const char *p = path; p && *p; p++)
        if (*p != '/' && !(*p == '.' && (p[1] == '/' || !p[1]))) {
            root = false;
            break;
        }
    if (path && path[0] == '/' && root)
        return fs->root;
    if (resolve_parent(fs, path, &dir, name, sizeof(name)) != 0)
        return NULL;
    cf_inode *ino = ents_get(&dir->ents, name);
    if (!ino)
        errno = ENOENT;
    return ino;
}

/* ---- op prologue: counters, faults, the power cut ------------------------ */
static int begin(crashfs *fs, crashfs_op op) {
    pthread_mutex_lock(&fs->mu);
    fs->op_count++;
    fs->st.ops[op]++;
    if (op == CRASHFS_OP_CLOSE)
        return 0;
    if (fs->cut_left == 0) {
        errno = EIO;
        return -1;
    }
    if (fs->cut_left > 0)
        fs->cut_left--;
    cf_fault *f = &fs->faults[op];
    if (f->countdown > 0 && --f->countdown == 0) {
        errno = f->err;
        return -1;
    }
    return 0;
}

static int end_err(crashfs *fs, int err) {
    pthread_mutex_unlock(&fs->mu);
    errno = err;
    return -1;
}

static int end_ok(crashfs *fs, int rc) {
    pthread_mutex_unlock(&fs->mu);
    return rc;
}

static ssize_t end_n(crashfs *fs, int64_t n) {
    pthread_mutex_unlock(&fs->mu);
    return (ssize_t)n;
}

static cf_fd *get_fd(crashfs *fs, int fd) {
    int i = fd - FD_BASE;
    if (i < 0 || i >= fs->nfds || !fs->fds[i].ino)
        return NULL;
    return &fs->fds[i];
}

static int new_fd(crashfs *fs, cf_inode *ino, int flags) {
    int i = 0;
    while (i < fs->nfds && fs->fds[i].ino)
        i++;
    if (i == fs->nfds) {
        fs->fds = xrealloc(fs->fds, sizeof(*fs->fds) * (size_t)(fs->nfds + 1));
        fs->nfds++;
    }
    fs->fds[i].ino = ino;
    fs->fds[i].flags = flags;
    return FD_BASE + i;
}

/* ---- the seam ------------------------------------------------------------ */
static int cf_open(void *ctx, const char *path, int flags, int mode) {
    crashfs *fs = ctx;
    (void)mode;
    if (begin(fs, CRASHFS_OP_OPEN))
        return end_err(fs, errno);
    if (flags & (O_APPEND | O_DIRECTORY))
        return end_err(fs, EINVAL);
    char name[256];
    cf_inode *dir;
    if (resolve_parent(fs, path, &dir, name, sizeof(name)) != 0)
        return end_err(fs, errno);
    cf_inode *ino = ents_get(&dir->ents, name);
    if (ino && (flags & O_CREAT) && (flags & O_EXCL))
        return end_err(fs, EEXIST);
    if (ino && ino->is_dir)
        return end_err(fs, EISDIR);
    if (!ino) {
        if (!(flags & O_CREAT))
            return end_err(fs, ENOENT);
        ino = inode_new(fs, false);
        ents_set(&dir->ents, name, ino);
        nop_add(dir, NOP_LINK, name, NULL, ino);
    } else if ((flags & O_TRUNC) && (flags & O_ACCMODE) != O_RDONLY) {
        ino->data.size = 0;
        fop_add(ino, FOP_TRUNCATE, 0, NULL, 0);
    }
    return end_ok(fs, new_fd(fs, ino, flags));
}

static int cf_close(void *ctx, int fd) {
    crashfs *fs = ctx;
    begin(fs, CRASHFS_OP_CLOSE);
    cf_fd *f = get_fd(fs, fd);
    if (!f)
        return end_err(fs, EBADF);
    f->ino = NULL;
    return end_ok(fs, 0);
}

static ssize_t cf_pread(void *ctx, int fd, void *buf, size_t n, off_t off) {
    crashfs *fs = ctx;
    if (begin(fs, CRASHFS_OP_READ))
        return end_err(fs, errno);
    cf_fd *f = get_fd(fs, fd);
    if (!f)
        return end_err(fs, EBADF);
    if ((f->flags & O_ACCMODE) == O_WRONLY)
        return end_err(fs, EBADF);
    if (off < 0)
        return end_err(fs, EINVAL);
    const cf_bytes *d = &f->ino->data;
    if (off >= d->size)
        return end_n(fs, 0);
    int64_t k = SL_MIN((int64_t)n, d->size - off);
    memcpy(buf, d->p + off, (size_t)k);
    return end_n(fs, k);
}

static ssize_t cf_pwrite(void *ctx, int fd, const void *buf, size_t n,
                         off_t off) {
    crashfs *fs = ctx;
    if (begin(fs, CRASHFS_OP_WRITE))
        return end_err(fs, errno);
    cf_fd *f = get_fd(fs, fd);
    if (!f || (f->flags & O_ACCMODE) == O_RDONLY)
        return end_err(fs, EBADF);
    if (off < 0)
        return end_err(fs, EINVAL);
    if (n == 0)
        return end_n(fs, 0);
    bytes_write(&f->ino->data, off, buf, (int64_t)n);
    fop_add(f->ino, FOP_WRITE, off, buf, (int64_t)n);
    return end_n(fs, (int64_t)n);
}

static int cf_fsync(void *ctx, int fd) {
    crashfs *fs = ctx;
    if (begin(fs, CRASHFS_OP_FSYNC))
        return end_err(fs, errno);
    cf_fd *f = get_fd(fs, fd);
    if (!f)
        return end_err(fs, EBADF);
    file_sync(f->ino);
    return end_ok(fs, 0);
}

static int cf_ftruncate(void *ctx, int fd, off_t len) {
    crashfs *fs = ctx;
    if (begin(fs, CRASHFS_OP_TRUNCATE))
        return end_err(fs, errno);
    cf_fd *f = get_fd(fs, fd);
    if (!f || (f->flags & O_ACCMODE) == O_RDONLY)
        return end_err(fs, EBADF);
    if (len < 0)
        return end_err(fs, EINVAL);
    cf_bytes *d = &f->ino->data;
    if (len < d->size)
        d->size = len;
    else
        bytes_resize(d, len);
    fop_add(f->ino, FOP_TRUNCATE, len, NULL, 0);
    return end_ok(fs, 0);
}

static int cf_rename(void *ctx, const char *from, const char *to) {
    crashfs *fs = ctx;
    if (begin(fs, CRASHFS_OP_RENAME))
        return end_err(fs, errno);
    char a[256], b[256];
    cf_inode *da, *db;
    if (resolve_parent(fs, from, &da, a, sizeof(a)) != 0 ||
        resolve_parent(fs, to, &db, b, sizeof(b)) != 0)
        return end_err(fs, errno);
    cf_inode *ino = ents_get(&da->ents, a);
    if (!ino)
        return end_err(fs, ENOENT);
    if (da != db)
        return end_err(fs, EXDEV);
    if (!strcmp(a, b))
        return end_ok(fs, 0);
    cf_inode *old = ents_get(&db->ents, b);
    if (old && old->is_dir != ino->is_dir)
        return end_err(fs, old->is_dir ? EISDIR : ENOTDIR);
    if (old && old->is_dir && old->ents.n)
        return end_err(fs, ENOTEMPTY);
    ents_del(&da->ents, a);
    ents_set(&db->ents, b, ino);
    nop_add(da, NOP_RENAME, a, b, ino);
    return end_ok(fs, 0);
}

static int cf_unlink(void *ctx, const char *path) {
    crashfs *fs = ctx;
    if (begin(fs, CRASHFS_OP_UNLINK))
        return end_err(fs, errno);
    char name[256];
    cf_inode *dir;
    if (resolve_parent(fs, path, &dir, name, sizeof(name)) != 0)
        return end_err(fs, errno);
    cf_inode *ino = ents_get(&dir->ents, name);
    if (!ino)
        return end_err(fs, ENOENT);
    if (ino->is_dir)
        return end_err(fs, EISDIR);
    ents_del(&dir->ents, name);
    nop_add(dir, NOP_UNLINK, name, NULL, ino);
    return end_ok(fs, 0);
}

static int cf_mkdir(void *ctx, const char *path, int mode) {
    crashfs *fs = ctx;
    (void)mode;
    if (begin(fs, CRASHFS_OP_MKDIR))
        return end_err(fs, errno);
    if (lookup(fs, path))
        return end_err(fs, EEXIST);
    char name[256];
    cf_inode *dir;
    if (resolve_parent(fs, path, &dir, name, sizeof(name)) != 0)
        return end_err(fs, errno);
    cf_inode *ino = inode_new(fs, true);
    ents_set(&dir->ents, name, ino);
    nop_add(dir, NOP_LINK, name, NULL, ino);
    return end_ok(fs, 0);
}

static int cf_rmdir(void *ctx, const char *path) {
    crashfs *fs = ctx;
    if (begin(fs, CRASHFS_OP_RMDIR))
        return end_err(fs, errno);
    char name[256];
    cf_inode *dir;
    if (resolve_parent(fs, path, &dir, name, sizeof(name)) != 0)
        return end_err(fs, errno);
    cf_inode *ino = ents_get(&dir->ents, name);
    if (!ino)
        return end_err(fs, ENOENT);
    if (!ino->is_dir)
        return end_err(fs, ENOTDIR);
    if (ino->ents.n)
        return end_err(fs, ENOTEMPTY);
    ents_del(&dir->ents, name);
    nop_add(dir, NOP_UNLINK, name, NULL, ino);
    return end_ok(fs, 0);
}

static void fill_stat(const cf_inode *ino, log_io_stat *st) {
    st->is_dir = ino->is_dir;
    st->size = ino->is_dir ? 0 : ino->data.size;
}

static int cf_stat(void *ctx, const char *path, log_io_stat *st) {
    crashfs *fs = ctx;
    if (begin(fs, CRASHFS_OP_STAT))
        return end_err(fs, errno);
    cf_inode *ino = lookup(fs, path);
    if (!ino)
        return end_err(fs, errno);
    fill_stat(ino, st);
    return end_ok(fs, 0);
}

static int cf_fstat(void *ctx, int fd, log_io_stat *st) {
    crashfs *fs = ctx;
    if (begin(fs, CRASHFS_OP_STAT))
        return end_err(fs, errno);
    cf_fd *f = get_fd(fs, fd);
    if (!f)
        return end_err(fs, EBADF);
    fill_stat(f->ino, st);
    return end_ok(fs, 0);
}

/* The names are copied before fn runs (without the lock: fn may call the
 * fs), so fn may change the directory. */
static int cf_list(void *ctx, const char *dir,
                   void (*fn)(void *arg, const char *name), void *arg) {
    crashfs *fs = ctx;
    if (begin(fs, CRASHFS_OP_LIST))
        return end_err(fs, errno);
    cf_inode *d = lookup(fs, dir);
    if (!d)
        return end_err(fs, errno);
    if (!d->is_dir)
        return end_err(fs, ENOTDIR);
    int n = d->ents.n;
    char **names = xmalloc(sizeof(*names) * (size_t)(n + 1));
    for (int i = 0; i < n; i++)
        names[i] = xstrdup(d->ents.v[i].name);
    pthread_mutex_unlock(&fs->mu);
    for (int i = 0; i < n; i++) {
        fn(arg, names[i]);
        free(names[i]);
    }
    free(names);
    return 0;
}

static int cf_fsync_dir(void *ctx, const char *dir) {
    crashfs *fs = ctx;
    if (begin(fs, CRASHFS_OP_FSYNC_DIR))
        return end_err(fs, errno);
    cf_inode *d = lookup(fs, dir);
    if (!d)
        return end_err(fs, errno);
    if (!d->is_dir)
        return end_err(fs, ENOTDIR);
    dir_sync(d);
    return end_ok(fs, 0);
}

static void sync_all_locked(crashfs *fs) {
    for (int i = 0; i < fs->ninodes; i++) {
        if (fs->inodes[i]->is_dir)
            dir_sync(fs->inodes[i]);
        else
            file_sync(fs->inodes[i]);
    }
}

static int cf_syncfs(void *ctx, const char *path) {
    crashfs *fs = ctx;
    if (begin(fs, CRASHFS_OP_SYNCFS))
        return end_err(fs, errno);
    if (!lookup(fs, path))
        return end_err(fs, errno);
    sync_all_locked(fs);
    return end_ok(fs, 0);
}

static int cf_dup(void *ctx, int fd) {
    crashfs *fs = ctx;
    if (begin(fs, CRASHFS_OP_DUP))
        return end_err(fs, errno);
    cf_fd *f = get_fd(fs, fd);
    if (!f)
        return end_err(fs, EBADF);
    cf_inode *ino = f->ino;
    int flags = f->flags; /* new_fd may move the table */
    return end_ok(fs, new_fd(fs, ino, flags));
}

/* ---- life cycle ---------------------------------------------------------- */
crashfs *crashfs_new(void) {
    crashfs *fs = xcalloc(1, sizeof(*fs));
    pthread_mutex_init(&fs->mu, NULL);
    fs->next_id = 1;
    fs->root = inode_new(fs, true);
    fs->cut_left = -1;
    fs->io = (log_io){
        .open = cf_open,
        .close = cf_close,
        .pread = cf_pread,
        .pwrite = cf_pwrite,
        .fsync = cf_fsync,
        .ftruncate = cf_ftruncate,
        .rename = cf_rename,
        .unlink = cf_unlink,
        .mkdir = cf_mkdir,
        .rmdir = cf_rmdir,
        .stat = cf_stat,
        .fstat = cf_fstat,
        .list = cf_list,
        .fsync_dir = cf_fsync_dir,
        .syncfs = cf_syncfs,
        .dup = cf_dup,
        .ctx = fs,
    };
    return fs;
}

void crashfs_free(crashfs *fs) {
    if (!fs)
        return;
    for (int i = 0; i < fs->ninodes; i++)
        inode_free(fs->inodes[i]);
    free(fs->inodes);
    free(fs->fds);
    pthread_mutex_destroy(&fs->mu);
    free(fs);
}

const log_io *crashfs_io(crashfs *fs) {
    return &fs->io;
}

static void mark_reachable(cf_inode *dir) {
    dir->mark = true;
    for (int i = 0; i < dir->ents.n; i++) {
        cf_inode *c = dir->ents.v[i].ino;
        if (c->mark)
            continue;
        if (c->is_dir)
            mark_reachable(c);
        else
            c->mark = true;
    }
}

/* After a crash or kill: the volatile state is also the durable one. */
static void settle(crashfs *fs) {
    fs->nfds = 0;
    free(fs->fds);
    fs->fds = NULL;
    fs->cut_left = -1;
    for (int i = 0; i < CRASHFS_OP_COUNT; i++)
        fs->faults[i].countdown = 0;
    for (int i = 0; i < fs->ninodes; i++)
        fs->inodes[i]->mark = false;
    mark_reachable(fs->root);
    int k = 0;
    for (int i = 0; i < fs->ninodes; i++) {
        cf_inode *ino = fs->inodes[i];
        if (!ino->mark) {
            inode_free(ino);
            continue;
        }
        if (ino->is_dir)
            dir_sync(ino);
        else
            file_sync(ino);
        fs->inodes[k++] = ino;
    }
    fs->ninodes = k;
}

void crashfs_crash(crashfs *fs, uint64_t seed) {
    pthread_mutex_lock(&fs->mu);
    rng r;
    rng_seed(&r, seed);
    fs->st.crashes++;
    for (int i = 0; i < fs->ninodes; i++) {
        cf_inode *ino = fs->inodes[i];
        if (ino->is_dir) {
            cf_entries e = {0};
            ents_copy(&e, &ino->dents);
            for (int k = 0; k < ino->nnops; k++) {
                if (rng_below(&r, 2)) {
                    nop_apply(&e, &ino->nops[k]);
                    fs->st.names_kept++;
                } else {
                    fs->st.names_reverted++;
                }
            }
            ents_clear(&ino->ents);
            free(ino->ents.v);
            ino->ents = e;
            continue;
        }
        cf_bytes d = {0};
        bytes_copy(&d, &ino->durable);
        for (int k = 0; k < ino->nfops; k++) {
            const cf_fop *op = &ino->fops[k];
            if (op->kind == FOP_TRUNCATE) {
                if (rng_below(&r, 2)) {
                    if (op->off < d.size)
                        d.size = op->off;
                    else
                        bytes_resize(&d, op->off);
                    fs->st.truncates_kept++;
                } else {
                    fs->st.truncates_dropped++;
                }
                continue;
            }
            uint64_t c = rng_below(&r, 3);
            if (c == 2 && op->len < 2)
                c = 0;
            if (c == 0) {
                fs->st.writes_dropped++;
            } else if (c == 1) {
                bytes_write(&d, op->off, op->data, op->len);
                fs->st.writes_kept++;
            } else {
                int64_t keep =
                    1 + (int64_t)rng_below(&r, (uint64_t)op->len - 1);
                bytes_write(&d, op->off, op->data, keep);
                fs->st.writes_torn++;
            }
        }
        free(ino->data.p);
        ino->data = d;
    }
    settle(fs);
    pthread_mutex_unlock(&fs->mu);
}

void crashfs_kill(crashfs *fs) {
    pthread_mutex_lock(&fs->mu);
    settle(fs);
    pthread_mutex_unlock(&fs->mu);
}

void crashfs_sync_all(crashfs *fs) {
    pthread_mutex_lock(&fs->mu);
    sync_all_locked(fs);
    pthread_mutex_unlock(&fs->mu);
}

void crashfs_fail(crashfs *fs, crashfs_op op, int nth, int err) {
    pthread_mutex_lock(&fs->mu);
    fs->faults[op].countdown = nth > 0 ? nth : 0;
    fs->faults[op].err = err;
    pthread_mutex_unlock(&fs->mu);
}

void crashfs_cut_after(crashfs *fs, int64_t n) {
    pthread_mutex_lock(&fs->mu);
    fs->cut_left = n < 0 ? -1 : n;
    pthread_mutex_unlock(&fs->mu);
}

int64_t crashfs_op_count(const crashfs *fs) {
    return fs->op_count;
}

void crashfs_get_stats(const crashfs *fs, crashfs_stats *out) {
    *out = fs->st;
}

int crashfs_open_fds(const crashfs *fs) {
    int n = 0;
    for (int i = 0; i < fs->nfds; i++)
        n += fs->fds[i].ino != NULL;
    return n;
}

static uint8_t *read_image(crashfs *fs, const char *path, size_t *n,
                           bool durable) {
    pthread_mutex_lock(&fs->mu);
    cf_inode *ino = lookup(fs, path);
    uint8_t *p = NULL;
    if (ino && ino->is_dir) {
        errno = EISDIR;
    } else if (ino) {
        const cf_bytes *d = durable ? &ino->durable : &ino->data;
        p = xmalloc((size_t)d->size + 1);
        if (d->size)
            memcpy(p, d->p, (size_t)d->size);
        p[d->size] = 0;
        *n = (size_t)d->size;
    }
    pthread_mutex_unlock(&fs->mu);
    return p;
}

uint8_t *crashfs_read(crashfs *fs, const char *path, size_t *n) {
    return read_image(fs, path, n, false);
}

uint8_t *crashfs_read_durable(crashfs *fs, const char *path, size_t *n) {
    return read_image(fs, path, n, true);
}

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

static uint64_t digest_dir(const cf_inode *dir, uint64_t h) {
    for (int i = 0; i < dir->ents.n; i++) {
        const cf_dirent *e = &dir->ents.v[i];
        h = fnv(h, e->name, strlen(e->name) + 1);
        h = fnv(h, e->ino->is_dir ? "d" : "f", 1);
        if (e->ino->is_dir) {
            h = digest_dir(e->ino, h);
            h = fnv(h, "/", 1);
        } else {
            uint64_t sz = (uint64_t)e->ino->data.size;
            h = fnv(h, &sz, sizeof(sz));
            h = fnv(h, e->ino->data.p, (size_t)e->ino->data.size);
        }
    }
    return h;
}

uint64_t crashfs_digest(crashfs *fs) {
    pthread_mutex_lock(&fs->mu);
    uint64_t h = digest_dir(fs->root, 1469598103934665603ULL);
    pthread_mutex_unlock(&fs->mu);
    return h;
}
