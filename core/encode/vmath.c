/* Non-GEMM kernels of the towers (see vmath.h). */
#include "vmath.h"

#include <math.h>
#include <stdint.h>

#include "vec.h"

typedef int32_t v4i __attribute__((vector_size(16)));

static inline v4f v4_select(v4i mask, v4f a, v4f b) {
    return (v4f)(((v4i)a & mask) | ((v4i)b & ~mask));
}

/* exp by 2^n * e^r with n = round(x / ln 2), r = x - n ln 2 in [-0.35, 0.35] and a degree-7
 * Taylor polynomial for e^r (truncation below 1e-8). The rounding uses the 1.5 * 2^23 trick. */
static inline v4f v4_exp(v4f x) {
    const v4f hi = v4_splat(88.0f), lo = v4_splat(-87.0f);
    x = v4_select(x > hi, hi, x);
    x = v4_select(x < lo, lo, x);
    const v4f magic = v4_splat(12582912.0f);
    v4f n = (x * v4_splat(1.44269504088896341f) + magic) - magic;
    v4f r = x - n * v4_splat(0.693145751953125f);
    r = r - n * v4_splat(1.42860682030941723e-6f);
    v4f p = v4_splat(1.0f / 5040.0f);
    p = p * r + v4_splat(1.0f / 720.0f);
    p = p * r + v4_splat(1.0f / 120.0f);
    p = p * r + v4_splat(1.0f / 24.0f);
    p = p * r + v4_splat(1.0f / 6.0f);
    p = p * r + v4_splat(0.5f);
    p = p * r + v4_splat(1.0f);
    p = p * r + v4_splat(1.0f);
    v4i e = (__builtin_convertvector(n, v4i) + 127) << 23;
    return p * (v4f)e;
}

static float exp1(float x) {
    float b[4] = {x, 0, 0, 0};
    v4_store(b, v4_exp(v4_load(b)));
    return b[0];
}

void vm_exp(float *x, size_t n) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        v4_store(x + i, v4_exp(v4_load(x + i)));
    for (; i < n; i++)
        x[i] = exp1(x[i]);
}

static inline v4f v4_quick_gelu(v4f x) {
    return x / (v4_splat(1.0f) + v4_exp(x * v4_splat(-1.702f)));
}

/* 0.5 x (1 + tanh(u)) with tanh(u) = 1 - 2 / (1 + e^(2u)) */
static inline v4f v4_gelu_tanh(v4f x) {
    const v4f k = v4_splat(0.7978845608028654f), c = v4_splat(0.044715f), one = v4_splat(1.0f);
    v4f u = k * (x + c * x * x * x);
    v4f t = one - v4_splat(2.0f) / (one + v4_exp(u + u));
    return v4_splat(0.5f) * x * (one + t);
}

/* 0.5 x (1 + erf(x / sqrt 2)), erf by Abramowitz and Stegun 7.1.26: erf(u) = 1 - t (a1 + t (a2 +
 * t (a3 + t (a4 + t a5)))) e^(-u^2), t = 1 / (1 + p u) for u >= 0, odd in u; absolute error below
 * 1.5e-7 (2e-7 in float arithmetic), so the activation differs from libm's erff by at most
 * 1e-7 |x|: far inside the towers' 1e-4 tolerance, at a tenth of erff's time per value. */
static inline v4f v4_gelu_erf(v4f x) {
    const v4f one = v4_splat(1.0f), zero = v4_splat(0.0f);
    v4f u = x * v4_splat(0.70710678118654752f);
    v4f a = v4_select(u < zero, -u, u);
    v4f t = one / (one + v4_splat(0.3275911f) * a);
    v4f p = v4_splat(1.061405429f);
    p = p * t + v4_splat(-1.453152027f);
    p = p * t + v4_splat(1.421413741f);
    p = p * t + v4_splat(-0.284496736f);
    p = p * t + v4_splat(0.254829592f);
    v4f e = one - p * t * v4_exp(-(a * a));
    e = v4_select(u < zero, -e, e);
    return v4_splat(0.5f) * x * (one + e);
}

static inline v4f v4_act(vm_act act, v4f v) {
    switch (act) {
        case VM_ACT_QUICK_GELU:
            return v4_quick_gelu(v);
        case VM_ACT_GELU_ERF:
            return v4_gelu_erf(v);
        default:
            return v4_gelu_tanh(v);
    }
}

void vm_activate(vm_act act, float *x, size_t n) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        v4_store(x + i, v4_act(act, v4_load(x + i)));
    for (; i < n; i++) {
        float b[4] = {x[i], 0, 0, 0};
        v4_store(b, v4_act(act, v4_load(b)));
        x[i] = b[0];
    }
}

/* Row maximum, four lanes at a time (a scalar loop here cost as much as the exp pass). */
static float row_max(const float *row, size_t n) {
    float mx = row[0];
    size_t j = 0;
    if (n >= 4) {
        v4f vm = v4_load(row);
        for (j = 4; j + 4 <= n; j += 4) {
            v4f v = v4_load(row + j);
            vm = v4_select(v > vm, v, vm);
        }
        float l[4];
        v4_store(l, vm);
        mx = l[0];
        for (int i = 1; i < 4; i++)
            mx = l[i] > mx ? l[i] : mx;
    }
    for (; j < n; j++)
        mx = row[j] > mx ? row[j] : mx;
    return mx;
}

/* Replaces row[0..n) by exp(row[j] - max), zeroes row[n..cols) and returns 1 / sum. */
static float softmax_row_exp(float *row, size_t n, size_t cols) {
    float mx = row_max(row, n);
    size_t j = 0;
    v4f vm = v4_splat(mx), acc = v4_splat(0.0f);
    for (; j + 4 <= n; j += 4) {
        v4f e = v4_exp(v4_load(row + j) - vm);
        v4_store(row + j, e);
        acc += e;
    }
    float tail[4];
    v4_store(tail, acc);
    double sum = (double)tail[0] + tail[1] + tail[2] + tail[3];
    for (; j < n; j++) {
        row[j] = exp1(row[j] - mx);
        sum += row[j];
    }
    for (j = n; j < cols; j++)
        row[j] = 0.0f;
    return (float)(1.0 / sum);
}

static size_t softmax_row_len(size_t r, size_t cols, int causal) {
    return causal && r + 1 < cols ? r + 1 : cols;
}

void vm_softmax_rows_unscaled(float *s, size_t rows, size_t cols, size_t ld, int causal,
                              float *inv_sum) {
    for (size_t r = 0; r < rows; r++)
        inv_sum[r] = softmax_row_exp(s + r * ld, softmax_row_len(r, cols, causal), cols);
}

void vm_softmax_rows(float *s, size_t rows, size_t cols, size_t ld, int causal) {
    for (size_t r = 0; r < rows; r++) {
        float *row = s + r * ld;
        size_t n = softmax_row_len(r, cols, causal), j = 0;
        float inv = softmax_row_exp(row, n, cols);
        v4f vi = v4_splat(inv);
        for (; j + 4 <= n; j += 4)
            v4_store(row + j, v4_load(row + j) * vi);
        for (; j < n; j++)
            row[j] *= inv;
    }
}

/* Sum of n floats in four float lanes, the lanes added in double. */
static double row_sum(const float *x, size_t n) {
    v4f acc = v4_splat(0.0f);
    size_t j = 0;
    for (; j + 4 <= n; j += 4)
        acc += v4_load(x + j);
    float l[4];
    v4_store(l, acc);
    double sum = (double)l[0] + l[1] + l[2] + l[3];
    for (; j < n; j++)
        sum += x[j];
    return sum;
}

/* Sum of (x[j] - m)^2 likewise. */
static double row_sq_dev(const float *x, size_t n, float m) {
    v4f acc = v4_splat(0.0f), vm = v4_splat(m);
    size_t j = 0;
    for (; j + 4 <= n; j += 4) {
        v4f d = v4_load(x + j) - vm;
        acc += d * d;
    }
    float l[4];
    v4_store(l, acc);
    double sum = (double)l[0] + l[1] + l[2] + l[3];
    for (; j < n; j++) {
        double d = (double)x[j] - m;
        sum += d * d;
    }
    return sum;
}

/* Two passes (mean, then squared deviations) for accuracy. The sums run in four float lanes: for
 * the widths of these towers (<= 4096) that stays far inside the 1e-4 tolerance against PyTorch,
 * and the vectorised passes keep layer norm small next to the GEMMs on 2 threads. y may be x. */
void vm_layernorm(const float *x, float *y, size_t rows, size_t dim, const float *w, const float *b,
                  float eps) {
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * dim;
        float *yr = y + r * dim;
        float m = (float)(row_sum(xr, dim) / (double)dim);
        double var = row_sq_dev(xr, dim, m) / (double)dim;
        float inv = (float)(1.0 / sqrt(var + eps));
        v4f vm = v4_splat(m), vi = v4_splat(inv);
        size_t j = 0;
        for (; j + 4 <= dim; j += 4)
            v4_store(yr + j, (v4_load(xr + j) - vm) * vi * v4_load(w + j) + v4_load(b + j));
        for (; j < dim; j++)
            yr[j] = (xr[j] - m) * inv * w[j] + b[j];
    }
}

void vm_add_bias(float *y, size_t rows, size_t cols, const float *b) {
    for (size_t r = 0; r < rows; r++) {
        float *yr = y + r * cols;
        size_t j = 0;
        for (; j + 4 <= cols; j += 4)
            v4_store(yr + j, v4_load(yr + j) + v4_load(b + j));
        for (; j < cols; j++)
            yr[j] += b[j];
    }
}
