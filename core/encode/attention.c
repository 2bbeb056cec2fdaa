/* The fused attention kernel (see attention.h). Matrix products written out instead of BLAS: the
 * reason is in attention.h (measured in docs/performance.md). */
#include "attention.h"

#include <string.h>

#include "cpu_features.h"

/* Columns of a register block: two 8-float vectors. */
#define VA_COLS 16

static size_t round_up(size_t n, size_t m) {
    return (n + m - 1) / m * m;
}

bool va_available(void) {
    return sp_cpu_has_avx2_fma();
}

size_t va_workspace_floats(size_t T, size_t dh) {
    size_t Tp = round_up(T, VA_COLS), dhp = round_up(dh, VA_COLS);
    /* packed K^T, packed V, the row block's scores, one output block row */
    return Tp * dh + Tp * dhp + VA_ROWS * Tp + VA_COLS;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define VA_TARGET __attribute__((target("avx2,fma")))

/* K^T in panels of VA_COLS keys: panel p holds, for k = 0 .. dh-1, the k-th value of keys
 * p VA_COLS .. p VA_COLS + 15 (zero past T), so a register block reads 16 contiguous floats. */
VA_TARGET static void pack_keys(const float *k, size_t ld, size_t T, size_t dh, float *kt) {
    size_t panels = round_up(T, VA_COLS) / VA_COLS;
    for (size_t p = 0; p < panels; p++) {
        float *dst = kt + p * dh * VA_COLS;
        for (size_t jj = 0; jj < VA_COLS; jj++) {
            size_t j = p * VA_COLS + jj;
            const float *src = j < T ? k + j * ld : NULL;
            for (size_t kk = 0; kk < dh; kk++)
                dst[kk * VA_COLS + jj] = src ? src[kk] : 0.0f;
        }
    }
}

/* V in panels of VA_COLS columns: panel c holds rows 0 .. T-1 of columns c VA_COLS .. + 15 (zero
 * past dh), Tp rows apart. */
VA_TARGET static void pack_values(const float *v, size_t ld, size_t T, size_t Tp, size_t dh,
                                  float *vp) {
    size_t panels = round_up(dh, VA_COLS) / VA_COLS;
    for (size_t c = 0; c < panels; c++) {
        float *dst = vp + c * Tp * VA_COLS;
        size_t c0 = c * VA_COLS, cols = dh - c0 < VA_COLS ? dh - c0 : VA_COLS;
        for (size_t k = 0; k < T; k++) {
            memcpy(dst + k * VA_COLS, v + k * ld + c0, cols * sizeof(float));
            for (size_t jj = cols; jj < VA_COLS; jj++)
                dst[k * VA_COLS + jj] = 0.0f;
        }
    }
}

/* e^x as in vmath.c (2^n e^r, degree-7 Taylor polynomial on |r| <= 0.35), eight lanes with FMA. */
VA_TARGET static inline __m256 exp8(__m256 x) {
    x = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(88.0f)), _mm256_set1_ps(-87.0f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.42860682030941723e-6f), r);
    __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    __m256i e =
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

VA_TARGET static inline float hmax8(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
}

/* Replaces row[0..n) by e^(row[j] - max), zeroes row[n..cols) and returns 1 / sum (the output
 * rows are scaled instead of the T scores, as in vmath.c). */
VA_TARGET static float softmax_row(float *row, size_t n, size_t cols) {
    size_t j = 0;
    float mx = row[0];
    if (n >= 8) {
        __m256 vm = _mm256_loadu_ps(row);
        for (j = 8; j + 8 <= n; j += 8)
            vm = _mm256_max_ps(vm, _mm256_loadu_ps(row + j));
        mx = hmax8(vm);
    }
    for (; j < n; j++)
        mx = row[j] > mx ? row[j] : mx;
    __m256 vmx = _mm256_set1_ps(mx), acc = _mm256_setzero_ps();
    for (j = 0; j + 8 <= n; j += 8) {
        __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(row + j), vmx));
        _mm256_storeu_ps(row + j, e);
        acc = _mm256_add_ps(acc, e);
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, acc);
    double sum = 0;
    for (int l = 0; l < 8; l++)
        sum += lanes[l];
    if (j < n) {
        /* the tail through one vector; its unused lanes are never read back */
        for (size_t t = 0; t < 8; t++)
            lanes[t] = j + t < n ? row[j + t] - mx : 0.0f;
        _mm256_storeu_ps(lanes, exp8(_mm256_loadu_ps(lanes)));
        for (size_t t = 0; j + t < n; t++) {
            row[j + t] = lanes[t];
            sum += lanes[t];
        }
    }
    for (j = n; j < cols; j++)
        row[j] = 0.0f;
    return (float)(1.0 / sum);
}

/* One register block row: c0/c1 accumulate a * b0, a * b1 for query row r. */
#define VA_FMA_ROW(r, a_ptr)                                                                       \
    do {                                                                                           \
        __m256 a_ = _mm256_broadcast_ss(a_ptr);                                                    \
        c##r##0 = _mm256_fmadd_ps(a_, b0, c##r##0);                                                \
        c##r##1 = _mm256_fmadd_ps(a_, b1, c##r##1);                                                \
    } while (0)

#define VA_ZERO_BLOCK                                                                              \
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,       \
           c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00

/* Scores of VA_ROWS query rows (q[r], dh floats each) against the keys of `panels` panels:
 * s[r Tp + j] = scale q[r] . key j. */
VA_TARGET static void score_block(const float *const q[VA_ROWS], const float *kt, size_t dh,
                                  size_t panels, float scale, float *s, size_t Tp) {
    const __m256 sc = _mm256_set1_ps(scale);
    for (size_t p = 0; p < panels; p++) {
        const float *b = kt + p * dh * VA_COLS;
        VA_ZERO_BLOCK;
        for (size_t k = 0; k < dh; k++) {
            __m256 b0 = _mm256_loadu_ps(b + k * VA_COLS), b1 = _mm256_loadu_ps(b + k * VA_COLS + 8);
            VA_FMA_ROW(0, q[0] + k);
            VA_FMA_ROW(1, q[1] + k);
            VA_FMA_ROW(2, q[2] + k);
            VA_FMA_ROW(3, q[3] + k);
            VA_FMA_ROW(4, q[4] + k);
            VA_FMA_ROW(5, q[5] + k);
        }
        float *o = s + p * VA_COLS;
        __m256 rows[VA_ROWS][2] = {{c00, c01}, {c10, c11}, {c20, c21},
                                   {c30, c31}, {c40, c41}, {c50, c51}};
        for (size_t r = 0; r < VA_ROWS; r++) {
            _mm256_storeu_ps(o + r * Tp, _mm256_mul_ps(rows[r][0], sc));
            _mm256_storeu_ps(o + r * Tp + 8, _mm256_mul_ps(rows[r][1], sc));
        }
    }
}

/* out[r][0..dh) = inv[r] * sum_k s[r Tp + k] V[k] over k < nk, for the first `rows` rows. */
VA_TARGET static void value_block(const float *s, size_t Tp, const float *vp, size_t nk, size_t dh,
                                  const float inv[VA_ROWS], size_t rows, float *const out[VA_ROWS],
                                  float *tmp) {
    size_t panels = round_up(dh, VA_COLS) / VA_COLS;
    for (size_t c = 0; c < panels; c++) {
        const float *b = vp + c * Tp * VA_COLS;
        VA_ZERO_BLOCK;
        for (size_t k = 0; k < nk; k++) {
            __m256 b0 = _mm256_loadu_ps(b + k * VA_COLS), b1 = _mm256_loadu_ps(b + k * VA_COLS + 8);
            VA_FMA_ROW(0, s + k);
            VA_FMA_ROW(1, s + Tp + k);
            VA_FMA_ROW(2, s + 2 * Tp + k);
            VA_FMA_ROW(3, s + 3 * Tp + k);
            VA_FMA_ROW(4, s + 4 * Tp + k);
            VA_FMA_ROW(5, s + 5 * Tp + k);
        }
        __m256 acc[VA_ROWS][2] = {{c00, c01}, {c10, c11}, {c20, c21},
                                  {c30, c31}, {c40, c41}, {c50, c51}};
        size_t c0 = c * VA_COLS, cols = dh - c0 < VA_COLS ? dh - c0 : VA_COLS;
        for (size_t r = 0; r < rows; r++) {
            __m256 w = _mm256_set1_ps(inv[r]);
            float *dst = cols == VA_COLS ? out[r] + c0 : tmp;
            _mm256_storeu_ps(dst, _mm256_mul_ps(acc[r][0], w));
            _mm256_storeu_ps(dst + 8, _mm256_mul_ps(acc[r][1], w));
            if (dst == tmp)
                memcpy(out[r] + c0, tmp, cols * sizeof(float));
        }
    }
}

VA_TARGET static void one_head(const float *qkv, size_t T, size_t H, size_t dh, size_t h,
                               int causal, float scale, float *ws, float *out) {
    const size_t ld = 3 * H, Tp = round_up(T, VA_COLS), dhp = round_up(dh, VA_COLS);
    float *kt = ws, *vp = kt + Tp * dh, *s = vp + Tp * dhp, *tmp = s + VA_ROWS * Tp;
    const float *q = qkv + h * dh;
    pack_keys(qkv + H + h * dh, ld, T, dh, kt);
    pack_values(qkv + 2 * H + h * dh, ld, T, Tp, dh, vp);
    for (size_t i0 = 0; i0 < T; i0 += VA_ROWS) {
        size_t rows = T - i0 < VA_ROWS ? T - i0 : VA_ROWS;
        /* the last block's missing rows repeat its first row (computed, never stored) */
        const float *qr[VA_ROWS];
        float *orow[VA_ROWS];
        size_t row_of[VA_ROWS];
        for (size_t r = 0; r < VA_ROWS; r++) {
            row_of[r] = i0 + (r < rows ? r : 0);
            qr[r] = q + row_of[r] * ld;
            orow[r] = out + row_of[r] * H + h * dh;
        }
        /* a causal block needs the keys up to its last row only */
        size_t nk = causal ? i0 + rows : T;
        score_block(qr, kt, dh, round_up(nk, VA_COLS) / VA_COLS, scale, s, Tp);
        float inv[VA_ROWS];
        for (size_t r = 0; r < VA_ROWS; r++)
            inv[r] = softmax_row(s + r * Tp, causal ? row_of[r] + 1 : T, nk);
        value_block(s, Tp, vp, nk, dh, inv, rows, orow, tmp);
    }
}

void va_heads(const float *qkv, size_t T, size_t H, size_t dh, size_t h0, size_t h1, int causal,
              float scale, float *ws, float *out) {
    for (size_t h = h0; h < h1; h++)
        one_head(qkv, T, H, dh, h, causal, scale, ws, out);
}

#else

/* Not reached: va_available() is false where the kernel is not compiled, and the towers then take
 * the BLAS path. */
void va_heads(const float *qkv, size_t T, size_t H, size_t dh, size_t h0, size_t h1, int causal,
              float scale, float *ws, float *out) {
    (void)qkv, (void)T, (void)H, (void)dh, (void)h0, (void)h1, (void)causal, (void)scale;
    (void)ws, (void)out;
}

#endif
