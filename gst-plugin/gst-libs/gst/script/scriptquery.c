/* The ScriptQuery event: constructors, check and parser. */
#include "scriptquery.h"

static GstEvent *query_event(GstEventType type, GstStructure *s) {
    if (type != GST_EVENT_CUSTOM_DOWNSTREAM && type != GST_EVENT_CUSTOM_UPSTREAM) {
        gst_structure_free(s);
        g_return_val_if_reached(NULL);
    }
    return gst_event_new_custom(type, s);
}

static GstStructure *query_structure(GstClockTime running_time) {
    return gst_structure_new(GST_SCRIPT_QUERY_EVENT_NAME, "running-time", G_TYPE_UINT64,
                             (guint64)running_time, NULL);
}

GstEvent *gst_script_query_event_new_text(GstEventType type, GstClockTime running_time,
                                          const gchar *text) {
    g_return_val_if_fail(text != NULL, NULL);
    GstStructure *s = query_structure(running_time);
    gst_structure_set(s, "text", G_TYPE_STRING, text, NULL);
    return query_event(type, s);
}

GstEvent *gst_script_query_event_new_embedding(GstEventType type, GstClockTime running_time,
                                               GBytes *rows_f32, guint rows, guint width) {
    g_return_val_if_fail(rows_f32 != NULL && rows >= 1 && width >= 1, NULL);
    g_return_val_if_fail(g_bytes_get_size(rows_f32) == (gsize)rows * width * sizeof(gfloat), NULL);
    GstStructure *s = query_structure(running_time);
    gst_structure_set(s, "embedding", G_TYPE_BYTES, rows_f32, "rows", G_TYPE_UINT, rows, "width",
                      G_TYPE_UINT, width, NULL);
    return query_event(type, s);
}

GstEvent *gst_script_query_event_new_image(GstEventType type, GstClockTime running_time,
                                           const gchar *path) {
    g_return_val_if_fail(path != NULL, NULL);
    GstStructure *s = query_structure(running_time);
    gst_structure_set(s, "image-path", G_TYPE_STRING, path, NULL);
    return query_event(type, s);
}

GstEvent *gst_script_query_event_new_clear(GstEventType type, GstClockTime running_time) {
    return query_event(type, query_structure(running_time));
}

gboolean gst_script_query_event_is(GstEvent *event) {
    g_return_val_if_fail(GST_IS_EVENT(event), FALSE);
    GstEventType t = GST_EVENT_TYPE(event);
    const GstStructure *s = gst_event_get_structure(event);
    return (t == GST_EVENT_CUSTOM_DOWNSTREAM || t == GST_EVENT_CUSTOM_UPSTREAM) && s != NULL &&
           gst_structure_has_name(s, GST_SCRIPT_QUERY_EVENT_NAME);
}

/* A present field must have the given type. */
static gboolean field_ok(const GstStructure *s, const gchar *name, GType type) {
    const GValue *v = gst_structure_get_value(s, name);
    return v == NULL || G_VALUE_HOLDS(v, type);
}

gboolean gst_script_query_event_parse(GstEvent *event, GstClockTime *running_time, gchar **text,
                                      GBytes **embedding, guint *rows, guint *width,
                                      gchar **image_path) {
    if (!gst_script_query_event_is(event))
        return FALSE;
    const GstStructure *s = gst_event_get_structure(event);
    if (!field_ok(s, "text", G_TYPE_STRING) || !field_ok(s, "embedding", G_TYPE_BYTES) ||
        !field_ok(s, "rows", G_TYPE_UINT) || !field_ok(s, "width", G_TYPE_UINT) ||
        !field_ok(s, "image-path", G_TYPE_STRING) || !field_ok(s, "running-time", G_TYPE_UINT64))
        return FALSE;
    guint r = 0, w = 0;
    guint64 rt = GST_CLOCK_TIME_NONE;
    gst_structure_get_uint(s, "rows", &r);
    gst_structure_get_uint(s, "width", &w);
    gst_structure_get_uint64(s, "running-time", &rt);
    GBytes *emb = NULL;
    const GValue *v = gst_structure_get_value(s, "embedding");
    if (v) {
        emb = g_value_get_boxed(v);
        if (!emb || r == 0 || w == 0 || g_bytes_get_size(emb) != (gsize)r * w * sizeof(gfloat))
            return FALSE;
    } else {
        r = w = 0;
    }
    if (running_time)
        *running_time = rt;
    if (text)
        *text = g_strdup(gst_structure_get_string(s, "text"));
    if (embedding)
        *embedding = emb ? g_bytes_ref(emb) : NULL;
    if (rows)
        *rows = r;
    if (width)
        *width = w;
    if (image_path)
        *image_path = g_strdup(gst_structure_get_string(s, "image-path"));
    return TRUE;
}
