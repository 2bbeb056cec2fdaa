/* Pixel formats and frame validation for the encoders. */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "encode_internal.h"

typedef struct pixfmt_desc {
    const char *name;
    uint8_t bpp;
    uint8_t off[3]; /* byte offsets of R, G, B inside a pixel */
} pixfmt_desc;

static const pixfmt_desc pixfmts[SP_PIXFMT_COUNT] = {
    [SP_PIXFMT_RGB] = {"RGB", 3, {0, 1, 2}},   [SP_PIXFMT_BGR] = {"BGR", 3, {2, 1, 0}},
    [SP_PIXFMT_RGBX] = {"RGBx", 4, {0, 1, 2}}, [SP_PIXFMT_BGRX] = {"BGRx", 4, {2, 1, 0}},
    [SP_PIXFMT_XRGB] = {"xRGB", 4, {1, 2, 3}}, [SP_PIXFMT_XBGR] = {"xBGR", 4, {3, 2, 1}},
};

static int pixfmt_known(sp_pixfmt f) {
    return (int)f >= 0 && f < SP_PIXFMT_COUNT;
}

size_t sp_pixfmt_bpp(sp_pixfmt f) {
    return pixfmt_known(f) ? pixfmts[f].bpp : 0;
}

const char *sp_pixfmt_name(sp_pixfmt f) {
    return pixfmt_known(f) ? pixfmts[f].name : "?";
}

void enc_pixfmt_offsets(sp_pixfmt f, size_t off[3]) {
    for (int c = 0; c < 3; c++)
        off[c] = pixfmts[f].off[c];
}

void enc_block_mean(const sp_image *img, const size_t off[3], size_t bpp, uint32_t y0, uint32_t y1,
                    uint32_t x0, uint32_t x1, uint32_t samples, float out[3]) {
    uint32_t sy = (y1 - y0 + samples - 1) / samples, sx = (x1 - x0 + samples - 1) / samples;
    uint32_t sum[3] = {0, 0, 0}, count = 0;
    for (uint32_t y = y0; y < y1; y += sy) {
        const uint8_t *row = img->data + (size_t)y * img->stride;
        for (uint32_t x = x0; x < x1; x += sx) {
            const uint8_t *px = row + (size_t)x * bpp;
            sum[0] += px[off[0]];
            sum[1] += px[off[1]];
            sum[2] += px[off[2]];
            count++;
        }
    }
    for (int c = 0; c < 3; c++)
        out[c] = (float)sum[c] / (float)count;
}

/* Alpha spellings are accepted as the padding-byte forms: the encoders ignore that byte. */
static const struct {
    const char *name;
    sp_pixfmt fmt;
} aliases[] = {
    {"RGBA", SP_PIXFMT_RGBX},
    {"BGRA", SP_PIXFMT_BGRX},
    {"ARGB", SP_PIXFMT_XRGB},
    {"ABGR", SP_PIXFMT_XBGR},
};

/* Formats people will try that we deliberately do not read; the message says what to do. */
static const char *const yuv_or_other[] = {
    "I420",      "YV12",  "NV12",  "NV21",  "YUY2", "UYVY", "Y42B",      "Y444",      "GRAY8",
    "GRAY16_LE", "RGB16", "BGR16", "RGB15", "v308", "AYUV", "P010_10LE", "I420_10LE",
};

sp_status sp_pixfmt_from_name(const char *name, sp_pixfmt *out, sp_error *err) {
    if (!name || !out)
        return sp_error_set(err, SP_ERR_INVALID, "pixel format: NULL argument");
    /* Case matters between RGBx and RGBX in GStreamer only by convention; accept both. */
    for (int f = 0; f < SP_PIXFMT_COUNT; f++) {
        if (strcasecmp(name, pixfmts[f].name) == 0) {
            *out = (sp_pixfmt)f;
            return SP_OK;
        }
    }
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
        if (strcasecmp(name, aliases[i].name) == 0) {
            *out = aliases[i].fmt;
            return SP_OK;
        }
    }
    for (size_t i = 0; i < sizeof yuv_or_other / sizeof yuv_or_other[0]; i++) {
        if (strcasecmp(name, yuv_or_other[i]) == 0)
            return sp_error_set(err, SP_ERR_UNSUPPORTED,
                                "pixel format %s is not supported by the encoders: convert to "
                                "packed 8-bit RGB, BGR, RGBx, BGRx, xRGB or xBGR first "
                                "(GStreamer: videoconvert)",
                                yuv_or_other[i]);
    }
    return sp_error_set(err, SP_ERR_UNSUPPORTED,
                        "unknown pixel format '%s' (expected RGB, BGR, RGBx, BGRx, xRGB, xBGR or "
                        "their alpha spellings RGBA, BGRA, ARGB, ABGR)",
                        name);
}

sp_status sp_image_validate(const sp_image *img, sp_error *err) {
    if (!img)
        return sp_error_set(err, SP_ERR_INVALID, "image: NULL");
    if (!pixfmt_known(img->format))
        return sp_error_set(err, SP_ERR_UNSUPPORTED,
                            "image: pixel format value %d is not one of the packed RGB formats "
                            "(0..%d); convert planar YUV to RGB first",
                            (int)img->format, SP_PIXFMT_COUNT - 1);
    if (img->width == 0 || img->height == 0)
        return sp_error_set(err, SP_ERR_INVALID, "image: size %ux%u has no pixels", img->width,
                            img->height);
    if (!img->data)
        return sp_error_set(err, SP_ERR_INVALID, "image %ux%u: data is NULL", img->width,
                            img->height);
    size_t row;
    if (!sp_mul_size(img->width, pixfmts[img->format].bpp, &row))
        return sp_error_set(err, SP_ERR_OVERFLOW, "image: width %u overflows a row size",
                            img->width);
    if (img->stride < row)
        return sp_error_set(err, SP_ERR_INVALID,
                            "image %ux%u %s: stride %zu bytes is shorter than a row (%zu bytes)",
                            img->width, img->height, pixfmts[img->format].name, img->stride, row);
    size_t total;
    if (!sp_mul_size(img->stride, (size_t)img->height - 1, &total) || total + row < total)
        return sp_error_set(err, SP_ERR_OVERFLOW,
                            "image %ux%u: stride %zu times height overflows size_t", img->width,
                            img->height, img->stride);
    return SP_OK;
}
