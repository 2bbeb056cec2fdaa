/* scriptprune's messages and structures for applications. */
#include "prunereport.h"

#include <stdlib.h>

static const gchar *kind_name(GstScriptPacketKind k) {
    return sp_packet_kind_name((sp_packet_kind)k);
}

GstStructure *script_emission_structure(const GstScriptPacket *p, const sp_stream_stats *before,
                                        const sp_stream_stats *now) {
    return gst_structure_new(
        SCRIPT_EMISSION_MESSAGE, "kind", G_TYPE_STRING, kind_name(p->kind), "mode", G_TYPE_STRING,
        sp_packet_mode_name((sp_packet_mode)p->mode), "window-id", G_TYPE_UINT64, p->window_id,
        "frames", G_TYPE_UINT64, p->frame_last - p->frame_first + 1, "frame-first", G_TYPE_UINT64,
        p->frame_first, "frame-last", G_TYPE_UINT64, p->frame_last, "pts-first", G_TYPE_UINT64,
        p->pts_first, "pts-last", G_TYPE_UINT64, p->pts_last, "tokens-in", G_TYPE_UINT64,
        now->tokens_in - before->tokens_in, "kept", G_TYPE_UINT64,
        now->candidates - before->candidates, "emitted", G_TYPE_UINT64, (guint64)p->count, "budget",
        G_TYPE_UINT, p->budget, "temporal-drops", G_TYPE_UINT64,
        now->temporal_drops - before->temporal_drops, "spatial-drops", G_TYPE_UINT64,
        now->spatial_drops - before->spatial_drops, "padding-drops", G_TYPE_UINT64,
        now->padding_drops - before->padding_drops, "select-ns", G_TYPE_UINT64,
        now->select_ns_total - before->select_ns_total, "query-hash", G_TYPE_UINT64, p->query_hash,
        NULL);
}

GstStructure *script_stats_structure(const sp_stream_stats *st) {
    sp_stream_stats zero = {0};
    if (!st)
        st = &zero;
    return gst_structure_new(
        SCRIPT_STATS_STRUCTURE, "frames-in", G_TYPE_UINT64, st->frames_in, "frames-rejected",
        G_TYPE_UINT64, st->frames_rejected, "tokens-in", G_TYPE_UINT64, st->tokens_in,
        "temporal-drops", G_TYPE_UINT64, st->temporal_drops, "spatial-drops", G_TYPE_UINT64,
        st->spatial_drops, "padding-drops", G_TYPE_UINT64, st->padding_drops, "candidates",
        G_TYPE_UINT64, st->candidates, "scene-cuts", G_TYPE_UINT64, st->scene_cuts, "packets",
        G_TYPE_UINT64, st->packets, "tokens-emitted", G_TYPE_UINT64, st->tokens_emitted,
        "window-tokens", G_TYPE_UINT64, st->window_tokens, "window-bytes", G_TYPE_UINT64,
        st->window_bytes, "history-tokens", G_TYPE_UINT64, st->history_tokens, "history-bytes",
        G_TYPE_UINT64, st->history_bytes, "history-bound", G_TYPE_UINT64, st->history_bound,
        "history-evicted", G_TYPE_UINT64, st->history_evicted, "history-aged", G_TYPE_UINT64,
        st->history_aged, "history-clamped", G_TYPE_UINT64, st->history_clamped, "select-ns-total",
        G_TYPE_UINT64, st->select_ns_total, "select-ns-last", G_TYPE_UINT64, st->select_ns_last,
        "select-ns-max", G_TYPE_UINT64, st->select_ns_max, "query-generation", G_TYPE_UINT64,
        st->query_generation, NULL);
}

GstStructure *script_reselect_failure(const gchar *format, ...) {
    va_list ap;
    va_start(ap, format);
    gchar *msg = g_strdup_vprintf(format, ap);
    va_end(ap);
    GstStructure *s =
        gst_structure_new(SCRIPT_RESELECT_STRUCTURE, "ok", G_TYPE_BOOLEAN, FALSE, "error",
                          G_TYPE_STRING, msg, "count", G_TYPE_UINT, 0u, NULL);
    g_free(msg);
    return s;
}

static int64_t bound(guint64 t) {
    return t == G_MAXUINT64 || t > (guint64)G_MAXINT64 ? SP_PTS_NONE : (int64_t)t;
}

GstStructure *script_reselect(sp_stream *s, GBytes *query, guint rows, guint budget, guint64 since,
                              guint64 until, guint64 frame_base, const gchar *stream_name,
                              const gchar *method) {
    if (!s)
        return script_reselect_failure("reselect: the element is not running");
    if (budget == 0)
        return script_reselect_failure("reselect: budget must be at least 1");
    sp_query q = {0};
    if (query && rows > 0) {
        gsize size;
        q.rows = g_bytes_get_data(query, &size);
        if (size == 0 || size % (rows * sizeof(float)) != 0)
            return script_reselect_failure("reselect: the query holds %zu bytes, not a whole "
                                           "number of %u float32 rows",
                                           size, rows);
        q.m = rows;
        q.e = size / (rows * sizeof(float));
    }
    sp_packet_buf out;
    sp_packet_buf_init(&out);
    sp_error err;
    sp_error_clear(&err);
    GstStructure *res = NULL;
    if (sp_stream_reselect(s, NULL, &q, budget, bound(since), bound(until), &out, &err) != SP_OK) {
        res = script_reselect_failure("reselect: %s", err.message);
        goto done;
    }
    sp_token_info *info = out.info;
    for (size_t i = 0; i < out.packet.count; i++)
        info[i].frame += frame_base;
    out.packet.frame_first += frame_base;
    out.packet.frame_last += frame_base;
    sp_packet_collector *c =
        sp_packet_collector_new(out.packet.d ? out.packet.d : 1, stream_name, method);
    uint8_t *buf = NULL;
    size_t len = 0;
    if (!c) {
        res = script_reselect_failure("reselect: out of memory");
        goto done;
    }
    if (sp_packet_collector_add(c, &out.packet, &err) != SP_OK ||
        sp_packet_collector_to_buffer(c, SP_DTYPE_F32, &buf, &len, &err) != SP_OK) {
        res = script_reselect_failure("reselect: %s", err.message);
        sp_packet_collector_free(c);
        goto done;
    }
    sp_packet_collector_free(c);
    GBytes *bytes = g_bytes_new_with_free_func(buf, len, free, buf);
    res = gst_structure_new(SCRIPT_RESELECT_STRUCTURE, "ok", G_TYPE_BOOLEAN, TRUE, "error",
                            G_TYPE_STRING, "", "count", G_TYPE_UINT, (guint)out.packet.count,
                            "safetensors", G_TYPE_BYTES, bytes, NULL);
    g_bytes_unref(bytes);
done:
    sp_packet_buf_free(&out);
    return res;
}
