/* The JSON view of a stream (GET /v1/streams, /v1/streams/{id}, and the --summary-json lines),
 * built from what the runtime exposes. */
#include "http/stream_json.h"

#include <inttypes.h>
#include <stdio.h>

#include "broker/broker_sink.h"
#include "http/json_members.h"
#include "scriptprune/params.h"

static void json_source(JsonBuilder *b, const scd_stream_cfg *c) {
    json_builder_set_member_name(b, "source");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "kind");
    switch (c->source_kind) {
        case SCD_SOURCE_URI:
            json_builder_add_string_value(b, "uri");
            json_builder_set_member_name(b, "uri");
            json_builder_add_string_value(b, c->uri);
            break;
        case SCD_SOURCE_PIPELINE:
            json_builder_add_string_value(b, "pipeline");
            json_builder_set_member_name(b, "pipeline");
            json_builder_add_string_value(b, c->pipeline);
            break;
        case SCD_SOURCE_FILE:
            json_builder_add_string_value(b, "file");
            json_builder_set_member_name(b, "file");
            json_builder_add_string_value(b, c->file);
            break;
    }
    json_builder_end_object(b);
}

/* The broker sink made from config sink index cfg_index (in config order), as JSON members. */
static void json_broker(JsonBuilder *b, scd_stream *st, const scd_stream_cfg *c, size_t cfg_index) {
    guint nth = 0;
    for (size_t i = 0; i < cfg_index; i++)
        nth += c->sinks[i].kind == SCD_SINK_REDIS;
    char label[32];
    snprintf(label, sizeof label, "redis%u", nth);
    scd_broker_sink *k = scd_stream_broker_sink(st, label);
    if (!k) {
        scd_json_member_str(b, "last_error", "not started (see the stream's error)");
        return;
    }
    scd_broker_stats bs;
    scd_broker_sink_stats(k, &bs);
    scd_json_member_str(b, "sink", label);
    scd_json_member_str(b, "location", scd_broker_sink_describe(k));
    scd_json_member_u64(b, "epoch", scd_broker_sink_epoch(k));
    scd_json_member_u64(b, "sent", bs.sent);
    scd_json_member_u64(b, "dropped", bs.dropped);
    scd_json_member_u64(b, "reconnects", bs.reconnects);
    scd_json_member_u64(b, "queue_bytes", bs.queue_bytes);
    scd_json_member_u64(b, "queued", bs.queued);
    scd_json_member_u64(b, "next_seq", bs.next_seq);
    json_builder_set_member_name(b, "connected");
    json_builder_add_boolean_value(b, bs.connected);
    scd_json_member_str(b, "last_error", bs.last_error);
    g_free(bs.last_error);
}

void scd_stream_to_json(scd_stream *st, JsonBuilder *b) {
    scd_stream_summary sm;
    scd_stream_get_summary(st, &sm);
    const scd_stream_cfg *c = scd_stream_cfg_of(st);
    const scd_query *query = scd_stream_query(st);
    scd_follow *follow = scd_stream_follow(st);
    guint grid_h, grid_w;
    scd_stream_grid(st, &grid_h, &grid_w);
    json_builder_begin_object(b);
    scd_json_member_str(b, "id", scd_stream_id(st));
    json_source(b, c);
    scd_json_member_str(b, "state", scd_stream_state_name(scd_stream_state_of(st)));
    scd_json_member_str(b, "error", scd_stream_last_error(st));
    scd_json_member_str(b, "run", scd_stream_run_tag(st));
    scd_json_member_double(b, "fps", c->fps);
    scd_json_member_u64(b, "restarts", sm.restarts);
    if (c->source_kind == SCD_SOURCE_FILE)
        scd_json_member_u64(b, "damaged", sm.damaged);
    scd_json_member_u64(b, "frames_seen", sm.frames_seen);
    scd_json_member_u64(b, "frames", sm.frames);
    scd_json_member_u64(b, "frames_encoded", sm.frames_encoded);
    scd_json_member_u64(b, "frames_skipped", sm.frames_skipped);
    scd_json_member_u64(b, "tokens_in", sm.tokens_in);
    scd_json_member_u64(b, "tokens_out", sm.tokens_out);
    scd_json_member_u64(b, "packets", sm.packets);
    scd_json_member_double(b, "reduction",
                           sm.tokens_in ? 1.0 - (double)sm.tokens_out / (double)sm.tokens_in : 0.0);
    json_builder_set_member_name(b, "drops");
    json_builder_begin_object(b);
    scd_json_member_u64(b, "temporal", sm.temporal_drops);
    scd_json_member_u64(b, "spatial", sm.spatial_drops);
    json_builder_end_object(b);
    json_builder_set_member_name(b, "selection_ms");
    json_builder_begin_object(b);
    scd_json_member_double(b, "per_frame",
                           sm.frames ? (double)sm.select_ns_total / 1e6 / (double)sm.frames : 0.0);
    scd_json_member_double(b, "per_packet",
                           sm.emissions ? (double)sm.select_ns_total / 1e6 / (double)sm.emissions
                                        : 0.0);
    scd_json_member_double(b, "max", (double)sm.select_ns_max / 1e6);
    json_builder_end_object(b);
    if (sm.progress >= 0)
        scd_json_member_double(b, "progress", sm.progress);
    scd_json_member_double(b, "elapsed_s", sm.elapsed_s);
    scd_json_member_u64(b, "token_width", scd_stream_token_width(st));
    scd_json_member_u64(b, "embedding_width", scd_stream_embedding_width(st));
    json_builder_set_member_name(b, "grid");
    json_builder_begin_array(b);
    json_builder_add_int_value(b, grid_h);
    json_builder_add_int_value(b, grid_w);
    json_builder_end_array(b);
    json_builder_set_member_name(b, "query");
    if (query) {
        json_builder_begin_object(b);
        scd_json_member_str(b, "kind", query->kind);
        scd_json_member_str(b, "description", query->describe);
        scd_json_member_u64(b, "rows", query->m);
        scd_json_member_u64(b, "width", query->e);
        char hash[24];
        snprintf(hash, sizeof hash, "%016" PRIx64, query->hash);
        scd_json_member_str(b, "hash", hash);
        json_builder_end_object(b);
    } else {
        json_builder_add_null_value(b);
    }
    json_builder_set_member_name(b, "pruning");
    json_builder_begin_object(b);
    scd_json_member_str(b, "method", scd_stream_method(st));
    scd_json_member_str(b, "emit", c->pruning.emit == SCD_EMIT_FRAME ? "frame" : "window");
    scd_json_member_str(b, "packet_mode",
                        c->pruning.packet_mode == SCD_PACKET_DELTA ? "delta" : "snapshot");
    scd_json_member_u64(b, "frame_budget", (uint64_t)c->pruning.frame_budget);
    scd_json_member_u64(b, "window", (uint64_t)c->pruning.window);
    scd_json_member_u64(b, "hop", (uint64_t)c->pruning.hop);
    scd_json_member_u64(b, "window_budget", (uint64_t)c->pruning.window_budget);
    json_builder_end_object(b);
    json_builder_set_member_name(b, "encoder");
    json_builder_begin_object(b);
    scd_json_member_str(b, "backend", c->encoder.backend == SCD_ENCODER_CLIP ? "clip" : "patch");
    scd_json_member_u64(b, "image_size", (uint64_t)c->encoder.image_size);
    scd_json_member_u64(b, "patch_size", (uint64_t)c->encoder.patch_size);
    scd_json_member_str(b, "skip_unchanged",
                        sp_param_of(SP_PARAM_SKIP_UNCHANGED)->choices[c->encoder.skip_unchanged]);
    scd_json_member_double(b, "change_threshold", c->encoder.change_threshold);
    scd_json_member_double(b, "max_skip_s", c->encoder.max_skip_s);
    json_builder_end_object(b);
    json_builder_set_member_name(b, "sinks");
    json_builder_begin_array(b);
    for (size_t i = 0; i < c->n_sinks; i++) {
        const scd_sink_cfg *k = &c->sinks[i];
        json_builder_begin_object(b);
        switch (k->kind) {
            case SCD_SINK_SCRIPTSINK:
                scd_json_member_str(b, "kind", "scriptsink");
                scd_json_member_str(b, "location", k->scriptsink);
                break;
            case SCD_SINK_SAFETENSORS_DIR:
                scd_json_member_str(b, "kind", "safetensors_dir");
                scd_json_member_str(b, "path", k->safetensors_dir);
                scd_json_member_u64(b, "files", sm.st_files);
                break;
            case SCD_SINK_OVERLAY_DIR:
                scd_json_member_str(b, "kind", "overlay_dir");
                scd_json_member_str(b, "path", k->overlay_dir);
                scd_json_member_u64(b, "files", sm.png_files);
                break;
            case SCD_SINK_FOLLOW:
                scd_json_member_str(b, "kind", "follow");
                scd_json_member_u64(b, "clients", follow ? scd_follow_clients(follow) : 0);
                break;
            case SCD_SINK_REDIS:
                scd_json_member_str(b, "kind", "redis");
                json_broker(b, st, c, i);
                break;
        }
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_end_object(b);
}
