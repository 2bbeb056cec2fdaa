/* The built-in patch encoder (see patch.h). Not BLAS on purpose: OpenBLAS kernels differ between
 * CPUs (FMA, blocking order), and this encoder promises identical bytes everywhere; at 576 x 81 x D
 * the projection is cheap in plain C anyway. */
#if defined(__clang__)
/* clang fuses a * b + c into FMA by default where the target has it; GCC does not in -std=c11. */
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__) && !defined(__STRICT_ANSI__) && defined(__FP_FAST_FMAF)
#error "GNU C mode on an FMA target fuses a * b + c and changes the encoder's bytes: use -std=c11"
#endif
#include "patch.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "alloc.h"
#include "rng.h"
#include "vec.h"

/* Feature weights: chosen on synthetic textures so that shifted copies of a texture stay above
 * cosine 0.9 while unrelated textures, flat colours and colour changes fall well below. */
static const float W_BIAS = 0.1f; /* constant: keeps flat mid-grey patches well defined */
static const float W_MEAN = 1.0f; /* brightness: luma - 0.5 */
/* Colour: the two opponent chroma axes. Twice the luma weight: chroma values are small (a green
 * leaf is about 0.1 from grey) and colour is what tells an object from a background of the same
 * texture, for the temporal graph and for exemplar queries alike (bench/quality/real_textures.py:
 * with weight 1 a coffee cup's pooled exemplar is as close to grass as to the cup). */
static const float W_CHROMA = 2.0f;
static const float W_STD = 0.5f;   /* contrast per channel */
static const float W_SHAPE = 2.0f; /* texture signature minus its mean: orientation, frequency */
static const float W_TEX = 0.5f;   /* texture strength */
static const float W_DCT = 0.5f;   /* low-frequency layout inside the patch */
/* The neighbourhood's colour layout: the means of a 4 x 4 grid of patch-sized cells centred on the
 * patch, minus their mean. Real footage needs it: neighbouring patches of grass, gravel or foliage
 * have the same local statistics, so the local features alone call new content a repeat of what
 * was next to it; the layout around a patch tells them apart and changes little when the content
 * moves by a fraction of a patch. The weight trades the two (bench/quality/real_textures.py,
 * docs/encoders.md): larger weights and a wider grid separate more textures but also call static
 * background new when an object moves nearby. */
static const float W_LAYOUT = 0.5f;

/* Luma DCT coefficients kept, (u = horizontal, v = vertical) with 1 <= u + v <= 3. */
static const uint8_t LUMA_UV[9][2] = {{0, 1}, {1, 0}, {0, 2}, {1, 1}, {2, 0},
                                      {0, 3}, {1, 2}, {2, 1}, {3, 0}};

double patch_cos_pi(uint64_t k, uint64_t m) {
    k %= 2 * m;
    if (k > m)
        k = 2 * m - k; /* cos is even and 2 pi periodic: now k / m in [0, 1] */
    double sign = 1.0;
    if (2 * k > m) {
        k = m - k; /* cos(pi - t) = -cos(t): now t in [0, pi / 2] */
        sign = -1.0;
    }
    const double pi = 3.14159265358979323846;
    double t = pi * (double)k / (double)m, t2 = t * t;
    double term = 1.0, sum = 1.0;
    for (int n = 1; n <= 14; n++) {
        term *= -t2 / (double)((2 * n - 1) * (2 * n));
        sum += term;
    }
    return sign * sum;
}

/* Modified Gram-Schmidt, twice for stability, on `count` rows of length `len` (count <= len).
 * Double precision and sqrt only, so the basis is the same everywhere. */
static void orthonormalise(double *v, size_t count, size_t len) {
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < count; i++) {
            double *vi = v + i * len;
            for (size_t j = 0; j < i; j++) {
                const double *vj = v + j * len;
                double dot = 0;
                for (size_t t = 0; t < len; t++)
                    dot += vi[t] * vj[t];
                for (size_t t = 0; t < len; t++)
                    vi[t] -= dot * vj[t];
            }
            double nn = 0;
            for (size_t t = 0; t < len; t++)
                nn += vi[t] * vi[t];
            double inv = 1.0 / sqrt(nn);
            for (size_t t = 0; t < len; t++)
                vi[t] *= inv;
        }
    }
}

/* n random rows of length len from r, orthonormalised, into the columns [col, col + len) of the
 * rows [row, row + n) of proj (width D). n <= len. */
static void block_basis(sp_rng *r, double *v, size_t n, size_t len, float *proj, size_t row,
                        size_t col, size_t D) {
    for (size_t i = 0; i < n * len; i++)
        v[i] = 2.0 * sp_rng_unit(r) - 1.0;
    orthonormalise(v, n, len);
    for (size_t k = 0; k < n; k++)
        for (size_t t = 0; t < len; t++)
            proj[(row + k) * D + col + t] = (float)v[k * len + t];
}

sp_status patch_model_new(uint32_t S, uint32_t P, uint32_t D, uint64_t seed, patch_model **out,
                          sp_error *err) {
    *out = NULL;
    patch_model *m = sp_calloc(1, sizeof *m);
    if (!m)
        return sp_error_set(err, SP_ERR_NOMEM, "patch encoder: out of memory");
    m->S = S;
    m->P = P;
    m->D = D;
    m->grid = S / P;
    const size_t F = PATCH_FEATURES;
    m->proj_flat = sp_alloc_array((size_t)F * D, sizeof *m->proj_flat);
    m->basis = sp_alloc_array((size_t)4 * P, sizeof *m->basis);
    /* F <= D: F orthonormal vectors in R^D, an isometry of the feature space (cosines kept
     * exactly). F > D: D orthonormal rows in R^F, a projection (cosines kept approximately). */
    size_t count = F <= D ? F : D, len = F <= D ? D : F;
    double *v = sp_alloc_array(count * len, sizeof *v);
    bool split = patch_own_dims(D) > 0;
    m->proj = split ? sp_calloc((size_t)F * D, sizeof *m->proj) : m->proj_flat;
    if (!m->proj_flat || !m->basis || !v || !m->proj) {
        sp_free(v);
        patch_model_free(m);
        return sp_error_set(err, SP_ERR_NOMEM,
                            "patch encoder: out of memory for the %zux%u "
                            "projection",
                            F, D);
    }
    sp_rng r;
    sp_rng_seed(&r, seed);
    for (size_t i = 0; i < count * len; i++)
        v[i] = 2.0 * sp_rng_unit(&r) - 1.0;
    orthonormalise(v, count, len);
    for (size_t k = 0; k < F; k++)
        for (size_t d = 0; d < D; d++)
            m->proj_flat[k * D + d] = (float)(F <= D ? v[k * len + d] : v[d * len + k]);
    if (split) {
        /* Two orthogonal blocks: still an isometry of the feature space, and the patch's own
         * features (the first D / 2 dimensions) separate from its neighbourhood's (the rest). */
        m->own_d = patch_own_dims(D);
        block_basis(&r, v, PATCH_LOCAL_FEATURES, m->own_d, m->proj, 0, 0, D);
        block_basis(&r, v, PATCH_LAYOUT_FEATURES, D - m->own_d, m->proj, PATCH_LOCAL_FEATURES,
                    m->own_d, D);
    }
    sp_free(v);
    for (uint32_t u = 0; u < 4; u++) {
        double alpha = sqrt((u == 0 ? 1.0 : 2.0) / P);
        for (uint32_t x = 0; x < P; x++)
            m->basis[u * P + x] = (float)(alpha * patch_cos_pi((uint64_t)(2 * x + 1) * u, 2 * P));
    }
    *out = m;
    return SP_OK;
}

void patch_model_free(patch_model *m) {
    if (!m)
        return;
    if (m->proj != m->proj_flat)
        sp_free(m->proj);
    sp_free(m->proj_flat);
    sp_free(m->basis);
    sp_free(m);
}

/* Scratch layout (floats): band planes L, A, B (3 x P x S); per-column accumulators (ACC_ROWS x S);
 * per-column patch means (3 x S); pair masks (7 x S); one token's squares (D); half-patch block
 * means (2 grid x 2 grid x 3); every patch's features (grid x grid x PATCH_FEATURES). */
enum {
    ACC_SUM = 0,  /* 3 rows: sums of L, A, B */
    ACC_SQ = 3,   /* 3 rows: sums of squared deviations from the patch mean */
    ACC_DIFF = 6, /* 12 rows: squared luma differences, (distance, direction) */
    ACC_DCT = 18, /* 8 rows: vertical DCT projections, luma v = 0..3, A v = 0..1, B v = 0..1 */
    ACC_TOP = 26, /* 3 rows: sums of L, A, B over the top half of the band (P / 2 rows) */
    ACC_ROWS = 29,
};

static size_t half_grid(const patch_model *m) {
    return 2 * (size_t)m->grid;
}

size_t patch_scratch_floats(const patch_model *m) {
    size_t S = m->S, g = m->grid, h = half_grid(m);
    return 3 * (size_t)m->P * S + (size_t)ACC_ROWS * S + 3 * S + 7 * S + m->D + h * h * 3 +
           g * g * PATCH_FEATURES;
}

/* Sum of x[0..n) as four interleaved partial sums combined in a fixed order: independent chains
 * hide the add latency and the grouping is the same on every machine. */
static float sum4(const float *x, size_t n) {
    float a[4] = {0, 0, 0, 0};
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int k = 0; k < 4; k++)
            a[k] += x[i + k];
    for (; i < n; i++)
        a[i & 3] += x[i];
    return (a[0] + a[1]) + (a[2] + a[3]);
}

/* sum_i a[i] * b[i] with the same grouping as sum4. */
static float dot4(const float *a, const float *b, size_t n) {
    float s[4] = {0, 0, 0, 0};
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int k = 0; k < 4; k++)
            s[k] += a[i + k] * b[i + k];
    for (; i < n; i++)
        s[i & 3] += a[i] * b[i];
    return (s[0] + s[1]) + (s[2] + s[3]);
}

/* The elementwise helpers below run four lanes at a time with vec.h and finish with a scalar
 * tail doing the same operations; GCC -O2 does not vectorise loops with a runtime trip count. */

/* acc[x] += (b[x] - a[x])^2 * mask[x] for x < n; mask (0 or 1) drops pairs that straddle two
 * patches (adding an exact 0 leaves a sum unchanged). */
static void acc_sqdiff(float *restrict acc, const float *restrict a, const float *restrict b,
                       const float *restrict mask, size_t n) {
    size_t x = 0;
    for (; x + 4 <= n; x += 4) {
        v4f d = v4_load(b + x) - v4_load(a + x);
        v4_store(acc + x, v4_load(acc + x) + d * d * v4_load(mask + x));
    }
    for (; x < n; x++) {
        float d = b[x] - a[x];
        acc[x] += d * d * mask[x];
    }
}

static void acc_sqdev(float *restrict acc, const float *restrict a, const float *restrict mean,
                      size_t n) {
    size_t x = 0;
    for (; x + 4 <= n; x += 4) {
        v4f d = v4_load(a + x) - v4_load(mean + x);
        v4_store(acc + x, v4_load(acc + x) + d * d);
    }
    for (; x < n; x++) {
        float d = a[x] - mean[x];
        acc[x] += d * d;
    }
}

static void acc_axpy(float *restrict acc, float w, const float *restrict a, size_t n) {
    size_t x = 0;
    v4f wv = v4_splat(w);
    for (; x + 4 <= n; x += 4)
        v4_store(acc + x, v4_load(acc + x) + wv * v4_load(a + x));
    for (; x < n; x++)
        acc[x] += w * a[x];
}

/* The band of P image rows holding patch row gy, as opponent colour planes: luma, red-green,
 * yellow-blue. */
static void band_colours(const patch_model *m, const float *planes, uint32_t gy, float *restrict L,
                         float *restrict A, float *restrict B) {
    const size_t S = m->S, n = (size_t)m->P * S;
    const float *restrict r = planes + (size_t)gy * n, *restrict g = r + S * S,
                          *restrict b = g + S * S;
    size_t i = 0;
    const v4f three = v4_splat(3.0f), half = v4_splat(0.5f), quarter = v4_splat(0.25f),
              two = v4_splat(2.0f);
    for (; i + 4 <= n; i += 4) {
        v4f rv = v4_load(r + i), gv = v4_load(g + i), bv = v4_load(b + i);
        v4_store(L + i, (rv + gv + bv) / three);
        v4_store(A + i, (rv - gv) * half);
        v4_store(B + i, (rv + gv - two * bv) * quarter);
    }
    for (; i < n; i++) {
        L[i] = (r[i] + g[i] + b[i]) / 3.0f;
        A[i] = (r[i] - g[i]) * 0.5f;
        B[i] = (r[i] + g[i] - 2.0f * b[i]) * 0.25f;
    }
}

/* Texture signature distances. Per distance, masks mark the horizontal pairs (x, x + d) and the
 * anti-diagonal pairs (x, x - d) that stay inside one patch (built once per encode). */
static const uint32_t DIST[3] = {1, 2, 4};

static void band_accumulate(const patch_model *m, const float *L, const float *A, const float *B,
                            float *acc, float *means, float *mask) {
    const uint32_t P = m->P;
    const size_t S = m->S;
    const float *ch[3] = {L, A, B};
    memset(acc, 0, (size_t)ACC_ROWS * S * sizeof *acc);
    for (uint32_t y = 0; y < P; y++) {
        for (int c = 0; c < 3; c++) {
            acc_axpy(acc + (ACC_SUM + c) * S, 1.0f, ch[c] + y * S, S);
            if (y < P / 2)
                acc_axpy(acc + (ACC_TOP + c) * S, 1.0f, ch[c] + y * S, S);
        }
        for (uint32_t v = 0; v < 4; v++)
            acc_axpy(acc + (ACC_DCT + v) * S, m->basis[v * P + y], L + y * S, S);
        for (uint32_t v = 0; v < 2; v++) {
            acc_axpy(acc + (ACC_DCT + 4 + v) * S, m->basis[v * P + y], A + y * S, S);
            acc_axpy(acc + (ACC_DCT + 6 + v) * S, m->basis[v * P + y], B + y * S, S);
        }
    }
    /* patch means, repeated over the patch's columns for the second pass */
    for (int c = 0; c < 3; c++) {
        for (uint32_t px = 0; px < m->grid; px++) {
            float mu = sum4(acc + (ACC_SUM + c) * S + (size_t)px * P, P) / (float)(P * P);
            for (uint32_t x = 0; x < P; x++)
                means[c * S + (size_t)px * P + x] = mu;
        }
    }
    const float *ones = mask + 6 * S;
    for (uint32_t y = 0; y < P; y++) {
        for (int c = 0; c < 3; c++)
            acc_sqdev(acc + (ACC_SQ + c) * S, ch[c] + y * S, means + c * S, S);
        const float *row = L + y * S;
        for (int s = 0; s < 3; s++) {
            uint32_t d = DIST[s];
            const float *mh = mask + (2 * s) * S, *ma = mask + (2 * s + 1) * S;
            float *a = acc + (ACC_DIFF + 4 * s) * S;
            acc_sqdiff(a, row, row + d, mh, S - d); /* horizontal */
            if (y + d < P) {
                const float *below = L + (y + d) * S;
                acc_sqdiff(a + S, row, below, ones, S);                   /* vertical */
                acc_sqdiff(a + 2 * S, row, below + d, mh, S - d);         /* diagonal */
                acc_sqdiff(a + 3 * S + d, row + d, below, ma + d, S - d); /* anti-diagonal */
            }
        }
    }
}

static void build_masks(const patch_model *m, float *mask) {
    const uint32_t P = m->P;
    const size_t S = m->S;
    for (int s = 0; s < 3; s++) {
        uint32_t d = DIST[s];
        for (size_t x = 0; x < S; x++) {
            mask[(2 * s) * S + x] = (x % P) + d < P ? 1.0f : 0.0f;
            mask[(2 * s + 1) * S + x] = (x % P) >= d ? 1.0f : 0.0f;
        }
    }
    for (size_t x = 0; x < S; x++)
        mask[6 * S + x] = 1.0f;
}

/* Means of the four half-patch blocks of each patch of band gy, into the (2 grid)^2 x 3 map
 * `half` (row-major blocks, colour axis innermost). With an odd P the blocks differ by a row or a
 * column; each is the mean of its own pixels. */
static void band_half_means(const patch_model *m, const float *acc, uint32_t gy, float *half) {
    const uint32_t P = m->P, h0 = P / 2, h1 = P - h0;
    const size_t S = m->S, hg = half_grid(m);
    for (uint32_t px = 0; px < m->grid; px++) {
        const size_t x0 = (size_t)px * P;
        for (int c = 0; c < 3; c++) {
            const float *full = acc + (ACC_SUM + c) * S + x0, *top = acc + (ACC_TOP + c) * S + x0;
            float tl = sum4(top, h0), tr = sum4(top + h0, h1);
            float bl = sum4(full, h0) - tl, br = sum4(full + h0, h1) - tr;
            float *row0 = half + ((size_t)(2 * gy) * hg + 2 * px) * 3, *row1 = row0 + hg * 3;
            row0[c] = tl / (float)(h0 * h0);
            row0[3 + c] = tr / (float)(h0 * h1);
            row1[c] = bl / (float)(h1 * h0);
            row1[3 + c] = br / (float)(h1 * h1);
        }
    }
}

/* The neighbourhood layout of patch (gy, gx) of the image region r: a PATCH_LAYOUT_CELLS-square
 * grid of patch-sized cells (2 x 2 half-blocks) centred on the patch, so offset by half a patch
 * from the patch grid; per colour axis the cell means minus the mean of the cells, times w. Near
 * the region's edge (the frame's, or letterbox padding, which is not part of the picture) a cell
 * averages the blocks it has inside, and a cell with none counts as the mean (feature 0): edge
 * blocks are not repeated, which would make the edge patches' layout swing with every shift.
 * Writes 3 x cells^2 features, colour axis outermost. */
static void neighbourhood_layout(const patch_model *m, const float *half, const patch_region *r,
                                 uint32_t gy, uint32_t gx, float w, float *f) {
    enum { cells = PATCH_LAYOUT_CELLS, span = 2, n = cells * cells };
    const size_t hg = half_grid(m);
    const long y_lo = 2 * (long)r->y, y_hi = 2 * (long)(r->y + r->h);
    const long x_lo = 2 * (long)r->x, x_hi = 2 * (long)(r->x + r->w);
    /* the grid spans cells x span blocks; the patch is its centre 2 blocks */
    const long first = 1 - (long)(cells * span) / 2;
    float v[3][n];
    bool have[n];
    float total[3] = {0, 0, 0};
    int used = 0;
    for (int i = 0; i < cells; i++) {
        for (int j = 0; j < cells; j++) {
            float sum[3] = {0, 0, 0};
            int count = 0;
            for (int a = 0; a < span; a++) {
                long by = 2 * (long)gy + first + i * span + a;
                if (by < y_lo || by >= y_hi)
                    continue;
                for (int b = 0; b < span; b++) {
                    long bx = 2 * (long)gx + first + j * span + b;
                    if (bx < x_lo || bx >= x_hi)
                        continue;
                    const float *blk = half + ((size_t)by * hg + (size_t)bx) * 3;
                    for (int c = 0; c < 3; c++)
                        sum[c] += blk[c];
                    count++;
                }
            }
            int k = i * cells + j;
            have[k] = count > 0;
            for (int c = 0; c < 3; c++) {
                v[c][k] = count ? sum[c] / (float)count : 0.0f;
                total[c] += v[c][k];
            }
            used += count > 0;
        }
    }
    /* used >= 1: the patch's own cell-sized neighbourhood always has blocks inside */
    for (int c = 0; c < 3; c++) {
        float mean = total[c] / (float)used;
        for (int k = 0; k < n; k++)
            f[c * n + k] = have[k] ? w * (v[c][k] - mean) : 0.0f;
    }
}

/* The 33 weighted local features of patch column px from the band's accumulators. */
static void patch_from_band(const patch_model *m, const float *acc, uint32_t px,
                            float f[PATCH_LOCAL_FEATURES]) {
    const uint32_t P = m->P;
    const size_t S = m->S, x0 = (size_t)px * P;
    const float n = (float)(P * P);
    size_t k = 0;
    f[k++] = W_BIAS;
    f[k++] = W_MEAN * (sum4(acc + ACC_SUM * S + x0, P) / n - 0.5f);
    const float w_chroma = m->local_only ? W_MEAN : W_CHROMA;
    f[k++] = w_chroma * (sum4(acc + (ACC_SUM + 1) * S + x0, P) / n);
    f[k++] = w_chroma * (sum4(acc + (ACC_SUM + 2) * S + x0, P) / n);
    for (int c = 0; c < 3; c++)
        f[k++] = W_STD * sqrtf(sum4(acc + (ACC_SQ + c) * S + x0, P) / n);
    /* Texture signature: RMS luma differences at distances 1, 2, 4 along four directions
     * (a discrete structure function). It does not depend on where the texture sits in the patch,
     * so shifted copies of a texture agree; centring it makes orientation and frequency signed. */
    float sig[12];
    for (int s = 0; s < 3; s++) {
        uint32_t d = DIST[s];
        float pairs_h = (float)(P * (P - d)), pairs_d = (float)((P - d) * (P - d));
        const float *a = acc + (ACC_DIFF + 4 * s) * S + x0;
        sig[4 * s + 0] = sqrtf(sum4(a, P) / pairs_h);
        sig[4 * s + 1] = sqrtf(sum4(a + S, P) / pairs_h);
        sig[4 * s + 2] = sqrtf(sum4(a + 2 * S, P) / pairs_d * 0.5f);
        sig[4 * s + 3] = sqrtf(sum4(a + 3 * S, P) / pairs_d * 0.5f);
    }
    float msig = sum4(sig, 12) / 12.0f;
    for (int i = 0; i < 12; i++)
        f[k++] = W_SHAPE * (sig[i] - msig);
    f[k++] = W_TEX * msig;
    /* 2-D DCT coefficient (u, v) = sum_x basis_u[x] * (vertical projection v)[x], divided by P
     * (amplitude units). */
    for (int i = 0; i < 9; i++) {
        uint32_t u = LUMA_UV[i][0], v = LUMA_UV[i][1];
        f[k++] = W_DCT * dot4(m->basis + u * P, acc + (ACC_DCT + v) * S + x0, P) / (float)P;
    }
    for (int c = 0; c < 2; c++) {
        const float *g = acc + (ACC_DCT + 4 + 2 * c) * S + x0;
        f[k++] = W_DCT * dot4(m->basis + P, g, P) / (float)P; /* u = 1, v = 0 */
        f[k++] = W_DCT * dot4(m->basis, g + S, P) / (float)P; /* u = 0, v = 1 */
    }
}

/* out = sum_k f[k] * proj[k], k in order, 32 outputs at a time in eight 4-float vectors held in
 * registers (vec.h); the tail does the same operations per element. */
static void project(const float *proj, size_t D, const float *f, float *out) {
    size_t d = 0;
    for (; d + 32 <= D; d += 32) {
        v4f f0 = v4_splat(f[0]);
        const float *p = proj + d;
        v4f a0 = f0 * v4_load(p), a1 = f0 * v4_load(p + 4), a2 = f0 * v4_load(p + 8),
            a3 = f0 * v4_load(p + 12), a4 = f0 * v4_load(p + 16), a5 = f0 * v4_load(p + 20),
            a6 = f0 * v4_load(p + 24), a7 = f0 * v4_load(p + 28);
        for (size_t k = 1; k < PATCH_FEATURES; k++) {
            v4f fk = v4_splat(f[k]);
            p = proj + k * D + d;
            a0 += fk * v4_load(p);
            a1 += fk * v4_load(p + 4);
            a2 += fk * v4_load(p + 8);
            a3 += fk * v4_load(p + 12);
            a4 += fk * v4_load(p + 16);
            a5 += fk * v4_load(p + 20);
            a6 += fk * v4_load(p + 24);
            a7 += fk * v4_load(p + 28);
        }
        v4_store(out + d, a0);
        v4_store(out + d + 4, a1);
        v4_store(out + d + 8, a2);
        v4_store(out + d + 12, a3);
        v4_store(out + d + 16, a4);
        v4_store(out + d + 20, a5);
        v4_store(out + d + 24, a6);
        v4_store(out + d + 28, a7);
    }
    for (; d < D; d++) {
        float s = f[0] * proj[d];
        for (size_t k = 1; k < PATCH_FEATURES; k++)
            s += f[k] * proj[k * D + d];
        out[d] = s;
    }
}

static void normalise(float *x, size_t n, float *sq) {
    for (size_t i = 0; i < n; i++)
        sq[i] = x[i] * x[i];
    float s = sum4(sq, n);
    if (s > 0) {
        float inv = 1.0f / sqrtf(s);
        for (size_t i = 0; i < n; i++)
            x[i] *= inv;
    }
}

void patch_encode(const patch_model *m, const float *planes, const patch_region *image,
                  float *scratch, float *tokens, float *pooled) {
    const size_t D = m->D, S = m->S, band = (size_t)m->P * S, hg = half_grid(m);
    float *L = scratch, *A = L + band, *B = A + band;
    float *acc = B + band, *means = acc + (size_t)ACC_ROWS * S, *mask = means + 3 * S;
    float *sq = mask + 7 * S, *half = sq + D, *feat = half + hg * hg * 3;
    build_masks(m, mask);
    /* Pass 1: each patch's local features and the half-patch block means of the whole input. */
    for (uint32_t gy = 0; gy < m->grid; gy++) {
        band_colours(m, planes, gy, L, A, B);
        band_accumulate(m, L, A, B, acc, means, mask);
        band_half_means(m, acc, gy, half);
        for (uint32_t gx = 0; gx < m->grid; gx++)
            patch_from_band(m, acc, gx, feat + ((size_t)gy * m->grid + gx) * PATCH_FEATURES);
    }
    /* Pass 2: the neighbourhood layouts (they need the blocks of the rows below), then the
     * projection. Padding patches get none, so that they all stay identical. */
    patch_region r = {0, 0, m->grid, m->grid};
    if (image && image->w > 0 && image->h > 0 && image->x + image->w <= m->grid &&
        image->y + image->h <= m->grid)
        r = *image;
    for (uint32_t gy = 0; gy < m->grid; gy++) {
        for (uint32_t gx = 0; gx < m->grid; gx++) {
            size_t i = (size_t)gy * m->grid + gx;
            float *f = feat + i * PATCH_FEATURES, *t = tokens + i * D;
            bool inside = gy >= r.y && gy < r.y + r.h && gx >= r.x && gx < r.x + r.w;
            if (inside && !m->local_only)
                neighbourhood_layout(m, half, &r, gy, gx, W_LAYOUT, f + PATCH_LOCAL_FEATURES);
            else
                memset(f + PATCH_LOCAL_FEATURES, 0,
                       (PATCH_FEATURES - PATCH_LOCAL_FEATURES) * sizeof *f);
            project(m->local_only ? m->proj_flat : m->proj, D, f, t);
            normalise(t, D, sq);
        }
    }
    /* pooled: the picture's tokens only; letterbox padding would pull an exemplar's pooled token
     * towards grey */
    for (size_t d = 0; d < D; d++)
        pooled[d] = 0;
    for (uint32_t gy = r.y; gy < r.y + r.h; gy++)
        for (uint32_t gx = r.x; gx < r.x + r.w; gx++)
            acc_axpy(pooled, 1.0f, tokens + ((size_t)gy * m->grid + gx) * D, D);
    normalise(pooled, D, sq);
}
