/*
 * fuzz_records.c - the stored records (KRaft metadata, group and
 * transaction coordinator keys/values, producer snapshots, raft state):
 * byte 0 picks the record type (modulo the table), bytes 1-2 the version
 * (modulo its range); the rest is the value. Round trip as for requests.
 */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 3)
        return 0;
    const proto_record_info *ri = &proto_records[data[0] % proto_record_count];
    int span = ri->desc->valid.hi - ri->desc->valid.lo + 1;
    int16_t ver = (int16_t)(ri->desc->valid.lo + sl_load_be16(data + 1) % span);
    arena a;
    arena_init(&a, 4096);
    rd r;
    rd_init(&r, data + 3, size - 3);
    void *msg = arena_alloc(&a, ri->size);
    if (ri->decode(&r, &a, ver, msg) == PROTO_OK)
        fuzz_roundtrip(ri->desc, ri->size, ver, msg, &a);
    arena_free(&a);
    return 0;
}
