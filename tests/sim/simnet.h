/*
 * simnet.h - an in-memory network for the deterministic simulator: the
 * loop's transport (net.h net_sys) for many hosts in one process, with
 * seeded delays, connection drops and partitions between host addresses.
 *
 * Model (TCP as the loop sees it, FoundationDB's Sim2 network):
 *  - Hosts are names ("node1", "client"); each gets its own net_sys
 *    (simnet_host), which a node's env carries. A listener binds a port of
 *    its host; "localhost" / "127.0.0.1" / "" name the connecting host.
 *  - A connection is two sockets. Bytes written are one segment delivered
 *    to the peer after a seeded delay in [min, max], never before an
 *    earlier segment of the same direction (in order, no loss: TCP). A
 *    connect completes after a round trip (or is refused after one way,
 *    when nothing listens there).
 *  - A drop (probability per write) resets the connection: both ends see
 *    ECONNRESET after one delay, what was in flight is lost. A close sends
 *    FIN after the data; a write to a closed peer resets.
 *  - A partition between two hosts holds everything between them (bytes,
 *    connects, FINs, resets) until healed; clients time out meanwhile.
 *  - A crashed host (simnet_host_crash) loses every socket: peers see a
 *    reset, its listeners vanish (connects are refused).
 *  - Pollers never block: time is the simulator's (now_ns, read at every
 *    call) and moves only when the simulator moves it, to
 *    simnet_next_event_ns or a node's timer. Readiness is level-triggered.
 *  - Everything is ordered (sockets by creation, registrations by add), so
 *    the same seed and the same calls give the same run.
 * Handles start at SIMNET_HANDLE_BASE so they can never be mistaken for a
 * kernel fd.
 *
 * Ownership: the simnet owns its hosts, sockets and pollers; net_sys
 * tables stay valid until simnet_free.
 * Threading: one thread (the simulator's).
 */
#ifndef SL_TESTS_SIM_SIMNET_H
#define SL_TESTS_SIM_SIMNET_H

#include <stdbool.h>
#include <stdint.h>

#include "net/net.h"

#define SIMNET_HANDLE_BASE 1000000

typedef struct simnet simnet;

typedef struct simnet_stats {
    int64_t connects, refused, accepted;
    int64_t segments, bytes;
    int64_t drops;      /* connections reset by the drop probability */
    int64_t resets;     /* resets seen by a socket (drops, crashes, RST) */
    int64_t held;       /* deliveries found held by a partition */
    int64_t open_socks; /* sockets not closed yet */
} simnet_stats;

simnet *simnet_new(uint64_t seed, const int64_t *now_ns);
void simnet_free(simnet *n);
/* The transport of host (made at the first call). */
const net_sys *simnet_host(simnet *n, const char *host);
/* One-way delay of each segment: uniform in [min_ns, max_ns]. */
void simnet_set_delay(simnet *n, int64_t min_ns, int64_t max_ns);
/* Probability (per million writes) that a write resets its connection. */
void simnet_set_drop(simnet *n, uint32_t per_million);
void simnet_partition(simnet *n, const char *a, const char *b);
void simnet_heal(simnet *n, const char *a, const char *b);
void simnet_heal_all(simnet *n);
bool simnet_partitioned(const simnet *n, const char *a, const char *b);
/* Every socket of host is lost (a crash): see above. */
void simnet_host_crash(simnet *n, const char *host);
/* The earliest time something will become deliverable (> now), INT64_MAX
 * if nothing is in flight (partitioned traffic is not counted). */
int64_t simnet_next_event_ns(const simnet *n);
void simnet_get_stats(const simnet *n, simnet_stats *out);

#endif
