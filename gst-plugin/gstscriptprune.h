/* scriptprune: runs core's sp_stream (temporal graph, GSP, QCSP) on GstScriptTokensMeta and
 * attaches the per-token fates and the emitted packets. */
#ifndef GST_SCRIPT_PRUNE_H
#define GST_SCRIPT_PRUNE_H

#include <gst/base/gstbasetransform.h>

G_BEGIN_DECLS

#define GST_TYPE_SCRIPT_PRUNE (gst_script_prune_get_type())
G_DECLARE_FINAL_TYPE(GstScriptPrune, gst_script_prune, GST, SCRIPT_PRUNE, GstBaseTransform)

G_END_DECLS

#endif
