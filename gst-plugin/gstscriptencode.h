/* scriptencode: video frames in, the same frames out with GstScriptTokensMeta (core sp_encoder). */
#ifndef GST_SCRIPT_ENCODE_H
#define GST_SCRIPT_ENCODE_H

#include <gst/video/gstvideofilter.h>
#include <gst/video/video.h>

G_BEGIN_DECLS

#define GST_TYPE_SCRIPT_ENCODE (gst_script_encode_get_type())
G_DECLARE_FINAL_TYPE(GstScriptEncode, gst_script_encode, GST, SCRIPT_ENCODE, GstVideoFilter)

G_END_DECLS

#endif
