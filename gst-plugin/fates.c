/* Fates: core's per-token report when it has one, else what the emitted packet tells.
 *
 * sp_stream_last_fates is being added to core/stream. It is declared weak here so that the
 * plugin builds and runs against a core with or without it, and starts using it as soon as
 * libscriptprune exports it, without a reconfigure (a configure-time check would be cached). */
#include "fates.h"

#include <string.h>

extern sp_status sp_stream_last_fates(sp_stream *s, uint8_t *fates, size_t n, sp_error *err)
    __attribute__((weak));

gboolean script_fates_exact(void) {
    return sp_stream_last_fates != NULL;
}

/* Tokens of this frame in this push's packet were candidates; nothing is known of the others. */
static void fates_from_packet(const GstScriptTokensMeta *meta, guint8 *fates, gsize n) {
    memset(fates, GST_SCRIPT_FATE_UNKNOWN, n);
    if (!meta->has_packet)
        return;
    GstMapInfo map;
    if (!gst_script_tensor_map(&meta->packet.provenance, &map))
        return;
    const gint64 *row = (const gint64 *)map.data;
    for (guint i = 0; i < meta->packet.count; i++, row += GST_SCRIPT_PROVENANCE_COLUMNS) {
        if ((guint64)row[GST_SCRIPT_PROVENANCE_FRAME] != meta->stream_frame)
            continue;
        gsize pos = (gsize)row[GST_SCRIPT_PROVENANCE_Y] * meta->grid_w +
                    (gsize)row[GST_SCRIPT_PROVENANCE_X];
        if (pos < n)
            fates[pos] = GST_SCRIPT_FATE_CANDIDATE;
    }
    gst_buffer_unmap(meta->packet.provenance.data, &map);
}

gboolean script_fates_fill(sp_stream *s, GstScriptTokensMeta *meta, gchar **msg) {
    gsize n = gst_script_tokens_meta_n_tokens(meta);
    GstBuffer *buf = gst_buffer_new_allocate(NULL, n, NULL);
    GstMapInfo map;
    if (!buf || !gst_buffer_map(buf, &map, GST_MAP_WRITE)) {
        gst_clear_buffer(&buf);
        *msg = g_strdup("cannot allocate the fates tensor");
        return FALSE;
    }
    if (script_fates_exact()) {
        sp_error err;
        sp_error_clear(&err);
        if (sp_stream_last_fates(s, map.data, n, &err) != SP_OK) {
            gst_buffer_unmap(buf, &map);
            gst_buffer_unref(buf);
            *msg = g_strdup(err.message);
            return FALSE;
        }
    } else {
        fates_from_packet(meta, map.data, n);
    }
    gst_buffer_unmap(buf, &map);
    gboolean ok = gst_script_tokens_meta_set_fates(meta, buf);
    gst_buffer_unref(buf);
    if (!ok)
        *msg = g_strdup("cannot attach the fates tensor");
    return ok;
}
