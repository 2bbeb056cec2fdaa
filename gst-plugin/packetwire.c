/* sp_packet -> GstScriptPacket, and packets against a stream header. */
#include "packetwire.h"

#include <string.h>

static GstClockTime to_clock(int64_t pts) {
    return pts < 0 ? GST_CLOCK_TIME_NONE : (GstClockTime)pts;
}

void script_packet_from_sp(GstScriptPacket *out, const sp_packet *p, guint64 frame_base,
                           guint64 window_base, const ScriptStreamDesc *desc) {
    gst_script_packet_clear(out);
    out->kind = (GstScriptPacketKind)p->kind;
    out->mode = (GstScriptPacketMode)p->mode;
    if (p->kind == SP_PACKET_FRAME)
        out->window_id = p->window + frame_base;
    else if (p->kind == SP_PACKET_WINDOW)
        out->window_id = p->window + window_base;
    else
        out->window_id = GST_SCRIPT_WINDOW_NONE;
    out->pts_first = to_clock(p->pts_first);
    out->pts_last = to_clock(p->pts_last);
    out->frame_first = p->frame_first + frame_base;
    out->frame_last = p->frame_last + frame_base;
    out->query_hash = p->query_hash;
    out->budget = (guint)p->budget;
    out->count = (guint)p->count;

    gsize d = p->d;
    GstBuffer *tok = gst_script_buffer_new_copy(p->tokens, p->count * d * sizeof(float));
    GstBuffer *prov = gst_buffer_new_allocate(
        NULL, p->count * GST_SCRIPT_PROVENANCE_COLUMNS * sizeof(gint64), NULL);
    GstMapInfo map;
    if (p->count && gst_buffer_map(prov, &map, GST_MAP_WRITE)) {
        gint64 *row = (gint64 *)map.data;
        for (size_t i = 0; i < p->count; i++, row += GST_SCRIPT_PROVENANCE_COLUMNS) {
            const sp_token_info *t = &p->info[i];
            row[GST_SCRIPT_PROVENANCE_PTS] = t->pts;
            row[GST_SCRIPT_PROVENANCE_LAST_PTS] = t->last_pts;
            row[GST_SCRIPT_PROVENANCE_FRAME] = (gint64)(t->frame + frame_base);
            row[GST_SCRIPT_PROVENANCE_SEEN] = t->seen;
            row[GST_SCRIPT_PROVENANCE_Y] = t->y;
            row[GST_SCRIPT_PROVENANCE_X] = t->x;
        }
        gst_buffer_unmap(prov, &map);
    }
    gsize tdims[2] = {p->count, d}, pdims[2] = {p->count, GST_SCRIPT_PROVENANCE_COLUMNS};
    gst_script_tensor_set(&out->tokens, GST_SCRIPT_TENSOR_ID_PACKET_TOKENS,
                          GST_SCRIPT_TENSOR_DATA_TYPE_FLOAT32, tok, 2, tdims);
    gst_script_tensor_set(&out->provenance, GST_SCRIPT_TENSOR_ID_PROVENANCE,
                          GST_SCRIPT_TENSOR_DATA_TYPE_INT64, prov, 2, pdims);
    gst_buffer_unref(tok);
    gst_buffer_unref(prov);
    out->grid_h = desc->grid_h;
    out->grid_w = desc->grid_w;
    out->window_frames = desc->window_frames;
    out->hop_frames = desc->hop_frames;
    out->temporal_tau = desc->temporal_tau;
    out->stream_name = desc->stream_name ? desc->stream_name : g_intern_static_string("");
}

gboolean script_packet_matches_header(const GstScriptPacket *p, const sp_wire_header *h) {
    return (sp_packet_kind)p->kind == h->kind && (sp_packet_mode)p->mode == h->mode &&
           gst_script_packet_width(p) == h->d && p->grid_h == h->grid_h && p->grid_w == h->grid_w &&
           p->budget == h->budget && p->window_frames == h->window && p->hop_frames == h->hop;
}
