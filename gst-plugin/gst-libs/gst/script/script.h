/* libgstscript-1.0: what applications share with the scriptprune GStreamer plugin.
 *   GstScriptTokensMeta (scriptmeta.h)   tokens, fates and emitted packets on video buffers
 *   GstScriptPacket (scriptpacket.h)     one emission, and the event carrying a bufferless one
 *   ScriptQuery event (scriptquery.h)    change the query while the pipeline runs
 *   GstScriptTensor (scripttensor.h)     the tensor fields, shaped like GStreamer 1.26 GstTensor
 * pkg-config name: gstscript-1.0. Include <gst/script/script.h>. */
#ifndef GST_SCRIPT_H
#define GST_SCRIPT_H

#include <gst/script/scriptmeta.h>
#include <gst/script/scriptpacket.h>
#include <gst/script/scriptquery.h>
#include <gst/script/scripttensor.h>

#endif
