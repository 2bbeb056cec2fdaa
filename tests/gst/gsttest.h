/* Shared helpers of the element tests: the plugin registered statically (so the tests also run
 * in the sanitizer build, whose instrumented module the plugin scanner cannot load), synthetic
 * frames, harnesses with a bus, and message look-ups. */
#ifndef SCRIPTD_GSTTEST_H
#define SCRIPTD_GSTTEST_H

#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/script/script.h>
#include <gst/video/video.h>

G_BEGIN_DECLS

/* Registers the scriptprune plugin's elements with the registry (once per process). */
void gt_register_plugin(void);

/* A width x height RGBx frame (stride width * 4) with pts and duration set. The picture is a
 * mosaic of 48-pixel blocks whose colours depend on (block, `shift`): changing shift changes
 * some blocks, so successive frames are partly new and partly repeats. */
GstBuffer *gt_frame_rgbx(guint width, guint height, guint shift, GstClockTime pts);
/* The same picture written into data (any packed 4-byte RGBx layout, stride bytes per row). */
void gt_paint(guint8 *data, guint width, guint height, gsize stride, guint shift);

/* A harness around a launch line (gst_harness_new_parse), with src caps set and a bus on the
 * element so that messages can be read back with gt_pop_message. */
GstHarness *gt_harness(const gchar *launch, const gchar *src_caps);
GstBus *gt_bus(GstHarness *h);
/* Tears a gt_harness down. The bus is flushed first: queued messages hold references to the
 * elements, and element -> bus -> message -> element would be a cycle that leaks. */
void gt_teardown(GstHarness *h);
/* The next message of `type` (and, for element messages, structure name `name`, may be NULL)
 * on bus, or NULL; other messages are dropped. Never waits. */
GstMessage *gt_pop_message(GstBus *bus, GstMessageType type, const gchar *name);
/* Drains the bus; returns the number of element messages named `name`. */
guint gt_count_messages(GstBus *bus, const gchar *name);

/* A private temporary directory for the test, removed (and the string freed) by gt_rmdir. */
gchar *gt_tmpdir(void);
void gt_rmdir(gchar *dir);

/* Writes a PNG of the gt_paint picture (via videotestsrc-free appsrc ! pngenc). */
gboolean gt_write_png(const gchar *path, guint width, guint height, guint shift);

/* Cosine similarity of two rows. */
gdouble gt_cosine(const gfloat *a, const gfloat *b, gsize n);

G_END_DECLS

#endif
