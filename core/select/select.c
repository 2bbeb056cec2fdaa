/* The method table and the one entry point, sp_select: validation, the k >= N rule, dispatch and
 * the output copy. */
#include <cblas.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "scriptprune/params.h"
#include "../stream/params_internal.h"
#include "methods.h"
#include "workspace.h"

static const sp_method_info method_table[SP_METHOD_COUNT] = {
    {SP_METHOD_SCRIPT, "script",
     "GSP keeps max(k, rho*N) candidates, then the query DPP picks k of them (default)", false,
     true},
    {SP_METHOD_SCRIPT_AUTHORS, "script-authors",
     "the published code's output: full graph, negated relevance, equals its DPP picks", false,
     true},
    {SP_METHOD_GSP, "gsp", "graph-structured pruning alone: drop visually redundant tokens to k",
     false, false},
    {SP_METHOD_QCSP, "qcsp", "query-conditioned DPP alone: k relevant and diverse tokens", false,
     true},
    {SP_METHOD_RANDOM, "random", "k tokens uniformly at random (seeded)", false, false},
    {SP_METHOD_POOL, "pool", "uniform grid pooling into k cells (averaged tokens)", true, false},
    {SP_METHOD_DIVPRUNE, "divprune", "greedy max-min cosine diversity (DivPrune)", false, false},
    {SP_METHOD_TOME, "tome", "bipartite soft matching, size-weighted merging (ToMe)", true, false},
};

const sp_method_info *sp_method_table(void) {
    return method_table;
}

const sp_method_info *sp_method_info_of(sp_method m) {
    return (unsigned)m < SP_METHOD_COUNT ? &method_table[m] : NULL;
}

sp_status sp_method_from_name(const char *name, sp_method *out, sp_error *err) {
    for (int i = 0; i < SP_METHOD_COUNT; i++)
        if (name && strcmp(name, method_table[i].name) == 0) {
            *out = method_table[i].id;
            return SP_OK;
        }
    char list[256] = "";
    size_t len = 0;
    for (int i = 0; i < SP_METHOD_COUNT && len < sizeof list; i++) {
        int w =
            snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", method_table[i].name);
        if (w < 0)
            break;
        len += (size_t)w;
    }
    return sp_error_set(err, SP_ERR_INVALID, "unknown method '%s' (expected one of: %s)",
                        name ? name : "(null)", list);
}

void sp_params_init(sp_params *p) {
    memset(p, 0, sizeof *p);
    size_t n;
    const sp_param_info *t = sp_param_table(&n);
    for (size_t i = 0; i < n; i++)
        if (t[i].scope & SP_PARAM_IN_SELECT)
            sp_params_set(p, t[i].id, t[i].def, NULL); /* in range: tests/select checks */
}

sp_status sp_params_validate(const sp_params *p, sp_error *err) {
    size_t n;
    const sp_param_info *t = sp_param_table(&n);
    for (size_t i = 0; i < n; i++) {
        if (!(t[i].scope & SP_PARAM_IN_SELECT))
            continue;
        char label[96];
        sp_status st = sp_param_check(&t[i], sp_params_get(p, t[i].id),
                                      sp_select_param_label(t[i].id, label, sizeof label), err);
        if (st)
            return st;
    }
    return SP_OK;
}

void sp_selection_init(sp_selection *s) {
    memset(s, 0, sizeof *s);
}

void sp_selection_free(sp_selection *s) {
    if (!s)
        return;
    sp_free(s->index);
    sp_free(s->tokens);
    sp_selection_init(s);
}

static sp_status selection_reserve(sp_selection *s, size_t count, size_t d, sp_error *err) {
    size_t floats;
    if (!sp_mul_size(count, d, &floats))
        return sp_error_set(err, SP_ERR_OVERFLOW, "selection of %zu x %zu tokens overflows", count,
                            d);
    if (count > s->capacity) {
        uint32_t *idx = sp_alloc_array(count, sizeof(uint32_t));
        if (!idx)
            return sp_err_nomem(err, "selection indices", count * sizeof(uint32_t));
        sp_free(s->index);
        s->index = idx;
        s->capacity = count;
    }
    if (floats > s->tokens_cap) {
        float *t = sp_alloc_array(floats, sizeof(float));
        if (!t)
            return sp_err_nomem(err, "selection tokens", floats * sizeof(float));
        sp_free(s->tokens);
        s->tokens = t;
        s->tokens_cap = floats;
    }
    return SP_OK;
}

void sp_blas_set_threads(int threads) {
    openblas_set_num_threads(threads > 0 ? threads : 1);
}

sp_status sp_select(sp_workspace *ws, const sp_frame *f, const sp_query *q, const sp_params *p,
                    sp_selection *out, sp_error *err) {
    if (!ws || !f || !p || !out)
        return sp_error_set(err, SP_ERR_INVALID, "sp_select: NULL argument");
    out->count = 0;
    sp_status st = sp_params_validate(p, err);
    if (!st)
        st = sp_frame_validate_shape(f, err);
    /* Methods that compute token norms check finiteness in the same pass (sp_rows_prepare); the
     * others scan here. Embeddings and query are always scanned: they are small. */
    bool scans_tokens = p->method == SP_METHOD_RANDOM || p->method == SP_METHOD_POOL ||
                        p->method == SP_METHOD_TOME || p->budget >= f->n;
    if (!st && scans_tokens)
        st = sp_check_finite(f->tokens, 0, f->n, f->d, "token", err);
    if (!st && f->embed)
        st = sp_check_finite(f->embed, 0, f->n, f->e, "embedding", err);
    size_t width;
    sp_frame_relevance_rows(f, &width);
    if (!st)
        st = sp_query_validate(q, width, err);
    if (st)
        return st;
    if (f->n > UINT32_MAX)
        return sp_error_set(err, SP_ERR_INVALID, "frame of %zu tokens exceeds %u", f->n,
                            UINT32_MAX);
    size_t k = p->budget < f->n ? p->budget : f->n;
    st = selection_reserve(out, k, f->d, err);
    if (st)
        return st;
    out->d = f->d;
    const sp_method_info *info = sp_method_info_of(p->method);
    bool merged = false;
    if (k == f->n) {
        /* Budget covers the frame: every method returns it whole. */
        for (size_t i = 0; i < k; i++)
            out->index[i] = (uint32_t)i;
    } else {
        sp_params local = *p;
        local.budget = k;
        switch (p->method) {
            case SP_METHOD_SCRIPT:
            case SP_METHOD_GSP:
            case SP_METHOD_QCSP:
                st = sp_method_script(ws, f, q, &local, out->index, err);
                break;
            case SP_METHOD_SCRIPT_AUTHORS:
                st = sp_method_authors(ws, f, q, &local, out->index, err);
                break;
            case SP_METHOD_RANDOM:
                st = sp_method_random(ws, f, &local, out->index, err);
                break;
            case SP_METHOD_POOL:
                st = sp_method_pool(ws, f, &local, out->index, out->tokens, err);
                merged = true;
                break;
            case SP_METHOD_DIVPRUNE:
                st = sp_method_divprune(ws, f, &local, out->index, err);
                break;
            case SP_METHOD_TOME:
                st = sp_method_tome(ws, f, &local, out->index, out->tokens, err);
                merged = true;
                break;
            default:
                st = sp_error_set(err, SP_ERR_INVALID, "method %d has no implementation",
                                  (int)p->method);
        }
        if (st)
            return sp_error_prefix(err, "%s", info ? info->name : "select");
    }
    if (!merged)
        for (size_t i = 0; i < k; i++)
            memcpy(out->tokens + i * f->d, f->tokens + (size_t)out->index[i] * f->d,
                   f->d * sizeof(float));
    out->count = k;
    return SP_OK;
}
