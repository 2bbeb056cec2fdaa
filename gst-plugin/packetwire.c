/* sp_packet <-> GstScriptPacket. */
#include "packetwire.h"

#include <string.h>

static GstClockTime to_clock(int64_t pts) {
    return pts < 0 ? GST_CLOCK_TIME_NONE : (GstClockTime)pts;
}

void script_packet_from_sp(GstScriptPacket *out, const sp_packet *p, guint64 frame_base,
                           guint64 window_base, const ScriptStreamDesc *desc) {
    gst_script_packet_clear(out);
    out->kind = (GstScriptPacketKind)p->kind;
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

void script_packet_view_init(ScriptPacketView *v) {
    memset(v, 0, sizeof *v);
}

void script_packet_view_release(ScriptPacketView *v) {
    if (v->tok_buf)
        gst_buffer_unmap(v->tok_buf, &v->tok_map);
    if (v->prov_buf)
        gst_buffer_unmap(v->prov_buf, &v->prov_map);
    v->tok_buf = v->prov_buf = NULL;
}

void script_packet_view_free(ScriptPacketView *v) {
    script_packet_view_release(v);
    g_free(v->info);
    script_packet_view_init(v);
}

gboolean script_packet_view_map(ScriptPacketView *v, const GstScriptPacket *p) {
    script_packet_view_release(v);
    gsize d = gst_script_packet_width(p);
    const GstScriptTensor *pt = &p->provenance;
    if (d == 0 || p->tokens.dims[0] != p->count || pt->num_dims != 2 || pt->dims[0] != p->count ||
        pt->dims[1] != GST_SCRIPT_PROVENANCE_COLUMNS ||
        pt->data_type != GST_SCRIPT_TENSOR_DATA_TYPE_INT64 ||
        p->tokens.data_type != GST_SCRIPT_TENSOR_DATA_TYPE_FLOAT32)
        return FALSE;
    if (!gst_script_tensor_map(&p->tokens, &v->tok_map))
        return FALSE;
    v->tok_buf = p->tokens.data;
    if (!gst_script_tensor_map(pt, &v->prov_map)) {
        script_packet_view_release(v);
        return FALSE;
    }
    v->prov_buf = pt->data;
    if (p->count > v->info_cap) {
        g_free(v->info);
        v->info = g_new(sp_token_info, p->count);
        v->info_cap = p->count;
    }
    const gint64 *row = (const gint64 *)v->prov_map.data;
    for (guint i = 0; i < p->count; i++, row += GST_SCRIPT_PROVENANCE_COLUMNS) {
        v->info[i].pts = row[GST_SCRIPT_PROVENANCE_PTS];
        v->info[i].last_pts = row[GST_SCRIPT_PROVENANCE_LAST_PTS];
        v->info[i].frame = (uint64_t)row[GST_SCRIPT_PROVENANCE_FRAME];
        v->info[i].seen = (uint32_t)row[GST_SCRIPT_PROVENANCE_SEEN];
        v->info[i].y = (uint16_t)row[GST_SCRIPT_PROVENANCE_Y];
        v->info[i].x = (uint16_t)row[GST_SCRIPT_PROVENANCE_X];
    }
    sp_packet *s = &v->packet;
    memset(s, 0, sizeof *s);
    s->kind = (sp_packet_kind)p->kind;
    s->window = p->window_id;
    s->pts_first = GST_CLOCK_TIME_IS_VALID(p->pts_first) ? (int64_t)p->pts_first : 0;
    s->pts_last = GST_CLOCK_TIME_IS_VALID(p->pts_last) ? (int64_t)p->pts_last : s->pts_first;
    s->frame_first = p->frame_first;
    s->frame_last = p->frame_last;
    s->query_hash = p->query_hash;
    s->budget = p->budget;
    s->count = p->count;
    s->d = d;
    s->tokens = (const float *)v->tok_map.data;
    s->info = v->info;
    return TRUE;
}

void script_wire_header_from_packet(sp_wire_header *h, const GstScriptPacket *p, sp_dtype dtype) {
    sp_wire_header_init(h);
    h->dtype = dtype;
    h->kind = (sp_packet_kind)p->kind;
    h->d = (uint32_t)gst_script_packet_width(p);
    h->grid_h = (uint16_t)p->grid_h;
    h->grid_w = (uint16_t)p->grid_w;
    h->window = p->window_frames;
    h->hop = p->hop_frames;
    h->budget = p->budget;
    h->tau_t = p->temporal_tau;
    g_strlcpy(h->name, p->stream_name ? p->stream_name : "", sizeof h->name);
}

gboolean script_packet_matches_header(const GstScriptPacket *p, const sp_wire_header *h) {
    return (sp_packet_kind)p->kind == h->kind && gst_script_packet_width(p) == h->d &&
           p->grid_h == h->grid_h && p->grid_w == h->grid_w && p->budget == h->budget &&
           p->window_frames == h->window && p->hop_frames == h->hop;
}
