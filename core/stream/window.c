/* The window's candidate store: tokens, normalised rows, embeddings, provenance, per-position
 * lists and the cosine similarity matrix among the alive candidates. The matrix is updated once
 * per frame for the new candidates only (one SGEMM of new x alive x d), so that every emission's
 * DPP reads kernel rows instead of recomputing products. */
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
    memset(w, 0, sizeof *w);
}

size_t sp_window_bytes(const sp_window *w) {
    size_t per = (2 * w->d + w->e) * sizeof(float) + sizeof(sp_cand);
    return w->cap * per + w->cap * w->cap * sizeof(float) + w->npos * sizeof(int32_t);
}

sp_status sp_window_reserve(sp_window *w, size_t extra, sp_error *err) {
    if (w->n + extra <= w->cap)
        return SP_OK;
    size_t need = w->n + extra;
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
    if (!raw || !xn || (w->e && !emb) || !gram || !c) {
        sp_free(raw);
        sp_free(xn);
        sp_free(emb);
        sp_free(gram);
        sp_free(c);
        return sp_error_set(err, SP_ERR_NOMEM,
                            "stream window: out of memory growing to %zu candidates (%zu bytes)",
                            cap, gbytes + cap * (2 * w->d + w->e) * sizeof(float));
    }
    if (w->n) {
        memcpy(raw, w->raw, w->n * w->d * sizeof(float));
        memcpy(xn, w->xn, w->n * w->d * sizeof(float));
        if (w->e)
            memcpy(emb, w->emb, w->n * w->e * sizeof(float));
        memcpy(c, w->c, w->n * sizeof(sp_cand));
        for (size_t i = 0; i < w->n; i++)
            memcpy(gram + i * cap, w->gram + i * w->cap, w->n * sizeof(float));
    }
    sp_free(w->raw);
    sp_free(w->xn);
    sp_free(w->emb);
    sp_free(w->gram);
    sp_free(w->c);
    w->raw = raw;
    w->xn = xn;
    w->emb = emb;
    w->gram = gram;
    w->c = c;
    w->cap = cap;
    return SP_OK;
}

size_t sp_window_append(sp_window *w, const float *raw, const float *xn, const float *emb,
                        const sp_cand *meta) {
    size_t s = w->n++;
    memcpy(w->raw + s * w->d, raw, w->d * sizeof(float));
    memcpy(w->xn + s * w->d, xn, w->d * sizeof(float));
    if (w->e)
        memcpy(w->emb + s * w->e, emb, w->e * sizeof(float));
    sp_cand *c = &w->c[s];
    *c = *meta;
    c->prev = -1;
    c->next = w->head[c->pos];
    if (c->next >= 0)
        w->c[c->next].prev = (int32_t)s;
    w->head[c->pos] = (int32_t)s;
    return s;
}

void sp_window_gram_update(sp_window *w, size_t from) {
    size_t n = w->n, m = n - from, cap = w->cap;
    if (m == 0)
        return;
    /* Rows [from, n) against all alive rows, written straight into the matrix. */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, (int)w->d, 1.0f,
                w->xn + from * w->d, (int)w->d, w->xn, (int)w->d, 0.0f, w->gram + from * cap,
                (int)cap);
    /* Mirror into the columns of the older rows (a strided copy, no arithmetic). */
    for (size_t i = 0; i < from; i++) {
        float *row = w->gram + i * cap;
        for (size_t j = from; j < n; j++)
            row[j] = w->gram[j * cap + i];
    }
}

static void unlink_slot(sp_window *w, size_t s) {
    sp_cand *c = &w->c[s];
    if (c->prev >= 0)
        w->c[c->prev].next = c->next;
    else
        w->head[c->pos] = c->next;
    if (c->next >= 0)
        w->c[c->next].prev = c->prev;
}

void sp_window_remove(sp_window *w, size_t s, size_t *moved_from) {
    size_t last = w->n - 1, cap = w->cap;
    unlink_slot(w, s);
    *moved_from = SIZE_MAX;
    if (s != last) {
        memcpy(w->raw + s * w->d, w->raw + last * w->d, w->d * sizeof(float));
        memcpy(w->xn + s * w->d, w->xn + last * w->d, w->d * sizeof(float));
        if (w->e)
            memcpy(w->emb + s * w->e, w->emb + last * w->e, w->e * sizeof(float));
        w->c[s] = w->c[last];
        /* Row s takes row last, then column s takes column last; the diagonal entry travels
         * through g[s][last] = g[last][last]. */
        memcpy(w->gram + s * cap, w->gram + last * cap, w->n * sizeof(float));
        for (size_t j = 0; j < w->n; j++)
            w->gram[j * cap + s] = w->gram[j * cap + last];
        sp_cand *c = &w->c[s];
        if (c->prev >= 0)
            w->c[c->prev].next = (int32_t)s;
        else
            w->head[c->pos] = (int32_t)s;
        if (c->next >= 0)
            w->c[c->next].prev = (int32_t)s;
        *moved_from = last;
    }
    w->n--;
}
