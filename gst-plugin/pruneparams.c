/* scriptprune settings -> sp_stream_params. */
#include "pruneparams.h"

void prune_params_init(PruneParams *p) {
    p->method = PRUNE_DEFAULT_METHOD;
    p->emit = PRUNE_DEFAULT_EMIT;
    p->packet_mode = PRUNE_DEFAULT_PACKET_MODE;
    p->budget = PRUNE_DEFAULT_BUDGET;
    p->window = PRUNE_DEFAULT_WINDOW;
    p->hop = PRUNE_DEFAULT_HOP;
    p->window_budget = PRUNE_DEFAULT_WINDOW_BUDGET;
    p->tau = PRUNE_DEFAULT_TAU;
    p->temporal_tau = PRUNE_DEFAULT_TEMPORAL_TAU;
    p->radius = PRUNE_DEFAULT_RADIUS;
    p->gsp_keep = PRUNE_DEFAULT_GSP_KEEP;
    p->graph = PRUNE_DEFAULT_GRAPH;
    p->k_min = PRUNE_DEFAULT_K_MIN;
    p->gamma = PRUNE_DEFAULT_GAMMA;
    p->history_bytes = PRUNE_DEFAULT_HISTORY_BYTES;
    p->history_max_age = PRUNE_DEFAULT_HISTORY_MAX_AGE;
    p->stream_name = g_strdup("");
}

void prune_params_clear(PruneParams *p) {
    g_clear_pointer(&p->stream_name, g_free);
}

void prune_params_copy(PruneParams *dst, const PruneParams *src) {
    if (dst == src)
        return;
    gchar *name = g_strdup(src->stream_name);
    prune_params_clear(dst);
    *dst = *src;
    dst->stream_name = name;
}

gboolean prune_params_to_stream(const PruneParams *p, sp_stream_params *out, gchar **msg) {
    sp_stream_params_init(out);
    /* Streams run GSP per frame and QCSP per emission: `script` is that cascade, `qcsp` turns
     * GSP off. The other methods of the table are per-frame selections without a stream form. */
    float keep;
    if (p->method == SP_METHOD_SCRIPT) {
        keep = p->gsp_keep;
    } else if (p->method == SP_METHOD_QCSP) {
        keep = 1.0f;
    } else {
        const sp_method_info *mi = sp_method_info_of(p->method);
        *msg = g_strdup_printf("method '%s' has no streaming form: scriptprune runs 'script' "
                               "(GSP per frame, then QCSP) or 'qcsp' (QCSP alone)",
                               mi ? mi->name : "?");
        return FALSE;
    }
    out->policy = p->emit == GST_SCRIPT_EMIT_FRAME ? SP_EMIT_FRAME : SP_EMIT_WINDOW;
    out->packet_mode =
        p->packet_mode == GST_SCRIPT_PACKET_MODE_DELTA ? SP_PACKET_DELTA : SP_PACKET_SNAPSHOT;
    out->frame_budget = p->budget;
    out->window_budget = p->window_budget;
    out->window = p->window;
    out->hop = p->hop;
    out->tau_t = p->temporal_tau;
    out->radius = p->radius;
    out->gsp_keep = keep;
    out->gsp.tau = p->tau;
    out->gsp.graph = p->graph == GST_SCRIPT_GRAPH_FULL ? SP_GRAPH_FULL : SP_GRAPH_BIPARTITE;
    out->gsp.k_min = p->k_min;
    out->gsp.gamma = p->gamma;
    out->history_bytes = (size_t)p->history_bytes;
    out->history_max_age =
        p->history_max_age > (guint64)G_MAXINT64 ? G_MAXINT64 : (int64_t)p->history_max_age;
    out->name = p->stream_name ? p->stream_name : "";
    sp_error err;
    sp_error_clear(&err);
    if (sp_stream_params_validate(out, &err) != SP_OK) {
        *msg = g_strdup(err.message);
        return FALSE;
    }
    return TRUE;
}
