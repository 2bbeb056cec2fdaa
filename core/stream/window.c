/* The window's candidate store: tokens, normalised rows, embeddings, provenance, per-position
 * lists and, in window policy, the QCSP kernel matrix among the candidates (cosines, or
 * exp((cos - 1) / sigma)). The matrix is brought up to date only when an emission needs it: the
 * candidates added since the previous emission get their rows and columns in one SGEMM
 * (pending x used x d), so the window's vectors are read once per emission, not once per frame.
 * Removal leaves a hole and moves nothing: moving a slot would mean copying a matrix column, a
 * strided walk over the whole matrix. */
#include <cblas.h>
#include <limits.h>
#include <string.h>

#include "alloc.h"
#include "window.h"

sp_status sp_window_init(sp_window *w, size_t npos, size_t d, size_t e, bool kernel,
                         sp_error *err) {
    memset(w, 0, sizeof *w);
    w->npos = npos;
    w->d = d;
    w->e = e;
    w->kernel = kernel;
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
    sp_free(w->pending);
    sp_free(w->pend_x);
    sp_free(w->prod);
    memset(w, 0, sizeof *w);
}

size_t sp_window_bytes(const sp_window *w) {
    size_t per = (2 * w->d + w->e) * sizeof(float) + sizeof(sp_cand) + sizeof(uint32_t);
    return w->cap * per + (w->kernel ? w->cap * w->cap * sizeof(float) : 0) +
           w->npos * sizeof(int32_t) + w->pending_cap * sizeof(uint32_t) +
           w->scratch_rows * w->d * sizeof(float) + w->prod_floats * sizeof(float);
}

static sp_status grow_slots(sp_window *w, size_t need, sp_error *err) {
    size_t cap = w->cap ? w->cap : 64;
    while (cap < need)
        cap *= 2;
    size_t gbytes = 0;
    /* Slots are int32 in the position lists and int in BLAS calls. */
    if (cap > INT32_MAX / 2 || !sp_mul3_size(cap, cap, sizeof(float), &gbytes))
        return sp_error_set(err, SP_ERR_OVERFLOW, "stream window: %zu candidates is too many",
                            need);
    float *raw = sp_alloc_array(cap, w->d * sizeof(float));
    float *xn = sp_alloc_array(cap, w->d * sizeof(float));
    float *emb = w->e ? sp_alloc_array(cap, w->e * sizeof(float)) : NULL;
    float *gram = w->kernel ? sp_aligned_alloc(gbytes) : NULL;
    sp_cand *c = sp_alloc_array(cap, sizeof(sp_cand));
    uint32_t *fs = sp_alloc_array(cap, sizeof(uint32_t));
    if (!raw || !xn || (w->e && !emb) || (w->kernel && !gram) || !c || !fs) {
        sp_free(raw);
        sp_free(xn);
        sp_free(emb);
        sp_free(gram);
        sp_free(c);
        sp_free(fs);
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
        if (w->kernel)
            for (size_t i = 0; i < w->hi; i++)
                memcpy(gram + i * cap, w->gram + i * w->cap, w->hi * sizeof(float));
    }
    if (w->nfree)
        memcpy(fs, w->free_slots, w->nfree * sizeof(uint32_t));
    sp_free(w->raw);
    sp_free(w->xn);
    sp_free(w->emb);
    sp_free(w->gram);
    sp_free(w->c);
    sp_free(w->free_slots);
    w->raw = raw;
    w->xn = xn;
    w->emb = emb;
    w->gram = gram;
    w->c = c;
    w->free_slots = fs;
    w->cap = cap;
    return SP_OK;
}

sp_status sp_window_reserve(sp_window *w, size_t extra, sp_error *err) {
    size_t room = w->nfree + (w->cap - w->hi);
    if (extra > room) {
        sp_status st = grow_slots(w, w->hi + (extra - w->nfree), err);
        if (st)
            return st;
    }
    if (w->kernel && w->npending + extra > w->pending_cap) {
        size_t cap = w->pending_cap ? w->pending_cap : 256;
        while (cap < w->npending + extra)
            cap *= 2;
        uint32_t *p = sp_realloc(w->pending, cap * sizeof(uint32_t));
        if (!p)
            return sp_error_set(err, SP_ERR_NOMEM, "stream window: out of memory for %zu rows",
                                cap);
        w->pending = p;
        w->pending_cap = cap;
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
    if (w->kernel) {
        c->flags |= SP_CAND_PENDING;
        w->pending[w->npending++] = (uint32_t)s;
    }
    w->n++;
    return s;
}

sp_status sp_window_kernel_update(sp_window *w, float sigma, sp_error *err) {
    size_t hi = w->hi, cap = w->cap, d = w->d, m = 0;
    /* The alive slots still pending, each once (a slot can be listed twice after reuse). */
    for (size_t k = 0; k < w->npending; k++) {
        uint32_t s = w->pending[k];
        sp_cand *c = &w->c[s];
        if ((c->flags & SP_CAND_ALIVE) && (c->flags & SP_CAND_PENDING)) {
            c->flags &= ~SP_CAND_PENDING;
            w->pending[m++] = s;
        }
    }
    w->npending = 0;
    if (m == 0)
        return SP_OK;
    size_t pfl;
    if (!sp_mul_size(m, hi, &pfl))
        return sp_error_set(err, SP_ERR_OVERFLOW, "stream window: products too large");
    if (m > w->scratch_rows || pfl > w->prod_floats) {
        size_t rows = m > w->scratch_rows ? m : w->scratch_rows;
        size_t fl = pfl > w->prod_floats ? pfl : w->prod_floats;
        float *px = sp_alloc_array(rows, d * sizeof(float));
        float *pr = sp_alloc_array(fl, sizeof(float));
        if (!px || !pr) {
            sp_free(px);
            sp_free(pr);
            /* Keep them pending for the next attempt. */
            for (size_t k = 0; k < m; k++)
                w->c[w->pending[k]].flags |= SP_CAND_PENDING;
            w->npending = m;
            return sp_error_set(err, SP_ERR_NOMEM,
                                "stream window: out of memory for %zu x %zu kernel rows", m, hi);
        }
        sp_free(w->pend_x);
        sp_free(w->prod);
        w->pend_x = px;
        w->prod = pr;
        w->scratch_rows = rows;
        w->prod_floats = fl;
    }
    for (size_t k = 0; k < m; k++)
        memcpy(w->pend_x + k * d, w->xn + (size_t)w->pending[k] * d, d * sizeof(float));
    /* Pending rows against every used slot (holes included: their entries are never read). */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)hi, (int)d, 1.0f, w->pend_x,
                (int)d, w->xn, (int)d, 0.0f, w->prod, (int)hi);
    if (sigma > 0.0f)
        for (size_t i = 0; i < m * hi; i++)
            w->prod[i] = sp_stream_kernel(w->prod[i], sigma);
    for (size_t k = 0; k < m; k++)
        memcpy(w->gram + (size_t)w->pending[k] * cap, w->prod + k * hi, hi * sizeof(float));
    /* Columns: tiles of rows so that each tile's rows stay in cache while the pending columns
     * are written into them (a transpose-scatter, no arithmetic). */
    enum { TILE = 32 };
    for (size_t i0 = 0; i0 < hi; i0 += TILE) {
        size_t i1 = i0 + TILE < hi ? i0 + TILE : hi;
        for (size_t k = 0; k < m; k++) {
            const float *src = w->prod + k * hi;
            size_t col = w->pending[k];
            for (size_t i = i0; i < i1; i++)
                w->gram[i * cap + col] = src[i];
        }
    }
    return SP_OK;
}

void sp_window_remove(sp_window *w, size_t s) {
    sp_cand *c = &w->c[s];
    if (c->prev >= 0)
        w->c[c->prev].next = c->next;
    else
        w->head[c->pos] = c->next;
    if (c->next >= 0)
        w->c[c->next].prev = c->prev;
    c->flags &= ~(SP_CAND_ALIVE | SP_CAND_PENDING);
    c->prev = c->next = -1;
    w->free_slots[w->nfree++] = (uint32_t)s;
    w->n--;
}
