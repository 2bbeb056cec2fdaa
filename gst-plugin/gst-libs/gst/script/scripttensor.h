/* GstScriptTensor: one tensor (an n-dimensional array in a GstBuffer) inside GstScriptTokensMeta.
 *
 * The fields mirror GStreamer 1.26's GstTensor (id, layout, data_type, data, dims_order, num_dims,
 * dims) and the enums keep GstTensorDataType's order and values, so that moving to GstTensorMeta
 * once Debian ships GStreamer >= 1.26 is a field-by-field copy. Differences: dims is a fixed
 * array of GST_SCRIPT_TENSOR_MAX_DIMS (the tensor is embedded in the meta, not allocated on its
 * own), and a tensor whose data is NULL is "absent".
 *
 * Ownership: a GstScriptTensor owns one reference to `data`. The data buffer is immutable once a
 * tensor holds it: nobody maps it for writing, so copies of the meta share it safely between
 * threads (a buffer copy, tee or queue only adds a reference). */
#ifndef GST_SCRIPT_TENSOR_H
#define GST_SCRIPT_TENSOR_H

#include <gst/script/script-prelude.h>

G_BEGIN_DECLS

/* Element type of a tensor; same order and values as GstTensorDataType (GStreamer 1.26). */
typedef enum {
    GST_SCRIPT_TENSOR_DATA_TYPE_INT4,
    GST_SCRIPT_TENSOR_DATA_TYPE_INT8,
    GST_SCRIPT_TENSOR_DATA_TYPE_INT16,
    GST_SCRIPT_TENSOR_DATA_TYPE_INT32,
    GST_SCRIPT_TENSOR_DATA_TYPE_INT64,
    GST_SCRIPT_TENSOR_DATA_TYPE_UINT4,
    GST_SCRIPT_TENSOR_DATA_TYPE_UINT8,
    GST_SCRIPT_TENSOR_DATA_TYPE_UINT16,
    GST_SCRIPT_TENSOR_DATA_TYPE_UINT32,
    GST_SCRIPT_TENSOR_DATA_TYPE_UINT64,
    GST_SCRIPT_TENSOR_DATA_TYPE_FLOAT16,
    GST_SCRIPT_TENSOR_DATA_TYPE_FLOAT32,
    GST_SCRIPT_TENSOR_DATA_TYPE_FLOAT64,
    GST_SCRIPT_TENSOR_DATA_TYPE_BFLOAT16,
} GstScriptTensorDataType;

/* Memory order of the elements; same values as GstTensorDimOrder. Everything scriptprune writes
 * is row-major. */
typedef enum {
    GST_SCRIPT_TENSOR_DIM_ORDER_ROW_MAJOR,
    GST_SCRIPT_TENSOR_DIM_ORDER_COL_MAJOR,
} GstScriptTensorDimOrder;

/* Storage of the elements; same values as GstTensorLayout. */
typedef enum {
    GST_SCRIPT_TENSOR_LAYOUT_CONTIGUOUS,
} GstScriptTensorLayout;

#define GST_SCRIPT_TENSOR_MAX_DIMS 4

/* Tensor ids (g_quark_from_static_string of these names) used in GstScriptTokensMeta. */
#define GST_SCRIPT_TENSOR_ID_TOKENS "script-tokens"               /* FLOAT32 [N, D] */
#define GST_SCRIPT_TENSOR_ID_EMBEDDINGS "script-embeddings"       /* FLOAT32 [N, E] */
#define GST_SCRIPT_TENSOR_ID_FATES "script-fates"                 /* UINT8 [N] */
#define GST_SCRIPT_TENSOR_ID_EVIDENCE "script-pixel-evidence"     /* FLOAT32 [N, 3] */
#define GST_SCRIPT_TENSOR_ID_PACKET_TOKENS "script-packet-tokens" /* FLOAT32 [count, D] */
#define GST_SCRIPT_TENSOR_ID_PROVENANCE "script-provenance"       /* INT64 [count, 6] */

typedef struct {
    GQuark id;                              /* what the tensor holds (GST_SCRIPT_TENSOR_ID_*) */
    GstScriptTensorLayout layout;           /* always CONTIGUOUS */
    GstScriptTensorDataType data_type;      /* element type */
    GstBuffer *data;                        /* owned reference; NULL: the tensor is absent */
    GstScriptTensorDimOrder dims_order;     /* always ROW_MAJOR here */
    gsize num_dims;                         /* 1 .. GST_SCRIPT_TENSOR_MAX_DIMS */
    gsize dims[GST_SCRIPT_TENSOR_MAX_DIMS]; /* sizes, outermost first */
} GstScriptTensor;

/* Bytes per element; 0 for the 4-bit types (not used here) and unknown values. */
GST_SCRIPT_API gsize gst_script_tensor_data_type_size(GstScriptTensorDataType type);

/* Makes t a tensor holding a new reference to data, with the given id (a name, interned as a
 * quark), type and row-major dims. Returns FALSE (t left absent) when num_dims is out of range or
 * data's size is not exactly product(dims) * element size. Any previous data of t is released. */
GST_SCRIPT_API gboolean gst_script_tensor_set(GstScriptTensor *t, const gchar *id,
                                              GstScriptTensorDataType type, GstBuffer *data,
                                              gsize num_dims, const gsize *dims);

/* Releases t's data reference and makes it absent. */
GST_SCRIPT_API void gst_script_tensor_clear(GstScriptTensor *t);

/* Makes dst an independent copy of src's description sharing src's data (a new reference). */
GST_SCRIPT_API void gst_script_tensor_copy_into(GstScriptTensor *dst, const GstScriptTensor *src);

/* TRUE when t holds data. */
GST_SCRIPT_API gboolean gst_script_tensor_is_set(const GstScriptTensor *t);

/* Number of elements (product of dims; 0 when absent). */
GST_SCRIPT_API gsize gst_script_tensor_n_elements(const GstScriptTensor *t);

/* Maps t's data for reading and checks its size against the dims. Release with
 * gst_buffer_unmap (t->data, map). FALSE when absent or inconsistent. */
GST_SCRIPT_API gboolean gst_script_tensor_map(const GstScriptTensor *t, GstMapInfo *map);

/* A new buffer holding a copy of `size` bytes at `data` (size 0 gives an empty buffer). */
GST_SCRIPT_API GstBuffer *gst_script_buffer_new_copy(gconstpointer data, gsize size);

G_END_DECLS

#endif
