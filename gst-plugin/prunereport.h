/* What scriptprune reports to applications: the per-emission element message, the `stats`
 * structure, and the result structure of the `reselect` action signal. */
#ifndef GST_SCRIPT_PRUNEREPORT_H
#define GST_SCRIPT_PRUNEREPORT_H

#include <gst/script/script.h>

#include "scriptprune/stream.h"

G_BEGIN_DECLS

#define SCRIPT_EMISSION_MESSAGE "scriptprune-emission"
#define SCRIPT_STATS_STRUCTURE "scriptprune-stats"
#define SCRIPT_RESELECT_STRUCTURE "scriptprune-reselect"

/* The "scriptprune-emission" structure for packet p; `before` and `now` are the stream's stats
 * at the previous emission and now (the counts are their differences). */
GstStructure *script_emission_structure(const GstScriptPacket *p, const sp_stream_stats *before,
                                        const sp_stream_stats *now);

/* "scriptprune-stats": every sp_stream_stats field, as guint64, under its name with dashes
 * (frames_in -> frames-in). A NULL stats gives zeros. */
GstStructure *script_stats_structure(const sp_stream_stats *st);

/* "scriptprune-reselect" with ok = FALSE and the error. */
GstStructure *script_reselect_failure(const gchar *format, ...) G_GNUC_PRINTF(1, 2);

/* Runs sp_stream_reselect and returns the result structure: ok, error, count, safetensors (a
 * GBytes holding core's safetensors image of the packet: tokens F32, pts, frame, yx). query: rows
 * x width float32 (NULL or rows 0: no query). since/until: pts bounds in ns, G_MAXUINT64 = open.
 * Frame indices are offset by frame_base like the packets. */
GstStructure *script_reselect(sp_stream *s, GBytes *query, guint rows, guint budget, guint64 since,
                              guint64 until, guint64 frame_base, const gchar *stream_name,
                              const gchar *method);

G_END_DECLS

#endif
