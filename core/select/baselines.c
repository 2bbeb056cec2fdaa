/* Baselines compared against Script (docs/algorithm.md): random, uniform grid pooling and
 * DivPrune's greedy max-min diversity. */
#include <math.h>
#include <string.h>

#include "choose.h"
#include "methods.h"
#include "similarity.h"
#include "workspace.h"
#include "rng.h"

sp_status sp_method_random(sp_workspace *ws, const sp_frame *f, const sp_params *p, uint32_t *idx,
                           sp_error *err) {
    size_t n = f->n, k = p->budget;
    uint32_t *a = sp_ws_array(ws, SP_WS_BASE_A, n, sizeof(uint32_t));
    if (!a)
        return sp_err_nomem(err, "random permutation", n * sizeof(uint32_t));
    for (size_t i = 0; i < n; i++)
        a[i] = (uint32_t)i;
    sp_rng rng;
    sp_rng_seed(&rng, p->seed);
    for (size_t i = 0; i < k; i++) {
        size_t j = i + (size_t)sp_rng_below(&rng, n - i);
        uint32_t t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
    memcpy(idx, a, k * sizeof(uint32_t));
    sp_sort_u32(idx, k);
    return SP_OK;
}

sp_status sp_method_pool(sp_workspace *ws, const sp_frame *f, const sp_params *p, uint32_t *idx,
                         float *out, sp_error *err) {
    size_t h = f->grid_h, w = f->grid_w, k = p->budget, d = f->d;
    double *acc = sp_ws_array(ws, SP_WS_BASE_A, d, sizeof(double));
    if (!acc)
        return sp_err_nomem(err, "pool accumulator", d * sizeof(double));
    /* Bands of rows, each cut into columns, so that exactly k cells exist for any k <= h * w. */
    size_t hb = (size_t)floor(sqrt((double)k * (double)h / (double)w) + 0.5);
    if (hb < 1)
        hb = 1;
    size_t cap = h < k ? h : k;
    if (hb > cap)
        hb = cap;
    size_t min_bands = (k + w - 1) / w;
    if (hb < min_bands)
        hb = min_bands;
    size_t cell = 0;
    for (size_t i = 0; i < hb; i++) {
        size_t r0 = i * h / hb, r1 = (i + 1) * h / hb;
        size_t ci = k / hb + (i < k % hb ? 1 : 0);
        for (size_t j = 0; j < ci; j++, cell++) {
            size_t c0 = j * w / ci, c1 = (j + 1) * w / ci;
            /* Accumulate in double, row by row of the cell, so the mean is accurate to float. */
            memset(acc, 0, d * sizeof(double));
            for (size_t y = r0; y < r1; y++)
                for (size_t x = c0; x < c1; x++) {
                    const float *tok = f->tokens + (y * w + x) * d;
                    for (size_t t = 0; t < d; t++)
                        acc[t] += tok[t];
                }
            double inv = 1.0 / (double)((r1 - r0) * (c1 - c0));
            float *o = out + cell * d;
            for (size_t t = 0; t < d; t++)
                o[t] = (float)(acc[t] * inv);
            idx[cell] = (uint32_t)(((r0 + r1 - 1) / 2) * w + (c0 + c1 - 1) / 2);
        }
    }
    return SP_OK;
}

sp_status sp_method_divprune(sp_workspace *ws, const sp_frame *f, const sp_params *p, uint32_t *idx,
                             sp_error *err) {
    size_t n = f->n, k = p->budget;
    double *md = sp_ws_array(ws, SP_WS_BASE_A, n, sizeof(double));
    uint8_t *sel = sp_ws_get(ws, SP_WS_BASE_B, n);
    if (!md || !sel)
        return sp_err_nomem(err, "divprune scratch", n * f->d * sizeof(float));
    sp_sim s = {0};
    sp_status st = sp_sim_frame(ws, f, &s, err);
    if (st)
        return st;
    /* First pick: the token whose nearest other token is farthest away. */
    for (size_t i = 0; i < n; i++) {
        double m = INFINITY;
        const float *g = s.g + i * n;
        for (size_t j = 0; j < n; j++)
            if (j != i)
                m = fmin(m, 1.0 - (double)g[j]);
        md[i] = m;
    }
    memset(sel, 0, n);
    size_t j = sp_choose(md, sel, n);
    for (size_t t = 0; t < k; t++) {
        sel[j] = 1;
        idx[t] = (uint32_t)j;
        if (t + 1 == k)
            break;
        /* Distance to the selected set, updated with the newest pick only. */
        const float *g = s.g + j * n;
        for (size_t i = 0; i < n; i++) {
            double dist = 1.0 - (double)g[i];
            md[i] = t == 0 ? dist : fmin(md[i], dist);
        }
        j = sp_choose(md, sel, n);
    }
    sp_sort_u32(idx, k);
    return SP_OK;
}
