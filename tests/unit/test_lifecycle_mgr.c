/* Unit tests: the broker's lifecycle state machine (broker/lifecycle_mgr.h,
 * Kafka's BrokerLifecycleManager) with time passed in: registration and
 * its retries with backoff, STARTING -> RECOVERY -> RUNNING on the
 * controller's answers, heartbeats every interval, re-registration after
 * STALE_BROKER_EPOCH, controlled shutdown until ShouldShutDown. */
#include "broker/lifecycle_mgr.h"
#include "proto/errors.h"
#include "test.h"

#define IV 2000

/* Registered and running at epoch 42 by time 0 + a few ms; returns now. */
static int64_t run_up(blm *m) {
    int64_t now = 0;
    blm_init(m, IV, now);
    CHECK_EQ(blm_poll(m, now), BLM_SEND_REGISTRATION);
    blm_registration_done(m, now, KERR_NONE, 42);
    CHECK_EQ(blm_poll(m, now), BLM_SEND_HEARTBEAT);
    blm_heartbeat_done(m, now, KERR_NONE, true, false, false);
    CHECK_EQ(m->state, BLM_RECOVERY);
    now = blm_deadline(m);
    CHECK_EQ(now, 10);
    CHECK_EQ(blm_poll(m, now), BLM_SEND_HEARTBEAT);
    blm_heartbeat_done(m, now, KERR_NONE, true, false, false);
    CHECK_EQ(m->state, BLM_RUNNING);
    return now;
}

TEST(lifecycle_mgr_registers_then_catches_up_and_unfences) {
    blm m;
    blm_init(&m, IV, 1000);
    CHECK_EQ(m.state, BLM_STARTING);
    CHECK_EQ(m.epoch, -1);
    CHECK_EQ(blm_poll(&m, 999), BLM_NONE); /* not due yet */
    CHECK_EQ(blm_poll(&m, 1000), BLM_SEND_REGISTRATION);
    /* one request at a time */
    CHECK_EQ(blm_poll(&m, 1000), BLM_NONE);
    CHECK_EQ(blm_deadline(&m), INT64_MAX);
    blm_registration_done(&m, 1005, KERR_NONE, 77);
    CHECK(m.registered);
    CHECK_EQ(m.epoch, 77);
    /* a heartbeat at once */
    CHECK_EQ(blm_deadline(&m), 1005);
    CHECK_EQ(blm_poll(&m, 1005), BLM_SEND_HEARTBEAT);
    CHECK(!blm_want_shut_down(&m));
    /* not caught up: STARTING, the next one 10 ms later */
    blm_heartbeat_done(&m, 1006, KERR_NONE, false, true, false);
    CHECK_EQ(m.state, BLM_STARTING);
    CHECK_EQ(blm_deadline(&m), 1016);
    CHECK_EQ(blm_poll(&m, 1016), BLM_SEND_HEARTBEAT);
    blm_heartbeat_done(&m, 1017, KERR_NONE, true, true, false);
    CHECK_EQ(m.state, BLM_RECOVERY);
    CHECK_EQ(blm_poll(&m, 1027), BLM_SEND_HEARTBEAT);
    /* still fenced: RECOVERY, one interval later */
    blm_heartbeat_done(&m, 1030, KERR_NONE, true, true, false);
    CHECK_EQ(m.state, BLM_RECOVERY);
    CHECK_EQ(blm_deadline(&m), 1030 + IV);
    CHECK_EQ(blm_poll(&m, 1030 + IV), BLM_SEND_HEARTBEAT);
    blm_heartbeat_done(&m, 1030 + IV, KERR_NONE, true, false, false);
    CHECK_EQ(m.state, BLM_RUNNING);
    /* RUNNING: every interval */
    CHECK_EQ(blm_deadline(&m), 1030 + 2 * IV);
    CHECK_EQ(blm_poll(&m, 1030 + 2 * IV - 1), BLM_NONE);
    CHECK_EQ(blm_poll(&m, 1030 + 2 * IV), BLM_SEND_HEARTBEAT);
}

TEST(lifecycle_mgr_retries_with_backoff) {
    blm m;
    blm_init(&m, IV, 0);
    int64_t now = 0;
    int64_t waits[8];
    for (int i = 0; i < 8; i++) {
        CHECK_EQ(blm_poll(&m, now), BLM_SEND_REGISTRATION);
        /* NOT_CONTROLLER, a network error, a duplicate registration:
         * all retried */
        int err = i % 3 == 0   ? KERR_NOT_CONTROLLER
                  : i % 3 == 1 ? BLM_NET_ERROR
                               : KERR_DUPLICATE_BROKER_REGISTRATION;
        blm_registration_done(&m, now, err, -1);
        CHECK(!m.registered);
        waits[i] = blm_deadline(&m) - now;
        now = blm_deadline(&m);
    }
    /* doubling from 50 ms, capped at the heartbeat interval */
    CHECK_EQ(waits[0], 50);
    CHECK_EQ(waits[1], 100);
    CHECK_EQ(waits[2], 200);
    CHECK_EQ(waits[5], 1600);
    CHECK_EQ(waits[6], IV);
    CHECK_EQ(waits[7], IV);
    /* a send that never left counts as a failure too */
    CHECK_EQ(blm_poll(&m, now), BLM_SEND_REGISTRATION);
    blm_send_failed(&m, now);
    CHECK_EQ(blm_deadline(&m), now + IV);
    /* a success resets the backoff */
    now += IV;
    CHECK_EQ(blm_poll(&m, now), BLM_SEND_REGISTRATION);
    blm_registration_done(&m, now, KERR_NONE, 5);
    CHECK_EQ(blm_poll(&m, now), BLM_SEND_HEARTBEAT);
    blm_heartbeat_done(&m, now, BLM_NET_ERROR, false, true, false);
    CHECK_EQ(blm_deadline(&m), now + 50);
    CHECK(m.registered); /* a lost heartbeat keeps the registration */
}

TEST(lifecycle_mgr_registers_again_after_stale_broker_epoch) {
    blm m;
    int64_t now = run_up(&m);
    now = blm_deadline(&m);
    CHECK_EQ(blm_poll(&m, now), BLM_SEND_HEARTBEAT);
    blm_heartbeat_done(&m, now, KERR_STALE_BROKER_EPOCH, false, true, false);
    CHECK(!m.registered);
    CHECK_EQ(m.epoch, -1);
    CHECK_EQ(m.state, BLM_STARTING);
    now = blm_deadline(&m);
    CHECK_EQ(blm_poll(&m, now), BLM_SEND_REGISTRATION);
    blm_registration_done(&m, now, KERR_NONE, 99);
    CHECK_EQ(m.epoch, 99);
    CHECK_EQ(blm_poll(&m, now), BLM_SEND_HEARTBEAT);
}

TEST(lifecycle_mgr_controlled_shutdown_until_should_shut_down) {
    blm m;
    int64_t now = run_up(&m);
    now += 5;
    blm_begin_controlled_shutdown(&m, now);
    CHECK_EQ(m.state, BLM_PENDING_CONTROLLED_SHUTDOWN);
    CHECK(blm_want_shut_down(&m));
    /* at once, not a whole interval later */
    CHECK_EQ(blm_poll(&m, now), BLM_SEND_HEARTBEAT);
    blm_heartbeat_done(&m, now, KERR_NONE, true, false, false);
    CHECK_EQ(m.state, BLM_PENDING_CONTROLLED_SHUTDOWN);
    CHECK_EQ(blm_deadline(&m), now + 50); /* the first answer: 50 ms */
    now += 50;
    CHECK_EQ(blm_poll(&m, now), BLM_SEND_HEARTBEAT);
    blm_heartbeat_done(&m, now, KERR_NOT_CONTROLLER, false, true, false);
    CHECK_EQ(m.state, BLM_PENDING_CONTROLLED_SHUTDOWN); /* retried */
    now = blm_deadline(&m);
    CHECK_EQ(blm_poll(&m, now), BLM_SEND_HEARTBEAT);
    blm_heartbeat_done(&m, now, KERR_NONE, true, true, true);
    CHECK_EQ(m.state, BLM_SHUTTING_DOWN);
    CHECK_EQ(blm_deadline(&m), INT64_MAX);
    CHECK_EQ(blm_poll(&m, now + 10 * IV), BLM_NONE);
}

TEST(lifecycle_mgr_shutdown_without_running_skips_controlled_shutdown) {
    blm m;
    blm_init(&m, IV, 0);
    CHECK_EQ(blm_poll(&m, 0), BLM_SEND_REGISTRATION);
    blm_begin_controlled_shutdown(&m, 0);
    CHECK_EQ(m.state, BLM_SHUTTING_DOWN);
    /* the answer of what was in flight changes nothing */
    blm_registration_done(&m, 1, KERR_NONE, 3);
    CHECK_EQ(m.state, BLM_SHUTTING_DOWN);
    CHECK_EQ(blm_poll(&m, 100), BLM_NONE);
    /* a heartbeat in flight when controlled shutdown begins: its answer
     * (without ShouldShutDown) keeps the broker pending */
    int64_t now = run_up(&m);
    now = blm_deadline(&m);
    CHECK_EQ(blm_poll(&m, now), BLM_SEND_HEARTBEAT);
    blm_begin_controlled_shutdown(&m, now);
    blm_heartbeat_done(&m, now, KERR_NONE, true, false, false);
    CHECK_EQ(m.state, BLM_PENDING_CONTROLLED_SHUTDOWN);
    CHECK(blm_deadline(&m) <= now + 50);
    /* STALE_BROKER_EPOCH while pending: nothing left to move, done */
    CHECK_EQ(blm_poll(&m, blm_deadline(&m)), BLM_SEND_HEARTBEAT);
    blm_heartbeat_done(&m, now + 50, KERR_STALE_BROKER_EPOCH, false, true,
                       false);
    CHECK_EQ(m.state, BLM_SHUTTING_DOWN);
}
