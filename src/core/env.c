/*
 * env.c - the process environment, the current-env pointer, and the two
 * executors (worker threads, inline). See env.h.
 */
#include "core/env.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"

sl_env sl_env_process = {.name = "process"};
_Thread_local const sl_env *sl_env_tls;

void sl_env_halt(int code) {
    const sl_env *e = sl_env_cur();
    if (e->halt) {
        e->halt(e->halt_ctx, code);
        return;
    }
    fflush(NULL);
    _exit(code);
}

sl_executor *sl_exec_new(const char *name, int threads) {
    const sl_exec_ops *ops = sl_env_cur()->exec;
    if (!ops)
        ops = &sl_exec_threads;
    return ops->create(ops->ctx, name, threads);
}

/* ---- inline ---------------------------------------------------------------
 */
static void inline_submit(sl_executor *ex, sl_task_fn fn, void *arg) {
    (void)ex;
    fn(arg);
}

static void inline_destroy(sl_executor *ex) {
    free(ex);
}

static sl_executor *inline_create(void *ctx, const char *name, int threads) {
    (void)ctx;
    (void)name;
    (void)threads;
    sl_executor *ex = xcalloc(1, sizeof *ex);
    ex->submit = inline_submit;
    ex->destroy = inline_destroy;
    ex->is_inline = true;
    return ex;
}

const sl_exec_ops sl_exec_inline = {.create = inline_create};

/* ---- worker threads -------------------------------------------------------
 * A FIFO of tasks under one mutex; workers take from the head, so with one
 * worker tasks run in submission order. Started lazily by the first submit
 * (an executor that never gets work costs no thread). */
typedef struct task {
    struct task *next;
    sl_task_fn fn;
    void *arg;
} task;

typedef struct pool {
    sl_executor ex;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    task *head, *tail;
    bool stop;
    int want, started;
    pthread_t *th;
    char name[16];
} pool;

static void *pool_main(void *arg) {
    pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->head && !p->stop)
            pthread_cond_wait(&p->cv, &p->mu);
        task *t = p->head;
        if (!t)
            break; /* stopping and drained */
        p->head = t->next;
        if (!p->head)
            p->tail = NULL;
        pthread_mutex_unlock(&p->mu);
        t->fn(t->arg);
        free(t);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void pool_submit(sl_executor *ex, sl_task_fn fn, void *arg) {
    pool *p = (pool *)ex;
    task *t = xcalloc(1, sizeof *t);
    t->fn = fn;
    t->arg = arg;
    pthread_mutex_lock(&p->mu);
    SL_ASSERT(!p->stop);
    if (p->tail)
        p->tail->next = t;
    else
        p->head = t;
    p->tail = t;
    /* One more worker while fewer run than asked for. */
    if (p->started < p->want &&
        pthread_create(&p->th[p->started], NULL, pool_main, p) == 0) {
        pthread_setname_np(p->th[p->started], p->name);
        p->started++;
    }
    bool none = p->started == 0;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    if (none) {
        /* No thread could be started: run it here rather than never. */
        pthread_mutex_lock(&p->mu);
        task *h = p->head;
        p->head = h->next;
        if (!p->head)
            p->tail = NULL;
        pthread_mutex_unlock(&p->mu);
        h->fn(h->arg);
        free(h);
    }
}

static void pool_destroy(sl_executor *ex) {
    pool *p = (pool *)ex;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->started; i++)
        pthread_join(p->th[i], NULL);
    /* Tasks submitted with no thread ever started were run inline. */
    SL_ASSERT(!p->head);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->th);
    free(p);
}

static sl_executor *pool_create(void *ctx, const char *name, int threads) {
    (void)ctx;
    pool *p = xcalloc(1, sizeof *p);
    p->ex.submit = pool_submit;
    p->ex.destroy = pool_destroy;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->want = threads > 0 ? threads : 1;
    p->th = xcalloc((size_t)p->want, sizeof *p->th);
    snprintf(p->name, sizeof p->name, "%s", name ? name : "sl-exec");
    return &p->ex;
}

const sl_exec_ops sl_exec_threads = {.create = pool_create};
