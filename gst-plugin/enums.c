/* GEnum registrations of the elements' enum properties. */
#include "enums.h"

#include "scriptprune/select.h"

#define DEFINE_ENUM(func, name, values)                                                            \
    GType func(void) {                                                                             \
        static gsize type = 0;                                                                     \
        if (g_once_init_enter(&type)) {                                                            \
            GType t = g_enum_register_static(name, values);                                        \
            g_once_init_leave(&type, t);                                                           \
        }                                                                                          \
        return (GType)type;                                                                        \
    }

static const GEnumValue backend_values[] = {
    {GST_SCRIPT_BACKEND_PATCH, "built-in patch encoder, no weights", "patch"},
    {GST_SCRIPT_BACKEND_CLIP, "CLIP or SigLIP weights from a Hugging Face folder (model)", "clip"},
    {0, NULL, NULL},
};
DEFINE_ENUM(gst_script_backend_get_type, "GstScriptBackend", backend_values)

static const GEnumValue emit_values[] = {
    {GST_SCRIPT_EMIT_FRAME, "a packet per frame: its new tokens, at most frame-budget", "frame"},
    {GST_SCRIPT_EMIT_WINDOW, "a packet every hop frames: window-budget tokens of the last window",
     "window"},
    {0, NULL, NULL},
};
DEFINE_ENUM(gst_script_emit_get_type, "GstScriptEmit", emit_values)

static const GEnumValue packet_mode_values[] = {
    {GST_SCRIPT_PACKET_MODE_SNAPSHOT,
     "every token of a window packet was seen in the window (tokens still seen are re-sent)",
     "snapshot"},
    {GST_SCRIPT_PACKET_MODE_DELTA, "each packet holds only tokens never sent before", "delta"},
    {0, NULL, NULL},
};
DEFINE_ENUM(gst_script_packet_mode_get_type, "GstScriptPacketMode", packet_mode_values)

static const GEnumValue exemplar_values[] = {
    {GST_SCRIPT_EXEMPLAR_POOLED, "one row: the image's pooled embedding", "pooled"},
    {GST_SCRIPT_EXEMPLAR_MEAN, "one row: the mean of its token embeddings", "mean"},
    {GST_SCRIPT_EXEMPLAR_ALL, "one row per token embedding", "all"},
    {0, NULL, NULL},
};
DEFINE_ENUM(gst_script_exemplar_get_type, "GstScriptExemplar", exemplar_values)

static const GEnumValue drop_values[] = {
    {GST_SCRIPT_DROP_OLDEST, "drop the oldest queued packet", "oldest"},
    {GST_SCRIPT_DROP_NEWEST, "drop the incoming packet", "newest"},
    {0, NULL, NULL},
};
DEFINE_ENUM(gst_script_drop_policy_get_type, "GstScriptDropPolicy", drop_values)

static const GEnumValue dtype_values[] = {
    {GST_SCRIPT_WIRE_F16, "float16 token values (half the bytes)", "f16"},
    {GST_SCRIPT_WIRE_F32, "float32 token values (exact)", "f32"},
    {0, NULL, NULL},
};
DEFINE_ENUM(gst_script_wire_dtype_get_type, "GstScriptWireDtype", dtype_values)

static const GEnumValue graph_values[] = {
    {GST_SCRIPT_GRAPH_BIPARTITE, "even/odd bipartite graph in rounds (the paper)", "bipartite"},
    {GST_SCRIPT_GRAPH_FULL, "all pairs of the frame, one shot (the authors' code)", "full"},
    {0, NULL, NULL},
};
DEFINE_ENUM(gst_script_graph_get_type, "GstScriptGraph", graph_values)

GType gst_script_method_get_type(void) {
    static gsize type = 0;
    if (g_once_init_enter(&type)) {
        /* Registered once for the process lifetime: the table is static storage in core. */
        static GEnumValue values[SP_METHOD_COUNT + 1];
        const sp_method_info *table = sp_method_table();
        for (int i = 0; i < SP_METHOD_COUNT; i++) {
            values[i].value = (gint)table[i].id;
            values[i].value_name = table[i].summary;
            values[i].value_nick = table[i].name;
        }
        GType t = g_enum_register_static("GstScriptMethod", values);
        g_once_init_leave(&type, t);
    }
    return (GType)type;
}
