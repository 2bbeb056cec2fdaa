/* GstScriptPacket: value helpers and the bufferless-packet event. */
#include "scriptpacket.h"

#include <string.h>

void gst_script_packet_init(GstScriptPacket *p) {
    g_return_if_fail(p != NULL);
    memset(p, 0, sizeof *p);
    p->pts_first = p->pts_last = GST_CLOCK_TIME_NONE;
    p->stream_name = g_intern_static_string("");
}

void gst_script_packet_clear(GstScriptPacket *p) {
    g_return_if_fail(p != NULL);
    gst_script_tensor_clear(&p->tokens);
    gst_script_tensor_clear(&p->provenance);
    gst_script_packet_init(p);
}

void gst_script_packet_copy_into(GstScriptPacket *dst, const GstScriptPacket *src) {
    g_return_if_fail(dst != NULL && src != NULL);
    if (dst == src)
        return;
    gst_script_packet_clear(dst);
    GstScriptTensor tokens = {0}, prov = {0};
    gst_script_tensor_copy_into(&tokens, &src->tokens);
    gst_script_tensor_copy_into(&prov, &src->provenance);
    *dst = *src;
    dst->tokens = tokens;
    dst->provenance = prov;
}

gsize gst_script_packet_width(const GstScriptPacket *p) {
    g_return_val_if_fail(p != NULL, 0);
    return gst_script_tensor_is_set(&p->tokens) && p->tokens.num_dims == 2 ? p->tokens.dims[1] : 0;
}

/* ---- the event: the packet's fields in a GstStructure, tensors as GstBuffers ---------------- */

GstEvent *gst_script_packet_event_new(const GstScriptPacket *p) {
    g_return_val_if_fail(p != NULL, NULL);
    gsize d = gst_script_packet_width(p);
    if (!gst_script_tensor_is_set(&p->tokens) || !gst_script_tensor_is_set(&p->provenance))
        return NULL;
    GstStructure *s = gst_structure_new(
        GST_SCRIPT_PACKET_EVENT_NAME, "kind", G_TYPE_INT, (gint)p->kind, "mode", G_TYPE_INT,
        (gint)p->mode, "window-id", G_TYPE_UINT64, p->window_id, "pts-first", G_TYPE_UINT64,
        p->pts_first, "pts-last", G_TYPE_UINT64, p->pts_last, "frame-first", G_TYPE_UINT64,
        p->frame_first, "frame-last", G_TYPE_UINT64, p->frame_last, "query-hash", G_TYPE_UINT64,
        p->query_hash, "budget", G_TYPE_UINT, p->budget, "count", G_TYPE_UINT, p->count, "width",
        G_TYPE_UINT64, (guint64)d, "tokens", GST_TYPE_BUFFER, p->tokens.data, "provenance",
        GST_TYPE_BUFFER, p->provenance.data, "grid-h", G_TYPE_UINT, p->grid_h, "grid-w",
        G_TYPE_UINT, p->grid_w, "window-frames", G_TYPE_UINT, p->window_frames, "hop-frames",
        G_TYPE_UINT, p->hop_frames, "temporal-tau", G_TYPE_FLOAT, p->temporal_tau, "stream-name",
        G_TYPE_STRING, p->stream_name ? p->stream_name : "", NULL);
    return gst_event_new_custom(GST_EVENT_CUSTOM_DOWNSTREAM, s);
}

gboolean gst_script_packet_event_is(GstEvent *event) {
    g_return_val_if_fail(GST_IS_EVENT(event), FALSE);
    const GstStructure *s = gst_event_get_structure(event);
    return GST_EVENT_TYPE(event) == GST_EVENT_CUSTOM_DOWNSTREAM && s != NULL &&
           gst_structure_has_name(s, GST_SCRIPT_PACKET_EVENT_NAME);
}

gboolean gst_script_packet_event_parse(GstEvent *event, GstScriptPacket *out) {
    g_return_val_if_fail(out != NULL, FALSE);
    if (!gst_script_packet_event_is(event))
        return FALSE;
    const GstStructure *s = gst_event_get_structure(event);
    gint kind = 0, mode = 0;
    guint64 d = 0;
    GstBuffer *tokens = NULL, *prov = NULL;
    const gchar *name = gst_structure_get_string(s, "stream-name");
    GstScriptPacket p;
    gst_script_packet_init(&p);
    gboolean ok = gst_structure_get(
        s, "kind", G_TYPE_INT, &kind, "mode", G_TYPE_INT, &mode, "window-id", G_TYPE_UINT64,
        &p.window_id, "pts-first", G_TYPE_UINT64, &p.pts_first, "pts-last", G_TYPE_UINT64,
        &p.pts_last, "frame-first", G_TYPE_UINT64, &p.frame_first, "frame-last", G_TYPE_UINT64,
        &p.frame_last, "query-hash", G_TYPE_UINT64, &p.query_hash, "budget", G_TYPE_UINT, &p.budget,
        "count", G_TYPE_UINT, &p.count, "width", G_TYPE_UINT64, &d, "tokens", GST_TYPE_BUFFER,
        &tokens, "provenance", GST_TYPE_BUFFER, &prov, "grid-h", G_TYPE_UINT, &p.grid_h, "grid-w",
        G_TYPE_UINT, &p.grid_w, "window-frames", G_TYPE_UINT, &p.window_frames, "hop-frames",
        G_TYPE_UINT, &p.hop_frames, "temporal-tau", G_TYPE_FLOAT, &p.temporal_tau, NULL);
    if (ok) {
        p.kind = (GstScriptPacketKind)kind;
        p.mode = (GstScriptPacketMode)mode;
        p.stream_name = g_intern_string(name ? name : "");
        gsize tdims[2] = {p.count, (gsize)d};
        gsize pdims[2] = {p.count, GST_SCRIPT_PROVENANCE_COLUMNS};
        ok = kind >= 0 && kind <= GST_SCRIPT_PACKET_KIND_RESELECT && mode >= 0 &&
             mode <= GST_SCRIPT_PACKET_MODE_DELTA &&
             gst_script_tensor_set(&p.tokens, GST_SCRIPT_TENSOR_ID_PACKET_TOKENS,
                                   GST_SCRIPT_TENSOR_DATA_TYPE_FLOAT32, tokens, 2, tdims) &&
             gst_script_tensor_set(&p.provenance, GST_SCRIPT_TENSOR_ID_PROVENANCE,
                                   GST_SCRIPT_TENSOR_DATA_TYPE_INT64, prov, 2, pdims);
    }
    gst_clear_buffer(&tokens);
    gst_clear_buffer(&prov);
    if (!ok) {
        gst_script_packet_clear(&p);
        return FALSE;
    }
    gst_script_packet_clear(out);
    *out = p;
    return TRUE;
}
