/* cluster_fixture.c - see cluster_fixture.h. */
#include "cluster_fixture.h"

#include <string.h>

#include "controller/records.h"
#include "core/buf.h"
#include "proto/errors.h"
#include "test.h"

static proto_broker_registration_request_feature fx_mv = {
    .name = {"metadata.version", 16},
    .min_supported_version = 1,
    .max_supported_version = 30};

void ctl_fx_apply(cl_image *img, ctl_records *rs) {
    for (int i = 0; i < rs->n; i++)
        CHECK(cl_image_apply(img, rs->v[i].data, rs->v[i].len));
    ctl_records_free(rs);
}

cl_image *ctl_fx_image(const char *cid, int32_t n) {
    cl_image *img = cl_image_new();
    buf b;
    buf_init(&b, 64);
    ctl_rec_feature_level(&b, "metadata.version", 30);
    CHECK(cl_image_apply(img, b.data, b.len));
    buf_free(&b);
    ctl_cluster *cc = ctl_cluster_new(cid, 9000);
    for (int32_t id = 1; id <= n; id++) {
        proto_broker_registration_request rq;
        proto_broker_registration_request_init(&rq);
        rq.broker_id = id;
        rq.cluster_id = proto_str_c(cid);
        memset(rq.incarnation_id.b, id, 16);
        rq.features.n = 1;
        rq.features.v = &fx_mv;
        proto_uuid dir;
        memset(dir.b, 0x42, 16);
        rq.log_dirs.n = 1;
        rq.log_dirs.v = &dir;
        ctl_records rs = {0};
        char msg[300];
        int64_t ep;
        CHECK_EQ(ctl_cluster_register(cc, img, &rq, 10 * id, 0, &rs, &ep, msg,
                                      sizeof msg),
                 KERR_NONE);
        ctl_fx_apply(img, &rs);
        proto_broker_heartbeat_request hq;
        proto_broker_heartbeat_request_init(&hq);
        hq.broker_id = id;
        hq.broker_epoch = ep;
        hq.current_metadata_offset = 1000;
        proto_broker_heartbeat_response hr;
        proto_broker_heartbeat_response_init(&hr);
        CHECK_EQ(ctl_cluster_heartbeat(cc, img, &hq, 1000, 0, false, &rs, &hr,
                                       msg, sizeof msg),
                 KERR_NONE);
        ctl_fx_apply(img, &rs);
        CHECK(!cl_broker_find(img, id)->fenced);
    }
    ctl_cluster_free(cc);
    return img;
}

void ctl_fx_topic(cl_image *img, uint8_t idb, const int32_t *reps, int32_t n) {
    uint8_t tid[16];
    memset(tid, idb, 16);
    buf b;
    buf_init(&b, 64);
    ctl_rec_topic(&b, "t", tid);
    CHECK(cl_image_apply(img, b.data, b.len));
    b.len = 0;
    ctl_rec_partition(&b, tid, 0, reps, (int16_t)n, reps, (int16_t)n);
    CHECK(cl_image_apply(img, b.data, b.len));
    buf_free(&b);
}
