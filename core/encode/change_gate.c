/* The change gate (scriptprune/change_gate.h): block-mean thumbnails of the encoder's view,
 * compared cell by cell with the last encoded frame's. Cost: one pass over a regular sample of
 * the region's pixels (about 36 samples per block), a few milliseconds for a 1080p frame. */
#include <math.h>
#include <string.h>

#include "alloc.h"
#include "encode_internal.h"
#include "scriptprune/change_gate.h"

#define NS_PER_S 1e9
/* Samples per block side at most: the block mean is taken over a regular sub-grid of its pixels,
 * enough to average sensor noise down, few enough to keep the pass cheap. */
#define SAMPLES_PER_SIDE 6

struct sp_change_gate {
    sp_change_gate_params p;
    uint32_t tw, th; /* thumbnail size in blocks: grid * SP_GATE_BLOCKS */
    float *ref;      /* th x tw x 3 block means of the last encoded frame */
    float *cur;      /* the same of the frame under test */
    bool have_ref;
    uint32_t ref_width, ref_height; /* frame size of the reference */
    int64_t ref_pts;                /* stream time of the reference */
    int64_t last_pts;               /* of the last tested frame */
    sp_change_gate_stats stats;
};

/* Integer pixel rectangle [x0, x1) x [y0, y1). */
typedef struct rect {
    uint32_t x0, y0, x1, y1;
} rect;

void sp_change_gate_params_init(sp_change_gate_params *p) {
    memset(p, 0, sizeof *p);
    p->threshold = SP_GATE_DEFAULT_THRESHOLD;
    p->max_skip_ns = (int64_t)(SP_GATE_DEFAULT_MAX_SKIP_S * NS_PER_S);
    p->grid_w = 16;
    p->grid_h = 16;
}

sp_status sp_change_gate_params_validate(const sp_change_gate_params *p, sp_error *err) {
    if (!p)
        return sp_error_set(err, SP_ERR_INVALID, "change gate: NULL parameters");
    if (!(p->threshold >= 0.0f && p->threshold <= 255.0f))
        return sp_error_set(err, SP_ERR_INVALID,
                            "change gate: threshold %g is outside [0, 255] (8-bit levels)",
                            (double)p->threshold);
    if (p->max_skip_ns < 0)
        return sp_error_set(err, SP_ERR_INVALID,
                            "change gate: max_skip_ns %lld is negative (0 encodes every frame)",
                            (long long)p->max_skip_ns);
    if (p->grid_w < 1 || p->grid_w > SP_GATE_MAX_GRID || p->grid_h < 1 ||
        p->grid_h > SP_GATE_MAX_GRID)
        return sp_error_set(err, SP_ERR_INVALID,
                            "change gate: grid %ux%u is outside 1 .. %d cells a side", p->grid_w,
                            p->grid_h, SP_GATE_MAX_GRID);
    if (!isfinite(p->roi_x) || !isfinite(p->roi_y) || !isfinite(p->roi_w) || !isfinite(p->roi_h))
        return sp_error_set(err, SP_ERR_INVALID, "change gate: region is not finite");
    return SP_OK;
}

void sp_change_gate_params_for_encoder(sp_change_gate_params *p, const sp_encoder *enc,
                                       uint32_t width, uint32_t height) {
    sp_preprocess pre;
    sp_encoder_plan(enc, width, height, &pre);
    p->roi_x = pre.src_x;
    p->roi_y = pre.src_y;
    p->roi_w = pre.src_w;
    p->roi_h = pre.src_h;
    p->grid_w = pre.grid_w ? pre.grid_w : 1;
    p->grid_h = pre.grid_h ? pre.grid_h : 1;
}

const char *sp_gate_verdict_name(sp_gate_verdict v) {
    switch (v) {
        case SP_GATE_SKIP:
            return "skip";
        case SP_GATE_FIRST:
            return "first";
        case SP_GATE_CHANGED:
            return "changed";
        case SP_GATE_MAX_SKIP:
            return "max-skip";
    }
    return "?";
}

sp_status sp_change_gate_new(const sp_change_gate_params *p, sp_change_gate **out, sp_error *err) {
    if (!out)
        return sp_error_set(err, SP_ERR_INVALID, "change gate: NULL output pointer");
    *out = NULL;
    sp_change_gate_params def;
    if (!p) {
        sp_change_gate_params_init(&def);
        p = &def;
    }
    sp_status s = sp_change_gate_params_validate(p, err);
    if (s)
        return s;
    sp_change_gate *g = sp_calloc(1, sizeof *g);
    if (!g)
        return sp_error_set(err, SP_ERR_NOMEM, "change gate: out of memory");
    g->p = *p;
    g->tw = p->grid_w * SP_GATE_BLOCKS;
    g->th = p->grid_h * SP_GATE_BLOCKS;
    size_t n = 0;
    if (sp_mul3_size(g->tw, g->th, 3, &n)) {
        g->ref = sp_alloc_array(n, sizeof *g->ref);
        g->cur = sp_alloc_array(n, sizeof *g->cur);
    }
    if (!g->ref || !g->cur) {
        sp_change_gate_free(g);
        return sp_error_set(err, SP_ERR_NOMEM, "change gate: out of memory for a %ux%u grid",
                            p->grid_w, p->grid_h);
    }
    *out = g;
    return SP_OK;
}

void sp_change_gate_free(sp_change_gate *g) {
    if (!g)
        return;
    sp_free(g->ref);
    sp_free(g->cur);
    sp_free(g);
}

void sp_change_gate_reset(sp_change_gate *g) {
    if (g)
        g->have_ref = false;
}

void sp_change_gate_get_stats(const sp_change_gate *g, sp_change_gate_stats *out) {
    if (g)
        *out = g->stats;
    else
        memset(out, 0, sizeof *out);
}

/* The region clipped to the frame, whole pixels, never empty. */
static rect region_of(const sp_change_gate_params *p, uint32_t width, uint32_t height) {
    rect r = {0, 0, width, height};
    if (p->roi_w > 0 && p->roi_h > 0) {
        double x0 = fmax(0.0, floor(p->roi_x)), y0 = fmax(0.0, floor(p->roi_y));
        double x1 = fmin((double)width, ceil(p->roi_x + p->roi_w));
        double y1 = fmin((double)height, ceil(p->roi_y + p->roi_h));
        if (x1 > x0 && y1 > y0)
            r = (rect){(uint32_t)x0, (uint32_t)y0, (uint32_t)x1, (uint32_t)y1};
    }
    return r;
}

/* Span [*a, *b) of block i of n over [lo, hi): at least one pixel, inside [lo, hi). */
static void block_span(uint32_t lo, uint32_t hi, uint32_t i, uint32_t n, uint32_t *a, uint32_t *b) {
    uint64_t len = hi - lo;
    uint32_t s = lo + (uint32_t)(len * i / n), e = lo + (uint32_t)(len * (i + 1) / n);
    if (s >= hi)
        s = hi - 1;
    if (e <= s)
        e = s + 1;
    *a = s;
    *b = e;
}

/* Block means of img over r into g->cur (th x tw x 3, R G B). */
static void thumbnail(sp_change_gate *g, const sp_image *img, rect r) {
    size_t off[3];
    enc_pixfmt_offsets(img->format, off);
    size_t bpp = sp_pixfmt_bpp(img->format);
    for (uint32_t by = 0; by < g->th; by++) {
        uint32_t y0, y1;
        block_span(r.y0, r.y1, by, g->th, &y0, &y1);
        for (uint32_t bx = 0; bx < g->tw; bx++) {
            uint32_t x0, x1;
            block_span(r.x0, r.x1, bx, g->tw, &x0, &x1);
            enc_block_mean(img, off, bpp, y0, y1, x0, x1, SAMPLES_PER_SIDE,
                           g->cur + ((size_t)by * g->tw + bx) * 3);
        }
    }
}

/* The largest cell change of g->cur against g->ref, in levels. */
static float largest_change(const sp_change_gate *g) {
    float worst = 0.0f;
    const uint32_t B = SP_GATE_BLOCKS;
    for (uint32_t cy = 0; cy < g->p.grid_h; cy++)
        for (uint32_t cx = 0; cx < g->p.grid_w; cx++) {
            float sum = 0.0f;
            for (uint32_t by = cy * B; by < (cy + 1) * B; by++) {
                size_t at = ((size_t)by * g->tw + cx * B) * 3;
                for (uint32_t k = 0; k < B * 3; k++)
                    sum += fabsf(g->cur[at + k] - g->ref[at + k]);
            }
            float cell = sum / (float)(B * B * 3);
            if (cell > worst)
                worst = cell;
        }
    return worst;
}

sp_status sp_change_gate_test(sp_change_gate *g, const sp_image *img, int64_t pts,
                              sp_gate_verdict *verdict, float *change, sp_error *err) {
    if (!g || !verdict)
        return sp_error_set(err, SP_ERR_INVALID, "change gate: NULL gate or verdict");
    sp_status s = sp_image_validate(img, err);
    if (s)
        return sp_error_prefix(err, "change gate");
    thumbnail(g, img, region_of(&g->p, img->width, img->height));
    sp_gate_verdict v;
    float c = 0.0f;
    if (!g->have_ref || img->width != g->ref_width || img->height != g->ref_height ||
        pts < g->last_pts) {
        v = SP_GATE_FIRST;
    } else {
        c = largest_change(g);
        if (c > g->p.threshold)
            v = SP_GATE_CHANGED;
        else if (pts - g->ref_pts >= g->p.max_skip_ns)
            v = SP_GATE_MAX_SKIP;
        else
            v = SP_GATE_SKIP;
    }
    if (v != SP_GATE_SKIP) {
        float *t = g->ref;
        g->ref = g->cur;
        g->cur = t;
        g->have_ref = true;
        g->ref_width = img->width;
        g->ref_height = img->height;
        g->ref_pts = pts;
        g->stats.encoded++;
        g->stats.forced += v == SP_GATE_MAX_SKIP;
    } else {
        g->stats.skipped++;
    }
    g->last_pts = pts;
    g->stats.last_change = c;
    *verdict = v;
    if (change)
        *change = c;
    return SP_OK;
}
