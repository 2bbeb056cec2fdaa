/* GstScriptPacket: one emission of scriptprune (what core calls an sp_packet), as GStreamer data.
 *
 * A packet is `count` token vectors of width D with their provenance, and the description of the
 * stream that produced them (what a wire-format header needs), so a packet alone is enough to
 * write the core token-stream format (docs/wire-format.md). Times are nanoseconds (buffer PTS of
 * the source frames); frame indices count the frames scriptprune pushed since it started, across
 * flushes and seeks, so they and the window ids only grow.
 *
 * Ownership: the two tensors own one reference each to their data (see scripttensor.h). A
 * GstScriptPacket is a plain value: initialise with gst_script_packet_init, release with
 * gst_script_packet_clear. Not thread-safe on its own; readers of a meta's packet hold the buffer.
 */
#ifndef GST_SCRIPT_PACKET_H
#define GST_SCRIPT_PACKET_H

#include <gst/script/script-prelude.h>
#include <gst/script/scripttensor.h>

G_BEGIN_DECLS

/* Same values as core's sp_packet_kind. */
typedef enum {
    GST_SCRIPT_PACKET_KIND_FRAME = 0,    /* emit=frame: one frame's new tokens */
    GST_SCRIPT_PACKET_KIND_WINDOW = 1,   /* emit=window: the best tokens of the last frames */
    GST_SCRIPT_PACKET_KIND_RESELECT = 2, /* a reselect result over a time range */
} GstScriptPacketKind;

/* Same values as core's sp_packet_mode: what the packets of a stream promise (docs/streams.md). */
typedef enum {
    GST_SCRIPT_PACKET_MODE_SNAPSHOT = 0, /* every token of a window packet was seen in the window */
    GST_SCRIPT_PACKET_MODE_DELTA = 1,    /* a packet holds only tokens never sent before */
} GstScriptPacketMode;

/* Columns of the provenance tensor (INT64 [count, GST_SCRIPT_PROVENANCE_COLUMNS]). */
typedef enum {
    GST_SCRIPT_PROVENANCE_PTS = 0,      /* ns, PTS of the frame the vector was taken from */
    GST_SCRIPT_PROVENANCE_LAST_PTS = 1, /* ns, PTS of the last frame it was seen again in */
    GST_SCRIPT_PROVENANCE_FRAME = 2,    /* frame index the vector was taken from */
    GST_SCRIPT_PROVENANCE_SEEN = 3,     /* frames it was seen in (>= 1) */
    GST_SCRIPT_PROVENANCE_Y = 4,        /* grid row */
    GST_SCRIPT_PROVENANCE_X = 5,        /* grid column */
    GST_SCRIPT_PROVENANCE_COLUMNS = 6,
} GstScriptProvenanceColumn;

/* Window id of reselect packets (core's SP_WINDOW_NONE). */
#define GST_SCRIPT_WINDOW_NONE G_MAXUINT64

typedef struct {
    GstScriptPacketKind kind;
    GstScriptPacketMode mode;         /* the stream's packet mode (reselect results: snapshot) */
    guint64 window_id;                /* emit=frame: the frame index; window: emission count */
    GstClockTime pts_first, pts_last; /* ns, PTS span of the frames the packet covers */
    guint64 frame_first, frame_last;  /* frame indices the packet covers */
    guint64 query_hash;               /* core's sp_query_hash of the query used; 0: none */
    guint budget;                     /* tokens asked for */
    guint count;                      /* tokens in the packet: min(budget, candidates) */
    GstScriptTensor tokens;           /* FLOAT32 [count, D] (id script-packet-tokens) */
    GstScriptTensor provenance;       /* INT64 [count, 6] (id script-provenance) */
    /* The stream that produced it (a wire-format header's fields). */
    guint grid_h, grid_w;     /* token grid of the frames */
    guint window_frames;      /* emit=window: frames per window, else 0 */
    guint hop_frames;         /* emit=window: frames between emissions, else 0 */
    gfloat temporal_tau;      /* temporal threshold used (informational) */
    const gchar *stream_name; /* interned string (g_intern_string), never freed; may be "" */
} GstScriptPacket;

GST_SCRIPT_API void gst_script_packet_init(GstScriptPacket *p);
GST_SCRIPT_API void gst_script_packet_clear(GstScriptPacket *p);
/* dst (initialised, or holding an old packet that is released) becomes a copy of src sharing its
 * tensor data. */
GST_SCRIPT_API void gst_script_packet_copy_into(GstScriptPacket *dst, const GstScriptPacket *src);
/* Token width D (0 when the packet is empty and carries no width). */
GST_SCRIPT_API gsize gst_script_packet_width(const GstScriptPacket *p);

/* A serialized downstream custom event carrying a packet that belongs to no buffer: the last,
 * partial window scriptprune emits at EOS or before a new segment. scriptsink writes it like a
 * packet found in a buffer's meta; other elements forward it. The event holds references to the
 * packet's data. */
#define GST_SCRIPT_PACKET_EVENT_NAME "GstScriptPacket"
GST_SCRIPT_API GstEvent *gst_script_packet_event_new(const GstScriptPacket *p);
GST_SCRIPT_API gboolean gst_script_packet_event_is(GstEvent *event);
/* Fills out (initialised by the caller; release with gst_script_packet_clear) with references to
 * the event's data. FALSE when the event is not a valid packet event. */
GST_SCRIPT_API gboolean gst_script_packet_event_parse(GstEvent *event, GstScriptPacket *out);

G_END_DECLS

#endif
