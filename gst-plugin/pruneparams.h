/* scriptprune's stream settings (its properties) and their translation to sp_stream_params. */
#ifndef GST_SCRIPT_PRUNEPARAMS_H
#define GST_SCRIPT_PRUNEPARAMS_H

#include <gst/gst.h>

#include "enums.h"
#include "scriptprune/stream.h"

G_BEGIN_DECLS

#define PRUNE_DEFAULT_METHOD SP_METHOD_SCRIPT
#define PRUNE_DEFAULT_EMIT GST_SCRIPT_EMIT_WINDOW
#define PRUNE_DEFAULT_PACKET_MODE GST_SCRIPT_PACKET_MODE_SNAPSHOT
#define PRUNE_DEFAULT_BUDGET 64
#define PRUNE_DEFAULT_WINDOW 16
#define PRUNE_DEFAULT_HOP 8
#define PRUNE_DEFAULT_WINDOW_BUDGET 256
#define PRUNE_DEFAULT_TAU 0.2f
#define PRUNE_DEFAULT_TEMPORAL_TAU SP_STREAM_DEFAULT_TAU_T
#define PRUNE_DEFAULT_RADIUS 1
#define PRUNE_DEFAULT_GSP_KEEP 0.5f
#define PRUNE_DEFAULT_HISTORY_BYTES (G_GUINT64_CONSTANT(256) << 20)
#define PRUNE_DEFAULT_GRAPH GST_SCRIPT_GRAPH_BIPARTITE
#define PRUNE_DEFAULT_K_MIN 4
#define PRUNE_DEFAULT_GAMMA 1.0f
#define PRUNE_DEFAULT_HISTORY_MAX_AGE 0

typedef struct {
    sp_method method;
    GstScriptEmit emit;
    GstScriptPacketMode packet_mode; /* what the packets promise (snapshot, delta) */
    guint budget;                    /* frame budget */
    guint window;                    /* frames per window */
    guint hop;                       /* frames between window emissions */
    guint window_budget;             /* tokens per window emission */
    gfloat tau;                      /* GSP edge threshold */
    gfloat temporal_tau;             /* temporal redundancy threshold */
    guint radius;                    /* temporal neighbourhood radius, grid cells */
    gfloat gsp_keep;                 /* share of each frame GSP keeps (method script) */
    GstScriptGraph graph;            /* GSP graph of each frame */
    guint k_min;                     /* GSP: degree below which the mean similarity blends in */
    gfloat gamma;                    /* GSP: weight of the mean edge similarity */
    guint64 history_bytes;
    guint64 history_max_age; /* ns; 0 = no age limit */
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
