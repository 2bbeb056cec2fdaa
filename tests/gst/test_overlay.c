#include "gsttest.h"
static Suite *overlay_suite(void) {
    Suite *s = suite_create("gst-overlay");
    return s;
}
GST_CHECK_MAIN(overlay);
