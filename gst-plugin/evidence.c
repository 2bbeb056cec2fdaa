/* The tokens meta's pixel evidence for scriptprune's stream (see evidence.h). */
#include "evidence.h"

#include <math.h>

gboolean script_evidence_read(ScriptEvidence *ev, const GstScriptTokensMeta *meta,
                              const sp_pixel_evidence **out, gchar **msg) {
    *out = NULL;
    const GstScriptTensor *t = &meta->evidence;
    if (!gst_script_tensor_is_set(t) || !ev->have_prev || meta->evidence_ref != ev->prev_tokens_of)
        return TRUE;
    gsize n = gst_script_tokens_meta_n_tokens(meta);
    if (t->data_type != GST_SCRIPT_TENSOR_DATA_TYPE_FLOAT32 || t->num_dims != 2 ||
        t->dims[0] != n || t->dims[1] != 3) {
        *msg = g_strdup_printf("pixel evidence: expected FLOAT32 [%" G_GSIZE_FORMAT ", 3]", n);
        return FALSE;
    }
    if (n > ev->cap) {
        sp_pixel_evidence *v = g_try_new(sp_pixel_evidence, n);
        if (!v) {
            *msg = g_strdup("pixel evidence: out of memory");
            return FALSE;
        }
        g_free(ev->v);
        ev->v = v;
        ev->cap = n;
    }
    GstMapInfo map;
    if (!gst_script_tensor_map(t, &map)) {
        *msg = g_strdup("pixel evidence: unreadable tensor");
        return FALSE;
    }
    const float *f = (const float *)map.data;
    gboolean ok = TRUE;
    for (gsize i = 0; i < n && ok; i++) {
        float verdict = f[3 * i + 2];
        if (!(verdict == 0.0f || verdict == 1.0f || verdict == 2.0f) || !isfinite(f[3 * i]) ||
            !isfinite(f[3 * i + 1])) {
            *msg = g_strdup_printf("pixel evidence of token %" G_GSIZE_FORMAT
                                   ": (%g, %g, %g) is not a displacement and a verdict 0, 1 or 2",
                                   i, (double)f[3 * i], (double)f[3 * i + 1], (double)verdict);
            ok = FALSE;
            break;
        }
        ev->v[i] = (sp_pixel_evidence){f[3 * i], f[3 * i + 1], (uint8_t)verdict};
    }
    gst_buffer_unmap(t->data, &map);
    if (ok)
        *out = ev->v;
    return ok;
}

void script_evidence_took(ScriptEvidence *ev, const GstScriptTokensMeta *meta) {
    ev->have_prev = TRUE;
    ev->prev_tokens_of = meta->tokens_of;
}

void script_evidence_restart(ScriptEvidence *ev) {
    ev->have_prev = FALSE;
}

void script_evidence_free(ScriptEvidence *ev) {
    g_clear_pointer(&ev->v, g_free);
    ev->cap = 0;
    ev->have_prev = FALSE;
}
