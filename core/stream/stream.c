/* sp_stream: push frames, get packets (docs/streams.md). One push runs, in order: validation (no
 * state changes before it passes), the temporal graph, scene-cut detection, GSP on the frame,
 * the credit of matched candidates, eviction of candidates last seen `window` frames ago into
 * the history, the anchors' update, insertion of the new candidates with their similarity rows,
 * and the emission of the policy. Everything that can fail for lack of memory before the state
 * changes is done first, so a failed push leaves the stream as it was, except for the emission
 * itself (reported as an error, the frame stays accepted). */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../select/dpp.h"
#include "../select/relevance.h"
#include "alloc.h"
#include "scriptprune/params.h"
#include "params_internal.h"
#include "scriptprune/qcsp.h"
#include "motion.h"
#include "stream_internal.h"

void sp_stream_params_init(sp_stream_params *p) {
    memset(p, 0, sizeof *p);
    size_t n;
    const sp_param_info *t = sp_param_table(&n);
    for (size_t i = 0; i < n; i++)
        if (t[i].scope & SP_PARAM_IN_STREAM)
            sp_stream_params_set(p, t[i].id, t[i].def, NULL); /* in range: tests/stream checks */
    p->history_dtype = SP_DTYPE_F16;
    p->name = "";
}

sp_status sp_stream_params_validate(const sp_stream_params *p, sp_error *err) {
    if (!p)
        return sp_error_set(err, SP_ERR_INVALID, "stream parameters: NULL");
    size_t n;
    const sp_param_info *t = sp_param_table(&n);
    for (size_t i = 0; i < n; i++) {
        if (!(t[i].scope & SP_PARAM_IN_STREAM))
            continue;
        char label[96];
        sp_status st = sp_param_check(&t[i], sp_stream_params_get(p, t[i].id),
                                      sp_stream_param_label(t[i].id, label, sizeof label), err);
        if (st)
            return st;
    }
    if (p->hop > p->window)
        return sp_error_set(err, SP_ERR_INVALID, "hop %u is outside [1, window = %u] frames",
                            p->hop, p->window);
    if (p->history_dtype != SP_DTYPE_F16 && p->history_dtype != SP_DTYPE_F32)
        return sp_error_set(err, SP_ERR_UNSUPPORTED, "history_dtype %s: only F16 and F32",
                            sp_dtype_name(p->history_dtype));
    if (p->name && strlen(p->name) > SP_WIRE_NAME_MAX)
        return sp_error_set(err, SP_ERR_INVALID, "stream name is %zu bytes, at most %d",
                            strlen(p->name), SP_WIRE_NAME_MAX);
    return SP_OK;
}

static const char *const policy_names[] = {"frame", "window"};

const char *sp_emit_policy_name(sp_emit_policy p) {
    return (unsigned)p < 2 ? policy_names[p] : "unknown";
}

sp_status sp_emit_policy_from_name(const char *name, sp_emit_policy *out, sp_error *err) {
    for (int i = 0; i < 2; i++)
        if (name && strcmp(name, policy_names[i]) == 0) {
            *out = (sp_emit_policy)i;
            return SP_OK;
        }
    return sp_error_set(err, SP_ERR_INVALID, "unknown emission policy '%s' (frame, window)",
                        name ? name : "(null)");
}

sp_status sp_stream_new(const sp_stream_params *p, sp_stream **out, sp_error *err) {
    *out = NULL;
    sp_status st = sp_stream_params_validate(p, err);
    if (st)
        return st;
    sp_stream *s = sp_calloc(1, sizeof *s);
    if (!s)
        return sp_error_set(err, SP_ERR_NOMEM, "stream: out of memory");
    s->p = *p;
    snprintf(s->name, sizeof s->name, "%s", p->name ? p->name : "");
    s->p.name = s->name;
    s->ws = sp_workspace_new();
    s->pts_ring = sp_alloc_array(p->window, sizeof(int64_t));
    if (!s->ws || !s->pts_ring) {
        sp_workspace_free(s->ws);
        sp_free(s->pts_ring);
        sp_free(s);
        return sp_error_set(err, SP_ERR_NOMEM, "stream: out of memory");
    }
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        sp_workspace_free(s->ws);
        sp_free(s->pts_ring);
        sp_free(s);
        return sp_error_set(err, SP_ERR_STATE, "stream: cannot create a mutex");
    }
    if (pthread_mutex_init(&s->qlock, NULL) != 0) {
        pthread_mutex_destroy(&s->lock);
        sp_workspace_free(s->ws);
        sp_free(s->pts_ring);
        sp_free(s);
        return sp_error_set(err, SP_ERR_STATE, "stream: cannot create a mutex");
    }
    sp_packet_buf_init(&s->out);
    s->last_pts = SP_PTS_NONE;
    s->st.history_bound = p->history_bytes;
    *out = s;
    return SP_OK;
}

static void free_shape(sp_stream *s) {
    sp_free(s->anc);
    sp_free(s->anc_slot);
    sp_free(s->anc_kind);
    sp_free(s->anc_off);
    sp_free(s->match_off);
    sp_free(s->motion);
    sp_free(s->sp_a);
    sp_free(s->sp_b);
    sp_free(s->sp_prod);
    sp_free(s->fk);
    sp_free(s->fk_x);
    sp_free(s->fxn);
    sp_free(s->ftmp);
    sp_free(s->fsim);
    sp_free(s->match);
    sp_free(s->is_new);
    sp_free(s->pad);
    sp_free(s->kept);
    sp_free(s->gsp_idx);
    sp_free(s->new_slots);
    sp_free(s->rep_pos);
    sp_free(s->pos_of);
    sp_free(s->gather);
    sp_free(s->rel);
    sp_free(s->map);
    sp_free(s->picks);
    sp_window_free(&s->win);
    sp_history_free(&s->hist);
}

void sp_stream_free(sp_stream *s) {
    if (!s)
        return;
    free_shape(s);
    sp_free(s->q_rows);
    sp_free(s->use_rows);
    sp_free(s->pts_ring);
    sp_workspace_free(s->ws);
    sp_packet_buf_free(&s->out);
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->qlock);
    sp_free(s);
}

/* ---- query ----------------------------------------------------------------------------------- */

sp_status sp_stream_set_query(sp_stream *s, const sp_query *q, sp_error *err) {
    if (!s || !q)
        return sp_error_set(err, SP_ERR_INVALID, "sp_stream_set_query: NULL argument");
    if (q->m == 0) {
        sp_stream_clear_query(s);
        return SP_OK;
    }
    if (!q->rows || q->e == 0)
        return sp_error_set(err, SP_ERR_INVALID, "query: %zu rows of width %zu without data", q->m,
                            q->e);
    size_t count;
    if (!sp_mul_size(q->m, q->e, &count) || count > SIZE_MAX / sizeof(float))
        return sp_error_set(err, SP_ERR_OVERFLOW, "query of %zu x %zu is too large", q->m, q->e);
    sp_status st = sp_check_finite(q->rows, 0, q->m, q->e, "query", err);
    if (st)
        return st;
    pthread_mutex_lock(&s->qlock);
    size_t fixed = s->started ? s->rel_width : 0;
    if (fixed && q->e != fixed) {
        pthread_mutex_unlock(&s->qlock);
        return sp_error_set(err, SP_ERR_INVALID,
                            "query rows have width %zu but the stream's %s have width %zu", q->e,
                            s->e ? "embeddings" : "tokens", fixed);
    }
    if (count > s->q_cap) {
        float *rows = sp_alloc_array(count, sizeof(float));
        if (!rows) {
            pthread_mutex_unlock(&s->qlock);
            return sp_error_set(err, SP_ERR_NOMEM, "query: out of memory for %zu values", count);
        }
        sp_free(s->q_rows);
        s->q_rows = rows;
        s->q_cap = count;
    }
    memcpy(s->q_rows, q->rows, count * sizeof(float));
    s->q_m = q->m;
    s->q_e = q->e;
    s->qgen++;
    pthread_mutex_unlock(&s->qlock);
    return SP_OK;
}

void sp_stream_clear_query(sp_stream *s) {
    if (!s)
        return;
    pthread_mutex_lock(&s->qlock);
    s->q_m = 0;
    s->q_e = 0;
    s->qgen++;
    pthread_mutex_unlock(&s->qlock);
}

/* The pushing thread's copy of the query, refreshed when it changed. */
static sp_status sync_query(sp_stream *s, size_t width, sp_error *err) {
    sp_status st = SP_OK;
    pthread_mutex_lock(&s->qlock);
    if (s->qgen != s->use_gen) {
        size_t count = s->q_m * s->q_e;
        if (count > s->use_cap) {
            float *rows = sp_alloc_array(count, sizeof(float));
            if (!rows) {
                st = sp_error_set(err, SP_ERR_NOMEM, "query: out of memory for %zu values", count);
                goto out;
            }
            sp_free(s->use_rows);
            s->use_rows = rows;
            s->use_cap = count;
        }
        if (count)
            memcpy(s->use_rows, s->q_rows, count * sizeof(float));
        s->use_m = s->q_m;
        s->use_e = s->q_e;
        s->use_gen = s->qgen;
        sp_query q = {.rows = s->use_rows, .m = s->use_m, .e = s->use_e};
        s->use_hash = sp_query_hash(&q);
        s->st.query_generation = s->qgen;
    }
    if (s->use_m && s->use_e != width)
        st = sp_error_set(err, SP_ERR_INVALID,
                          "the query set before the first frame has width %zu but the frames' "
                          "%s have width %zu; set a matching query",
                          s->use_e, s->e ? "embeddings" : "tokens", width);
out:
    pthread_mutex_unlock(&s->qlock);
    return st;
}

/* ---- validation and set-up ---------------------------------------------------------------------
 */

/* True when all n values are finite: a float's exponent field is all ones only for infinities
 * and NaN. An integer scan that compilers vectorise, several times faster than testing each
 * value with isfinite; sp_check_finite then names the first bad value. */
static bool all_finite(const float *x, size_t n) {
    uint32_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t b;
        memcpy(&b, &x[i], sizeof b);
        bad |= (b & 0x7f800000u) == 0x7f800000u;
    }
    return bad == 0;
}

static sp_status validate_frame(const sp_stream *s, const sp_frame *f, sp_error *err) {
    if (!f)
        return sp_error_set(err, SP_ERR_INVALID, "stream: NULL frame");
    sp_status st = sp_frame_validate_shape(f, err);
    if (st)
        return sp_error_prefix(err, "frame %llu", (unsigned long long)s->frames);
    if (f->grid_h > SP_WIRE_MAX_GRID || f->grid_w > SP_WIRE_MAX_GRID)
        return sp_error_set(err, SP_ERR_UNSUPPORTED, "frame %llu: grid %ux%u has a side above %d",
                            (unsigned long long)s->frames, f->grid_h, f->grid_w, SP_WIRE_MAX_GRID);
    if (f->d > SP_WIRE_MAX_D)
        return sp_error_set(err, SP_ERR_UNSUPPORTED, "frame %llu: token width %zu is above %d",
                            (unsigned long long)s->frames, f->d, SP_WIRE_MAX_D);
    if (s->started) {
        size_t e = f->embed ? f->e : 0;
        if (f->n != s->n || f->d != s->d || e != s->e || f->grid_h != s->gh || f->grid_w != s->gw)
            return sp_error_set(
                err, SP_ERR_INVALID,
                "frame %llu: shape %zu x %zu (grid %ux%u, embeddings %zu) differs from the "
                "stream's %zu x %zu (grid %ux%u, embeddings %zu)",
                (unsigned long long)s->frames, f->n, f->d, f->grid_h, f->grid_w, e, s->n, s->d,
                s->gh, s->gw, s->e);
    }
    if (f->pts == SP_PTS_NONE)
        return sp_error_set(err, SP_ERR_INVALID, "frame %llu: no pts (streams need timestamps)",
                            (unsigned long long)s->frames);
    if (s->frames && f->pts < s->last_pts)
        return sp_error_set(
            err, SP_ERR_INVALID, "frame %llu: pts %lld goes backwards (previous frame: %lld)",
            (unsigned long long)s->frames, (long long)f->pts, (long long)s->last_pts);
    if (!all_finite(f->tokens, f->n * f->d))
        st = sp_check_finite(f->tokens, 0, f->n, f->d, "token", err);
    if (!st && f->embed && !all_finite(f->embed, f->n * f->e))
        st = sp_check_finite(f->embed, 0, f->n, f->e, "embedding", err);
    if (st)
        return sp_error_prefix(err, "frame %llu", (unsigned long long)s->frames);
    return SP_OK;
}

static sp_status setup_shape(sp_stream *s, const sp_frame *f, sp_error *err) {
    size_t n = f->n, d = f->d, e = f->embed ? f->e : 0;
    size_t nd;
    if (!sp_mul3_size(n, d, sizeof(float), &nd))
        return sp_error_set(err, SP_ERR_OVERFLOW, "stream: frame of %zu x %zu is too large", n, d);
    s->anc = sp_aligned_alloc(nd);
    s->anc_slot = sp_alloc_array(n, sizeof(int32_t));
    s->anc_kind = sp_calloc(n, 1);
    s->anc_off = sp_calloc(2 * n, sizeof(float));
    s->match_off = sp_calloc(2 * n, sizeof(float));
    size_t motion = sp_motion_scratch_floats(f->grid_h, f->grid_w, d, SP_TEMPORAL_MAX_SHIFT);
    s->motion = motion ? sp_alloc_array(motion, sizeof(float)) : NULL;
    s->fxn = sp_aligned_alloc(nd);
    s->ftmp = sp_aligned_alloc(nd);
    s->match = sp_alloc_array(n, sizeof(int32_t));
    s->is_new = sp_calloc(n, 1);
    s->pad = sp_calloc(n, 1);
    s->kept = sp_calloc(n, 1);
    s->gsp_idx = sp_alloc_array(n, sizeof(uint32_t));
    s->new_slots = sp_alloc_array(n, sizeof(uint32_t));
    s->rep_pos = sp_alloc_array(n, sizeof(int32_t));
    s->pos_of = sp_alloc_array(n, sizeof(int32_t));
    sp_status st = SP_OK;
    if (!s->anc || !s->anc_slot || !s->anc_kind || !s->anc_off || !s->match_off || !s->motion ||
        !s->fxn || !s->ftmp || !s->match || !s->is_new || !s->pad || !s->kept || !s->gsp_idx ||
        !s->new_slots || !s->rep_pos || !s->pos_of)
        st = sp_error_set(err, SP_ERR_NOMEM, "stream: out of memory for frames of %zu x %zu", n, d);
    if (!st)
        st = sp_window_init(&s->win, n, d, e, s->p.policy == SP_EMIT_WINDOW, err);
    if (!st)
        st = sp_history_init(&s->hist, s->p.history_bytes, d, e, s->p.history_dtype, err);
    if (st) {
        free_shape(s);
        s->anc = NULL;
        return st;
    }
    for (size_t p = 0; p < n; p++)
        s->anc_slot[p] = -1;
    size_t per_frame = (size_t)ceil((double)s->p.gsp_keep * (double)n);
    s->max_tokens = s->p.window_max_tokens ? s->p.window_max_tokens : 4 * n;
    if (s->max_tokens < per_frame)
        s->max_tokens = per_frame; /* one frame's candidates always fit */
    s->n = n;
    s->d = d;
    s->e = e;
    s->rel_width = e ? e : d;
    s->gh = f->grid_h;
    s->gw = f->grid_w;
    return SP_OK;
}

static sp_status grow_scratch(sp_stream *s, size_t count, sp_error *err) {
    if (count <= s->map_cap)
        return SP_OK;
    size_t cap = s->map_cap ? s->map_cap : 256;
    while (cap < count)
        cap *= 2;
    float *rel = sp_alloc_array(cap, 2 * sizeof(float));
    uint32_t *map = sp_alloc_array(cap, 2 * sizeof(uint32_t));
    uint32_t *picks = sp_alloc_array(cap, sizeof(uint32_t));
    if (!rel || !map || !picks) {
        sp_free(rel);
        sp_free(map);
        sp_free(picks);
        return sp_error_set(err, SP_ERR_NOMEM, "stream: out of memory for %zu candidates", cap);
    }
    sp_free(s->rel);
    sp_free(s->map);
    sp_free(s->picks);
    s->rel = rel;
    s->map = map;
    s->picks = picks;
    s->map_cap = cap;
    return SP_OK;
}

/* ---- emission ------------------------------------------------------------------------------- */

typedef struct slot_key {
    uint64_t frame;
    uint32_t pos;
    uint32_t slot;
} slot_key;

static int slot_key_cmp(const void *a, const void *b) {
    const slot_key *x = a, *y = b;
    return sp_key_cmp(x->frame, x->pos, y->frame, y->pos);
}

float sp_stream_mass_quality(uint32_t seen, uint32_t spatial, uint32_t window, float gamma) {
    if (gamma <= 0.0f)
        return 1.0f;
    double mass = (double)(seen < window ? seen : window) * (1.0 + (double)spatial);
    return (float)pow(mass, (double)gamma);
}

/* QCSP quality of the candidates map[0..count): with a query, their relevance r (as in Script);
 * without one (r NULL), the mass term instead of Script's r = 1 (docs/streams.md). Returns the
 * array to pass as the kernel's r, or NULL for r = 1. */
static float *apply_mass(sp_stream *s, const uint32_t *map, size_t count, float *r) {
    if (r || s->p.mass_gamma <= 0.0f || count == 0)
        return r;
    for (size_t i = 0; i < count; i++) {
        const sp_cand *c = &s->win.c[map[i]];
        s->rel[i] = sp_stream_mass_quality(c->seen, c->spatial, s->p.window, s->p.mass_gamma);
    }
    return s->rel;
}

/* Fills s->out with the candidates map[picks[i]], i < k, in the order given. */
static sp_status build_packet(sp_stream *s, const uint32_t *map, const uint32_t *picks, size_t k,
                              sp_error *err) {
    sp_status st = sp_packet_buf_reserve(&s->out, k, s->d, err);
    if (st)
        return st;
    float *tok = s->out.tokens;
    sp_token_info *info = s->out.info;
    for (size_t i = 0; i < k; i++) {
        size_t slot = map[picks[i]];
        sp_cand *c = &s->win.c[slot];
        memcpy(tok + i * s->d, s->win.raw + slot * s->d, s->d * sizeof(float));
        info[i].pts = c->pts;
        info[i].last_pts = c->last_pts;
        info[i].frame = c->frame;
        info[i].seen = c->seen;
        info[i].y = (uint16_t)(c->pos / s->gw);
        info[i].x = (uint16_t)(c->pos % s->gw);
        c->flags |= SP_CAND_EMITTED;
    }
    return SP_OK;
}

/* The QCSP kernel width of this emission (a query is in use when use_m > 0). */
static float emission_sigma(const sp_stream *s) {
    return sp_stream_qcsp_sigma(&s->p, s->use_m > 0);
}

/* A cached kernel value at kernel_sigma s0 > 0, exp((c - 1) / s0), as the kernel at s1:
 * value^(s0 / s1). */
static float kernel_rewidth(float value, float ratio) {
    return powf(value, ratio);
}

/* g holds kernel values at kernel_sigma; *transform and *param turn them into the kernel at
 * emission_sigma (NULL when they are the same). */
static void emission_transform(const sp_stream *s, float (**transform)(float, float),
                               float *param) {
    float s0 = s->p.kernel_sigma, s1 = emission_sigma(s);
    *transform = NULL;
    *param = 0.0f;
    if (s1 == s0)
        return;
    if (s0 > 0.0f && s1 > 0.0f) {
        *transform = kernel_rewidth;
        *param = s0 / s1;
    } else if (s0 == 0.0f) { /* g holds cosines */
        *transform = sp_stream_kernel;
        *param = s1;
    }
}

/* QCSP over the candidates map[0..count) (already in time then raster order) with quality r
 * (NULL: 1), into s->out. The kernel is the window's matrix (window policy, gmap = map, cached at
 * kernel_sigma: rewidth takes it to emission_sigma) or a count x count block of these candidates
 * (frame policy, g = the block at emission_sigma, gmap = NULL). */
static sp_status select_into_packet(sp_stream *s, uint32_t *map, size_t count, const float *r,
                                    const float *g, size_t ldg, const uint32_t *gmap, size_t budget,
                                    bool rewidth, sp_error *err) {
    size_t k = budget < count ? budget : count;
    if (k) {
        sp_kernel kern = {.n = count, .r = r, .g = g, .ldg = ldg, .map = gmap, .rounds = true};
        if (rewidth)
            emission_transform(s, &kern.g_transform, &kern.g_param);
        sp_status st = sp_dpp_run(s->ws, &kern, k, s->picks, err);
        if (st)
            return st;
    }
    return build_packet(s, map, s->picks, k, err);
}

/* The kernel among the candidates map[0..count) (a frame's new ones): one SSYRK of their
 * normalised rows, mirrored, transformed; into s->fk (count x count). */
static sp_status frame_kernel(sp_stream *s, const uint32_t *map, size_t count, sp_error *err) {
    size_t d = s->d, need;
    if (!sp_mul_size(count, count > d ? count : d, &need))
        return sp_error_set(err, SP_ERR_OVERFLOW, "stream: kernel of %zu candidates", count);
    if (need > s->fk_cap) {
        float *k = sp_alloc_array(need, sizeof(float));
        float *x = sp_alloc_array(need, sizeof(float));
        if (!k || !x) {
            sp_free(k);
            sp_free(x);
            return sp_error_set(err, SP_ERR_NOMEM, "stream: out of memory for a %zu x %zu kernel",
                                count, count);
        }
        sp_free(s->fk);
        sp_free(s->fk_x);
        s->fk = k;
        s->fk_x = x;
        s->fk_cap = need;
    }
    for (size_t i = 0; i < count; i++)
        memcpy(s->fk_x + i * d, s->win.xn + (size_t)map[i] * d, d * sizeof(float));
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)count, (int)d, 1.0f, s->fk_x, (int)d,
                0.0f, s->fk, (int)count);
    for (size_t i = 0; i < count; i++)
        for (size_t j = i; j < count; j++) {
            float v = sp_stream_kernel(s->fk[i * count + j], emission_sigma(s));
            s->fk[i * count + j] = v;
            s->fk[j * count + i] = v;
        }
    return SP_OK;
}

static sp_status emit_frame(sp_stream *s, const sp_frame *f, uint64_t cur, const uint32_t *slots,
                            size_t count, sp_error *err) {
    sp_status st = grow_scratch(s, s->n > count ? s->n : count, err);
    if (st)
        return st;
    uint32_t *map = s->map;
    memcpy(map, slots, count * sizeof(uint32_t));
    float *r = NULL;
    if (s->use_m && count) {
        /* Relevance over the whole frame, as the per-frame cascade does (docs/algorithm.md). */
        size_t width;
        const float *rows = sp_frame_relevance_rows(f, &width);
        sp_query q = {.rows = s->use_rows, .m = s->use_m, .e = s->use_e};
        float *full = s->rel + s->map_cap;
        st = sp_relevance_any_row(s->ws, rows, s->n, width, &q, full, err);
        if (st)
            return st;
        r = s->rel;
        for (size_t i = 0; i < count; i++)
            r[i] = full[s->win.c[map[i]].pos];
    }
    r = apply_mass(s, map, count, r);
    if (count > s->p.frame_budget && (st = frame_kernel(s, map, count, err)))
        return st;
    st = select_into_packet(s, map, count, r, s->fk, count, NULL, s->p.frame_budget, false, err);
    if (st)
        return st;
    sp_packet *p = &s->out.packet;
    p->kind = SP_PACKET_FRAME;
    p->mode = s->p.packet_mode;
    p->window = cur;
    p->pts_first = p->pts_last = f->pts;
    p->frame_first = p->frame_last = cur;
    p->budget = s->p.frame_budget;
    return SP_OK;
}

/* Window emission after `last` (the index of the newest frame). The window holds only candidates
 * seen in its last `window` frames (evict), so every pick satisfies the snapshot promise; in
 * delta mode the candidates already sent are left out. */
static sp_status emit_window(sp_stream *s, uint64_t last, sp_error *err) {
    size_t count = s->win.n;
    sp_status st = grow_scratch(s, count, err);
    if (st)
        return st;
    bool delta = s->p.packet_mode == SP_PACKET_DELTA;
    slot_key *keys = NULL;
    if (count) {
        keys = sp_alloc_array(count, sizeof *keys);
        if (!keys)
            return sp_error_set(err, SP_ERR_NOMEM, "stream: out of memory sorting %zu candidates",
                                count);
        size_t k = 0;
        for (size_t i = 0; i < s->win.hi; i++)
            if (sp_window_alive(&s->win, i) && !(delta && (s->win.c[i].flags & SP_CAND_EMITTED)))
                keys[k++] = (slot_key){s->win.c[i].frame, s->win.c[i].pos, (uint32_t)i};
        count = k;
        qsort(keys, count, sizeof *keys, slot_key_cmp);
        for (size_t i = 0; i < count; i++)
            s->map[i] = keys[i].slot;
        sp_free(keys);
    }
    float *r = NULL;
    if (s->use_m && count) {
        /* The candidates' relevance rows, gathered contiguous in map order. */
        size_t width = s->rel_width;
        size_t need = count * width;
        if (need > s->gather_cap) {
            float *g = sp_alloc_array(need, sizeof(float));
            if (!g)
                return sp_error_set(err, SP_ERR_NOMEM,
                                    "stream: out of memory gathering %zu candidates", count);
            sp_free(s->gather);
            s->gather = g;
            s->gather_cap = need;
        }
        const float *src = s->e ? s->win.emb : s->win.raw;
        for (size_t i = 0; i < count; i++)
            memcpy(s->gather + i * width, src + (size_t)s->map[i] * width, width * sizeof(float));
        sp_query q = {.rows = s->use_rows, .m = s->use_m, .e = s->use_e};
        r = s->rel;
        st = sp_relevance_any_row(s->ws, s->gather, count, width, &q, r, err);
        if (st)
            return st;
    }
    r = apply_mass(s, s->map, count, r);
    st = sp_window_kernel_update(&s->win, s->p.kernel_sigma, err);
    if (st)
        return st;
    /* the window caches its kernel at kernel_sigma; a query's width is taken from it */
    st = select_into_packet(s, s->map, count, r, s->win.gram, s->win.cap, s->map,
                            s->p.window_budget, true, err);
    if (st)
        return st;
    uint64_t first = last + 1 > s->p.window ? last + 1 - s->p.window : 0;
    sp_packet *p = &s->out.packet;
    p->kind = SP_PACKET_WINDOW;
    p->mode = s->p.packet_mode;
    p->window = s->windows++;
    p->frame_first = first;
    p->frame_last = last;
    p->pts_first = s->pts_ring[first % s->p.window];
    p->pts_last = s->pts_ring[last % s->p.window];
    p->budget = s->p.window_budget;
    s->since_emit = 0;
    return SP_OK;
}

static void finish_packet(sp_stream *s) {
    s->out.packet.query_hash = s->use_m ? s->use_hash : 0;
    s->st.packets++;
    s->st.tokens_emitted += s->out.packet.count;
}

/* ---- push ------------------------------------------------------------------------------------ */

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

typedef struct evict_item {
    uint64_t last, frame;
    uint32_t pos, slot;
} evict_item;

static int evict_key_cmp(const void *a, const void *b) {
    const evict_item *x = a, *y = b;
    return sp_key_cmp(x->frame, x->pos, y->frame, y->pos);
}

/* Oldest last sighting first, then time and raster order. */
static int evict_age_cmp(const void *a, const void *b) {
    const evict_item *x = a, *y = b;
    if (x->last != y->last)
        return x->last < y->last ? -1 : 1;
    return evict_key_cmp(a, b);
}

/* Anchors that are or stand for candidates no longer alive stay references for the temporal
 * graph but credit nobody. */
static void forget_dead_anchors(sp_stream *s) {
    for (size_t p = 0; p < s->n; p++) {
        int32_t a = s->anc_slot[p];
        if (a >= 0 && ((size_t)a >= s->win.hi || !sp_window_alive(&s->win, (size_t)a)))
            s->anc_slot[p] = -1;
    }
}

static void remove_candidate(sp_stream *s, size_t slot) {
    sp_window_remove(&s->win, slot);
}

/* Moves to the history the candidates last seen at frame <= cur - window and, when the window
 * would then hold more than its bound with the `incoming` new candidates, the ones seen longest
 * ago (counted in window_overflow); in time then raster order. Returns the first error of the
 * history (the candidates leave the window regardless). */
static sp_status evict(sp_stream *s, uint64_t cur, size_t incoming, sp_error *err) {
    sp_window *w = &s->win;
    bool aged = cur >= s->p.window;
    uint64_t limit = aged ? cur - s->p.window : 0;
    size_t old = 0;
    if (aged)
        for (size_t i = 0; i < w->hi; i++)
            old += sp_window_alive(w, i) && w->c[i].last_frame <= limit;
    size_t keep = w->n - old + incoming;
    size_t over = keep > s->max_tokens ? keep - s->max_tokens : 0;
    size_t m = old + over;
    if (m == 0)
        return SP_OK;
    evict_item *items = sp_alloc_array(over ? w->n : old, sizeof *items);
    if (!items) {
        /* Cannot order them for the history: the aged ones are dropped, counted, reported. */
        for (size_t i = 0; aged && i < w->hi; i++)
            if (sp_window_alive(w, i) && w->c[i].last_frame <= limit) {
                remove_candidate(s, i);
                s->hist.lost_nomem++;
            }
        return sp_error_set(err, SP_ERR_NOMEM,
                            "stream: out of memory moving %zu candidates to the history; they "
                            "were dropped",
                            m);
    }
    size_t k = 0;
    for (size_t i = 0; i < w->hi; i++)
        if (sp_window_alive(w, i) && (over || (aged && w->c[i].last_frame <= limit)))
            items[k++] = (evict_item){w->c[i].last_frame, w->c[i].frame, w->c[i].pos, (uint32_t)i};
    if (over) /* the aged ones have the smallest last frames: they come first */
        qsort(items, k, sizeof *items, evict_age_cmp);
    qsort(items, m, sizeof *items, evict_key_cmp);
    s->st.window_overflow += over;
    sp_status first_err = SP_OK;
    for (size_t i = 0; i < m; i++) {
        size_t slot = items[i].slot;
        const sp_cand *c = &w->c[slot];
        sp_hist_rec rec = {.pts = c->pts,
                           .last_pts = c->last_pts,
                           .frame = c->frame,
                           .seen = c->seen,
                           .y = (uint16_t)(c->pos / s->gw),
                           .x = (uint16_t)(c->pos % s->gw),
                           .flags = c->flags & SP_CAND_EMITTED,
                           .spatial = c->spatial};
        const float *emb = w->e ? w->emb + slot * w->e : NULL;
        sp_error e2;
        sp_status st =
            sp_history_put(&s->hist, &rec, w->raw + slot * w->d, emb, first_err ? &e2 : err);
        if (st && !first_err)
            first_err = st;
        remove_candidate(s, slot);
    }
    sp_free(items);
    return first_err;
}

static void update_window_stats(sp_stream *s) {
    size_t anchors =
        s->n * (s->d * sizeof(float) + sizeof(int32_t) + 1) +
        sp_motion_scratch_floats(s->gh, s->gw, s->d, SP_TEMPORAL_MAX_SHIFT) * sizeof(float);
    size_t scratch = s->fk_cap * 2 * sizeof(float) + s->n * s->d * sizeof(float) * 2 +
                     s->fsim_cap * sizeof(float) + s->map_cap * 5 * sizeof(uint32_t) +
                     s->n * (sizeof(int32_t) + 2 + sizeof(uint32_t));
    s->st.window_tokens = s->win.n;
    s->st.window_bytes = sp_window_bytes(&s->win) + anchors + scratch;
    s->st.history_tokens = s->hist.count;
    s->st.history_bytes = s->hist.bytes;
    s->st.history_evicted = s->hist.evicted + s->hist.lost_nomem;
    s->st.history_aged = s->hist.aged;
    s->st.history_clamped = s->hist.clamped;
}

/* For each new token GSP pruned, the new candidate of the frame it resembles most (cosine at least
 * GSP's edge threshold), as a grid position in s->rep_pos (-1: none). One SGEMM of the pruned
 * rows against the candidate rows. Allocates; runs before the state changes. */
static sp_status spatial_reps(sp_stream *s, sp_error *err) {
    size_t n = s->n, d = s->d, np = 0, nc = 0;
    for (size_t p = 0; p < n; p++) {
        s->rep_pos[p] = -1;
        if (s->is_new[p]) {
            np += !s->kept[p];
            nc += s->kept[p];
        }
    }
    if (np == 0 || nc == 0)
        return SP_OK;
    size_t need = np > nc ? np : nc;
    if (need > s->sp_cap || np * nc > s->sp_cap * s->sp_cap) {
        size_t cap = need > s->sp_cap ? need : s->sp_cap;
        float *a = sp_alloc_array(cap, d * sizeof(float));
        float *b = sp_alloc_array(cap, d * sizeof(float));
        float *pr = sp_alloc_array(cap, cap * sizeof(float));
        if (!a || !b || !pr) {
            sp_free(a);
            sp_free(b);
            sp_free(pr);
            return sp_error_set(err, SP_ERR_NOMEM,
                                "stream: out of memory comparing %zu pruned tokens", np);
        }
        sp_free(s->sp_a);
        sp_free(s->sp_b);
        sp_free(s->sp_prod);
        s->sp_a = a;
        s->sp_b = b;
        s->sp_prod = pr;
        s->sp_cap = cap;
    }
    uint32_t *pa = s->gsp_idx; /* free after GSP: positions of the pruned rows */
    size_t ia = 0, ib = 0;
    for (size_t p = 0; p < n; p++) {
        if (!s->is_new[p])
            continue;
        if (s->kept[p]) {
            memcpy(s->sp_b + ib * d, s->fxn + p * d, d * sizeof(float));
            s->pos_of[ib++] = (int32_t)p;
        } else {
            memcpy(s->sp_a + ia * d, s->fxn + p * d, d * sizeof(float));
            pa[ia++] = (uint32_t)p;
        }
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)np, (int)nc, (int)d, 1.0f, s->sp_a,
                (int)d, s->sp_b, (int)d, 0.0f, s->sp_prod, (int)nc);
    for (size_t i = 0; i < np; i++) {
        const float *row = s->sp_prod + i * nc;
        size_t bj = 0;
        for (size_t j = 1; j < nc; j++)
            if (row[j] > row[bj])
                bj = j;
        if (row[bj] >= s->p.gsp.tau)
            s->rep_pos[pa[i]] = s->pos_of[bj];
    }
    return SP_OK;
}

/* Padding tokens are neither new nor repeats of anything: they leave the graphs. Returns the new
 * tokens of the picture. */
static size_t drop_padding(sp_stream *s) {
    size_t fresh = 0;
    for (size_t p = 0; p < s->n; p++) {
        if (s->pad[p]) {
            s->is_new[p] = 0;
            s->match[p] = -1;
        }
        fresh += s->is_new[p];
    }
    return fresh;
}

/* Step 1, the temporal graph (reads the window as it was before this frame): s->match and
 * s->is_new, the number of new tokens in *fresh, and whether the frame is a scene cut (then every
 * token is new). The first frame has nothing to match. */
static sp_status classify_temporal(sp_stream *s, const sp_frame *f, uint64_t cur, size_t *fresh,
                                   bool *cut, sp_error *err) {
    size_t n = s->n;
    *fresh = s->n_img;
    *cut = false;
    if (cur > 0) {
        sp_status st;
        sp_temporal_refs refs = {.win = &s->win,
                                 .anc = s->anc,
                                 .anc_slot = s->anc_slot,
                                 .anc_kind = s->anc_kind,
                                 .anc_off = s->anc_off,
                                 .gh = s->gh,
                                 .gw = s->gw};
        sp_temporal_rule rule = {.tau = s->p.tau_t,
                                 .radius = s->p.radius,
                                 .match_all = s->p.match_all,
                                 .max_shift = SP_TEMPORAL_MAX_SHIFT,
                                 .own_d = s->own_d,
                                 .tau_own = sp_temporal_own_tau(s->p.tau_t),
                                 .evidence = f->evidence};
        sp_temporal_scratch scratch = {.motion = s->motion,
                                       .gather = s->ftmp,
                                       .rows = s->gsp_idx,
                                       .prod = &s->fsim,
                                       .prod_cap = &s->fsim_cap,
                                       .match_off = s->match_off};
        sp_temporal_classify(&refs, &rule, s->fxn, &scratch, s->match, s->is_new, err, &st);
        if (st)
            return st;
        *fresh = drop_padding(s);
        if ((double)*fresh < (double)s->p.cut_fraction * (double)s->n_img)
            return SP_OK;
        /* Scene cut: the references no longer describe the picture; start again. */
        *cut = true;
    }
    memset(s->is_new, 1, n);
    for (size_t p = 0; p < n; p++)
        s->match[p] = -1;
    *fresh = drop_padding(s);
    return SP_OK;
}

/* Step 2, GSP on the whole frame: s->kept marks its survivors; the new tokens it keeps become
 * candidates, counted in *ncand. */
static sp_status prune_spatial(sp_stream *s, const sp_frame *f, uint64_t cur, size_t fresh,
                               size_t *ncand, sp_error *err) {
    size_t n = s->n, ni = s->n_img, d = s->d;
    size_t target = (size_t)ceil((double)s->p.gsp_keep * (double)ni);
    if (target < 1)
        target = 1;
    if (fresh > 0 && target < ni) {
        /* GSP over the picture's tokens only: padding takes no share of what it keeps. */
        const float *rows = f->tokens;
        if (ni < n) {
            float *g = s->ftmp;
            for (size_t p = 0, k = 0; p < n; p++)
                if (!s->pad[p]) {
                    memcpy(g + k * d, f->tokens + p * d, d * sizeof(float));
                    s->pos_of[k++] = (int32_t)p;
                }
            rows = g;
        }
        sp_status st = sp_gsp_prune(s->ws, rows, ni, d, target, &s->p.gsp, s->gsp_idx, err);
        if (st)
            return sp_error_prefix(err, "frame %llu: GSP", (unsigned long long)cur);
        memset(s->kept, 0, n);
        for (size_t i = 0; i < target; i++)
            s->kept[ni < n ? (size_t)s->pos_of[s->gsp_idx[i]] : s->gsp_idx[i]] = 1;
    } else {
        for (size_t p = 0; p < n; p++)
            s->kept[p] = !s->pad[p];
    }
    *ncand = 0;
    for (size_t p = 0; p < n; p++)
        *ncand += s->is_new[p] && s->kept[p];
    return SP_OK;
}

/* Everything that may fail for want of memory, before the state changes: the spatial
 * representatives, room in the window for ncand candidates, and the emission scratch. */
static sp_status make_room(sp_stream *s, size_t ncand, sp_error *err) {
    sp_status st = spatial_reps(s, err);
    if (!st)
        st = sp_window_reserve(&s->win, ncand, err);
    if (!st)
        st = grow_scratch(s, s->win.n + ncand > s->n ? s->win.n + ncand : s->n, err);
    return st;
}

/* The frame is accepted: its timestamp and the counters. */
static void record_frame(sp_stream *s, const sp_frame *f, uint64_t cur, size_t fresh, size_t ncand,
                         bool cut) {
    size_t n = s->n;
    s->frames++;
    s->last_pts = f->pts;
    s->pts_ring[cur % s->p.window] = f->pts;
    s->since_emit++;
    s->st.frames_in++;
    s->st.tokens_in += n;
    s->st.temporal_drops += s->n_img - fresh;
    s->st.padding_drops += n - s->n_img;
    s->st.spatial_drops += fresh - ncand;
    s->st.candidates += ncand;
    s->st.scene_cuts += cut;
}

/* Step 3: the candidates that matched were seen again in this frame, and the tokens that matched
 * them become their positions' anchors. */
static void credit_matches(sp_stream *s, uint64_t cur, int64_t pts) {
    for (size_t p = 0; p < s->n; p++) {
        int32_t m = s->match[p];
        if (m >= 0) {
            sp_cand *c = &s->win.c[m];
            if (c->last_frame != cur) {
                c->seen++;
                c->last_frame = cur;
                c->last_pts = pts;
            }
            /* The latest sighting becomes the reference at this position; the candidate keeps
             * its first vector. During a pan the next frame is then compared with what was just
             * seen, at most half a cell off, not with a view taken frames ago. */
            memcpy(s->anc + p * s->d, s->fxn + p * s->d, s->d * sizeof(float));
            s->anc_kind[p] = SP_ANC_REP;
            s->anc_slot[p] = m;
            s->anc_off[2 * p] = s->match_off[2 * p];
            s->anc_off[2 * p + 1] = s->match_off[2 * p + 1];
        }
    }
}

/* Step 4: candidates not seen for `window` frames leave for the history, and the history drops
 * what is older than history_max_age. Returns the history's error (a lost record), which does not
 * stop the frame. */
static sp_status retire_old(sp_stream *s, int64_t pts, uint64_t cur, size_t ncand, sp_error *err) {
    sp_status hist_err = evict(s, cur, ncand, err);
    forget_dead_anchors(s);
    if (s->p.history_max_age > 0 && s->hist.count) {
        int64_t oldest =
            pts >= INT64_MIN + s->p.history_max_age ? pts - s->p.history_max_age : INT64_MIN;
        sp_history_age(&s->hist, oldest);
    }
    return hist_err;
}

/* Step 5a: the new candidates enter the window (room was reserved) and become the anchors of
 * their positions. Their slots go to s->new_slots in raster order; returns how many. */
static size_t add_candidates(sp_stream *s, const sp_frame *f, uint64_t cur) {
    size_t n = s->n, d = s->d, nnew = 0;
    const float *emb = f->embed;
    for (size_t p = 0; p < n; p++) {
        if (!s->is_new[p] || !s->kept[p])
            continue;
        sp_cand meta = {.pts = f->pts,
                        .last_pts = f->pts,
                        .frame = cur,
                        .last_frame = cur,
                        .seen = 1,
                        .pos = (uint32_t)p};
        size_t slot = sp_window_append(&s->win, f->tokens + p * d, s->fxn + p * d,
                                       emb ? emb + p * s->e : NULL, &meta);
        memcpy(s->anc + p * d, s->fxn + p * d, d * sizeof(float));
        s->anc_kind[p] = SP_ANC_SELF;
        s->anc_slot[p] = (int32_t)slot;
        s->anc_off[2 * p] = s->anc_off[2 * p + 1] = 0.0f;
        s->new_slots[nnew++] = (uint32_t)slot;
    }
    return nnew;
}

/* Step 5b: the new tokens GSP pruned anchor their positions too, standing for the candidate they
 * resemble most (spatial_reps), which is credited with them. */
static void anchor_pruned(sp_stream *s) {
    size_t d = s->d;
    for (size_t p = 0; p < s->n; p++) {
        if (!s->is_new[p] || s->kept[p])
            continue;
        memcpy(s->anc + p * d, s->fxn + p * d, d * sizeof(float));
        s->anc_kind[p] = SP_ANC_REP;
        int32_t q = s->rep_pos[p];
        s->anc_slot[p] = q >= 0 ? s->anc_slot[q] : -1;
        s->anc_off[2 * p] = s->anc_off[2 * p + 1] = 0.0f;
        if (q >= 0)
            s->win.c[s->anc_slot[q]].spatial++;
    }
}

/* Step 6: a packet in s->out when the policy says so (every frame, or every hop frames). */
static sp_status emit_if_due(sp_stream *s, const sp_frame *f, uint64_t cur, size_t nnew, bool *emit,
                             sp_error *err) {
    sp_status st = SP_OK;
    *emit = false;
    if (s->p.policy == SP_EMIT_FRAME) {
        st = emit_frame(s, f, cur, s->new_slots, nnew, err);
        *emit = !st;
    } else if (s->since_emit >= s->p.hop) {
        st = emit_window(s, cur, err);
        *emit = !st;
    }
    if (st)
        return sp_error_prefix(err, "frame %llu: emission", (unsigned long long)cur);
    if (*emit)
        finish_packet(s);
    return SP_OK;
}

/* Runs one accepted frame through the graphs and the window (docs/streams.md); *emit is set when
 * a packet is in s->out. Nothing changes until every allocation the frame needs has succeeded.
 * Called with s->lock held. */
static sp_status process(sp_stream *s, const sp_frame *f, bool *emit, sp_error *err) {
    uint64_t cur = s->frames;
    s->fates_valid = false;
    sp_stream_normalize(f->tokens, s->n, s->d, s->fxn);
    s->own_d = f->own_d;
    s->n_img = 0;
    for (size_t p = 0; p < s->n; p++) {
        s->pad[p] = (uint8_t)sp_frame_is_padding(f, p);
        s->n_img += !s->pad[p];
    }
    size_t fresh = 0, ncand = 0;
    bool cut;
    sp_status st = classify_temporal(s, f, cur, &fresh, &cut, err);
    if (!st)
        st = prune_spatial(s, f, cur, fresh, &ncand, err);
    if (!st)
        st = make_room(s, ncand, err);
    if (st)
        return st;

    /* From here on the state changes. */
    record_frame(s, f, cur, fresh, ncand, cut);
    credit_matches(s, cur, f->pts);
    sp_status hist_err = retire_old(s, f->pts, cur, ncand, err);
    size_t nnew = add_candidates(s, f, cur);
    anchor_pruned(s);
    st = emit_if_due(s, f, cur, nnew, emit, err);
    if (st)
        return st;
    s->fates_valid = true;
    return hist_err;
}

static sp_status deliver(sp_stream *s, sp_error *err) {
    if (!s->p.on_packet)
        return SP_OK;
    return s->p.on_packet(s->p.user, &s->out.packet, err);
}

sp_status sp_stream_push(sp_stream *s, const sp_frame *f, sp_error *err) {
    if (!s)
        return sp_error_set(err, SP_ERR_INVALID, "sp_stream_push: NULL stream");
    uint64_t t0 = now_ns();
    pthread_mutex_lock(&s->lock);
    sp_status st = validate_frame(s, f, err);
    if (!st) {
        size_t width = f->embed ? f->e : f->d;
        st = sync_query(s, width, err);
        if (st)
            sp_error_prefix(err, "frame %llu", (unsigned long long)s->frames);
    }
    if (!st && !s->started) {
        st = setup_shape(s, f, err);
        if (!st) {
            pthread_mutex_lock(&s->qlock);
            s->started = true;
            pthread_mutex_unlock(&s->qlock);
        }
    }
    if (st) {
        s->st.frames_rejected++;
        pthread_mutex_unlock(&s->lock);
        return st;
    }
    bool emit = false;
    st = process(s, f, &emit, err);
    update_window_stats(s);
    uint64_t dt = now_ns() - t0;
    s->st.select_ns_total += dt;
    s->st.select_ns_last = dt;
    if (dt > s->st.select_ns_max)
        s->st.select_ns_max = dt;
    pthread_mutex_unlock(&s->lock);
    if (emit) {
        sp_error e2;
        sp_status st2 = deliver(s, st ? &e2 : err);
        if (!st)
            st = st2;
    }
    return st;
}

sp_status sp_stream_flush(sp_stream *s, sp_error *err) {
    if (!s)
        return sp_error_set(err, SP_ERR_INVALID, "sp_stream_flush: NULL stream");
    pthread_mutex_lock(&s->lock);
    bool emit = false;
    sp_status st = SP_OK;
    if (s->p.policy == SP_EMIT_WINDOW && s->started && s->since_emit > 0) {
        st = sync_query(s, s->rel_width, err);
        if (!st)
            st = emit_window(s, s->frames - 1, err);
        if (!st) {
            finish_packet(s);
            emit = true;
        }
    }
    update_window_stats(s);
    pthread_mutex_unlock(&s->lock);
    if (emit)
        st = deliver(s, err);
    return st;
}

void sp_stream_get_stats(sp_stream *s, sp_stream_stats *out) {
    pthread_mutex_lock(&s->lock);
    *out = s->st;
    pthread_mutex_unlock(&s->lock);
    pthread_mutex_lock(&s->qlock);
    out->query_generation = s->qgen;
    pthread_mutex_unlock(&s->qlock);
}

sp_status sp_stream_wire_header(sp_stream *s, sp_wire_header *h, sp_error *err) {
    sp_wire_header_init(h);
    pthread_mutex_lock(&s->lock);
    bool started = s->started;
    h->kind = s->p.policy == SP_EMIT_FRAME ? SP_PACKET_FRAME : SP_PACKET_WINDOW;
    h->mode = s->p.packet_mode;
    h->d = (uint32_t)s->d;
    h->grid_h = (uint16_t)s->gh;
    h->grid_w = (uint16_t)s->gw;
    h->window = s->p.policy == SP_EMIT_WINDOW ? s->p.window : 0;
    h->hop = s->p.policy == SP_EMIT_WINDOW ? s->p.hop : 0;
    h->budget = (uint32_t)(s->p.policy == SP_EMIT_WINDOW ? s->p.window_budget : s->p.frame_budget);
    h->tau_t = s->p.tau_t;
    snprintf(h->name, sizeof h->name, "%s", s->name);
    pthread_mutex_unlock(&s->lock);
    if (!started)
        return sp_error_set(err, SP_ERR_STATE,
                            "stream: no frame pushed yet, token width and grid are unknown");
    return SP_OK;
}

sp_status sp_stream_last_fates(sp_stream *s, uint8_t *fates, size_t n, sp_error *err) {
    if (!s || !fates)
        return sp_error_set(err, SP_ERR_INVALID, "sp_stream_last_fates: NULL argument");
    pthread_mutex_lock(&s->lock);
    sp_status st = SP_OK;
    if (!s->fates_valid)
        st = sp_error_set(err, SP_ERR_STATE,
                          "sp_stream_last_fates: no frame has been processed yet (or the last "
                          "push failed)");
    else if (n != s->n)
        st = sp_error_set(err, SP_ERR_INVALID,
                          "sp_stream_last_fates: room for %zu fates, the stream's frames have %zu "
                          "tokens",
                          n, s->n);
    for (size_t p = 0; !st && p < n; p++)
        fates[p] = s->pad[p]       ? SP_FATE_PADDING
                   : !s->is_new[p] ? SP_FATE_TEMPORAL
                   : s->kept[p]    ? SP_FATE_CANDIDATE
                                   : SP_FATE_SPATIAL;
    pthread_mutex_unlock(&s->lock);
    return st;
}
