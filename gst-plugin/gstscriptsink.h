/* scriptsink: writes scriptprune's packets in core's token-stream wire format. */
#ifndef GST_SCRIPT_SINK_H
#define GST_SCRIPT_SINK_H

#include <gst/base/gstbasesink.h>

G_BEGIN_DECLS

#define GST_TYPE_SCRIPT_SINK (gst_script_sink_get_type())
G_DECLARE_FINAL_TYPE(GstScriptSink, gst_script_sink, GST, SCRIPT_SINK, GstBaseSink)

G_END_DECLS

#endif
