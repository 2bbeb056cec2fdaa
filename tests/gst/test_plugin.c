#include "gsttest.h"
static Suite *plugin_suite(void) {
    Suite *s = suite_create("gst-plugin");
    return s;
}
GST_CHECK_MAIN(plugin);
