/* GstScriptTensor helpers: set, copy, map with size checks. */
#include "scripttensor.h"

#include <string.h>

gsize gst_script_tensor_data_type_size(GstScriptTensorDataType type) {
    switch (type) {
        case GST_SCRIPT_TENSOR_DATA_TYPE_INT8:
        case GST_SCRIPT_TENSOR_DATA_TYPE_UINT8:
            return 1;
        case GST_SCRIPT_TENSOR_DATA_TYPE_INT16:
        case GST_SCRIPT_TENSOR_DATA_TYPE_UINT16:
        case GST_SCRIPT_TENSOR_DATA_TYPE_FLOAT16:
        case GST_SCRIPT_TENSOR_DATA_TYPE_BFLOAT16:
            return 2;
        case GST_SCRIPT_TENSOR_DATA_TYPE_INT32:
        case GST_SCRIPT_TENSOR_DATA_TYPE_UINT32:
        case GST_SCRIPT_TENSOR_DATA_TYPE_FLOAT32:
            return 4;
        case GST_SCRIPT_TENSOR_DATA_TYPE_INT64:
        case GST_SCRIPT_TENSOR_DATA_TYPE_UINT64:
        case GST_SCRIPT_TENSOR_DATA_TYPE_FLOAT64:
            return 8;
        default:
            return 0; /* 4-bit types have no whole-byte size */
    }
}

/* product(dims) * element size, FALSE on overflow. */
static gboolean tensor_bytes(GstScriptTensorDataType type, gsize num_dims, const gsize *dims,
                             gsize *out) {
    gsize total = gst_script_tensor_data_type_size(type);
    if (total == 0)
        return FALSE;
    for (gsize i = 0; i < num_dims; i++) {
        if (dims[i] != 0 && total > G_MAXSIZE / dims[i])
            return FALSE;
        total *= dims[i];
    }
    *out = total;
    return TRUE;
}

gboolean gst_script_tensor_set(GstScriptTensor *t, const gchar *id, GstScriptTensorDataType type,
                               GstBuffer *data, gsize num_dims, const gsize *dims) {
    g_return_val_if_fail(t != NULL, FALSE);
    gst_script_tensor_clear(t);
    gsize bytes;
    if (!data || num_dims < 1 || num_dims > GST_SCRIPT_TENSOR_MAX_DIMS ||
        !tensor_bytes(type, num_dims, dims, &bytes) || gst_buffer_get_size(data) != bytes)
        return FALSE;
    t->id = g_quark_from_string(id);
    t->layout = GST_SCRIPT_TENSOR_LAYOUT_CONTIGUOUS;
    t->data_type = type;
    t->dims_order = GST_SCRIPT_TENSOR_DIM_ORDER_ROW_MAJOR;
    t->num_dims = num_dims;
    memcpy(t->dims, dims, num_dims * sizeof *dims);
    t->data = gst_buffer_ref(data);
    return TRUE;
}

void gst_script_tensor_clear(GstScriptTensor *t) {
    g_return_if_fail(t != NULL);
    gst_clear_buffer(&t->data);
    memset(t, 0, sizeof *t);
}

void gst_script_tensor_copy_into(GstScriptTensor *dst, const GstScriptTensor *src) {
    g_return_if_fail(dst != NULL && src != NULL);
    if (dst == src)
        return;
    GstBuffer *data = src->data ? gst_buffer_ref(src->data) : NULL;
    gst_script_tensor_clear(dst);
    *dst = *src;
    dst->data = data;
}

gboolean gst_script_tensor_is_set(const GstScriptTensor *t) {
    return t != NULL && t->data != NULL;
}

gsize gst_script_tensor_n_elements(const GstScriptTensor *t) {
    if (!gst_script_tensor_is_set(t))
        return 0;
    gsize n = 1;
    for (gsize i = 0; i < t->num_dims; i++)
        n *= t->dims[i];
    return n;
}

gboolean gst_script_tensor_map(const GstScriptTensor *t, GstMapInfo *map) {
    g_return_val_if_fail(map != NULL, FALSE);
    gsize bytes;
    if (!gst_script_tensor_is_set(t) || t->num_dims < 1 ||
        t->num_dims > GST_SCRIPT_TENSOR_MAX_DIMS ||
        !tensor_bytes(t->data_type, t->num_dims, t->dims, &bytes))
        return FALSE;
    if (!gst_buffer_map(t->data, map, GST_MAP_READ))
        return FALSE;
    if (map->size != bytes) {
        gst_buffer_unmap(t->data, map);
        return FALSE;
    }
    return TRUE;
}

GstBuffer *gst_script_buffer_new_copy(gconstpointer data, gsize size) {
    if (size == 0)
        return gst_buffer_new();
    return gst_buffer_new_memdup(data, size);
}
