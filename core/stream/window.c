/* The window's candidate store: tokens, normalised rows, embeddings, provenance, per-position
 * lists and the QCSP kernel matrix among the candidates (cosines, or exp((cos - 1) / sigma)). The
 * matrix is updated once per frame for the new candidates only (one SGEMM of new x used x d), so
 * that every emission's DPP reads kernel rows instead of recomputing products. Removal leaves a
 * hole and moves nothing: moving a slot would mean copying a matrix column, a strided walk over the
 * whole matrix. */
#include <cblas.h>
#include <limits.h>
#include <string.h>

#include "alloc.h"
#include "stream_internal.h"

sp_status sp_window_init(sp_window *w, size_t npos, size_t d, size_t e, sp_error *err) {
    memset(w, 0, sizeof *w);
    w->npos = npos;
    w->d = d;
    w->e = e;
    w->head = sp_alloc_array(npos, sizeof(int32_t));
    if (!w->head)
        return sp_error_set(err, SP_ERR_NOMEM, "stream window: out of memory for %zu positions",
                            npos);
    for (size_t i = 0; i < npos; i++)
        w->head[i] = -1;
    return SP_OK;
}

void sp_window_free(sp_window *w) {
    sp_free(w->raw);
    sp_free(w->xn);
    sp_free(w->emb);
    sp_free(w->gram);
    sp_free(w->c);
    sp_free(w->head);
    sp_free(w->free_slots);
    sp_free(w->fresh);
    sp_free(w->fresh_x);
    sp_free(w->prod);
    memset(w, 0, sizeof *w);
}

size_t sp_window_bytes(const sp_window *w) {
    size_t per = (2 * w->d + w->e) * sizeof(float) + sizeof(sp_cand) + 2 * sizeof(uint32_t);
    return w->cap * per + w->cap * w->cap * sizeof(float) + w->npos * sizeof(int32_t) +
           w->fresh_cap * (w->d + w->cap) * sizeof(float);
}

static sp_status grow_slots(sp_window *w, size_t need, sp_error *err) {
    size_t cap = w->cap ? w->cap : 64;
    while (cap < need)
        cap *= 2;
    size_t gbytes;
    /* Slots are int32 in the position lists and int in BLAS calls. */
    if (cap > INT32_MAX || !sp_mul3_size(cap, cap, sizeof(float), &gbytes))
        return sp_error_set(err, SP_ERR_OVERFLOW, "stream window: %zu candidates is too many",
                            need);
    float *raw = sp_alloc_array(cap, w->d * sizeof(float));
    float *xn = sp_alloc_array(cap, w->d * sizeof(float));
    float *emb = w->e ? sp_alloc_array(cap, w->e * sizeof(float)) : NULL;
    float *gram = sp_aligned_alloc(gbytes);
    sp_cand *c = sp_alloc_array(cap, sizeof(sp_cand));
    uint32_t *fs = sp_alloc_array(cap, sizeof(uint32_t));
    uint32_t *fr = sp_alloc_array(cap, sizeof(uint32_t));
    if (!raw || !xn || (w->e && !emb) || !gram || !c || !fs || !fr) {
        sp_free(raw);
        sp_free(xn);
        sp_free(emb);
        sp_free(gram);
        sp_free(c);
        sp_free(fs);
        sp_free(fr);
        return sp_error_set(err, SP_ERR_NOMEM,
                            "stream window: out of memory growing to %zu candidates (%zu bytes)",
                            cap, gbytes + cap * (2 * w->d + w->e) * sizeof(float));
    }
    if (w->hi) {
        memcpy(raw, w->raw, w->hi * w->d * sizeof(float));
        memcpy(xn, w->xn, w->hi * w->d * sizeof(float));
        if (w->e)
            memcpy(emb, w->emb, w->hi * w->e * sizeof(float));
        memcpy(c, w->c, w->hi * sizeof(sp_cand));
        for (size_t i = 0; i < w->hi; i++)
            memcpy(gram + i * cap, w->gram + i * w->cap, w->hi * sizeof(float));
    }
    if (w->nfree)
        memcpy(fs, w->free_slots, w->nfree * sizeof(uint32_t));
    if (w->nfresh)
        memcpy(fr, w->fresh, w->nfresh * sizeof(uint32_t));
    sp_free(w->raw);
    sp_free(w->xn);
    sp_free(w->emb);
    sp_free(w->gram);
    sp_free(w->c);
    sp_free(w->free_slots);
    sp_free(w->fresh);
    w->raw = raw;
    w->xn = xn;
    w->emb = emb;
    w->gram = gram;
    w->c = c;
    w->free_slots = fs;
    w->fresh = fr;
    w->cap = cap;
    /* The product scratch is sized by cap: make the next reserve re-check it. */
    sp_free(w->prod);
    w->prod = NULL;
    w->fresh_cap = 0;
    sp_free(w->fresh_x);
    w->fresh_x = NULL;
    return SP_OK;
}

sp_status sp_window_reserve(sp_window *w, size_t extra, sp_error *err) {
    size_t room = w->nfree + (w->cap - w->hi);
    if (extra > room) {
        sp_status st = grow_slots(w, w->hi + (extra - w->nfree), err);
        if (st)
            return st;
    }
    size_t rows = w->nfresh + extra;
    if (rows > w->fresh_cap) {
        size_t pbytes;
        if (!sp_mul3_size(rows, w->cap, sizeof(float), &pbytes))
            return sp_error_set(err, SP_ERR_OVERFLOW, "stream window: products too large");
        float *fx = sp_alloc_array(rows, w->d * sizeof(float));
        float *pr = sp_aligned_alloc(pbytes);
        if (!fx || !pr) {
            sp_free(fx);
            sp_free(pr);
            return sp_error_set(err, SP_ERR_NOMEM,
                                "stream window: out of memory for %zu x %zu products", rows,
                                w->cap);
        }
        sp_free(w->fresh_x);
        sp_free(w->prod);
        w->fresh_x = fx;
        w->prod = pr;
        w->fresh_cap = rows;
    }
    return SP_OK;
}

size_t sp_window_append(sp_window *w, const float *raw, const float *xn, const float *emb,
                        const sp_cand *meta) {
    size_t s = w->nfree ? w->free_slots[--w->nfree] : w->hi++;
    memcpy(w->raw + s * w->d, raw, w->d * sizeof(float));
    memcpy(w->xn + s * w->d, xn, w->d * sizeof(float));
    if (w->e)
        memcpy(w->emb + s * w->e, emb, w->e * sizeof(float));
    sp_cand *c = &w->c[s];
    *c = *meta;
    c->flags |= SP_CAND_ALIVE;
    c->prev = -1;
    c->next = w->head[c->pos];
    if (c->next >= 0)
        w->c[c->next].prev = (int32_t)s;
    w->head[c->pos] = (int32_t)s;
    w->fresh[w->nfresh++] = (uint32_t)s;
    w->n++;
    return s;
}

void sp_window_gram_update(sp_window *w, float sigma) {
    size_t m = w->nfresh, hi = w->hi, cap = w->cap, d = w->d;
    if (m == 0)
        return;
    for (size_t k = 0; k < m; k++)
        memcpy(w->fresh_x + k * d, w->xn + (size_t)w->fresh[k] * d, d * sizeof(float));
    /* Fresh rows against every used slot (holes included: their entries are never read). */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)hi, (int)d, 1.0f, w->fresh_x,
                (int)d, w->xn, (int)d, 0.0f, w->prod, (int)hi);
    if (sigma > 0.0f)
        for (size_t i = 0; i < m * hi; i++)
            w->prod[i] = sp_stream_kernel(w->prod[i], sigma);
    for (size_t k = 0; k < m; k++)
        memcpy(w->gram + (size_t)w->fresh[k] * cap, w->prod + k * hi, hi * sizeof(float));
    /* Columns: tiles of rows so that each tile's rows stay in cache while the fresh columns are
     * written into them (a transpose-scatter, no arithmetic). */
    enum { TILE = 32 };
    for (size_t i0 = 0; i0 < hi; i0 += TILE) {
        size_t i1 = i0 + TILE < hi ? i0 + TILE : hi;
        for (size_t k = 0; k < m; k++) {
            const float *src = w->prod + k * hi;
            size_t col = w->fresh[k];
            for (size_t i = i0; i < i1; i++)
                w->gram[i * cap + col] = src[i];
        }
    }
    w->nfresh = 0;
}

void sp_window_remove(sp_window *w, size_t s) {
    sp_cand *c = &w->c[s];
    if (c->prev >= 0)
        w->c[c->prev].next = c->next;
    else
        w->head[c->pos] = c->next;
    if (c->next >= 0)
        w->c[c->next].prev = c->prev;
    c->flags &= ~SP_CAND_ALIVE;
    c->prev = c->next = -1;
    w->free_slots[w->nfree++] = (uint32_t)s;
    w->n--;
}
