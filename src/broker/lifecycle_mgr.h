/*
 * lifecycle_mgr.h - the broker's side of KIP-631 as a pure state machine:
 * Kafka 4.3's BrokerLifecycleManager without its event queue, channel or
 * clock. The caller (lifecycle_net.c) asks what to send (blm_poll), sends
 * BrokerRegistration or BrokerHeartbeat to the active controller, and
 * feeds back the outcome; time comes in as arguments.
 *
 * States (Kafka's BrokerState):
 *   STARTING   registering (BrokerRegistration until one succeeds), then
 *              heartbeating until the controller says IsCaughtUp;
 *   RECOVERY   caught up, fenced: heartbeats until IsFenced is false;
 *   RUNNING    unfenced: a heartbeat every interval;
 *   PENDING_CONTROLLED_SHUTDOWN  heartbeats with WantShutDown until the
 *              controller answers ShouldShutDown;
 *   SHUTTING_DOWN  nothing more is sent.
 *
 * Scheduling (Kafka's scheduleNextCommunication*): after a registration,
 * a heartbeat at once; while STARTING, every 10 ms; after a success, one
 * interval later; after a failure (a network error, a timeout, or any
 * error code: NOT_CONTROLLER, DUPLICATE_BROKER_REGISTRATION, ...) a
 * backoff doubling from 50 ms up to the interval. STALE_BROKER_EPOCH on a
 * heartbeat means the controller no longer has this registration: the
 * broker registers again (Kafka's resendBrokerRegistration).
 *
 * Invariants: at most one request is in flight; the epoch is -1 unless
 * registered; the state only moves forward, except back to STARTING on a
 * lost registration; SHUTTING_DOWN is final. Memory: none (fixed size).
 * Threading: the caller's (one loop thread).
 */
#ifndef SL_BROKER_LIFECYCLE_MGR_H
#define SL_BROKER_LIFECYCLE_MGR_H

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    BLM_STARTING,
    BLM_RECOVERY,
    BLM_RUNNING,
    BLM_PENDING_CONTROLLED_SHUTDOWN,
    BLM_SHUTTING_DOWN,
} blm_state;

typedef enum {
    BLM_NONE,
    BLM_SEND_REGISTRATION,
    BLM_SEND_HEARTBEAT,
} blm_action;

/* A result that is not a Kafka error code: no response (disconnect,
 * timeout, malformed). */
#define BLM_NET_ERROR (-1)

typedef struct blm {
    blm_state state;
    bool registered;
    bool in_flight;
    bool got_cs_response; /* a PENDING_CONTROLLED_SHUTDOWN answer came */
    int64_t epoch;        /* -1 unless registered */
    int64_t next_ms;      /* the next communication is due */
    int64_t interval_ms;  /* broker.heartbeat.interval.ms */
    int failures;         /* consecutive, for the backoff */
} blm;

const char *blm_state_name(blm_state s);

void blm_init(blm *m, int64_t interval_ms, int64_t now_ms);
/* What to send now (then in flight until its *_done), or BLM_NONE. */
blm_action blm_poll(blm *m, int64_t now_ms);
/* When blm_poll will next have something (INT64_MAX: nothing until a
 * result comes in, or shutting down). */
int64_t blm_deadline(const blm *m);
/* The heartbeat's WantShutDown. */
bool blm_want_shut_down(const blm *m);

/* err: KERR_NONE, a Kafka error code, or BLM_NET_ERROR. */
void blm_registration_done(blm *m, int64_t now_ms, int err, int64_t epoch);
void blm_heartbeat_done(blm *m, int64_t now_ms, int err, bool caught_up,
                        bool fenced, bool should_shut_down);
/* The answer of a request that was never sent (not connected). */
void blm_send_failed(blm *m, int64_t now_ms);

/* SIGTERM with controlled.shutdown.enable: RUNNING -> PENDING_CONTROLLED_
 * SHUTDOWN (a heartbeat at once); any other state -> SHUTTING_DOWN. */
void blm_begin_controlled_shutdown(blm *m, int64_t now_ms);
/* SHUTTING_DOWN, whatever the state. */
void blm_shutdown(blm *m);

#endif
