#include "gsttest.h"
static Suite *sink_suite(void) {
    Suite *s = suite_create("gst-sink");
    return s;
}
GST_CHECK_MAIN(sink);
