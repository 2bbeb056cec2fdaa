/* scriptoverlay: draws scriptprune's decisions on the video. */
#ifndef GST_SCRIPT_OVERLAY_H
#define GST_SCRIPT_OVERLAY_H

#include <gst/video/gstvideofilter.h>
#include <gst/video/video.h>

G_BEGIN_DECLS

#define GST_TYPE_SCRIPT_OVERLAY (gst_script_overlay_get_type())
G_DECLARE_FINAL_TYPE(GstScriptOverlay, gst_script_overlay, GST, SCRIPT_OVERLAY, GstVideoFilter)

G_END_DECLS

#endif
