/* An exemplar encoded at the scale it has in the footage (sp_encode_exemplar_at): a crop of a
 * frame shows its parts at the frame's cell size, so it is encoded as part of a frame of that
 * size and only its own cells become query rows. Fitted to the whole input instead, a crop a
 * third of the frame wide shows each part about three times larger than the frames do, and the
 * patch encoder's texture features do not match across that change of scale
 * (bench/quality/real_textures.py: the cup's cells over grass match the closest exemplar row at a
 * median cosine of 0.87 fitted, 0.89 at the frame's scale; the other objects' at 0.74 and 0.66). */
#include <string.h>

#include "alloc.h"
#include "encode_internal.h"
#include "scriptprune/encode.h"

/* The canvas: frame_w x frame_h pixels of img's format, img at (x0, y0), its border pixels
 * repeated outwards (the cells at its edge see surroundings like its own, not a flat colour). */
static void fill_canvas(const sp_image *img, uint8_t *canvas, uint32_t fw, uint32_t fh, uint32_t x0,
                        uint32_t y0, size_t bpp) {
    size_t row = (size_t)fw * bpp;
    for (uint32_t y = 0; y < fh; y++) {
        uint32_t sy = y < y0 ? 0 : y - y0 >= img->height ? img->height - 1 : y - y0;
        const uint8_t *src = img->data + (size_t)sy * img->stride;
        uint8_t *dst = canvas + (size_t)y * row;
        for (uint32_t x = 0; x < x0; x++)
            memcpy(dst + (size_t)x * bpp, src, bpp);
        memcpy(dst + (size_t)x0 * bpp, src, (size_t)img->width * bpp);
        const uint8_t *last = src + (size_t)(img->width - 1) * bpp;
        for (uint32_t x = x0 + img->width; x < fw; x++)
            memcpy(dst + (size_t)x * bpp, last, bpp);
    }
}

/* Length of [a0, a1) inside [b0, b1). */
static double overlap(double a0, double a1, double b0, double b1) {
    double lo = a0 > b0 ? a0 : b0, hi = a1 < b1 ? a1 : b1;
    return hi > lo ? hi - lo : 0.0;
}

/* Per grid cell, the share of its frame area inside the exemplar's rectangle. */
static void cell_shares(const sp_encoding *r, uint32_t patch, uint32_t x0, uint32_t y0, uint32_t w,
                        uint32_t h, double *share) {
    const sp_preprocess *pp = &r->pre;
    double sx = pp->src_w / (double)pp->dst_w, sy = pp->src_h / (double)pp->dst_h;
    for (uint32_t gy = 0; gy < r->grid_h; gy++) {
        double fy0 = pp->src_y + ((double)gy * patch - pp->dst_y) * sy;
        double fy1 = fy0 + patch * sy;
        double iy = overlap(fy0, fy1, y0, (double)y0 + h) / (fy1 - fy0);
        for (uint32_t gx = 0; gx < r->grid_w; gx++) {
            double fx0 = pp->src_x + ((double)gx * patch - pp->dst_x) * sx;
            double fx1 = fx0 + patch * sx;
            double ix = overlap(fx0, fx1, x0, (double)x0 + w) / (fx1 - fx0);
            share[(size_t)gy * r->grid_w + gx] = ix * iy;
        }
    }
}

/* A cell counts as the exemplar's when wholly inside it (up to rounding): a cell across its
 * border describes canvas pixels too, which show nothing real. */
#define WHOLLY_INSIDE 0.999

/* Appends the rows of the cells wholly inside the exemplar (all, or their mean), or of the one
 * cell most inside it when none is. */
static sp_status append_cells(const sp_encoding *r, const double *share, sp_exemplar mode,
                              sp_query_rows *out, sp_error *err) {
    size_t n = r->n, e = r->e, kept = 0, best = 0;
    for (size_t i = 0; i < n; i++) {
        kept += share[i] >= WHOLLY_INSIDE;
        if (share[i] > share[best])
            best = i;
    }
    size_t rows = mode == SP_EXEMPLAR_ALL && kept ? kept : 1;
    float *buf = enc_rows_append(out, rows, e, err); /* into the query rows, committed below */
    if (!buf)
        return err ? err->status : SP_ERR_NOMEM;
    memset(buf, 0, rows * e * sizeof(float));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (kept ? share[i] < WHOLLY_INSIDE : i != best)
            continue;
        float *dst = buf + (mode == SP_EXEMPLAR_ALL ? k * e : 0);
        for (size_t j = 0; j < e; j++)
            dst[j] += r->embed[i * e + j];
        k++;
    }
    if (mode != SP_EXEMPLAR_ALL)
        for (size_t j = 0; j < e; j++)
            buf[j] /= (float)k;
    enc_rows_commit(out, rows, e);
    return SP_OK;
}

sp_status sp_encode_exemplar_at(sp_encode_ctx *ctx, const sp_image *img, sp_exemplar mode,
                                uint32_t frame_w, uint32_t frame_h, sp_query_rows *out,
                                sp_error *err) {
    sp_status args = enc_exemplar_args(ctx, out, mode, err);
    if (args)
        return args;
    if (!img)
        return sp_error_set(err, SP_ERR_INVALID, "exemplar: NULL argument");
    /* The pooled embedding describes the whole picture it was computed on, so it stays the
     * fitted picture's; an exemplar that does not fit in the frame has no frame scale. */
    if (mode == SP_EXEMPLAR_POOLED || frame_w == 0 || frame_h == 0 || !img->data ||
        img->width == 0 || img->height == 0 || img->width > frame_w || img->height > frame_h ||
        (unsigned)img->format >= SP_PIXFMT_COUNT)
        return sp_encode_exemplar(ctx, img, mode, out, err);
    size_t bpp = sp_pixfmt_bpp(img->format), bytes;
    if (img->stride < (size_t)img->width * bpp)
        return sp_error_set(err, SP_ERR_INVALID, "exemplar: stride %zu is less than %u pixels",
                            img->stride, img->width);
    if (!sp_mul_size((size_t)frame_w * bpp, frame_h, &bytes))
        return sp_error_set(err, SP_ERR_OVERFLOW, "exemplar: a %ux%u frame is too large", frame_w,
                            frame_h);
    uint8_t *canvas = sp_malloc(bytes);
    if (!canvas)
        return sp_error_set(err, SP_ERR_NOMEM, "exemplar: out of memory for a %ux%u canvas",
                            frame_w, frame_h);
    uint32_t x0 = (frame_w - img->width) / 2, y0 = (frame_h - img->height) / 2;
    fill_canvas(img, canvas, frame_w, frame_h, x0, y0, bpp);
    sp_image frame = {canvas, frame_w, frame_h, (size_t)frame_w * bpp, img->format};
    sp_encoding r;
    sp_encoding_init(&r);
    double *share = NULL;
    sp_status st = sp_encode(ctx, &frame, &r, err);
    if (st)
        sp_error_prefix(err, "exemplar");
    else if (!(share = sp_alloc_array(r.n, sizeof *share)))
        st = sp_error_set(err, SP_ERR_NOMEM, "exemplar: out of memory for %zu cells", r.n);
    if (!st) {
        sp_encoder_info info;
        sp_encoder_get_info(ctx->enc, &info);
        cell_shares(&r, info.patch_size, x0, y0, img->width, img->height, share);
        st = append_cells(&r, share, mode, out, err);
    }
    sp_free(share);
    sp_encoding_free(&r);
    sp_free(canvas);
    return st;
}
