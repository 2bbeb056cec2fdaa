/* Per-token fates of the frame just pushed into an sp_stream, as the GstScriptTokenFate bytes of
 * the tokens meta. */
#ifndef GST_SCRIPT_FATES_H
#define GST_SCRIPT_FATES_H

#include <gst/script/script.h>

#include "scriptprune/stream.h"

G_BEGIN_DECLS

/* TRUE when core reports per-token fates (sp_stream_last_fates, looked up at run time); otherwise
 * only the tokens of the frame's own packet are known (CANDIDATE) and the rest is UNKNOWN. */
gboolean script_fates_exact(void);

/* Fills meta's fates for the frame just pushed into s (meta->stream_frame and, when it has one,
 * meta->packet set). On failure returns FALSE with *msg set (g_free). */
gboolean script_fates_fill(sp_stream *s, GstScriptTokensMeta *meta, gchar **msg);

G_END_DECLS

#endif
