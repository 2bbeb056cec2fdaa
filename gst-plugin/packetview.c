/* GstScriptPacket -> sp_packet views and wire headers (packetview.h). */
#include "packetview.h"

#include <string.h>

void script_packet_view_init(ScriptPacketView *v) {
    memset(v, 0, sizeof *v);
}

void script_packet_view_release(ScriptPacketView *v) {
    if (v->tok_buf)
        gst_buffer_unmap(v->tok_buf, &v->tok_map);
    if (v->prov_buf)
        gst_buffer_unmap(v->prov_buf, &v->prov_map);
    v->tok_buf = v->prov_buf = NULL;
    memset(&v->packet, 0, sizeof v->packet);
}

void script_packet_view_free(ScriptPacketView *v) {
    script_packet_view_release(v);
    g_free(v->info);
    v->info = NULL;
    v->info_cap = 0;
}

static sp_status check_tensors(const GstScriptPacket *p, size_t d, sp_error *err) {
    const GstScriptTensor *t = &p->tokens, *pv = &p->provenance;
    if (t->data_type != GST_SCRIPT_TENSOR_DATA_TYPE_FLOAT32 || t->num_dims != 2 ||
        t->dims[0] != p->count || t->dims[1] != d)
        return sp_error_set(err, SP_ERR_FORMAT,
                            "packet of window %" G_GUINT64_FORMAT ": tokens are not FLOAT32 "
                            "[%u, %zu]",
                            p->window_id, p->count, d);
    if (pv->data_type != GST_SCRIPT_TENSOR_DATA_TYPE_INT64 || pv->num_dims != 2 ||
        pv->dims[0] != p->count || pv->dims[1] != GST_SCRIPT_PROVENANCE_COLUMNS)
        return sp_error_set(err, SP_ERR_FORMAT,
                            "packet of window %" G_GUINT64_FORMAT ": provenance is not INT64 "
                            "[%u, %d]",
                            p->window_id, p->count, GST_SCRIPT_PROVENANCE_COLUMNS);
    return SP_OK;
}

sp_status script_packet_view_map(ScriptPacketView *v, const GstScriptPacket *p, size_t empty_d,
                                 sp_error *err) {
    script_packet_view_release(v);
    size_t d = gst_script_packet_width(p);
    if (p->count > 0) {
        sp_status st = check_tensors(p, d, err);
        if (st != SP_OK)
            return st;
        if (!gst_script_tensor_map(&p->tokens, &v->tok_map))
            return sp_error_set(err, SP_ERR_IO, "packet tokens cannot be mapped");
        v->tok_buf = p->tokens.data;
        if (!gst_script_tensor_map(&p->provenance, &v->prov_map)) {
            script_packet_view_release(v);
            return sp_error_set(err, SP_ERR_IO, "packet provenance cannot be mapped");
        }
        v->prov_buf = p->provenance.data;
        if (v->tok_map.size < (size_t)p->count * d * sizeof(float) ||
            v->prov_map.size < (size_t)p->count * GST_SCRIPT_PROVENANCE_COLUMNS * sizeof(gint64)) {
            script_packet_view_release(v);
            return sp_error_set(err, SP_ERR_FORMAT, "packet tensors are shorter than their dims");
        }
    } else {
        if (d == 0)
            d = empty_d;
        if (d == 0)
            return sp_error_set(err, SP_ERR_FORMAT, "empty packet without a token width");
    }
    if (p->count > v->info_cap) {
        /* GLib aborts on out-of-memory (GStreamer's and the daemon's policy). */
        g_free(v->info);
        v->info = g_new(sp_token_info, p->count);
        v->info_cap = p->count;
    }
    const gint64 *row = p->count ? (const gint64 *)v->prov_map.data : NULL;
    for (guint i = 0; i < p->count; i++, row += GST_SCRIPT_PROVENANCE_COLUMNS) {
        v->info[i].pts = row[GST_SCRIPT_PROVENANCE_PTS];
        v->info[i].last_pts = row[GST_SCRIPT_PROVENANCE_LAST_PTS];
        v->info[i].frame = (uint64_t)row[GST_SCRIPT_PROVENANCE_FRAME];
        v->info[i].seen = (uint32_t)row[GST_SCRIPT_PROVENANCE_SEEN];
        v->info[i].y = (uint16_t)row[GST_SCRIPT_PROVENANCE_Y];
        v->info[i].x = (uint16_t)row[GST_SCRIPT_PROVENANCE_X];
    }
    sp_packet *s = &v->packet;
    s->kind = (sp_packet_kind)p->kind;
    s->mode = (sp_packet_mode)p->mode;
    s->window = p->window_id;
    s->pts_first = GST_CLOCK_TIME_IS_VALID(p->pts_first) ? (int64_t)p->pts_first : 0;
    s->pts_last = GST_CLOCK_TIME_IS_VALID(p->pts_last) ? (int64_t)p->pts_last : s->pts_first;
    s->frame_first = p->frame_first;
    s->frame_last = p->frame_last;
    s->query_hash = p->query_hash;
    s->budget = p->budget;
    s->count = p->count;
    s->d = d;
    s->tokens = p->count ? (const float *)v->tok_map.data : NULL;
    s->info = v->info;
    return SP_OK;
}

sp_status script_packet_wire_header(const GstScriptPacket *p, sp_dtype dtype, sp_wire_header *h,
                                    sp_error *err) {
    sp_wire_header_init(h);
    size_t d = gst_script_packet_width(p);
    if (d == 0)
        return sp_error_set(err, SP_ERR_FORMAT, "packet carries no token width");
    h->dtype = dtype;
    h->kind = p->kind == GST_SCRIPT_PACKET_KIND_FRAME ? SP_PACKET_FRAME : SP_PACKET_WINDOW;
    h->mode = (sp_packet_mode)p->mode;
    h->d = (uint32_t)d;
    h->grid_h = (uint16_t)MIN(p->grid_h, (guint)G_MAXUINT16);
    h->grid_w = (uint16_t)MIN(p->grid_w, (guint)G_MAXUINT16);
    h->window = p->window_frames;
    h->hop = p->hop_frames;
    h->budget = p->budget;
    h->tau_t = p->temporal_tau;
    g_strlcpy(h->name, p->stream_name ? p->stream_name : "", sizeof h->name);
    return sp_wire_header_validate(h, err);
}
