/*
 * raft_codec.h - raft_msg (raft.h) <-> the Kafka RPCs on the wire, and
 * raft_batch <-> magic-2 record batches, as Kafka 4.3.1's KafkaRaftClient
 * and RaftUtil build them for the single partition __cluster_metadata-0
 * (topic id uuid_metadata_topic_id in Fetch v13+).
 *
 * RPCs (bodies only; headers and correlation ids belong to the caller):
 *   Vote (52) v0-2, BeginQuorumEpoch (53) v0-1, EndQuorumEpoch (54) v0-1,
 *   Fetch (1) v13-17 with ReplicaState (v15+), FetchSnapshot (59) v0-1.
 * A request names its sender in its body (ReplicaId, LeaderId), so decoding
 * fills msg->from; a response's from/to and every correlation id are the
 * caller's to fill. A response with a top-level error carries no partition
 * (Kafka's `new VoteResponseData().setErrorCode(...)`). Endpoints: Begin/End
 * requests carry the leader's controller listeners (LeaderEndpoints) and
 * responses the known leader's address (NodeEndpoints), taken from a table
 * the caller passes; decoding ignores them (the voters are static today).
 * Fetch v18's HighWatermark is not in Sluice's codecs yet: a decoded Fetch
 * request carries INT64_MAX there, the value Kafka gives older versions
 * (never completes a parked fetch early).
 *
 * Decoding never trusts the input: a malformed body, trailing bytes, a
 * record batch that fails its CRC or size checks give RAFT_CODEC_MALFORMED;
 * a well-formed body for another topic/partition (Kafka's
 * hasValidTopicPartition) gives RAFT_CODEC_WRONG_PARTITION, which a request
 * answers with a top-level INVALID_REQUEST. Fetch responses keep at most
 * RAFT_MAX_FETCH_BATCHES whole batches (a trailing partial batch is
 * dropped, as Kafka's batch iterator drops it).
 *
 * Ownership: decoded messages borrow from the input bytes (batch data,
 * snapshot chunks) and from the arena; encoders append to the caller's buf.
 * Threading: pure functions.
 */
#ifndef SL_RAFT_CODEC_H
#define SL_RAFT_CODEC_H

#include <stdbool.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"
#include "proto/gen/messages.h"
#include "raft/raft.h"

#define RAFT_METADATA_TOPIC "__cluster_metadata"

/* The versions this node sends (its latest). */
#define RAFT_VOTE_VERSION 2
#define RAFT_BEGIN_VERSION 1
#define RAFT_END_VERSION 1
#define RAFT_FETCH_VERSION 17
#define RAFT_FSNAP_VERSION 1

#define RAFT_CODEC_OK 0
#define RAFT_CODEC_MALFORMED (-1)
#define RAFT_CODEC_WRONG_PARTITION (-2)

/* One controller listener of a voter (controller.quorum.voters / the
 * listener map). */
typedef struct raft_endpoint {
    int32_t id;
    const char *listener; /* "CONTROLLER" */
    const char *host;
    uint16_t port;
} raft_endpoint;

typedef struct raft_endpoints {
    int n;
    const raft_endpoint *v;
} raft_endpoints;

/* The API key of a request or response kind; whether it is a request. */
int16_t raft_codec_api_key(raft_kind kind);
bool raft_codec_is_request(raft_kind kind);
/* The version this node sends for that API. */
int16_t raft_codec_version(int16_t api_key);

/* Appends the body of m at `version` (in the API's valid range). eps may
 * be NULL (no endpoints). */
void raft_codec_encode(buf *b, int16_t version, const raft_msg *m,
                       const raft_endpoints *eps);

/* Decodes a request body of api_key at version (from r to its end) into
 * *out (kind, from, to, cluster id, the request). */
int raft_codec_decode_request(int16_t api_key, int16_t version, rd *r, arena *a,
                              raft_msg *out);
/* Decodes a response body of api_key at version into *out (kind and the
 * response; from/to/correlation id left for the caller). */
int raft_codec_decode_response(int16_t api_key, int16_t version, rd *r,
                               arena *a, raft_msg *out);

/* For net/client.h, which sends and receives the generated structs: the
 * request m as a proto_<api>_request at this node's version (in a; its
 * strings and bytes in scratch, which must outlive its use), and a decoded
 * response struct back into a raft_msg (its batches point into scratch). */
void *raft_codec_request_struct(const raft_msg *m, const raft_endpoints *eps,
                                arena *a, buf *scratch);
int raft_codec_response_from_struct(int16_t api_key, int16_t version,
                                    const void *resp, arena *a, buf *scratch,
                                    raft_msg *out);

/* ---- record batches ---------------------------------------------------- */
/* Control record types (Kafka's ControlRecordType). */
#define RAFT_CONTROL_LEADER_CHANGE 2
#define RAFT_CONTROL_SNAPSHOT_HEADER 3
#define RAFT_CONTROL_SNAPSHOT_FOOTER 4
#define RAFT_CONTROL_KRAFT_VERSION 5
#define RAFT_CONTROL_KRAFT_VOTERS 6

/* Validates one whole magic-2 batch at p (n bytes available) and describes
 * it (data = p, len = its size). Kafka error code (KERR_CORRUPT_MESSAGE,
 * ...), never a crash. */
int16_t raft_batch_parse(const uint8_t *p, size_t n, raft_batch *out);

/* A data batch of n records (null keys, the given values), uncompressed,
 * producer -1, CreateTime ts: what the controller proposes. */
void raft_batch_build(buf *out, int64_t base_offset, int32_t epoch, int64_t ts,
                      const buf *values, int n);
/* Stamps base offset and leader epoch into a built batch (the CRC does not
 * cover them). */
void raft_batch_place(uint8_t *batch, int64_t base_offset, int32_t epoch);

/* The LeaderChange control batch a new leader writes at the start of its
 * epoch (LeaderState.appendStartOfEpochControlRecords): LeaderChangeMessage
 * v0 with every voter and the granting ones. */
void raft_leader_change_batch(buf *out, int64_t base_offset, int32_t epoch,
                              int64_t ts, int32_t leader_id,
                              const raft_voters *voters,
                              const int32_t *granting, int n_granting);

/* The control record type of a control batch (first record's key), or -1
 * when it is not a readable control batch. */
int raft_control_type(const raft_batch *b);
/* Decodes the LeaderChangeMessage of a LEADER_CHANGE batch into *out
 * (arrays in a). RAFT_CODEC_OK or RAFT_CODEC_MALFORMED. */
int raft_leader_change_parse(const raft_batch *b, arena *a,
                             proto_leader_change_message *out);

#endif
