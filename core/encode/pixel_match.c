/* Pixel evidence (scriptprune/pixel_match.h): block matching of each grid cell of a frame against
 * the previous frame's thumbnail. Cost for a 24 x 24 grid: the thumbnail (a regular sample of at
 * most 3 x 3 frame pixels per thumbnail pixel), a global shift search on its luma (every fourth
 * pixel each way, shifts of two pixels), then per cell a sparse luma search (every other pixel)
 * around no motion and around the global shift, its best candidates refined on R, G, B at full
 * size, to half a pixel, then motion propagated into flat cells. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "encode_internal.h"
#include "scriptprune/pixel_match.h"

enum {
    B = SP_PIXEL_MATCH_BLOCK,
    SAMPLES = 3,         /* frame pixels sampled per thumbnail pixel side, at most */
    MAX_SHIFT_CELLS = 3, /* the global shift searched, cells each way (the stream's) */
    LOCAL = 12,          /* the per-cell search, thumbnail pixels each way: 1.5 cells */
};
/* The noise floor: this quantile of the cells' best errors, at most NOISE_CAP levels (more is not
 * noise but content: after a cut every cell's best error is large). */
static const float NOISE_QUANTILE = 0.1f;
static const float NOISE_CAP = 4.0f;
/* SEEN within max(K_NOISE noise, K_SEEN texture, FLOOR); NEW beyond max(K_FAR K_NOISE noise,
 * K_NEW texture, K_FAR FLOOR). */
static const float K_NOISE = 3.0f;
static const float K_SEEN = 0.25f;
static const float K_NEW = 0.4f;
static const float FLOOR = 1.0f;
static const float K_FAR = 1.25f;
/* A match at no motion (or at the camera's shift) is taken when its error is within this factor of
 * the best one found elsewhere. */
static const float STILL_SLACK = 1.5f;
/* NEW only for a cell whose texture is above K_NEW_TEXTURE times the noise: a smoother cell that
 * matches nowhere is left to the features (UNKNOWN). Smooth ground an object uncovers looks like
 * the ground beside it, and an MLLM learns nothing from it; textured ground (grass, gravel) is what
 * the features cannot tell apart. bench/quality: 8 keeps the real scenes' new-content recall
 * above 0.95 (grass unchanged at 0.971, the fast zoom 0.966 -> 0.957; 10 loses 3 of the 34 cells
 * over grass) and gives the synthetic scenes' objects their budget back (object recall at 128
 * tokens a window 0.746 -> 0.796). */
static const float K_NEW_TEXTURE = 8.0f;
/* Passes of motion propagation into ambiguous cells (each reaches one cell further). */
enum { PROPAGATE = 2 };

struct sp_pixel_match {
    uint32_t gh, gw; /* the encoder's grid */
    uint32_t P;      /* its patch size (input pixels) */
    /* the geometry of the thumbnails: frame size, plan; ref valid for it */
    uint32_t width, height;
    sp_preprocess pre;
    bool have_ref;
    uint32_t tw, th;                 /* thumbnail size: the plan's image cells x B */
    float *cur, *ref;                /* th x tw x 3 */
    float *lcur, *lref;              /* th x tw luma */
    float *err;                      /* per image cell: best error */
    float *tex;                      /* per image cell: texture */
    float *fy, *fx;                  /* per image cell: best displacement, thumbnail pixels */
    uint8_t *state;                  /* per image cell: ST_* */
    uint32_t *xs0, *xs1, *ys0, *ys1; /* frame pixel spans of thumbnail columns and rows */
    size_t cap;                      /* cells the per-cell arrays hold */
    size_t tcap;                     /* floats cur / ref hold */
    sp_pixel_match_stats stats;
};

sp_status sp_pixel_match_new(const sp_encoder *enc, sp_pixel_match **out, sp_error *err) {
    if (!out)
        return sp_error_set(err, SP_ERR_INVALID, "pixel match: NULL output pointer");
    *out = NULL;
    if (!enc)
        return sp_error_set(err, SP_ERR_INVALID, "pixel match: NULL encoder");
    sp_encoder_info in;
    sp_encoder_get_info(enc, &in);
    if (!in.grid_h || !in.grid_w || !in.patch_size)
        return sp_error_set(err, SP_ERR_INVALID, "pixel match: the encoder has no patch grid");
    sp_pixel_match *m = sp_calloc(1, sizeof *m);
    if (!m)
        return sp_error_set(err, SP_ERR_NOMEM, "pixel match: out of memory");
    m->gh = in.grid_h;
    m->gw = in.grid_w;
    m->P = in.patch_size;
    *out = m;
    return SP_OK;
}

static void free_buffers(sp_pixel_match *m) {
    float **f[] = {&m->cur, &m->ref, &m->lcur, &m->lref, &m->err, &m->tex, &m->fy, &m->fx};
    for (size_t i = 0; i < sizeof f / sizeof *f; i++) {
        sp_free(*f[i]);
        *f[i] = NULL;
    }
    sp_free(m->state);
    m->state = NULL;
    uint32_t **u[] = {&m->xs0, &m->xs1, &m->ys0, &m->ys1};
    for (size_t i = 0; i < sizeof u / sizeof *u; i++) {
        sp_free(*u[i]);
        *u[i] = NULL;
    }
    m->cap = m->tcap = 0;
}

void sp_pixel_match_free(sp_pixel_match *m) {
    if (!m)
        return;
    free_buffers(m);
    sp_free(m);
}

void sp_pixel_match_reset(sp_pixel_match *m) {
    if (m)
        m->have_ref = false;
}

void sp_pixel_match_get_stats(const sp_pixel_match *m, sp_pixel_match_stats *out) {
    if (m)
        *out = m->stats;
    else
        memset(out, 0, sizeof *out);
}

static bool same_plan(const sp_preprocess *a, const sp_preprocess *b) {
    return a->src_x == b->src_x && a->src_y == b->src_y && a->src_w == b->src_w &&
           a->src_h == b->src_h && a->dst_x == b->dst_x && a->dst_y == b->dst_y &&
           a->dst_w == b->dst_w && a->dst_h == b->dst_h && a->grid_x == b->grid_x &&
           a->grid_y == b->grid_y && a->grid_w == b->grid_w && a->grid_h == b->grid_h;
}

/* Frame pixel spans of the n thumbnail pixels along one axis: thumbnail pixel i covers model input
 * [(g0 B + i) P / B, + P / B), which is frame [src + (v - dst) src_len / dst_len, ...). */
static void spans(uint32_t n, uint32_t g0, uint32_t P, double src, double src_len, uint32_t dst,
                  uint32_t dst_len, uint32_t limit, uint32_t *a, uint32_t *b) {
    double k = dst_len ? src_len / (double)dst_len : 0.0;
    for (uint32_t i = 0; i < n; i++) {
        double v0 = ((double)g0 * B + i) * P / B, v1 = v0 + (double)P / B;
        double f0 = src + (v0 - dst) * k, f1 = src + (v1 - dst) * k;
        double lo = fmax(0.0, floor(f0 + 1e-9)), hi = fmin((double)limit, ceil(f1 - 1e-9));
        uint32_t s = lo < (double)limit ? (uint32_t)lo : limit - 1;
        uint32_t e = hi > (double)s ? (uint32_t)hi : s + 1;
        a[i] = s;
        b[i] = e;
    }
}

/* Sizes the buffers and spans for img's size and r's plan; drops the reference when they changed.
 */
static sp_status geometry(sp_pixel_match *m, const sp_image *img, const sp_preprocess *pre,
                          sp_error *err) {
    if (m->have_ref && img->width == m->width && img->height == m->height &&
        same_plan(pre, &m->pre))
        return SP_OK;
    m->have_ref = false;
    m->width = img->width;
    m->height = img->height;
    m->pre = *pre;
    m->tw = pre->grid_w * B;
    m->th = pre->grid_h * B;
    size_t cells = (size_t)pre->grid_w * pre->grid_h, t = 0;
    if (!sp_mul3_size(m->tw, m->th, 3, &t))
        return sp_error_set(err, SP_ERR_OVERFLOW, "pixel match: thumbnail too large");
    if (t > m->tcap || cells > m->cap || !m->xs0) {
        free_buffers(m);
        m->cur = sp_alloc_array(t, sizeof(float));
        m->ref = sp_alloc_array(t, sizeof(float));
        m->lcur = sp_alloc_array(t / 3 + 1, sizeof(float));
        m->lref = sp_alloc_array(t / 3 + 1, sizeof(float));
        m->err = sp_alloc_array(cells + 1, sizeof(float));
        m->tex = sp_alloc_array(cells + 1, sizeof(float));
        m->fy = sp_alloc_array(cells + 1, sizeof(float));
        m->fx = sp_alloc_array(cells + 1, sizeof(float));
        m->state = sp_alloc_array(cells + 1, 1);
        m->xs0 = sp_alloc_array((size_t)m->tw + 1, sizeof(uint32_t));
        m->xs1 = sp_alloc_array((size_t)m->tw + 1, sizeof(uint32_t));
        m->ys0 = sp_alloc_array((size_t)m->th + 1, sizeof(uint32_t));
        m->ys1 = sp_alloc_array((size_t)m->th + 1, sizeof(uint32_t));
        if (!m->cur || !m->ref || !m->lcur || !m->lref || !m->err || !m->tex || !m->fy || !m->fx ||
            !m->state || !m->xs0 || !m->xs1 || !m->ys0 || !m->ys1) {
            free_buffers(m);
            return sp_error_set(err, SP_ERR_NOMEM,
                                "pixel match: out of memory for a %ux%u thumbnail", m->tw, m->th);
        }
        m->tcap = t;
        m->cap = cells;
    }
    spans(m->tw, pre->grid_x, m->P, pre->src_x, pre->src_w, pre->dst_x, pre->dst_w, img->width,
          m->xs0, m->xs1);
    spans(m->th, pre->grid_y, m->P, pre->src_y, pre->src_h, pre->dst_y, pre->dst_h, img->height,
          m->ys0, m->ys1);
    return SP_OK;
}

/* The thumbnail of img into m->cur, its luma into m->lcur. */
static void thumbnail(sp_pixel_match *m, const sp_image *img) {
    size_t off[3];
    enc_pixfmt_offsets(img->format, off);
    size_t bpp = sp_pixfmt_bpp(img->format);
    for (uint32_t v = 0; v < m->th; v++)
        for (uint32_t u = 0; u < m->tw; u++)
            enc_block_mean(img, off, bpp, m->ys0[v], m->ys1[v], m->xs0[u], m->xs1[u], SAMPLES,
                           m->cur + ((size_t)v * m->tw + u) * 3);
    size_t np = (size_t)m->tw * m->th;
    for (size_t i = 0; i < np; i++)
        m->lcur[i] = (m->cur[3 * i] + m->cur[3 * i + 1] + m->cur[3 * i + 2]) / 3.0f;
}

/* Mean absolute luma difference of the current frame against the reference shifted by (dy, dx)
 * thumbnail pixels over their overlap, every GSTEP-th pixel each way; INFINITY when the overlap is
 * below half the picture. */
enum { GSTEP = 4 };
static float global_error(const sp_pixel_match *m, int dy, int dx) {
    int tw = (int)m->tw, th = (int)m->th;
    int y0 = dy < 0 ? -dy : 0, y1 = dy > 0 ? th - dy : th;
    int x0 = dx < 0 ? -dx : 0, x1 = dx > 0 ? tw - dx : tw;
    if (2 * (y1 - y0) * (x1 - x0) < th * tw)
        return INFINITY;
    float sum = 0;
    size_t count = 0;
    for (int y = y0; y < y1; y += GSTEP)
        for (int x = x0; x < x1; x += GSTEP) {
            sum += fabsf(m->lcur[(size_t)y * tw + x] - m->lref[(size_t)(y + dy) * tw + x + dx]);
            count++;
        }
    return count ? sum / (float)count : INFINITY;
}

/* The global shift, thumbnail pixels (even): content at p was at p + shift in the reference. */
static void global_shift(const sp_pixel_match *m, int *sy, int *sx) {
    int r = MAX_SHIFT_CELLS * B;
    float best = global_error(m, 0, 0);
    *sy = *sx = 0;
    for (int dy = -r; dy <= r; dy += 2)
        for (int dx = -r; dx <= r; dx += 2) {
            float e = global_error(m, dy, dx);
            if (e < best * 0.98f) { /* a clear improvement moves it */
                best = e;
                *sy = dy;
                *sx = dx;
            }
        }
}

/* Sparse luma block error of cell (cy, cx) (every other pixel each way) against the reference at
 * displacement (dy, dx) thumbnail pixels; INFINITY when the displaced block leaves the reference.
 */
static float sparse_error(const sp_pixel_match *m, uint32_t cy, uint32_t cx, int dy, int dx,
                          float limit) {
    int tw = (int)m->tw, th = (int)m->th;
    int y0 = (int)cy * B + dy, x0 = (int)cx * B + dx;
    if (y0 < 0 || x0 < 0 || y0 + B > th || x0 + B > tw)
        return INFINITY;
    float sum = 0;
    for (int y = 0; y < B; y += 2) {
        const float *a = m->lcur + (size_t)((int)cy * B + y) * tw + (size_t)cx * B;
        const float *b = m->lref + (size_t)(y0 + y) * tw + x0;
        for (int x = 0; x < B; x += 2)
            sum += fabsf(a[x] - b[x]);
        if (sum > limit * (B * B / 4))
            return INFINITY; /* worse than every candidate kept: stop early */
    }
    return sum / (B * B / 4);
}

/* R, G, B block error of cell (cy, cx) against the reference at the whole displacement (dy, dx)
 * thumbnail pixels; INFINITY outside the reference. */
static float full_error(const sp_pixel_match *m, uint32_t cy, uint32_t cx, int dy, int dx) {
    int y0 = (int)(cy * B) + dy, x0 = (int)(cx * B) + dx;
    if (y0 < 0 || x0 < 0 || y0 + B > (int)m->th || x0 + B > (int)m->tw)
        return INFINITY;
    float lane[B] = {0}; /* B independent partial sums: the loop vectorises */
    for (int y = 0; y < B; y++) {
        const float *a = m->cur + ((size_t)(cy * B + y) * m->tw + (size_t)cx * B) * 3;
        const float *b = m->ref + ((size_t)(y0 + y) * m->tw + (size_t)x0) * 3;
        for (int k = 0; k < B * 3; k += B)
            for (int l = 0; l < B; l++)
                lane[l] += fabsf(a[k + l] - b[k + l]);
    }
    float sum = 0;
    for (int l = 0; l < B; l++)
        sum += lane[l];
    return sum / (B * B * 3);
}

/* The block error at (dy, dx) thumbnail pixels, halves allowed (the reference blended
 * bilinearly), robust: the mean of the block's per-pixel errors (R + G + B) without its worst
 * TRIM pixels: an object's cell that shows a sliver of what is behind it, which moved otherwise,
 * still matches where the object was. */
enum { TRIM = B * B / 8 };
static float trimmed_error(const sp_pixel_match *m, uint32_t cy, uint32_t cx, float dy, float dx) {
    float y0 = (float)(cy * B) + dy, x0 = (float)(cx * B) + dx;
    if (y0 < 0 || x0 < 0 || y0 + B - 1 > (float)(m->th - 1) || x0 + B - 1 > (float)(m->tw - 1))
        return INFINITY;
    float px[B * B], worst[TRIM];
    /* the bilinear blend's weights and rows, found once for the block */
    int iy = (int)floorf(y0), ix = (int)floorf(x0);
    float wy = y0 - (float)iy, wx = x0 - (float)ix;
    size_t row = (size_t)m->tw * 3, down = wy > 0 ? row : 0, right = wx > 0 ? 3 : 0;
    for (int y = 0; y < B; y++) {
        const float *a = m->cur + ((size_t)(cy * B + y) * m->tw + (size_t)cx * B) * 3;
        const float *r = m->ref + ((size_t)(iy + y) * m->tw + (size_t)ix) * 3;
        for (int x = 0; x < B; x++) {
            float e = 0;
            for (int c = 0; c < 3; c++) {
                const float *q = r + x * 3 + c;
                float v = (1 - wy) * ((1 - wx) * q[0] + wx * q[right]) +
                          wy * ((1 - wx) * q[down] + wx * q[down + right]);
                e += fabsf(a[x * 3 + c] - v);
            }
            px[y * B + x] = e;
        }
    }
    /* the TRIM largest, kept sorted descending */
    int kept = 0;
    float sum = 0;
    for (int i = 0; i < B * B; i++) {
        float e = px[i];
        sum += e;
        if (kept < TRIM || e > worst[kept - 1]) {
            int j = kept < TRIM ? kept++ : TRIM - 1;
            while (j > 0 && worst[j - 1] < e) {
                worst[j] = worst[j - 1];
                j--;
            }
            worst[j] = e;
        }
    }
    for (int i = 0; i < kept; i++)
        sum -= worst[i];
    return sum / (float)((B * B - TRIM) * 3);
}

/* The cell's texture: its mean absolute difference with itself moved by one thumbnail pixel
 * across and down (inside the thumbnail). */
static float texture(const sp_pixel_match *m, uint32_t cy, uint32_t cx) {
    float sum = 0;
    size_t count = 0;
    for (uint32_t y = cy * B; y < (cy + 1) * B; y++)
        for (uint32_t x = cx * B; x < (cx + 1) * B; x++) {
            const float *a = m->cur + ((size_t)y * m->tw + x) * 3;
            if (x + 1 < m->tw) {
                for (int c = 0; c < 3; c++)
                    sum += fabsf(a[c] - a[3 + c]);
                count += 3;
            }
            if (y + 1 < m->th) {
                for (int c = 0; c < 3; c++)
                    sum += fabsf(a[c] - a[(size_t)m->tw * 3 + c]);
                count += 3;
            }
        }
    return count ? sum / (float)count : 0.0f;
}

/* The COARSE best candidates of the sparse search of a cell, kept apart: on fine texture the
 * sparse error of the true displacement can lose to some unrelated place; the full search around
 * each finds it. */
enum { COARSE = 4 };
typedef struct coarse {
    float e[COARSE];
    int y[COARSE], x[COARSE];
    int n;
} coarse;

/* The error a candidate must beat to be kept: the worst kept once the list is full. */
static float coarse_limit(const coarse *c) {
    if (c->n < COARSE)
        return INFINITY;
    float worst = c->e[0];
    for (int i = 1; i < COARSE; i++)
        worst = fmaxf(worst, c->e[i]);
    return worst;
}

static void coarse_add(coarse *c, float e, int y, int x) {
    if (!isfinite(e))
        return;
    for (int i = 0; i < c->n; i++)
        if (abs(c->y[i] - y) <= 1 && abs(c->x[i] - x) <= 1) { /* a neighbour: keep the better */
            if (e < c->e[i]) {
                c->e[i] = e;
                c->y[i] = y;
                c->x[i] = x;
            }
            return;
        }
    int at = c->n < COARSE ? c->n++ : -1;
    if (at < 0) { /* full: replace the worst if this is better */
        at = 0;
        for (int i = 1; i < COARSE; i++)
            if (c->e[i] > c->e[at])
                at = i;
        if (!(e < c->e[at]))
            return;
    }
    c->e[at] = e;
    c->y[at] = y;
    c->x[at] = x;
}

/* The best match of cell (cy, cx): the sparse luma search around no motion and around the
 * global shift (gy, gx), then full size +-1 pixel around its best candidates, no motion and the
 * global shift, then +-1/2. */
static void match_cell(sp_pixel_match *m, uint32_t cy, uint32_t cx, int gy, int gx, float *err,
                       float *fy, float *fx) {
    coarse c = {.n = 0};
    int centres[2][2] = {{0, 0}, {gy, gx}};
    int nc = (gy || gx) ? 2 : 1;
    for (int k = 0; k < nc; k++)
        for (int dy = centres[k][0] - LOCAL; dy <= centres[k][0] + LOCAL; dy++)
            for (int dx = centres[k][1] - LOCAL; dx <= centres[k][1] + LOCAL; dx++)
                if (k == 0 || abs(dy) > LOCAL || abs(dx) > LOCAL)
                    coarse_add(&c, sparse_error(m, cy, cx, dy, dx, coarse_limit(&c)), dy, dx);
    float bestf = INFINITY, ry = 0, rx = 0;
    int seeds[COARSE + 2][2] = {{0, 0}, {gy, gx}};
    for (int i = 0; i < c.n; i++) {
        seeds[2 + i][0] = c.y[i];
        seeds[2 + i][1] = c.x[i];
    }
    for (int k = 0; k < 2 + c.n; k++) {
        for (int dy = -1; dy <= 1; dy++)
            for (int dx = -1; dx <= 1; dx++) {
                int iy = seeds[k][0] + dy, ix = seeds[k][1] + dx;
                float y = (float)iy, x = (float)ix, e = full_error(m, cy, cx, iy, ix);
                if (e < bestf || (e == bestf && fabsf(y) + fabsf(x) < fabsf(ry) + fabsf(rx))) {
                    bestf = e;
                    ry = y;
                    rx = x;
                }
            }
    }
    if (isfinite(bestf)) {
        float cy0 = ry, cx0 = rx;
        bestf = trimmed_error(m, cy, cx, cy0, cx0);
        for (int dy = -1; dy <= 1; dy++)
            for (int dx = -1; dx <= 1; dx++) {
                if (!dy && !dx)
                    continue;
                float y = cy0 + 0.5f * (float)dy, x = cx0 + 0.5f * (float)dx;
                float e = trimmed_error(m, cy, cx, y, x);
                if (e < bestf) {
                    bestf = e;
                    ry = y;
                    rx = x;
                }
            }
    }
    /* no motion, or the camera's, unless clearly worse than the best: sensor noise alone moves
     * the best match of a still cell by a fraction of a pixel, and a stream would follow that */
    if (isfinite(bestf) && (ry != 0 || rx != 0)) {
        float e0 = trimmed_error(m, cy, cx, 0.0f, 0.0f);
        if (fabsf(ry) <= 1 && fabsf(rx) <= 1 && e0 <= STILL_SLACK * bestf) {
            bestf = e0;
            ry = rx = 0;
        } else if (gy || gx) {
            float eg = trimmed_error(m, cy, cx, (float)gy, (float)gx);
            if (fabsf(ry - (float)gy) <= 1 && fabsf(rx - (float)gx) <= 1 &&
                (ry != (float)gy || rx != (float)gx) && eg <= STILL_SLACK * bestf) {
                bestf = eg;
                ry = (float)gy;
                rx = (float)gx;
            }
        }
    }
    *err = bestf;
    *fy = ry;
    *fx = rx;
}

/* The cell's best error elsewhere: the smallest at 2 thumbnail pixels from (fy, fx) across or
 * down. Content that looks alike along a direction (stripes, an edge, a flat area) matches there
 * as well, so where it matched says little. */
static float aside_error(const sp_pixel_match *m, uint32_t cy, uint32_t cx, float fy, float fx) {
    static const float off[4][2] = {{0, 2}, {0, -2}, {2, 0}, {-2, 0}};
    float best = INFINITY;
    for (int k = 0; k < 4; k++)
        best = fminf(best, trimmed_error(m, cy, cx, fy + off[k][0], fx + off[k][1]));
    return best;
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* The thresholds of cell i: SEEN within *t, NEW beyond *t_new. */
static void thresholds(const sp_pixel_match *m, size_t i, float noise, float *t, float *t_new) {
    *t = fmaxf(fmaxf(K_NOISE * noise, K_SEEN * m->tex[i]), FLOOR);
    *t_new = fmaxf(fmaxf(K_FAR * K_NOISE * noise, K_NEW * m->tex[i]), K_FAR * FLOOR);
}

/* Per image cell: SEEN where it matched (m->fy, m->fx), NEW, UNKNOWN, or AMBIGUOUS: it matched,
 * but a flat cell (its texture below the noise's share) or one that matches as well two pixels
 * aside (stripes, an edge) matches in many places, so where it matched says nothing unless it is
 * where the camera's motion puts it (then SEEN) or where a neighbour's content came from
 * (propagate). */
enum { ST_UNKNOWN = 0, ST_SEEN = 1, ST_NEW = 2, ST_AMBIGUOUS = 3 };

static void classify(sp_pixel_match *m, float noise, int gy, int gx) {
    uint32_t gw = m->pre.grid_w, gh = m->pre.grid_h;
    for (uint32_t cy = 0; cy < gh; cy++)
        for (uint32_t cx = 0; cx < gw; cx++) {
            size_t i = (size_t)cy * gw + cx;
            float t, t_new;
            thresholds(m, i, noise, &t, &t_new);
            uint8_t st = ST_UNKNOWN;
            if (m->err[i] <= t) {
                bool flat = K_SEEN * m->tex[i] <= fmaxf(K_NOISE * noise, FLOOR) ||
                            aside_error(m, cy, cx, m->fy[i], m->fx[i]) <= t;
                bool at_global =
                    fabsf(m->fy[i] - (float)gy) <= 1.0f && fabsf(m->fx[i] - (float)gx) <= 1.0f;
                st = flat && !at_global ? ST_AMBIGUOUS : ST_SEEN;
            } else if (m->err[i] > t_new && m->tex[i] > K_NEW_TEXTURE * noise) {
                st = ST_NEW;
            }
            m->state[i] = st;
        }
}

/* One pass of motion propagation: an AMBIGUOUS cell that matches (within its SEEN threshold) at
 * the displacement of a SEEN neighbour is SEEN there: the flat inside of an object moves with its
 * textured parts. */
static void propagate(sp_pixel_match *m, float noise) {
    uint32_t gw = m->pre.grid_w, gh = m->pre.grid_h;
    for (uint32_t cy = 0; cy < gh; cy++)
        for (uint32_t cx = 0; cx < gw; cx++) {
            size_t i = (size_t)cy * gw + cx;
            if (m->state[i] != ST_AMBIGUOUS)
                continue;
            float t, t_new;
            thresholds(m, i, noise, &t, &t_new);
            for (int dy = -1; dy <= 1 && m->state[i] == ST_AMBIGUOUS; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    long ny = (long)cy + dy, nx = (long)cx + dx;
                    if ((!dy && !dx) || ny < 0 || nx < 0 || ny >= gh || nx >= gw)
                        continue;
                    size_t j = (size_t)ny * gw + (size_t)nx;
                    if (m->state[j] != ST_SEEN)
                        continue;
                    float e = trimmed_error(m, cy, cx, m->fy[j], m->fx[j]);
                    if (e <= t) {
                        m->state[i] = ST_SEEN;
                        m->err[i] = e;
                        m->fy[i] = m->fy[j];
                        m->fx[i] = m->fx[j];
                        break;
                    }
                }
        }
}

/* The cells' states into r's evidence (padding and AMBIGUOUS: UNKNOWN). */
static void write_evidence(sp_pixel_match *m, sp_encoding *r) {
    const sp_preprocess *pre = &m->pre;
    for (uint32_t cy = 0; cy < pre->grid_h; cy++)
        for (uint32_t cx = 0; cx < pre->grid_w; cx++) {
            size_t i = (size_t)cy * pre->grid_w + cx;
            size_t p = (size_t)(pre->grid_y + cy) * m->gw + pre->grid_x + cx;
            sp_pixel_evidence *e = &r->evidence[p];
            if (m->state[i] == ST_SEEN) {
                e->verdict = SP_PIXELS_SEEN;
                e->dy = m->fy[i] / (float)B;
                e->dx = m->fx[i] / (float)B;
                m->stats.seen++;
            } else if (m->state[i] == ST_NEW) {
                e->verdict = SP_PIXELS_NEW;
                m->stats.fresh++;
            } else {
                m->stats.unknown++;
            }
        }
}

sp_status sp_pixel_match_run(sp_pixel_match *m, const sp_image *img, sp_encoding *r,
                             sp_error *err) {
    if (!m || !r)
        return sp_error_set(err, SP_ERR_INVALID, "pixel match: NULL %s", m ? "result" : "matcher");
    sp_status s = sp_image_validate(img, err);
    if (s)
        return sp_error_prefix(err, "pixel match");
    if (r->n == 0 || r->grid_h != m->gh || r->grid_w != m->gw)
        return sp_error_set(err, SP_ERR_INVALID,
                            "pixel match: the result is not an encoding of this encoder (n = %zu, "
                            "grid %ux%u, expected %ux%u)",
                            r->n, r->grid_h, r->grid_w, m->gh, m->gw);
    const sp_preprocess *pre = &r->pre;
    if (!pre->grid_w || !pre->grid_h || (uint64_t)pre->grid_x + pre->grid_w > m->gw ||
        (uint64_t)pre->grid_y + pre->grid_h > m->gh)
        return sp_error_set(err, SP_ERR_INVALID,
                            "pixel match: the result's picture grid %ux%u at (%u, %u) is outside "
                            "the %ux%u grid",
                            pre->grid_w, pre->grid_h, pre->grid_x, pre->grid_y, m->gw, m->gh);
    s = enc_reserve_evidence(r, err);
    if (s)
        return s;
    s = geometry(m, img, pre, err);
    if (s)
        return s;
    thumbnail(m, img);
    memset(&m->stats, 0, sizeof m->stats);
    for (size_t p = 0; p < r->n; p++)
        r->evidence[p] = (sp_pixel_evidence){0.0f, 0.0f, SP_PIXELS_UNKNOWN};
    size_t cells = (size_t)pre->grid_w * pre->grid_h;
    if (m->have_ref) {
        int gy, gx;
        global_shift(m, &gy, &gx);
        for (uint32_t cy = 0; cy < pre->grid_h; cy++)
            for (uint32_t cx = 0; cx < pre->grid_w; cx++) {
                size_t i = (size_t)cy * pre->grid_w + cx;
                match_cell(m, cy, cx, gy, gx, &m->err[i], &m->fy[i], &m->fx[i]);
                m->tex[i] = texture(m, cy, cx);
            }
        /* the noise floor: a low quantile of the best errors, sorted in the reference's luma
         * (16 floats a cell, no longer needed: it is replaced below) */
        float *sorted = m->lref;
        memcpy(sorted, m->err, cells * sizeof(float));
        qsort(sorted, cells, sizeof(float), cmp_float);
        float q = sorted[(size_t)(NOISE_QUANTILE * (float)(cells - 1))];
        float noise = isfinite(q) && q < NOISE_CAP ? q : NOISE_CAP;
        m->stats.noise = noise;
        classify(m, noise, gy, gx);
        for (int pass = 0; pass < PROPAGATE; pass++)
            propagate(m, noise);
        write_evidence(m, r);
    } else {
        m->stats.unknown = cells;
    }
    /* the current thumbnail becomes the reference */
    float *t = m->ref;
    m->ref = m->cur;
    m->cur = t;
    t = m->lref;
    m->lref = m->lcur;
    m->lcur = t;
    m->have_ref = true;
    r->has_evidence = true;
    return SP_OK;
}

sp_status sp_pixel_match_repeat(sp_encoding *r, sp_error *err) {
    if (!r || r->n == 0 || !r->grid_w)
        return sp_error_set(err, SP_ERR_INVALID, "pixel match: repeat of an empty result");
    sp_status s = enc_reserve_evidence(r, err);
    if (s)
        return s;
    const sp_preprocess *pre = &r->pre;
    bool plan = pre->grid_w && pre->grid_h;
    for (size_t p = 0; p < r->n; p++) {
        uint32_t y = (uint32_t)(p / r->grid_w), x = (uint32_t)(p % r->grid_w);
        bool picture = !plan || (y >= pre->grid_y && y - pre->grid_y < pre->grid_h &&
                                 x >= pre->grid_x && x - pre->grid_x < pre->grid_w);
        r->evidence[p] =
            (sp_pixel_evidence){0.0f, 0.0f, picture ? SP_PIXELS_SEEN : SP_PIXELS_UNKNOWN};
    }
    r->has_evidence = true;
    return SP_OK;
}
