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

void vm_activate(vm_act act, float *x, size_t n) {
    size_t i = 0;
    if (act == VM_ACT_GELU_ERF) {
        for (; i < n; i++)
            x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
        return;
    }
    for (; i + 4 <= n; i += 4) {
        v4f v = v4_load(x + i);
        v4_store(x + i, act == VM_ACT_QUICK_GELU ? v4_quick_gelu(v) : v4_gelu_tanh(v));
    }
    for (; i < n; i++) {
        float b[4] = {x[i], 0, 0, 0};
        v4f v = v4_load(b);
        v4_store(b, act == VM_ACT_QUICK_GELU ? v4_quick_gelu(v) : v4_gelu_tanh(v));
        x[i] = b[0];
    }
}

void vm_softmax_rows(float *s, size_t rows, size_t cols, size_t ld, int causal) {
    for (size_t r = 0; r < rows; r++) {
        float *row = s + r * ld;
        size_t n = causal && r + 1 < cols ? r + 1 : cols;
        float mx = row[0];
        for (size_t j = 1; j < n; j++)
            mx = row[j] > mx ? row[j] : mx;
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
        float inv = (float)(1.0 / sum);
        v4f vi = v4_splat(inv);
        for (j = 0; j + 4 <= n; j += 4)
            v4_store(row + j, v4_load(row + j) * vi);
        for (; j < n; j++)
            row[j] *= inv;
        for (j = n; j < cols; j++)
            row[j] = 0.0f;
    }
}

void vm_layernorm(const float *x, float *y, size_t rows, size_t dim, const float *w, const float *b,
                  float eps) {
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * dim;
        float *yr = y + r * dim;
        double sum = 0;
        for (size_t j = 0; j < dim; j++)
            sum += xr[j];
        double mean = sum / (double)dim, var = 0;
        for (size_t j = 0; j < dim; j++) {
            double d = xr[j] - mean;
            var += d * d;
        }
        float inv = (float)(1.0 / sqrt(var / (double)dim + eps)), m = (float)mean;
        for (size_t j = 0; j < dim; j++)
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
