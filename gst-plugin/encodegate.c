/* scriptencode's change gate (encodegate.h): core's sp_change_gate sized to the encoder's view of
 * the frame, plus the kept token buffers a skipped frame carries again. */
#include "encodegate.h"

static const GEnumValue skip_values[] = {
    {GST_SCRIPT_SKIP_AUTO, "on for the clip backend, off for patch", "auto"},
    {GST_SCRIPT_SKIP_TRUE, "skip the encoder on unchanged frames", "true"},
    {GST_SCRIPT_SKIP_FALSE, "encode every sampled frame", "false"},
    {0, NULL, NULL},
};

GType gst_script_skip_unchanged_get_type(void) {
    static gsize type = 0;
    if (g_once_init_enter(&type)) {
        GType t = g_enum_register_static("GstScriptSkipUnchanged", skip_values);
        g_once_init_leave(&type, t);
    }
    return (GType)type;
}

void encode_gate_init(EncodeGate *g) {
    g->enabled = FALSE;
    sp_change_gate_params_init(&g->params);
    g->gate = NULL;
    g->width = g->height = 0;
    g->tokens = g->embed = NULL;
    atomic_init(&g->encoded, 0);
    atomic_init(&g->skipped, 0);
}

void encode_gate_clear(EncodeGate *g) {
    sp_change_gate_free(g->gate);
    g->gate = NULL;
    g->width = g->height = 0;
    gst_clear_buffer(&g->tokens);
    gst_clear_buffer(&g->embed);
}

void encode_gate_start(EncodeGate *g, GstScriptSkipUnchanged skip, gboolean clip_backend,
                       gfloat threshold, gdouble max_skip_s) {
    encode_gate_clear(g);
    g->enabled = skip == GST_SCRIPT_SKIP_TRUE || (skip == GST_SCRIPT_SKIP_AUTO && clip_backend);
    g->params.threshold = threshold;
    g->params.max_skip_ns = (int64_t)(max_skip_s * (gdouble)GST_SECOND);
    atomic_store(&g->encoded, 0);
    atomic_store(&g->skipped, 0);
}

void encode_gate_reset(EncodeGate *g) {
    sp_change_gate_reset(g->gate);
    gst_clear_buffer(&g->tokens);
    gst_clear_buffer(&g->embed);
}

/* The gate for img's size: the encoder's region and patch grid of that size. */
static gboolean gate_for_size(EncodeGate *g, const sp_encoder *enc, const sp_image *img,
                              sp_error *err) {
    if (g->gate && g->width == img->width && g->height == img->height)
        return TRUE;
    sp_change_gate_free(g->gate);
    g->gate = NULL;
    sp_change_gate_params_for_encoder(&g->params, enc, img->width, img->height);
    if (sp_change_gate_new(&g->params, &g->gate, err) != SP_OK)
        return FALSE;
    g->width = img->width;
    g->height = img->height;
    return TRUE;
}

gboolean encode_gate_decide(EncodeGate *g, const sp_encoder *enc, const sp_image *img,
                            GstClockTime t, gboolean *run, sp_error *err) {
    *run = TRUE;
    if (!g->enabled)
        return TRUE;
    if (!GST_CLOCK_TIME_IS_VALID(t)) {
        encode_gate_reset(g);
        return TRUE;
    }
    if (!gate_for_size(g, enc, img, err))
        return FALSE;
    sp_gate_verdict v;
    if (sp_change_gate_test(g->gate, img, (int64_t)t, &v, NULL, err) != SP_OK)
        return FALSE;
    /* Without kept tokens (first frame after a reset) there is nothing to carry again. */
    *run = v != SP_GATE_SKIP || !g->tokens;
    if (*run && v == SP_GATE_SKIP)
        sp_change_gate_reset(g->gate);
    if (!*run)
        atomic_fetch_add(&g->skipped, 1);
    return TRUE;
}

void encode_gate_keep(EncodeGate *g, GstBuffer *tokens, GstBuffer *embed) {
    atomic_fetch_add(&g->encoded, 1);
    if (!g->enabled)
        return;
    gst_buffer_replace(&g->tokens, tokens);
    gst_buffer_replace(&g->embed, embed);
}

void encode_gate_counts(EncodeGate *g, guint64 *encoded, guint64 *skipped) {
    *encoded = atomic_load(&g->encoded);
    *skipped = atomic_load(&g->skipped);
}
