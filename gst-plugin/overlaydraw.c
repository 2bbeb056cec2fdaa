/* Rectangle blends on GstVideoFrames, component by component. */
#include "overlaydraw.h"

/* The value of colour c in component `comp` of the frame's format (RGB, or BT.601 limited-range
 * YUV for the YUV formats). */
static guint8 component_value(const GstVideoFrame *f, guint comp, OverlayArgb c) {
    gint r = (c >> 16) & 0xff, g = (c >> 8) & 0xff, b = c & 0xff;
    if (!GST_VIDEO_INFO_IS_YUV(&f->info))
        return (guint8)(comp == GST_VIDEO_COMP_R ? r : comp == GST_VIDEO_COMP_G ? g : b);
    gint v;
    if (comp == GST_VIDEO_COMP_Y)
        v = 16 + (66 * r + 129 * g + 25 * b + 128) / 256;
    else if (comp == GST_VIDEO_COMP_U)
        v = 128 + (-38 * r - 74 * g + 112 * b + 128) / 256;
    else
        v = 128 + (112 * r - 94 * g - 18 * b + 128) / 256;
    return (guint8)CLAMP(v, 0, 255);
}

void overlay_blend_rect(GstVideoFrame *f, gint x0, gint y0, gint x1, gint y1, OverlayArgb c) {
    guint8 a = (c >> 24) & 0xff;
    gint w = GST_VIDEO_FRAME_WIDTH(f), h = GST_VIDEO_FRAME_HEIGHT(f);
    x0 = MAX(x0, 0);
    y0 = MAX(y0, 0);
    x1 = MIN(x1, w);
    y1 = MIN(y1, h);
    if (a == 0 || x0 >= x1 || y0 >= y1)
        return;
    const GstVideoFormatInfo *fi = f->info.finfo;
    for (guint comp = 0; comp < 3; comp++) {
        guint8 t = component_value(f, comp, c);
        gint ws = GST_VIDEO_FORMAT_INFO_W_SUB(fi, comp), hs = GST_VIDEO_FORMAT_INFO_H_SUB(fi, comp);
        /* Subsampled rows/columns that any covered pixel falls in. */
        gint cx0 = x0 >> ws, cx1 = ((x1 - 1) >> ws) + 1;
        gint cy0 = y0 >> hs, cy1 = ((y1 - 1) >> hs) + 1;
        guint8 *base = GST_VIDEO_FRAME_COMP_DATA(f, comp);
        gint stride = GST_VIDEO_FRAME_COMP_STRIDE(f, comp);
        gint ps = GST_VIDEO_FRAME_COMP_PSTRIDE(f, comp);
        for (gint y = cy0; y < cy1; y++) {
            guint8 *p = base + (gsize)y * stride + (gsize)cx0 * ps;
            for (gint x = cx0; x < cx1; x++, p += ps)
                *p = overlay_blend_value(*p, t, a);
        }
    }
}

void overlay_outline_rect(GstVideoFrame *f, gint x0, gint y0, gint x1, gint y1, guint width,
                          OverlayArgb c) {
    gint lw = (gint)width;
    if (x1 - x0 <= 2 * lw || y1 - y0 <= 2 * lw) {
        overlay_blend_rect(f, x0, y0, x1, y1, c); /* too small for a hole: fill */
        return;
    }
    overlay_blend_rect(f, x0, y0, x1, y0 + lw, c);           /* top */
    overlay_blend_rect(f, x0, y1 - lw, x1, y1, c);           /* bottom */
    overlay_blend_rect(f, x0, y0 + lw, x0 + lw, y1 - lw, c); /* left */
    overlay_blend_rect(f, x1 - lw, y0 + lw, x1, y1 - lw, c); /* right */
}
