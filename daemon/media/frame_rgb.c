/* Frames to packed RGB24 (frame_rgb.h). */
#include "media/frame_rgb.h"

#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>
#include <math.h>

sp_status scd_rgb_convert(scd_rgb_conv *c, const AVFrame *f, int max_side, const char *name,
                          int *ow, int *oh, sp_error *err) {
    int w = f->width, h = f->height;
    *ow = w;
    *oh = h;
    int longer = w > h ? w : h;
    if (max_side > 0 && longer > max_side) {
        double scale = (double)max_side / longer;
        *ow = (int)lround(w * scale);
        *oh = (int)lround(h * scale);
        if (*ow < 1)
            *ow = 1;
        if (*oh < 1)
            *oh = 1;
    }
    int flags = (*ow < w || *oh < h) ? SWS_AREA : SWS_BILINEAR;
    c->sws = sws_getCachedContext(c->sws, w, h, f->format, *ow, *oh, AV_PIX_FMT_RGB24,
                                  flags | SWS_ACCURATE_RND, NULL, NULL, NULL);
    if (!c->sws)
        return sp_error_set(err, SP_ERR_UNSUPPORTED, "%s: cannot convert %s frames to RGB", name,
                            av_get_pix_fmt_name(f->format));
    /* Decoders tag BT.709 (HD) or BT.601 and the range; swscale assumes 601 limited unless told. */
    int cs = f->colorspace == AVCOL_SPC_BT709 ? SWS_CS_ITU709 : SWS_CS_DEFAULT;
    int src_full = f->color_range == AVCOL_RANGE_JPEG;
    sws_setColorspaceDetails(c->sws, sws_getCoefficients(cs), src_full,
                             sws_getCoefficients(SWS_CS_DEFAULT), 1, 0, 1 << 16, 1 << 16);
    if (!c->scaled || c->scaled->width != *ow || c->scaled->height != *oh) {
        av_frame_free(&c->scaled);
        c->scaled = av_frame_alloc();
        if (!c->scaled)
            return sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory", name);
        c->scaled->width = *ow;
        c->scaled->height = *oh;
        c->scaled->format = AV_PIX_FMT_RGB24;
        if (av_frame_get_buffer(c->scaled, 0) < 0)
            return sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory for a %dx%d frame", name, *ow,
                                *oh);
    }
    sws_scale(c->sws, (const uint8_t *const *)f->data, f->linesize, 0, h, c->scaled->data,
              c->scaled->linesize);
    /* The scaled frame has aligned (padded) rows for swscale's SIMD; callers get packed rows. */
    size_t row = (size_t)*ow * 3;
    size_t need = row * (size_t)*oh;
    if (need > c->rgb_cap) {
        uint8_t *p = av_realloc(c->rgb, need);
        if (!p)
            return sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory for a %dx%d frame", name, *ow,
                                *oh);
        c->rgb = p;
        c->rgb_cap = need;
    }
    av_image_copy_plane(c->rgb, (int)row, c->scaled->data[0], c->scaled->linesize[0], (int)row,
                        *oh);
    return SP_OK;
}

void scd_rgb_conv_clear(scd_rgb_conv *c) {
    av_frame_free(&c->scaled);
    av_free(c->rgb);
    sws_freeContext(c->sws);
    *c = (scd_rgb_conv){0};
}
