/*
 * lifecycle_mgr.c - Kafka's BrokerLifecycleManager state machine
 * (lifecycle_mgr.h): its CommunicationEvent, the registration and
 * heartbeat response handlers and the controlled shutdown event.
 */
#include "broker/lifecycle_mgr.h"

#include "core/util.h"
#include "proto/errors.h"

/* Kafka schedules the next STARTING heartbeat 10 ms after the last one
 * and the first answer in controlled shutdown 50 ms after. */
#define STARTING_HEARTBEAT_MS 10
#define CONTROLLED_SHUTDOWN_FIRST_MS 50
#define BACKOFF_MIN_MS 50

const char *blm_state_name(blm_state s) {
    switch (s) {
    case BLM_STARTING:
        return "STARTING";
    case BLM_RECOVERY:
        return "RECOVERY";
    case BLM_RUNNING:
        return "RUNNING";
    case BLM_PENDING_CONTROLLED_SHUTDOWN:
        return "PENDING_CONTROLLED_SHUTDOWN";
    case BLM_SHUTTING_DOWN:
        return "SHUTTING_DOWN";
    }
    return "UNKNOWN";
}

void blm_init(blm *m, int64_t interval_ms, int64_t now_ms) {
    *m = (blm){
        .state = BLM_STARTING,
        .epoch = -1,
        .next_ms = now_ms,
        .interval_ms = interval_ms > 0 ? interval_ms : 2000,
    };
}

static void after(blm *m, int64_t now_ms, int64_t delay_ms) {
    m->next_ms = now_ms + delay_ms;
}

static void success(blm *m, int64_t now_ms, int64_t delay_ms) {
    m->failures = 0;
    after(m, now_ms, delay_ms);
}

static void failure(blm *m, int64_t now_ms) {
    int64_t d = BACKOFF_MIN_MS;
    for (int i = 0; i < m->failures && d < m->interval_ms; i++)
        d *= 2;
    if (d > m->interval_ms)
        d = m->interval_ms;
    if (m->failures < 30)
        m->failures++;
    after(m, now_ms, d);
}

blm_action blm_poll(blm *m, int64_t now_ms) {
    if (m->in_flight || m->state == BLM_SHUTTING_DOWN || now_ms < m->next_ms)
        return BLM_NONE;
    m->in_flight = true;
    return m->registered ? BLM_SEND_HEARTBEAT : BLM_SEND_REGISTRATION;
}

int64_t blm_deadline(const blm *m) {
    if (m->in_flight || m->state == BLM_SHUTTING_DOWN)
        return INT64_MAX;
    return m->next_ms;
}

bool blm_want_shut_down(const blm *m) {
    return m->state == BLM_PENDING_CONTROLLED_SHUTDOWN;
}

void blm_registration_done(blm *m, int64_t now_ms, int err, int64_t epoch) {
    SL_ASSERT(m->in_flight);
    m->in_flight = false;
    if (m->state == BLM_SHUTTING_DOWN)
        return;
    if (err != KERR_NONE || epoch < 0) {
        failure(m, now_ms);
        return;
    }
    m->registered = true;
    m->epoch = epoch;
    success(m, now_ms, 0); /* a heartbeat at once */
}

void blm_heartbeat_done(blm *m, int64_t now_ms, int err, bool caught_up,
                        bool fenced, bool should_shut_down) {
    SL_ASSERT(m->in_flight);
    m->in_flight = false;
    if (m->state == BLM_SHUTTING_DOWN)
        return;
    if (err == KERR_STALE_BROKER_EPOCH) {
        /* the controller lost or replaced this registration */
        m->registered = false;
        m->epoch = -1;
        if (m->state == BLM_PENDING_CONTROLLED_SHUTDOWN) {
            m->state = BLM_SHUTTING_DOWN; /* nothing left to move away */
            return;
        }
        m->state = BLM_STARTING;
        failure(m, now_ms);
        return;
    }
    if (err != KERR_NONE) {
        failure(m, now_ms);
        return;
    }
    switch (m->state) {
    case BLM_STARTING:
        if (caught_up)
            m->state = BLM_RECOVERY;
        success(m, now_ms, STARTING_HEARTBEAT_MS);
        break;
    case BLM_RECOVERY:
        if (!fenced)
            m->state = BLM_RUNNING;
        success(m, now_ms, m->interval_ms);
        break;
    case BLM_RUNNING:
        success(m, now_ms, m->interval_ms);
        break;
    case BLM_PENDING_CONTROLLED_SHUTDOWN:
        if (should_shut_down) {
            m->state = BLM_SHUTTING_DOWN;
            return;
        }
        success(m, now_ms,
                m->got_cs_response ? m->interval_ms
                                   : CONTROLLED_SHUTDOWN_FIRST_MS);
        m->got_cs_response = true;
        break;
    case BLM_SHUTTING_DOWN:
        break;
    }
}

void blm_send_failed(blm *m, int64_t now_ms) {
    SL_ASSERT(m->in_flight);
    m->in_flight = false;
    if (m->state != BLM_SHUTTING_DOWN)
        failure(m, now_ms);
}

void blm_begin_controlled_shutdown(blm *m, int64_t now_ms) {
    if (m->state == BLM_RUNNING) {
        m->state = BLM_PENDING_CONTROLLED_SHUTDOWN;
        m->failures = 0;
        if (!m->in_flight)
            m->next_ms = now_ms; /* the controller starts at once */
    } else if (m->state != BLM_PENDING_CONTROLLED_SHUTDOWN) {
        m->state = BLM_SHUTTING_DOWN;
    }
}

void blm_shutdown(blm *m) {
    m->state = BLM_SHUTTING_DOWN;
}
