/* The plugin as gst-inspect shows it: the four elements registered, each with metadata and every
 * property documented (a blurb that says more than the name) with sane ranges; and a whole
 * pipeline from videotestsrc to a file run to EOS in PLAYING. */
#include <string.h>

#include "gsttest.h"

static const gchar *elements[] = {"scriptencode", "scriptprune", "scriptoverlay", "scriptsink"};

static void check_pspec(const gchar *element, GParamSpec *ps) {
    const gchar *name = g_param_spec_get_name(ps), *nick = g_param_spec_get_nick(ps),
                *blurb = g_param_spec_get_blurb(ps);
    fail_unless(blurb && strlen(blurb) >= 20, "%s::%s has no real description", element, name);
    fail_unless(g_strcmp0(blurb, nick) != 0 && g_strcmp0(blurb, name) != 0, "%s::%s", element,
                name);
    fail_unless(ps->flags & G_PARAM_STATIC_STRINGS, "%s::%s", element, name);
    if (G_IS_PARAM_SPEC_UINT(ps))
        fail_unless(G_PARAM_SPEC_UINT(ps)->minimum < G_PARAM_SPEC_UINT(ps)->maximum);
    if (G_IS_PARAM_SPEC_INT(ps))
        fail_unless(G_PARAM_SPEC_INT(ps)->minimum < G_PARAM_SPEC_INT(ps)->maximum);
    if (G_IS_PARAM_SPEC_FLOAT(ps))
        fail_unless(G_PARAM_SPEC_FLOAT(ps)->minimum < G_PARAM_SPEC_FLOAT(ps)->maximum);
    if (G_IS_PARAM_SPEC_DOUBLE(ps))
        fail_unless(G_PARAM_SPEC_DOUBLE(ps)->minimum < G_PARAM_SPEC_DOUBLE(ps)->maximum);
    /* writable properties say when they may change */
    if ((ps->flags & G_PARAM_WRITABLE))
        fail_unless(ps->flags & (GST_PARAM_MUTABLE_READY | GST_PARAM_MUTABLE_PLAYING), "%s::%s",
                    element, name);
}

GST_START_TEST(test_elements_documented) {
    gt_register_plugin();
    GstPlugin *plugin = gst_registry_find_plugin(gst_registry_get(), "scriptprune");
    fail_unless(plugin != NULL);
    GList *features = gst_registry_get_feature_list_by_plugin(gst_registry_get(), "scriptprune");
    fail_unless_equals_int(g_list_length(features), G_N_ELEMENTS(elements));
    gst_plugin_feature_list_free(features);
    gst_object_unref(plugin);
    for (gsize i = 0; i < G_N_ELEMENTS(elements); i++) {
        GstElementFactory *f = gst_element_factory_find(elements[i]);
        fail_unless(f != NULL, "%s not registered", elements[i]);
        fail_unless(strlen(gst_element_factory_get_metadata(f, GST_ELEMENT_METADATA_DESCRIPTION)) >
                    20);
        fail_unless(gst_element_factory_get_metadata(f, GST_ELEMENT_METADATA_KLASS) != NULL);
        GstElement *e = gst_element_factory_create(f, NULL);
        guint n;
        GParamSpec **props = g_object_class_list_properties(G_OBJECT_GET_CLASS(e), &n);
        guint own = 0;
        for (guint k = 0; k < n; k++) {
            if (props[k]->owner_type != G_OBJECT_TYPE(e))
                continue; /* GstObject's name/parent, GstBaseTransform's qos, ... */
            check_pspec(elements[i], props[k]);
            own++;
        }
        fail_unless(own >= 5, "%s has %u properties", elements[i], own);
        g_free(props);
        gst_object_unref(e);
        gst_object_unref(f);
    }
}
GST_END_TEST;

GST_START_TEST(test_pipeline_to_eos) {
    gt_register_plugin();
    gchar *dir = gt_tmpdir();
    gchar *launch = g_strdup_printf(
        "videotestsrc num-buffers=24 pattern=ball ! video/x-raw,width=320,height=240 ! "
        "videoconvert ! scriptencode ! tee name=t ! queue ! scriptprune emit=window window=8 "
        "hop=4 window-budget=32 ! scriptoverlay ! videoconvert ! scriptsink "
        "location=file://%s/out.sptok t. ! queue ! fakesink",
        dir);
    GError *err = NULL;
    GstElement *p = gst_parse_launch(launch, &err);
    fail_unless(p != NULL, "%s", err ? err->message : "");
    GstBus *bus = gst_element_get_bus(p);
    fail_unless(gst_element_set_state(p, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
    guint emissions = 0;
    for (;;) {
        GstMessage *m = gst_bus_timed_pop(bus, 60 * GST_SECOND);
        fail_unless(m != NULL, "timeout");
        GstMessageType t = GST_MESSAGE_TYPE(m);
        if (t == GST_MESSAGE_ELEMENT &&
            gst_structure_has_name(gst_message_get_structure(m), "scriptprune-emission"))
            emissions++;
        if (t == GST_MESSAGE_ERROR) {
            GError *e = NULL;
            gchar *dbg = NULL;
            gst_message_parse_error(m, &e, &dbg);
            fail("pipeline error: %s (%s)", e->message, dbg);
        }
        gst_message_unref(m);
        if (t == GST_MESSAGE_EOS)
            break;
    }
    fail_unless_equals_int(emissions, 6);
    gst_element_set_state(p, GST_STATE_NULL);
    gst_object_unref(bus);
    gst_object_unref(p);
    g_free(launch);
    gt_rmdir(dir);
}
GST_END_TEST;

static Suite *plugin_suite(void) {
    Suite *s = suite_create("gst-plugin");
    TCase *tc = tcase_create("plugin");
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    tcase_add_test(tc, test_elements_documented);
    tcase_add_test(tc, test_pipeline_to_eos);
    return s;
}

GST_CHECK_MAIN(plugin);
