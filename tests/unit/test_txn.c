/* Producer state (src/log/producer_state.c): sequence / epoch rules, the
 * last five batches, transactions and the last stable offset, aborted
 * transactions, snapshots and .txnindex files, expiration. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/util.h"
#include "log/batch.h"
#include "log/producer_state.h"
#include "proto/errors.h"
#include "test.h"

static log_batch_header hdr(int64_t pid, int16_t epoch, int32_t seq, int n,
                            bool txn) {
    log_batch_header h;
    memset(&h, 0, sizeof h);
    h.magic = 2;
    h.producer_id = pid;
    h.producer_epoch = epoch;
    h.base_sequence = seq;
    h.last_offset_delta = n - 1;
    h.records_count = n;
    h.max_timestamp = 1000;
    if (txn)
        h.attributes |= BATCH_ATTR_TRANSACTIONAL;
    return h;
}

/* check + (if accepted) append at *leo: what the produce path does. */
static int produce(ps_state *s, log_batch_header h, int64_t *leo,
                   int64_t *base) {
    ps_batch_meta dup;
    const char *msg;
    int rc = ps_check(s, &h, &dup, &msg);
    if (rc == PS_DUPLICATE) {
        *base = dup.first_offset;
        return rc;
    }
    if (rc)
        return rc;
    h.base_offset = *leo;
    *base = *leo;
    *leo += h.last_offset_delta + 1;
    ps_update(s, &h);
    return 0;
}

TEST(txn_sequence_rules) {
    ps_state s;
    ps_init(&s);
    int64_t leo = 0, base = -1;
    /* an unknown producer may start anywhere (its state may have expired) */
    CHECK_EQ(produce(&s, hdr(7, 0, 5, 3, false), &leo, &base), 0);
    CHECK_EQ(base, 0);
    CHECK_EQ(produce(&s, hdr(7, 0, 8, 2, false), &leo, &base), 0);
    CHECK_EQ(base, 3);
    /* a gap */
    CHECK_EQ(produce(&s, hdr(7, 0, 11, 1, false), &leo, &base),
             KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    /* a retry of the first batch: its original offsets, nothing appended */
    CHECK_EQ(produce(&s, hdr(7, 0, 5, 3, false), &leo, &base), PS_DUPLICATE);
    CHECK_EQ(base, 0);
    CHECK_EQ(leo, 5);
    /* same first sequence but another length is not a duplicate */
    CHECK_EQ(produce(&s, hdr(7, 0, 5, 2, false), &leo, &base),
             KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    /* a lower epoch is fenced */
    CHECK_EQ(produce(&s, hdr(7, -1 + 0, 10, 1, false), &leo, &base),
             KERR_INVALID_PRODUCER_EPOCH);
    /* a new epoch must start at 0 */
    CHECK_EQ(produce(&s, hdr(7, 1, 10, 1, false), &leo, &base),
             KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    CHECK_EQ(produce(&s, hdr(7, 1, 0, 1, false), &leo, &base), 0);
    CHECK_EQ(base, 5);
    /* the old epoch is now fenced, its batches forgotten */
    CHECK_EQ(produce(&s, hdr(7, 0, 10, 1, false), &leo, &base),
             KERR_INVALID_PRODUCER_EPOCH);
    /* other producers are independent; -1 is never tracked */
    CHECK_EQ(produce(&s, hdr(8, 0, 0, 1, false), &leo, &base), 0);
    CHECK_EQ(produce(&s, hdr(-1, -1, -1, 1, false), &leo, &base), 0);
    CHECK_EQ(produce(&s, hdr(-1, -1, -1, 1, false), &leo, &base), 0);
    CHECK_EQ(s.n, 2);
    ps_free(&s);
}

TEST(txn_last_five_batches) {
    ps_state s;
    ps_init(&s);
    int64_t leo = 0, base = -1;
    for (int i = 0; i < 8; i++)
        CHECK_EQ(produce(&s, hdr(1, 0, i * 2, 2, false), &leo, &base), 0);
    /* batches 3..7 (sequences 6..15) are remembered */
    for (int i = 3; i < 8; i++) {
        CHECK_EQ(produce(&s, hdr(1, 0, i * 2, 2, false), &leo, &base),
                 PS_DUPLICATE);
        CHECK_EQ(base, i * 2);
    }
    /* older ones are not: Kafka answers OUT_OF_ORDER_SEQUENCE_NUMBER */
    CHECK_EQ(produce(&s, hdr(1, 0, 4, 2, false), &leo, &base),
             KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    CHECK_EQ(leo, 16);
    /* sequence wraps at INT32_MAX */
    ps_state w;
    ps_init(&w);
    leo = 0;
    CHECK_EQ(produce(&w, hdr(2, 0, INT32_MAX - 1, 2, false), &leo, &base), 0);
    CHECK_EQ(produce(&w, hdr(2, 0, 0, 1, false), &leo, &base), 0);
    ps_free(&w);
    ps_free(&s);
}

TEST(txn_lso_and_aborted) {
    ps_state s;
    ps_init(&s);
    int64_t leo = 0, base = -1;
    CHECK_EQ(produce(&s, hdr(1, 0, 0, 1, false), &leo, &base), 0); /* 0 */
    CHECK_EQ(ps_first_unstable(&s), -1);
    CHECK_EQ(produce(&s, hdr(2, 0, 0, 2, true), &leo, &base),
             0); /* 1-2 txn A */
    CHECK_EQ(produce(&s, hdr(3, 0, 0, 1, true), &leo, &base), 0); /* 3 txn B */
    CHECK_EQ(ps_first_unstable(&s), 1);
    /* a non-transactional write while the transaction is open */
    CHECK_EQ(produce(&s, hdr(2, 0, 2, 1, false), &leo, &base),
             KERR_INVALID_TXN_STATE);
    CHECK_EQ(produce(&s, hdr(2, 0, 2, 1, true), &leo, &base), 0); /* 4 txn A */
    ps_aborted ab;
    /* abort A at 5: B still open, so the aborted entry's LSO is 3 */
    CHECK(ps_apply_marker(&s, 2, 0, BATCH_CONTROL_ABORT, 0, leo++, &ab));
    CHECK_EQ(ab.first_offset, 1);
    CHECK_EQ(ab.last_offset, 5);
    CHECK_EQ(ab.last_stable_offset, 3);
    CHECK_EQ(ps_first_unstable(&s), 3);
    /* commit B at 6: everything stable */
    CHECK(!ps_apply_marker(&s, 3, 0, BATCH_CONTROL_COMMIT, 0, leo++, &ab));
    CHECK_EQ(ps_first_unstable(&s), -1);
    CHECK_EQ(ps_aborted_in(&s, 0, 100, NULL, NULL), 1);
    CHECK_EQ(ps_aborted_in(&s, 6, 100, NULL, NULL), 0); /* ended before 6 */
    CHECK_EQ(ps_aborted_in(&s, 0, 1, NULL, NULL), 0);   /* starts at 1 */
    CHECK_EQ(ps_aborted_in(&s, 2, 3, NULL, NULL), 1);
    /* the same marker again (a restart finishing a commit twice) is harmless */
    ps_add_aborted(&s, &ab);
    ps_aborted ab2 = {2, 1, 5, 3};
    ps_add_aborted(&s, &ab2);
    CHECK_EQ(s.n_aborted, 1);
    /* a marker with a bumped epoch fences the old one */
    CHECK(ps_apply_marker(&s, 1, 1, BATCH_CONTROL_ABORT, 0, leo++, &ab));
    CHECK_EQ(produce(&s, hdr(1, 0, 1, 1, false), &leo, &base),
             KERR_INVALID_PRODUCER_EPOCH);
    CHECK_EQ(produce(&s, hdr(1, 1, 0, 1, false), &leo, &base), 0);
    ps_trim_aborted(&s, 6);
    CHECK_EQ(s.n_aborted, 1);
    ps_free(&s);
}

TEST(txn_replay_control_batch) {
    ps_state s;
    ps_init(&s);
    int64_t leo = 10, base = -1;
    CHECK_EQ(produce(&s, hdr(5, 3, 0, 4, true), &leo, &base), 0);
    buf b;
    buf_init(&b, 0);
    batch_build_control(&b, 5, 3, BATCH_CONTROL_ABORT, 9, 1234);
    log_batch_header h;
    CHECK_EQ(batch_validate(b.data, b.len, &h), KERR_NONE);
    h.base_offset = 14;
    ps_aborted ab;
    CHECK(ps_replay_batch(&s, b.data, &h, &ab));
    CHECK_EQ(ab.first_offset, 10);
    CHECK_EQ(ab.last_offset, 14);
    CHECK_EQ(ps_find(&s, 5)->coordinator_epoch, 9);
    CHECK_EQ(ps_first_unstable(&s), -1);
    buf_free(&b);
    ps_free(&s);
}

/* A marker from an older coordinator epoch than the producer's last one is
 * refused (Kafka's ProducerStateManager: TransactionCoordinatorFenced); the
 * same or a newer epoch is taken, and a producer never seen is not fenced. */
TEST(txn_marker_coordinator_epoch_fencing) {
    ps_state s;
    ps_init(&s);
    CHECK_EQ(ps_check_marker(&s, 7, 0), KERR_NONE); /* unknown producer */
    int64_t leo = 0, base = -1;
    CHECK_EQ(produce(&s, hdr(7, 1, 0, 2, true), &leo, &base), 0);
    CHECK_EQ(ps_check_marker(&s, 7, 0), KERR_NONE); /* no marker yet */
    ps_aborted ab;
    ps_apply_marker(&s, 7, 1, BATCH_CONTROL_COMMIT, 5, leo++, &ab);
    CHECK_EQ(ps_check_marker(&s, 7, 4), KERR_TRANSACTION_COORDINATOR_FENCED);
    CHECK_EQ(ps_check_marker(&s, 7, -1), KERR_TRANSACTION_COORDINATOR_FENCED);
    CHECK_EQ(ps_check_marker(&s, 7, 5), KERR_NONE);
    CHECK_EQ(ps_check_marker(&s, 7, 6), KERR_NONE);
    CHECK_EQ(ps_check_marker(&s, 8, 0), KERR_NONE); /* another producer */
    ps_free(&s);
}

TEST(txn_snapshot_roundtrip) {
    ps_state s, t;
    ps_init(&s);
    ps_init(&t);
    int64_t leo = 0, base = -1;
    CHECK_EQ(produce(&s, hdr(11, 2, 0, 3, false), &leo, &base), 0);
    CHECK_EQ(produce(&s, hdr(11, 2, 3, 2, false), &leo, &base), 0);
    CHECK_EQ(produce(&s, hdr(12, 0, 0, 1, true), &leo, &base), 0);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/ps", test_tmpdir());
    mkdir(dir, 0755);
    CHECK_EQ(ps_snapshot_write(NULL, &s, dir, leo), 0);
    char path[600];
    snprintf(path, sizeof path, "%s/%020lld.snapshot", dir, (long long)leo);
    struct stat st;
    CHECK_EQ(stat(path, &st), 0);
    CHECK_EQ(st.st_size, 10 + 2 * 46);
    CHECK_EQ(ps_snapshot_load_latest(NULL, &t, dir, 100), leo);
    CHECK_EQ(t.n, 2);
    ps_entry *e = ps_find(&t, 11);
    CHECK(e != NULL);
    CHECK_EQ(e->epoch, 2);
    CHECK_EQ(e->batches[e->n_batches - 1].last_seq, 4);
    CHECK_EQ(e->batches[e->n_batches - 1].first_offset, 3);
    CHECK_EQ(ps_find(&t, 12)->txn_first_offset, 5);
    CHECK_EQ(ps_first_unstable(&t), 5);
    /* the restored state keeps deduplicating the last batch and checking order
     */
    int64_t leo2 = leo;
    CHECK_EQ(produce(&t, hdr(11, 2, 3, 2, false), &leo2, &base), PS_DUPLICATE);
    CHECK_EQ(base, 3);
    CHECK_EQ(produce(&t, hdr(11, 2, 6, 1, false), &leo2, &base),
             KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    CHECK_EQ(produce(&t, hdr(11, 2, 5, 1, false), &leo2, &base), 0);
    /* a snapshot past the log end is ignored; a corrupt one is skipped */
    CHECK_EQ(ps_snapshot_load_latest(NULL, &t, dir, leo - 1), -1);
    int fd = open(path, O_WRONLY);
    CHECK(fd >= 0);
    CHECK_EQ(pwrite(fd, "\xff", 1, 20), 1);
    close(fd);
    ps_state u;
    ps_init(&u);
    CHECK_EQ(ps_snapshot_load_latest(NULL, &u, dir, 100), -1);
    /* cleaning keeps the newest */
    CHECK_EQ(ps_snapshot_write(NULL, &s, dir, 1), 0);
    CHECK_EQ(ps_snapshot_write(NULL, &s, dir, 2), 0);
    ps_snapshot_clean(NULL, dir, 1, 100);
    CHECK(stat(path, &st) == 0);
    snprintf(path, sizeof path, "%s/%020d.snapshot", dir, 1);
    CHECK(stat(path, &st) != 0);
    ps_free(&u);
    ps_free(&s);
    ps_free(&t);
}

TEST(txn_txnindex_files) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/ti", test_tmpdir());
    mkdir(dir, 0755);
    char path[600];
    /* two segments: 0 and 100 */
    snprintf(path, sizeof path, "%s/%020d.log", dir, 0);
    close(open(path, O_CREAT | O_WRONLY, 0644));
    snprintf(path, sizeof path, "%s/%020d.log", dir, 100);
    close(open(path, O_CREAT | O_WRONLY, 0644));
    ps_aborted a = {7, 10, 20, 10}, b = {8, 90, 120, 121};
    CHECK_EQ(ps_txnindex_append(NULL, dir, &a), 0);
    CHECK_EQ(ps_txnindex_append(NULL, dir, &b), 0);
    struct stat st;
    snprintf(path, sizeof path, "%s/%020d.txnindex", dir, 0);
    CHECK_EQ(stat(path, &st), 0);
    CHECK_EQ(st.st_size, 34);
    snprintf(path, sizeof path, "%s/%020d.txnindex", dir, 100);
    CHECK_EQ(stat(path, &st), 0);
    CHECK_EQ(st.st_size, 34);
    uint8_t e[34];
    ps_txnindex_encode(&b, e);
    CHECK_EQ(sl_load_be16(e), 0);
    CHECK_EQ((int64_t)sl_load_be64(e + 2), 8);
    CHECK_EQ((int64_t)sl_load_be64(e + 26), 121);
    ps_state s;
    ps_init(&s);
    CHECK_EQ(ps_txnindex_load(NULL, &s, dir, 0, 1000), 2);
    CHECK_EQ(s.n_aborted, 2);
    CHECK_EQ(ps_aborted_in(&s, 100, 200, NULL, NULL), 1);
    ps_state t;
    ps_init(&t);
    CHECK_EQ(ps_txnindex_load(NULL, &t, dir, 0, 100),
             1); /* only what ends below 100 */
    ps_free(&t);
    ps_free(&s);
}

TEST(txn_producer_expiration) {
    ps_state s;
    ps_init(&s);
    int64_t leo = 0, base = -1;
    log_batch_header h = hdr(1, 0, 0, 1, false);
    h.max_timestamp = 1000;
    CHECK_EQ(produce(&s, h, &leo, &base), 0);
    h = hdr(2, 0, 0, 1, true);
    h.max_timestamp = 1000;
    CHECK_EQ(produce(&s, h, &leo, &base), 0);
    h = hdr(3, 0, 0, 1, false);
    h.max_timestamp = 5000;
    CHECK_EQ(produce(&s, h, &leo, &base), 0);
    CHECK_EQ(ps_expire(&s, 5500, 1000),
             1); /* 1 expires; 2 has an open txn; 3 is recent */
    CHECK(ps_find(&s, 1) == NULL);
    CHECK(ps_find(&s, 2) != NULL);
    CHECK(ps_find(&s, 3) != NULL);
    /* an expired producer is unknown again: any sequence is accepted */
    CHECK_EQ(produce(&s, hdr(1, 0, 42, 1, false), &leo, &base), 0);
    ps_free(&s);
}
