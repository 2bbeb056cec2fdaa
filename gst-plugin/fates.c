/* Fates: core's per-token report of the frame just pushed, as the tokens meta's fates tensor. */
#include "fates.h"

gboolean script_fates_fill(sp_stream *s, GstScriptTokensMeta *meta, gchar **msg) {
    gsize n = gst_script_tokens_meta_n_tokens(meta);
    GstBuffer *buf = gst_buffer_new_allocate(NULL, n, NULL);
    GstMapInfo map;
    if (!buf || !gst_buffer_map(buf, &map, GST_MAP_WRITE)) {
        gst_clear_buffer(&buf);
        *msg = g_strdup("cannot allocate the fates tensor");
        return FALSE;
    }
    sp_error err;
    sp_error_clear(&err);
    if (sp_stream_last_fates(s, map.data, n, &err) != SP_OK) {
        gst_buffer_unmap(buf, &map);
        gst_buffer_unref(buf);
        *msg = g_strdup(err.message);
        return FALSE;
    }
    gst_buffer_unmap(buf, &map);
    gboolean ok = gst_script_tokens_meta_set_fates(meta, buf);
    gst_buffer_unref(buf);
    if (!ok)
        *msg = g_strdup("cannot attach the fates tensor");
    return ok;
}
