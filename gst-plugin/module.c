/* The loadable plugin module libgstscriptprune.so: visual-token encoding, pruning (Script: GSP +
 * QCSP over a temporal graph), overlay and token-stream output for GStreamer pipelines. */
#include "elements.h"

GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, scriptprune,
                  "Visual-token pruning for multimodal LLMs (Script: GSP + QCSP, streaming)",
                  gst_scriptprune_plugin_init, VERSION, GST_LICENSE, GST_PACKAGE_NAME,
                  GST_PACKAGE_ORIGIN)
