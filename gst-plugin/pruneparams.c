/* scriptprune settings -> sp_stream_params. */
#include "pruneparams.h"

#include "scriptprune/params.h"

void prune_params_init(PruneParams *p) {
    p->method = (sp_method)sp_param_of(SP_PARAM_METHOD)->def;
    sp_stream_params_init(&p->sp);
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
    /* Streams run GSP per frame and QCSP per emission: `script` is that cascade, `qcsp` turns
     * GSP off. The other methods of the table are per-frame selections without a stream form. */
    if (p->method != SP_METHOD_SCRIPT && p->method != SP_METHOD_QCSP) {
        const sp_method_info *mi = sp_method_info_of(p->method);
        *msg = g_strdup_printf("method '%s' has no streaming form: scriptprune runs 'script' "
                               "(GSP per frame, then QCSP) or 'qcsp' (QCSP alone)",
                               mi ? mi->name : "?");
        return FALSE;
    }
    *out = p->sp;
    if (p->method == SP_METHOD_QCSP)
        out->gsp_keep = 1.0f;
    out->on_packet = NULL;
    out->user = NULL;
    out->name = p->stream_name ? p->stream_name : "";
    sp_error err;
    sp_error_clear(&err);
    if (sp_stream_params_validate(out, &err) != SP_OK) {
        *msg = g_strdup(err.message);
        return FALSE;
    }
    return TRUE;
}
