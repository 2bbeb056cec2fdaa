/* GEnum types of the elements' properties. The method enum is built from core's method table, the
 * single place where selection methods are declared. */
#ifndef GST_SCRIPT_ENUMS_H
#define GST_SCRIPT_ENUMS_H

#include <gst/gst.h>
#include <gst/script/scriptpacket.h> /* GstScriptPacketMode */

G_BEGIN_DECLS

typedef enum {
    GST_SCRIPT_BACKEND_PATCH = 0, /* core SP_ENCODER_PATCH */
    GST_SCRIPT_BACKEND_CLIP = 1,  /* core SP_ENCODER_CLIP */
} GstScriptBackend;

typedef enum {
    GST_SCRIPT_EMIT_FRAME = 0,  /* core SP_EMIT_FRAME */
    GST_SCRIPT_EMIT_WINDOW = 1, /* core SP_EMIT_WINDOW */
} GstScriptEmit;

typedef enum {
    GST_SCRIPT_EXEMPLAR_POOLED = 0, /* core SP_EXEMPLAR_POOLED */
    GST_SCRIPT_EXEMPLAR_MEAN = 1,
    GST_SCRIPT_EXEMPLAR_ALL = 2,
} GstScriptExemplar;

typedef enum {
    GST_SCRIPT_DROP_OLDEST = 0,
    GST_SCRIPT_DROP_NEWEST = 1,
} GstScriptDropPolicy;

typedef enum {
    GST_SCRIPT_GRAPH_BIPARTITE = 0, /* core SP_GRAPH_BIPARTITE */
    GST_SCRIPT_GRAPH_FULL = 1,      /* core SP_GRAPH_FULL */
} GstScriptGraph;

typedef enum {
    GST_SCRIPT_WIRE_F16 = 0,
    GST_SCRIPT_WIRE_F32 = 1,
} GstScriptWireDtype;

GType gst_script_backend_get_type(void);
GType gst_script_emit_get_type(void);
GType gst_script_packet_mode_get_type(void);
GType gst_script_exemplar_get_type(void);
GType gst_script_drop_policy_get_type(void);
GType gst_script_wire_dtype_get_type(void);
GType gst_script_graph_get_type(void);
/* Values are core's sp_method ids, nicks its method names. */
GType gst_script_method_get_type(void);

#define GST_TYPE_SCRIPT_BACKEND (gst_script_backend_get_type())
#define GST_TYPE_SCRIPT_EMIT (gst_script_emit_get_type())
#define GST_TYPE_SCRIPT_PACKET_MODE (gst_script_packet_mode_get_type())
#define GST_TYPE_SCRIPT_EXEMPLAR (gst_script_exemplar_get_type())
#define GST_TYPE_SCRIPT_DROP_POLICY (gst_script_drop_policy_get_type())
#define GST_TYPE_SCRIPT_WIRE_DTYPE (gst_script_wire_dtype_get_type())
#define GST_TYPE_SCRIPT_GRAPH (gst_script_graph_get_type())
#define GST_TYPE_SCRIPT_METHOD (gst_script_method_get_type())

G_END_DECLS

#endif
