/* Helpers shared by the element tests. */
#include "gsttest.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "elements.h"

void gt_register_plugin(void) {
    static gsize done = 0;
    if (g_once_init_enter(&done)) {
        gboolean ok = gst_plugin_register_static(
            GST_VERSION_MAJOR, GST_VERSION_MINOR, "scriptprune", "scriptprune (test build)",
            gst_scriptprune_plugin_init, "0.1.0", "MIT/X11", "scriptd", "scriptd", "tests");
        g_assert(ok);
        g_once_init_leave(&done, 1);
    }
}

void gt_paint(guint8 *data, guint width, guint height, gsize stride, guint shift) {
    for (guint y = 0; y < height; y++) {
        guint8 *row = data + y * stride;
        for (guint x = 0; x < width; x++) {
            guint bx = x / 48, by = y / 48;
            /* Blocks left of the middle block keep their colour, the rest change with shift: a
             * bit less than half the picture, so a new frame is not taken for a scene cut (the
             * stream's rule is "at least half of the tokens are new"). */
            guint k = bx * 7 + by * 13 + (bx >= (width / 96 + 1) ? shift * 5 : 0);
            guint8 r = (guint8)((k * 53) & 0xff), g = (guint8)((k * 97 + 40) & 0xff),
                   b = (guint8)((k * 31 + 90) & 0xff);
            /* Fine texture inside a block so that patches of one block are alike, not equal. */
            guint t = ((x % 48) / 12 + (y % 48) / 12) & 1;
            row[4 * x + 0] = (guint8)(r ^ (t * 24));
            row[4 * x + 1] = (guint8)(g ^ (t * 24));
            row[4 * x + 2] = (guint8)(b ^ (t * 24));
            row[4 * x + 3] = 0xff;
        }
    }
}

GstBuffer *gt_frame_rgbx(guint width, guint height, guint shift, GstClockTime pts) {
    GstBuffer *buf = gst_buffer_new_allocate(NULL, (gsize)width * height * 4, NULL);
    GstMapInfo map;
    g_assert(gst_buffer_map(buf, &map, GST_MAP_WRITE));
    gt_paint(map.data, width, height, (gsize)width * 4, shift);
    gst_buffer_unmap(buf, &map);
    GST_BUFFER_PTS(buf) = pts;
    GST_BUFFER_DURATION(buf) = GST_SECOND / 10;
    return buf;
}

GstHarness *gt_harness(const gchar *launch, const gchar *src_caps) {
    gt_register_plugin();
    GstHarness *h = gst_harness_new_parse(launch);
    g_assert(h);
    GstBus *bus = gst_bus_new();
    gst_element_set_bus(h->element, bus);
    gst_object_unref(bus);
    if (src_caps)
        gst_harness_set_src_caps_str(h, src_caps);
    return h;
}

GstBus *gt_bus(GstHarness *h) {
    GstBus *bus = gst_element_get_bus(h->element);
    gst_object_unref(bus); /* the element keeps it alive */
    return bus;
}

GstMessage *gt_pop_message(GstBus *bus, GstMessageType type, const gchar *name) {
    GstMessage *m;
    while ((m = gst_bus_pop(bus))) {
        if (GST_MESSAGE_TYPE(m) == type &&
            (!name || (gst_message_get_structure(m) &&
                       gst_structure_has_name(gst_message_get_structure(m), name))))
            return m;
        gst_message_unref(m);
    }
    return NULL;
}

guint gt_count_messages(GstBus *bus, const gchar *name) {
    guint n = 0;
    GstMessage *m;
    while ((m = gt_pop_message(bus, GST_MESSAGE_ELEMENT, name))) {
        n++;
        gst_message_unref(m);
    }
    return n;
}

void gt_teardown(GstHarness *h) {
    GstBus *bus = gst_element_get_bus(h->element);
    if (bus) {
        gst_bus_set_flushing(bus, TRUE);
        gst_object_unref(bus);
    }
    gst_harness_teardown(h);
}

gchar *gt_tmpdir(void) {
    GError *err = NULL;
    gchar *dir = g_dir_make_tmp("scriptd-gst-XXXXXX", &err);
    g_assert_no_error(err);
    return dir;
}

void gt_rmdir(gchar *dir) {
    GDir *d = g_dir_open(dir, 0, NULL);
    if (d) {
        const gchar *name;
        while ((name = g_dir_read_name(d))) {
            gchar *p = g_build_filename(dir, name, NULL);
            g_unlink(p);
            g_free(p);
        }
        g_dir_close(d);
    }
    g_rmdir(dir);
    g_free(dir);
}

gboolean gt_write_png(const gchar *path, guint width, guint height, guint shift) {
    gchar *caps =
        g_strdup_printf("video/x-raw,format=RGBx,width=%u,height=%u,framerate=1/1", width, height);
    GstHarness *h = gst_harness_new_parse("videoconvert ! pngenc snapshot=false");
    gst_harness_set_src_caps_str(h, caps);
    g_free(caps);
    gst_harness_push(h, gt_frame_rgbx(width, height, shift, 0));
    GstBuffer *png = gst_harness_pull(h);
    gboolean ok = FALSE;
    if (png) {
        GstMapInfo map;
        gst_buffer_map(png, &map, GST_MAP_READ);
        ok = g_file_set_contents(path, (const gchar *)map.data, (gssize)map.size, NULL);
        gst_buffer_unmap(png, &map);
        gst_buffer_unref(png);
    }
    gst_harness_teardown(h);
    return ok;
}

gdouble gt_cosine(const gfloat *a, const gfloat *b, gsize n) {
    gdouble ab = 0, aa = 0, bb = 0;
    for (gsize i = 0; i < n; i++) {
        ab += (gdouble)a[i] * b[i];
        aa += (gdouble)a[i] * a[i];
        bb += (gdouble)b[i] * b[i];
    }
    return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0.0;
}
