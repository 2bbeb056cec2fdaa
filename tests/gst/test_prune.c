#include "gsttest.h"
static Suite *prune_suite(void) {
    Suite *s = suite_create("gst-prune");
    return s;
}
GST_CHECK_MAIN(prune);
