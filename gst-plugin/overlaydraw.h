/* Drawing primitives of scriptoverlay on mapped video frames: blend a colour over a rectangle,
 * per component, so the same code serves packed RGB and planar / semi-planar YUV (chroma planes
 * are touched at their subsampled resolution). */
#ifndef GST_SCRIPT_OVERLAYDRAW_H
#define GST_SCRIPT_OVERLAYDRAW_H

#include <gst/video/video.h>

G_BEGIN_DECLS

/* A colour as 0xAARRGGBB; alpha is the blend weight (255 = opaque). */
typedef guint32 OverlayArgb;

/* Blends colour c (with alpha) over the pixels [x0, x1) x [y0, y1) (clipped to the frame). The
 * frame must be RGB-family packed (RGB, RGBx, BGRx, xRGB, xBGR, RGBA, BGRA) or I420 / NV12. */
void overlay_blend_rect(GstVideoFrame *f, gint x0, gint y0, gint x1, gint y1, OverlayArgb c);

/* The border of [x0, x1) x [y0, y1), `width` pixels thick, inside the rectangle. */
void overlay_outline_rect(GstVideoFrame *f, gint x0, gint y0, gint x1, gint y1, guint width,
                          OverlayArgb c);

/* The blend applied to one 8-bit value: v + (t - v) * a / 255, rounded. */
static inline guint8 overlay_blend_value(guint8 v, guint8 t, guint8 a) {
    gint d = ((gint)t - (gint)v) * a;
    return (guint8)((gint)v + (d >= 0 ? (d + 127) / 255 : -((-d + 127) / 255)));
}

G_END_DECLS

#endif
