/* PNG into 8-bit RGB with libpng (image_file.h). Every colour type and depth converts: palettes
 * expand to their colours, grey is replicated into R, G and B, an alpha channel (or a tRNS
 * transparency) is dropped, not composited, and 16-bit samples scale to 8 bits with rounding
 * (png_set_scale_16: round(v * 255 / 65535)). No gamma is applied: the stored values are the
 * pixels, as PIL's Image.convert("RGB") reads them for 8-bit files.
 *
 * libpng reports errors by calling our error function, which must not return: it longjmps back
 * to decode() with the message, so a damaged or truncated file is an error, never an exit. */
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image_file.h"

typedef struct png_job {
    jmp_buf jump;
    char why[256];
    const uint8_t *data;
    size_t len, off;
} png_job;

static void on_error(png_structp png, png_const_charp msg) {
    png_job *j = png_get_error_ptr(png);
    snprintf(j->why, sizeof j->why, "%s", msg);
    longjmp(j->jump, 1);
}

static void on_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg; /* ancillary problems (a bad text chunk): the pixels are still right */
}

static void read_bytes(png_structp png, png_bytep out, size_t n) {
    png_job *j = png_get_io_ptr(png);
    if (n > j->len - j->off)
        png_error(png, "the file ends early (truncated)");
    memcpy(out, j->data + j->off, n);
    j->off += n;
}

/* Asks libpng for 8-bit samples without palette and with at most grey + alpha expanded to RGB. */
static void set_transforms(png_structp png, png_infop info) {
    int type = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
    if (type == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png);
    if (type == PNG_COLOR_TYPE_GRAY && depth < 8)
        png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16)
        png_set_scale_16(png);
    if (type == PNG_COLOR_TYPE_GRAY || type == PNG_COLOR_TYPE_GRAY_ALPHA)
        png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
}

sp_status cli_png_decode(const char *path, const uint8_t *data, size_t len, uint8_t **rgb,
                         uint32_t *width, uint32_t *height, sp_error *err) {
    png_job job = {.data = data, .len = len};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &job, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory for the PNG decoder", path);
    }
    /* Written after setjmp and read after a longjmp: volatile. */
    uint8_t *volatile full = NULL;
    png_bytep *volatile rows = NULL;
    uint8_t *volatile out = NULL;
    if (setjmp(job.jump)) {
        png_destroy_read_struct(&png, &info, NULL);
        free(full);
        free(rows);
        free(out);
        return sp_error_set(err, SP_ERR_FORMAT, "%s: not a readable PNG: %s", path, job.why);
    }
    png_set_read_fn(png, &job, read_bytes);
    png_set_user_limits(png, CLI_IMAGE_MAX_SIDE, CLI_IMAGE_MAX_SIDE);
    png_read_info(png, info);
    uint32_t w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    if ((uint64_t)w * h > CLI_IMAGE_MAX_PIXELS) {
        png_destroy_read_struct(&png, &info, NULL);
        return sp_error_set(err, SP_ERR_UNSUPPORTED, "%s: %u x %u pixels, more than %d", path, w, h,
                            CLI_IMAGE_MAX_PIXELS);
    }
    set_transforms(png, info);
    png_read_update_info(png, info);
    size_t channels = png_get_channels(png, info), stride = png_get_rowbytes(png, info);
    if (png_get_bit_depth(png, info) != 8 || (channels != 3 && channels != 4) ||
        stride != channels * w)
        png_error(png, "unexpected sample layout after conversion");
    full = malloc(stride * h);
    rows = malloc(sizeof(png_bytep) * h);
    out = malloc((size_t)w * h * 3);
    if (!full || !rows || !out)
        png_error(png, "out of memory for the pixels");
    for (uint32_t y = 0; y < h; y++)
        rows[y] = full + (size_t)y * stride;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    /* Keep R, G, B of each pixel (an alpha channel, from the file or its tRNS, is dropped). */
    for (size_t i = 0, n = (size_t)w * h; i < n; i++)
        memcpy(out + 3 * i, full + channels * i, 3);
    free(full);
    free(rows);
    *rgb = out;
    *width = w;
    *height = h;
    return SP_OK;
}
