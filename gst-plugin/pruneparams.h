/* scriptprune's stream settings (its properties) and their translation to sp_stream_params. */
#ifndef GST_SCRIPT_PRUNEPARAMS_H
#define GST_SCRIPT_PRUNEPARAMS_H

#include <gst/gst.h>

#include "enums.h"
#include "scriptprune/stream.h"

G_BEGIN_DECLS

typedef struct {
    sp_method method;    /* streams run script (GSP, then QCSP) or qcsp (QCSP alone) */
    sp_stream_params sp; /* every stream parameter of core's table, defaults from it */
    gchar *stream_name;
} PruneParams;

void prune_params_init(PruneParams *p);
void prune_params_clear(PruneParams *p);
void prune_params_copy(PruneParams *dst, const PruneParams *src);

/* Fills out (on_packet/user left NULL) from p and validates it. FALSE with *msg (g_free), e.g.
 * for a method streams do not run. out->name points into p. */
gboolean prune_params_to_stream(const PruneParams *p, sp_stream_params *out, gchar **msg);

G_END_DECLS

#endif
