/* Conversions between core's sp_packet and GstScriptPacket, and the wire header a packet implies.
 * Used by scriptprune (core -> GStreamer) and scriptsink (GStreamer -> core writer). */
#ifndef GST_SCRIPT_PACKETWIRE_H
#define GST_SCRIPT_PACKETWIRE_H

#include <gst/script/script.h>

#include "scriptprune/wire.h"

G_BEGIN_DECLS

/* The stream a packet came from: copied into every GstScriptPacket. */
typedef struct {
    guint grid_h, grid_w;
    guint window_frames, hop_frames; /* 0 for emit=frame */
    gfloat temporal_tau;
    const gchar *stream_name; /* interned */
} ScriptStreamDesc;

/* out (initialised) becomes a copy of p. Frame indices get frame_base added; window ids get
 * frame_base (frame packets, whose id is their frame) or window_base (window packets) added, so
 * that they keep growing across stream resets. */
void script_packet_from_sp(GstScriptPacket *out, const sp_packet *p, guint64 frame_base,
                           guint64 window_base, const ScriptStreamDesc *desc);

/* A read-only sp_packet view of a GstScriptPacket (maps its tensors). */
typedef struct {
    sp_packet packet;
    sp_token_info *info;
    gsize info_cap;
    GstBuffer *tok_buf, *prov_buf;
    GstMapInfo tok_map, prov_map;
} ScriptPacketView;

void script_packet_view_init(ScriptPacketView *v);
/* FALSE when the packet's tensors are missing or inconsistent. Release before the next view. */
gboolean script_packet_view_map(ScriptPacketView *v, const GstScriptPacket *p);
void script_packet_view_release(ScriptPacketView *v);
void script_packet_view_free(ScriptPacketView *v);

/* The wire header that a stream of packets like p needs. */
void script_wire_header_from_packet(sp_wire_header *h, const GstScriptPacket *p, sp_dtype dtype);
/* TRUE when p fits header h (same kind, width, grid, budget, window and hop). */
gboolean script_packet_matches_header(const GstScriptPacket *p, const sp_wire_header *h);

G_END_DECLS

#endif
