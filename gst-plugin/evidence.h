/* The tokens meta's pixel evidence (scriptencode's, core's scriptprune/pixel_match.h) as core's
 * sp_frame.evidence for scriptprune's stream: used only when it compares with the tokens the stream
 * took last (a frame dropped between the elements, or a stream restarted, leaves it out). */
#ifndef GST_SCRIPT_EVIDENCE_H
#define GST_SCRIPT_EVIDENCE_H

#include <gst/script/script.h>

#include "scriptprune/frame.h"

G_BEGIN_DECLS

typedef struct ScriptEvidence {
    sp_pixel_evidence *v; /* cap entries */
    gsize cap;
    gboolean have_prev;     /* the stream took a frame since it started */
    guint64 prev_tokens_of; /* that frame's meta->tokens_of */
} ScriptEvidence;

/* The evidence for meta's frame, or NULL (none, or not against the stream's last frame); valid
 * until the next call. FALSE with *msg set (g_free) when it is present but malformed. */
gboolean script_evidence_read(ScriptEvidence *ev, const GstScriptTokensMeta *meta,
                              const sp_pixel_evidence **out, gchar **msg);
/* Records that the stream took meta's frame. */
void script_evidence_took(ScriptEvidence *ev, const GstScriptTokensMeta *meta);
/* A new stream: no previous frame. */
void script_evidence_restart(ScriptEvidence *ev);
void script_evidence_free(ScriptEvidence *ev);

G_END_DECLS

#endif
