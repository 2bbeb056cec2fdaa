/* core's sp_packet -> GstScriptPacket (scriptprune), and whether a packet fits a stream header
 * (scriptsink). The other direction, GstScriptPacket -> sp_packet, is packetview.h. */
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

/* TRUE when p fits header h (same kind, width, grid, budget, window and hop). */
gboolean script_packet_matches_header(const GstScriptPacket *p, const sp_wire_header *h);

G_END_DECLS

#endif
