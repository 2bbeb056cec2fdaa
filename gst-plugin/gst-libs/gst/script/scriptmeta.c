/* GstScriptTokensMeta: registration, init/free/transform, setters and the token-to-pixel map. */
#include "scriptmeta.h"

#include <math.h>
#include <string.h>

#include <gst/video/video.h>

GType gst_script_tokens_meta_api_get_type(void) {
    static gsize type = 0;
    /* "video" + "size": videoconvert/videoscale keep the meta and call transform with the scale
     * quark (the picture is the same, only its size changes); elements that reshape the picture
     * in other ways drop it. */
    static const gchar *tags[] = {GST_META_TAG_VIDEO_STR, GST_META_TAG_VIDEO_SIZE_STR, NULL};
    if (g_once_init_enter(&type)) {
        GType t = gst_meta_api_type_register("GstScriptTokensMetaAPI", tags);
        g_once_init_leave(&type, t);
    }
    return (GType)type;
}

static gboolean meta_init(GstMeta *meta, gpointer params, GstBuffer *buffer) {
    (void)params;
    (void)buffer;
    GstScriptTokensMeta *m = (GstScriptTokensMeta *)meta;
    memset((guint8 *)m + sizeof(GstMeta), 0, sizeof *m - sizeof(GstMeta));
    m->pts = GST_CLOCK_TIME_NONE;
    m->backend = g_intern_static_string("");
    gst_script_packet_init(&m->packet);
    return TRUE;
}

static void meta_free(GstMeta *meta, GstBuffer *buffer) {
    (void)buffer;
    GstScriptTokensMeta *m = (GstScriptTokensMeta *)meta;
    gst_script_tensor_clear(&m->tokens);
    gst_script_tensor_clear(&m->embeddings);
    gst_script_tensor_clear(&m->fates);
    gst_script_tensor_clear(&m->evidence);
    gst_script_packet_clear(&m->packet);
}

/* dst (fresh) takes src's values, sharing the tensor data. */
static void meta_copy_fields(GstScriptTokensMeta *dst, const GstScriptTokensMeta *src) {
    gst_script_tensor_copy_into(&dst->tokens, &src->tokens);
    gst_script_tensor_copy_into(&dst->embeddings, &src->embeddings);
    gst_script_tensor_copy_into(&dst->fates, &src->fates);
    gst_script_tensor_copy_into(&dst->evidence, &src->evidence);
    dst->evidence_ref = src->evidence_ref;
    dst->tokens_of = src->tokens_of;
    gst_script_packet_copy_into(&dst->packet, &src->packet);
    dst->grid_h = src->grid_h;
    dst->grid_w = src->grid_w;
    dst->pts = src->pts;
    dst->frame_index = src->frame_index;
    dst->preprocess = src->preprocess;
    dst->backend = src->backend;
    dst->pruned = src->pruned;
    dst->stream_frame = src->stream_frame;
    dst->has_packet = src->has_packet;
}

static void rescale_preprocess(GstScriptPreprocess *p, guint width, guint height) {
    if (p->frame_width == 0 || p->frame_height == 0 || width == 0 || height == 0)
        return;
    double sx = (double)width / p->frame_width, sy = (double)height / p->frame_height;
    p->src_x *= sx;
    p->src_w *= sx;
    p->src_y *= sy;
    p->src_h *= sy;
    p->frame_width = width;
    p->frame_height = height;
}

static gboolean meta_transform(GstBuffer *dest, GstMeta *meta, GstBuffer *buffer, GQuark type,
                               gpointer data) {
    (void)buffer;
    const GstScriptTokensMeta *src = (const GstScriptTokensMeta *)meta;
    gboolean scale = GST_VIDEO_META_TRANSFORM_IS_SCALE(type);
    if (GST_META_TRANSFORM_IS_COPY(type)) {
        const GstMetaTransformCopy *copy = data;
        if (copy->region)
            return FALSE; /* a part of the bytes is not a picture the tokens describe */
    } else if (!scale) {
        return FALSE;
    }
    if (gst_buffer_get_script_tokens_meta(dest))
        return TRUE; /* already carried over */
    GstScriptTokensMeta *dst =
        (GstScriptTokensMeta *)gst_buffer_add_meta(dest, GST_SCRIPT_TOKENS_META_INFO, NULL);
    if (!dst)
        return FALSE;
    meta_copy_fields(dst, src);
    if (scale) {
        const GstVideoMetaTransform *vt = data;
        if (vt && vt->out_info)
            rescale_preprocess(&dst->preprocess, (guint)GST_VIDEO_INFO_WIDTH(vt->out_info),
                               (guint)GST_VIDEO_INFO_HEIGHT(vt->out_info));
    }
    return TRUE;
}

const GstMetaInfo *gst_script_tokens_meta_get_info(void) {
    static gsize info = 0;
    if (g_once_init_enter(&info)) {
        const GstMetaInfo *mi =
            gst_meta_register(GST_SCRIPT_TOKENS_META_API_TYPE, "GstScriptTokensMeta",
                              sizeof(GstScriptTokensMeta), meta_init, meta_free, meta_transform);
        g_once_init_leave(&info, (gsize)mi);
    }
    return (const GstMetaInfo *)info;
}

GstScriptTokensMeta *gst_buffer_get_script_tokens_meta(GstBuffer *buffer) {
    g_return_val_if_fail(GST_IS_BUFFER(buffer), NULL);
    return (GstScriptTokensMeta *)gst_buffer_get_meta(buffer, GST_SCRIPT_TOKENS_META_API_TYPE);
}

GstScriptTokensMeta *gst_buffer_add_script_tokens_meta(GstBuffer *buffer, GstBuffer *tokens,
                                                       gsize n, gsize d, GstBuffer *embeddings,
                                                       gsize e, guint grid_h, guint grid_w) {
    g_return_val_if_fail(GST_IS_BUFFER(buffer) && gst_buffer_is_writable(buffer), NULL);
    g_return_val_if_fail(GST_IS_BUFFER(tokens), NULL);
    if (n == 0 || d == 0 || (gsize)grid_h * grid_w != n || (embeddings && e == 0))
        return NULL;
    GstScriptTensor t = {0}, em = {0};
    gsize tdims[2] = {n, d}, edims[2] = {n, e};
    if (!gst_script_tensor_set(&t, GST_SCRIPT_TENSOR_ID_TOKENS, GST_SCRIPT_TENSOR_DATA_TYPE_FLOAT32,
                               tokens, 2, tdims))
        return NULL;
    if (embeddings &&
        !gst_script_tensor_set(&em, GST_SCRIPT_TENSOR_ID_EMBEDDINGS,
                               GST_SCRIPT_TENSOR_DATA_TYPE_FLOAT32, embeddings, 2, edims)) {
        gst_script_tensor_clear(&t);
        return NULL;
    }
    GstScriptTokensMeta *m =
        (GstScriptTokensMeta *)gst_buffer_add_meta(buffer, GST_SCRIPT_TOKENS_META_INFO, NULL);
    if (!m) {
        gst_script_tensor_clear(&t);
        gst_script_tensor_clear(&em);
        return NULL;
    }
    m->tokens = t;
    m->embeddings = em;
    m->grid_h = grid_h;
    m->grid_w = grid_w;
    return m;
}

gsize gst_script_tokens_meta_n_tokens(const GstScriptTokensMeta *meta) {
    g_return_val_if_fail(meta != NULL, 0);
    return gst_script_tensor_is_set(&meta->tokens) ? meta->tokens.dims[0] : 0;
}

gsize gst_script_tokens_meta_width(const GstScriptTokensMeta *meta) {
    g_return_val_if_fail(meta != NULL, 0);
    return gst_script_tensor_is_set(&meta->tokens) ? meta->tokens.dims[1] : 0;
}

gboolean gst_script_tokens_meta_set_fates(GstScriptTokensMeta *meta, GstBuffer *fates) {
    g_return_val_if_fail(meta != NULL && GST_IS_BUFFER(fates), FALSE);
    gsize n = gst_script_tokens_meta_n_tokens(meta);
    return n > 0 && gst_script_tensor_set(&meta->fates, GST_SCRIPT_TENSOR_ID_FATES,
                                          GST_SCRIPT_TENSOR_DATA_TYPE_UINT8, fates, 1, &n);
}

gboolean gst_script_tokens_meta_set_evidence(GstScriptTokensMeta *meta, GstBuffer *evidence,
                                             guint64 evidence_ref) {
    g_return_val_if_fail(meta != NULL && GST_IS_BUFFER(evidence), FALSE);
    gsize dims[2] = {gst_script_tokens_meta_n_tokens(meta), 3};
    if (dims[0] == 0 ||
        !gst_script_tensor_set(&meta->evidence, GST_SCRIPT_TENSOR_ID_EVIDENCE,
                               GST_SCRIPT_TENSOR_DATA_TYPE_FLOAT32, evidence, 2, dims))
        return FALSE;
    meta->evidence_ref = evidence_ref;
    return TRUE;
}

void gst_script_tokens_meta_set_packet(GstScriptTokensMeta *meta, const GstScriptPacket *packet) {
    g_return_if_fail(meta != NULL);
    if (packet) {
        gst_script_packet_copy_into(&meta->packet, packet);
        meta->has_packet = TRUE;
    } else {
        gst_script_packet_clear(&meta->packet);
        meta->has_packet = FALSE;
    }
}

/* Input pixels [u0, u1) of one axis mapped to frame pixels of a `size`-pixel axis. */
static gboolean map_axis(const GstScriptPreprocess *p, gboolean horizontal, guint cell, guint size,
                         gint *a0, gint *a1) {
    double dst0 = horizontal ? p->dst_x : p->dst_y;
    double dstw = horizontal ? p->dst_w : p->dst_h;
    double src0 = horizontal ? p->src_x : p->src_y;
    double srcw = horizontal ? p->src_w : p->src_h;
    double frame = horizontal ? p->frame_width : p->frame_height;
    if (dstw <= 0 || frame <= 0 || p->patch_size == 0)
        return FALSE;
    double u0 = (double)cell * p->patch_size, u1 = u0 + p->patch_size;
    if (u0 < dst0)
        u0 = dst0;
    if (u1 > dst0 + dstw)
        u1 = dst0 + dstw;
    if (u0 >= u1)
        return FALSE; /* padding */
    double scale = (double)size / frame;
    double f0 = (src0 + (u0 - dst0) * srcw / dstw) * scale;
    double f1 = (src0 + (u1 - dst0) * srcw / dstw) * scale;
    gint i0 = (gint)floor(f0 + 0.5), i1 = (gint)floor(f1 + 0.5);
    if (i0 < 0)
        i0 = 0;
    if (i1 > (gint)size)
        i1 = (gint)size;
    if (i0 >= i1)
        return FALSE;
    *a0 = i0;
    *a1 = i1;
    return TRUE;
}

gboolean gst_script_tokens_meta_token_rect(const GstScriptTokensMeta *meta, guint y, guint x,
                                           guint frame_width, guint frame_height, gint *x0,
                                           gint *y0, gint *x1, gint *y1) {
    g_return_val_if_fail(meta != NULL && x0 && y0 && x1 && y1, FALSE);
    if (y >= meta->grid_h || x >= meta->grid_w)
        return FALSE;
    return map_axis(&meta->preprocess, TRUE, x, frame_width, x0, x1) &&
           map_axis(&meta->preprocess, FALSE, y, frame_height, y0, y1);
}

/* Cells [*c0, *c1) of one axis whose patch overlaps the landed picture [dst0, dst0 + len). */
static void image_axis(guint dst0, guint len, guint patch, guint cells, guint *c0, guint *c1) {
    guint a = dst0 / patch, b = (dst0 + len + patch - 1) / patch;
    *c0 = a < cells ? a : cells;
    *c1 = b < cells ? b : cells;
}

gboolean gst_script_tokens_meta_image_cells(const GstScriptTokensMeta *meta, guint *y, guint *x,
                                            guint *h, guint *w) {
    g_return_val_if_fail(meta != NULL && y && x && h && w, FALSE);
    const GstScriptPreprocess *p = &meta->preprocess;
    *y = *x = 0;
    *h = meta->grid_h;
    *w = meta->grid_w;
    if (p->patch_size == 0 || p->dst_w == 0 || p->dst_h == 0)
        return FALSE;
    guint y0, y1, x0, x1;
    image_axis(p->dst_y, p->dst_h, p->patch_size, meta->grid_h, &y0, &y1);
    image_axis(p->dst_x, p->dst_w, p->patch_size, meta->grid_w, &x0, &x1);
    if (y0 >= y1 || x0 >= x1)
        return FALSE;
    *y = y0;
    *x = x0;
    *h = y1 - y0;
    *w = x1 - x0;
    return TRUE;
}
