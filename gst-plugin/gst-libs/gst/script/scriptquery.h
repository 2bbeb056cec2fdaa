/* The ScriptQuery event: changes scriptprune's query (what the MLLM will be asked) while the
 * pipeline runs, from a given running time on.
 *
 * A custom event whose structure is named "GstScriptQuery" with the fields
 *   "text"         G_TYPE_STRING  a question or phrase (needs an encoder with a text tower)
 *   "embedding"    G_TYPE_BYTES   rows x width float32, native endianness, row-major
 *   "rows"         G_TYPE_UINT    rows of "embedding"
 *   "width"        G_TYPE_UINT    width of "embedding" (the joint-space width E)
 *   "image-path"   G_TYPE_STRING  an exemplar image file, decoded with GStreamer
 *   "running-time" G_TYPE_UINT64  ns; GST_CLOCK_TIME_NONE: from the next frame on
 * Absent fields are not part of the query. An event with none of text, embedding and image-path
 * clears the query (pure diversity). The new query replaces the previous one as a whole.
 *
 * Direction: GST_EVENT_CUSTOM_DOWNSTREAM travels with the buffers (send it to scriptprune's sink
 * pad, e.g. with gst_element_send_event on scriptprune or on an upstream element);
 * GST_EVENT_CUSTOM_UPSTREAM travels against them (send it from downstream, e.g. to the appsink
 * or with gst_element_send_event on a later element). scriptprune consumes both.
 *
 * All functions are thread-safe; the event owns copies of what it is given (the GBytes is
 * referenced). */
#ifndef GST_SCRIPT_QUERY_H
#define GST_SCRIPT_QUERY_H

#include <gst/script/script-prelude.h>

G_BEGIN_DECLS

#define GST_SCRIPT_QUERY_EVENT_NAME "GstScriptQuery"

/* type: GST_EVENT_CUSTOM_DOWNSTREAM or GST_EVENT_CUSTOM_UPSTREAM (anything else: NULL). */
GST_SCRIPT_API GstEvent *
gst_script_query_event_new_text(GstEventType type, GstClockTime running_time, const gchar *text);
/* rows_f32 holds rows * width float32 values exactly (else NULL); rows >= 1, width >= 1. */
GST_SCRIPT_API GstEvent *gst_script_query_event_new_embedding(GstEventType type,
                                                              GstClockTime running_time,
                                                              GBytes *rows_f32, guint rows,
                                                              guint width);
GST_SCRIPT_API GstEvent *
gst_script_query_event_new_image(GstEventType type, GstClockTime running_time, const gchar *path);
/* Clears the query from running_time on. */
GST_SCRIPT_API GstEvent *gst_script_query_event_new_clear(GstEventType type,
                                                          GstClockTime running_time);

/* TRUE for a ScriptQuery event of either direction. */
GST_SCRIPT_API gboolean gst_script_query_event_is(GstEvent *event);

/* Reads the event; every out pointer may be NULL. Strings are new copies (g_free), the GBytes a
 * new reference (g_bytes_unref); absent fields give NULL / 0. running_time gets
 * GST_CLOCK_TIME_NONE when absent. FALSE when the event is not a well-formed ScriptQuery
 * (an embedding whose size is not rows * width * 4, a field of the wrong type). */
GST_SCRIPT_API gboolean gst_script_query_event_parse(GstEvent *event, GstClockTime *running_time,
                                                     gchar **text, GBytes **embedding, guint *rows,
                                                     guint *width, gchar **image_path);

G_END_DECLS

#endif
