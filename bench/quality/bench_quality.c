/* bench-quality: which tokens reach the LLM, at equal budgets, on generated videos with known
 * object masks (bench/quality/video.c) encoded by the built-in patch encoder.
 *
 * Protocol (docs/streams.md, "Quality"). Every method answers the same question: every `hop`
 * frames, give exactly B tokens for the last `window` frames (the stream's window policy). The
 * frame ranges are the stream's: [max(0, e - window + 1), e] for e = hop-1, 2 hop-1, ...
 *   stream           sp_stream, window policy (temporal graph + GSP + QCSP), tau_t swept
 *   stream-cosine    the stream with QCSP's kernel and quality exactly as per-frame Script
 *                    (cosine kernel, r = 1 without a query): the ablation of docs/streams.md
 *   stream-no-tg     the stream with the temporal graph off (tau_t = 1: every frame is new):
 *                    GSP per frame, QCSP over the window's GSP survivors
 *   script           per-frame Script (sp_select script), the budget split over the frames
 *   dtd              the DTD rule: tokens ranked by cosine to the same position in the previous
 *                    frame (most changed first), the window's B lowest
 *   uniform          uniform frame sampling: ceil(B / N) evenly spaced frames, each pooled to
 *                    its share (frame sampling + resize, as fixed-fps pipelines do)
 *   pool             every frame pooled to its share (sp_select pool)
 *   random           per frame, seeded random tokens
 *   divprune         per-frame DivPrune (sp_select divprune)
 * Metrics per window, averaged over windows and scenes:
 *   coverage         mean over all input tokens of the window of the best cosine to a kept token
 *   object_recall    share of object tokens (patches >= 50% covered by an object) with a kept
 *                    token of the same object at cosine >= --recall-cos (0.9)
 *   object_coverage  mean over object tokens of the best cosine to a kept token of that object
 *   query_recall     object_recall restricted to the query's target object, in runs where the
 *                    query (the target's exemplar crop tokens) is given to the methods using one
 *   tokens_per_s     B * fps / hop (equal by construction), and ms_per_frame of the method
 * Prints one JSON line per (scene, method, budget, query, tau_t). */
#include <cblas.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bench_util.h"
#include "scriptprune/encode.h"
#include "scriptprune/select.h"
#include "scriptprune/pixel_match.h"
#include "scriptprune/stream.h"
#include "video.h"

#define FPS 2.0

typedef struct clip {
    int scene;
    uint32_t T, n, d, gh, gw;
    size_t own_d; /* the encoder's split of a token (sp_frame.own_d), as the pipeline passes it */
    float *tok;   /* T x n x d */
    float *ref;   /* T x n x d scoring tokens (--score-local), or NULL: score with tok */
    sp_pixel_evidence *ev; /* T x n pixel evidence (scriptprune/pixel_match.h), or NULL */
    uint8_t *label;        /* T x n: 0 background, k + 1 object k */
    float *query;          /* m x d: the target's exemplar tokens on the object */
    size_t qm;
    uint8_t target; /* label of the query's target */
    double encode_ms;
} clip;

typedef struct kept {
    float *v;       /* count x d */
    uint8_t *label; /* count */
    size_t count, cap;
} kept;

static void kept_reset(kept *k) {
    k->count = 0;
}

static void kept_add(kept *k, const float *v, size_t d, uint8_t label) {
    if (k->count == k->cap) {
        k->cap = k->cap ? 2 * k->cap : 1024;
        k->v = realloc(k->v, k->cap * d * sizeof(float));
        k->label = realloc(k->label, k->cap);
        if (!k->v || !k->label) {
            fprintf(stderr, "bench-quality: out of memory\n");
            exit(1);
        }
    }
    memcpy(k->v + k->count * d, v, d * sizeof(float));
    k->label[k->count++] = label;
}

static void die(const char *what, const sp_error *err) {
    fprintf(stderr, "bench-quality: %s: %s\n", what, err ? err->message : "");
    exit(1);
}

/* ---- the videos, encoded ---- */

static void patch_labels(const uint8_t *mask, const sp_preprocess *pre, uint32_t W, uint32_t P,
                         uint32_t gh, uint32_t gw, uint8_t *label) {
    /* The frames are S x S and letterboxed without scaling: patch (y, x) covers pixels
     * [y P, y P + P) x [x P, x P + P). */
    (void)pre;
    for (uint32_t gy = 0; gy < gh; gy++)
        for (uint32_t gx = 0; gx < gw; gx++) {
            unsigned count[VIDEO_MAX_OBJECTS + 1] = {0};
            for (uint32_t y = gy * P; y < gy * P + P; y++)
                for (uint32_t x = gx * P; x < gx * P + P; x++)
                    count[mask[(size_t)y * W + x]]++;
            uint8_t best = 0;
            for (uint8_t k = 1; k <= VIDEO_MAX_OBJECTS; k++)
                if (2 * count[k] >= P * P && count[k] > count[best])
                    best = k;
            label[(size_t)gy * gw + gx] = best;
        }
}

static void make_clip(int scene, uint32_t T, sp_encoder *enc, sp_encoder *ref_enc, bool pixels,
                      clip *c) {
    sp_error err;
    video v;
    if (video_scene(&v, scene, T))
        die("video", NULL);
    sp_encoder_info info;
    sp_encoder_get_info(enc, &info);
    memset(c, 0, sizeof *c);
    c->scene = scene;
    c->T = T;
    c->n = (uint32_t)info.n;
    c->d = (uint32_t)info.d;
    c->gh = info.grid_h;
    c->gw = info.grid_w;
    c->own_d = info.own_d;
    c->tok = malloc((size_t)T * c->n * c->d * sizeof(float));
    c->label = malloc((size_t)T * c->n);
    uint8_t *rgb = malloc((size_t)v.width * v.height * 3),
            *mask = malloc((size_t)v.width * v.height);
    sp_encode_ctx *ctx, *ref_ctx = NULL;
    if (!c->tok || !c->label || !rgb || !mask || sp_encode_ctx_new(enc, &ctx, &err))
        die("allocation", NULL);
    if (ref_enc) {
        c->ref = malloc((size_t)T * c->n * c->d * sizeof(float));
        if (!c->ref || sp_encode_ctx_new(ref_enc, &ref_ctx, &err))
            die("allocation", NULL);
    }
    sp_pixel_match *pm = NULL;
    if (pixels) {
        c->ev = malloc((size_t)T * c->n * sizeof *c->ev);
        if (!c->ev || sp_pixel_match_new(enc, &pm, &err))
            die("pixel match", &err);
    }
    sp_encoding e;
    sp_encoding_init(&e);
    double t0 = bench_now_ms();
    for (uint32_t t = 0; t < T; t++) {
        video_render(&v, t, rgb, mask);
        sp_image img = {rgb, v.width, v.height, (size_t)v.width * 3, SP_PIXFMT_RGB};
        if (sp_encode(ctx, &img, &e, &err))
            die("encode", &err);
        memcpy(c->tok + (size_t)t * c->n * c->d, e.tokens, (size_t)c->n * c->d * sizeof(float));
        if (pm) {
            if (sp_pixel_match_run(pm, &img, &e, &err))
                die("pixel match", &err);
            memcpy(c->ev + (size_t)t * c->n, e.evidence, c->n * sizeof *c->ev);
        }
        if (ref_ctx) {
            sp_encoding re;
            sp_encoding_init(&re);
            if (sp_encode(ref_ctx, &img, &re, &err) || re.d != c->d)
                die("encode (scoring encoder)", &err);
            memcpy(c->ref + (size_t)t * c->n * c->d, re.tokens,
                   (size_t)c->n * c->d * sizeof(float));
            sp_encoding_free(&re);
        }
        patch_labels(mask, &e.pre, v.width, info.patch_size, c->gh, c->gw,
                     c->label + (size_t)t * c->n);
    }
    c->encode_ms = (bench_now_ms() - t0) / T;
    /* The query: an exemplar of object 1 alone on grey, its tokens on the object. */
    c->target = 2;
    video_render_exemplar(&v, 1, rgb);
    sp_image img = {rgb, v.width, v.height, (size_t)v.width * 3, SP_PIXFMT_RGB};
    if (sp_encode(ctx, &img, &e, &err))
        die("encode exemplar", &err);
    c->query = malloc((size_t)c->n * c->d * sizeof(float));
    for (uint32_t i = 0; i < c->n; i++) {
        /* Exemplar patches mostly on the object: at least 60% of the pixels not the grey backdrop
         * (what a user's crop of the object would mostly contain). */
        uint32_t gy = i / c->gw, gx = i % c->gw, P = info.patch_size, grey = 0;
        for (uint32_t y = gy * P; y < gy * P + P; y++)
            for (uint32_t x = gx * P; x < gx * P + P; x++) {
                const uint8_t *p = rgb + ((size_t)y * v.width + x) * 3;
                grey += p[0] == 128 && p[1] == 128 && p[2] == 128;
            }
        if (grey * 10 <= P * P * 4)
            memcpy(c->query + c->qm++ * c->d, e.tokens + (size_t)i * c->d, c->d * sizeof(float));
    }
    if (c->qm == 0)
        die("exemplar has no object patch", NULL);
    sp_encoding_free(&e);
    sp_pixel_match_free(pm);
    sp_encode_ctx_free(ctx);
    sp_encode_ctx_free(ref_ctx);
    free(rgb);
    free(mask);
    video_free(&v);
}

static void free_clip(clip *c) {
    free(c->tok);
    free(c->ev);
    free(c->ref);
    free(c->label);
    free(c->query);
}

static const float *frame_tok(const clip *c, uint32_t t) {
    return c->tok + (size_t)t * c->n * c->d;
}

/* The tokens the metrics compare: the scoring encoder's when there is one. */
static const float *score_tok(const clip *c, uint32_t t) {
    return (c->ref ? c->ref : c->tok) + (size_t)t * c->n * c->d;
}

/* ---- metrics ---- */

typedef struct metrics {
    double coverage, object_recall, object_coverage, query_recall;
    size_t windows, query_windows;
} metrics;

static void normalize(float *x, size_t n, size_t d) {
    for (size_t i = 0; i < n; i++) {
        float s = cblas_snrm2((int)d, x + i * d, 1);
        if (s > 1e-12f)
            cblas_sscal((int)d, 1.0f / s, x + i * d, 1);
    }
}

/* Scores one window: frames [f0, f1] against the kept tokens. */
static void score_window(const clip *c, uint32_t f0, uint32_t f1, const kept *k, float recall_cos,
                         metrics *m, int with_query) {
    size_t nin = (size_t)(f1 - f0 + 1) * c->n, d = c->d;
    if (k->count == 0) {
        m->windows++;
        return;
    }
    float *kn = malloc(k->count * d * sizeof(float));
    float *sim = malloc(c->n * k->count * sizeof(float));
    memcpy(kn, k->v, k->count * d * sizeof(float));
    normalize(kn, k->count, d);
    double cov = 0, obj_rec = 0, obj_cov = 0, q_rec = 0;
    size_t nobj = 0, nq = 0;
    /* Input tokens are unit rows (patch encoder), one frame at a time. */
    for (uint32_t t = f0; t <= f1; t++) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)c->n, (int)k->count, (int)d, 1.0f,
                    score_tok(c, t), (int)d, kn, (int)d, 0.0f, sim, (int)k->count);
        const uint8_t *lab = c->label + (size_t)t * c->n;
        for (size_t i = 0; i < c->n; i++) {
            const float *row = sim + i * k->count;
            float best = -1, best_same = -1;
            for (size_t j = 0; j < k->count; j++) {
                best = fmaxf(best, row[j]);
                if (lab[i] && k->label[j] == lab[i])
                    best_same = fmaxf(best_same, row[j]);
            }
            cov += best;
            if (lab[i]) {
                nobj++;
                obj_cov += best_same;
                obj_rec += best_same >= recall_cos;
                if (lab[i] == c->target) {
                    nq++;
                    q_rec += best_same >= recall_cos;
                }
            }
        }
    }
    m->coverage += cov / (double)nin;
    if (nobj) {
        m->object_recall += obj_rec / (double)nobj;
        m->object_coverage += obj_cov / (double)nobj;
    } else {
        m->object_recall += 1;
        m->object_coverage += 1;
    }
    if (with_query && nq) {
        m->query_recall += q_rec / (double)nq;
        m->query_windows++;
    }
    m->windows++;
    free(kn);
    free(sim);
}

/* ---- methods ---- */

typedef struct run_ctx {
    const clip *c;
    uint32_t window, hop;
    size_t budget;
    int with_query;
    float recall_cos;
    metrics m;
    double ms;
    kept k;
    uint64_t next_end;  /* stream: frame the next packet ends at */
    float gsp_keep;     /* stream: GSP keep ratio (0: the default) */
    float sigma, gamma; /* stream: kernel_sigma, mass_gamma (< 0: the defaults) */
} run_ctx;

static sp_status on_packet(void *user, const sp_packet *p, sp_error *err) {
    (void)err;
    run_ctx *r = user;
    kept_reset(&r->k);
    for (size_t i = 0; i < p->count; i++) {
        const sp_token_info *t = &p->info[i];
        size_t at = (size_t)t->y * r->c->gw + t->x;
        /* with a scoring encoder, the kept token is scored by its own patch's scoring token */
        const float *v =
            r->c->ref ? score_tok(r->c, (uint32_t)t->frame) + at * p->d : p->tokens + i * p->d;
        kept_add(&r->k, v, p->d, r->c->label[(size_t)t->frame * r->c->n + at]);
    }
    score_window(r->c, (uint32_t)p->frame_first, (uint32_t)p->frame_last, &r->k, r->recall_cos,
                 &r->m, r->with_query);
    return SP_OK;
}

static void run_stream(run_ctx *r, float tau_t, bool script_kernel) {
    const clip *c = r->c;
    sp_stream_params p;
    sp_stream_params_init(&p);
    p.window = r->window;
    p.hop = r->hop;
    p.window_budget = r->budget;
    p.tau_t = tau_t;
    if (tau_t >= 1.0f) /* the no-temporal-graph ablation: every frame's candidates fit */
        p.window_max_tokens = (size_t)r->window * c->n;
    if (r->gsp_keep > 0)
        p.gsp_keep = r->gsp_keep;
    if (r->sigma >= 0)
        p.kernel_sigma = r->sigma;
    if (r->gamma >= 0)
        p.mass_gamma = r->gamma;
    if (script_kernel) {
        p.kernel_sigma = 0.0f; /* QCSP exactly as per-frame Script: cosine kernel, r = 1 */
        p.mass_gamma = 0.0f;
    }
    p.on_packet = on_packet;
    p.user = r;
    sp_stream *s;
    sp_error err;
    if (sp_stream_new(&p, &s, &err))
        die("stream", &err);
    sp_query q = {c->query, c->qm, c->d};
    if (r->with_query && sp_stream_set_query(s, &q, &err))
        die("query", &err);
    for (uint32_t t = 0; t < c->T; t++) {
        sp_frame f;
        sp_frame_view(&f, frame_tok(c, t), c->n, c->d);
        f.grid_h = c->gh;
        f.grid_w = c->gw;
        f.own_d = c->own_d;
        f.evidence = c->ev ? c->ev + (size_t)t * c->n : NULL;
        f.pts = (int64_t)llround(t * 1e9 / FPS);
        if (sp_stream_push(s, &f, &err))
            die("push", &err);
    }
    /* Scoring runs inside the packet callbacks: the method's time is the stream's own counter
     * (temporal graph, GSP, QCSP, bookkeeping), which excludes them. */
    sp_stream_stats st;
    sp_stream_get_stats(s, &st);
    r->ms = (double)st.select_ns_total / 1e6;
    sp_stream_free(s);
}

/* Tokens each frame of [f0, f1] gets when B is split evenly (the first frames take the rest). */
static size_t share(size_t budget, uint32_t nf, uint32_t i) {
    return budget / nf + (i < budget % nf ? 1 : 0);
}

typedef enum method {
    M_SCRIPT,
    M_DTD,
    M_UNIFORM,
    M_POOL,
    M_RANDOM,
    M_DIVPRUNE,
} method;

static const char *const method_names[] = {"script", "dtd",    "uniform",
                                           "pool",   "random", "divprune"};

static void select_frame(const clip *c, uint32_t t, sp_method m, size_t k, const sp_query *q,
                         sp_workspace *ws, sp_selection *sel, kept *out) {
    if (k == 0)
        return;
    sp_params p;
    sp_params_init(&p);
    p.method = m;
    p.budget = k;
    p.seed = t * 7919 + 1;
    sp_frame f;
    sp_frame_view(&f, frame_tok(c, t), c->n, c->d);
    f.grid_h = c->gh;
    f.grid_w = c->gw;
    sp_error err;
    if (sp_select(ws, &f, q, &p, sel, &err))
        die("select", &err);
    for (size_t i = 0; i < sel->count; i++)
        kept_add(out, sel->tokens + i * sel->d, c->d, c->label[(size_t)t * c->n + sel->index[i]]);
}

typedef struct dtd_item {
    float sim;
    uint32_t t, pos;
} dtd_item;

static int dtd_cmp(const void *a, const void *b) {
    const dtd_item *x = a, *y = b;
    if (x->sim != y->sim)
        return x->sim < y->sim ? -1 : 1;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->pos < y->pos ? -1 : (x->pos > y->pos);
}

static void run_baseline(run_ctx *r, method m) {
    const clip *c = r->c;
    sp_workspace *ws = sp_workspace_new();
    sp_selection sel;
    sp_selection_init(&sel);
    sp_query q = {c->query, c->qm, c->d};
    const sp_query *qp = r->with_query && m == M_SCRIPT ? &q : NULL;
    dtd_item *items = malloc((size_t)r->window * c->n * sizeof *items);
    for (uint32_t e = r->hop - 1; e < c->T; e += r->hop) {
        uint32_t f0 = e + 1 > r->window ? e + 1 - r->window : 0, nf = e - f0 + 1;
        kept_reset(&r->k);
        double t0 = bench_now_ms();
        switch (m) {
            case M_SCRIPT:
            case M_POOL:
            case M_RANDOM:
            case M_DIVPRUNE: {
                sp_method sm = m == M_SCRIPT   ? SP_METHOD_SCRIPT
                               : m == M_POOL   ? SP_METHOD_POOL
                               : m == M_RANDOM ? SP_METHOD_RANDOM
                                               : SP_METHOD_DIVPRUNE;
                for (uint32_t i = 0; i < nf; i++)
                    select_frame(c, f0 + i, sm, share(r->budget, nf, i), qp, ws, &sel, &r->k);
                break;
            }
            case M_UNIFORM: {
                uint32_t F = (uint32_t)((r->budget + c->n - 1) / c->n);
                if (F > nf)
                    F = nf;
                for (uint32_t i = 0; i < F; i++) {
                    /* centres of F equal parts of the window */
                    uint32_t t = f0 + (uint32_t)(((2 * (uint64_t)i + 1) * nf) / (2 * (uint64_t)F));
                    select_frame(c, t, SP_METHOD_POOL, share(r->budget, F, i), NULL, ws, &sel,
                                 &r->k);
                }
                break;
            }
            case M_DTD: {
                size_t ni = 0;
                for (uint32_t t = f0; t <= e; t++)
                    for (uint32_t p = 0; p < c->n; p++) {
                        float s = -2.0f;
                        if (t > 0)
                            s = cblas_sdot((int)c->d, frame_tok(c, t) + (size_t)p * c->d, 1,
                                           frame_tok(c, t - 1) + (size_t)p * c->d, 1);
                        items[ni++] = (dtd_item){s, t, p};
                    }
                qsort(items, ni, sizeof *items, dtd_cmp);
                size_t k = r->budget < ni ? r->budget : ni;
                for (size_t i = 0; i < k; i++)
                    kept_add(&r->k, frame_tok(c, items[i].t) + (size_t)items[i].pos * c->d, c->d,
                             c->label[(size_t)items[i].t * c->n + items[i].pos]);
                break;
            }
        }
        r->ms += bench_now_ms() - t0;
        score_window(c, f0, e, &r->k, r->recall_cos, &r->m, r->with_query);
    }
    free(items);
    sp_selection_free(&sel);
    sp_workspace_free(ws);
}

static void report(const run_ctx *r, const char *name, double tau_t) {
    const metrics *m = &r->m;
    double w = m->windows ? (double)m->windows : 1;
    printf("{\"bench\":\"quality\",\"scene\":\"%s\",\"method\":\"%s\",\"budget\":%zu,"
           "\"window\":%u,\"hop\":%u,\"query\":%s,\"tau_t\":%.3f,\"windows\":%zu,"
           "\"score_space\":\"%s\","
           "\"coverage\":%.4f,\"object_recall\":%.4f,\"object_coverage\":%.4f,",
           video_scene_name(r->c->scene), name, r->budget, r->window, r->hop,
           r->with_query ? "true" : "false", tau_t, m->windows, r->c->ref ? "local33" : "own",
           m->coverage / w, m->object_recall / w, m->object_coverage / w);
    if (m->query_windows)
        printf("\"query_recall\":%.4f,", m->query_recall / (double)m->query_windows);
    else
        printf("\"query_recall\":null,");
    printf("\"tokens_per_s\":%.2f,\"ms_per_frame\":%.3f,\"encode_ms_per_frame\":%.3f}\n",
           (double)r->budget * FPS / r->hop, r->ms / r->c->T, r->c->encode_ms);
    fflush(stdout);
}

int main(int argc, char **argv) {
    static const struct option opts[] = {
        {"frames", required_argument, 0, 'f'},
        {"budgets", required_argument, 0, 'b'},
        {"taus", required_argument, 0, 't'},
        {"scenes", required_argument, 0, 's'},
        {"window", required_argument, 0, 'w'},
        {"hop", required_argument, 0, 'h'},
        {"recall-cos", required_argument, 0, 'r'},
        {"threads", required_argument, 0, 'j'},
        {"dump", required_argument, 0, 'D'},
        {"gsp-keep", required_argument, 0, 'g'},
        {"sigma", required_argument, 0, 'x'},
        {"gamma", required_argument, 0, 'y'},
        {"streams-only", no_argument, 0, 'S'},
        {"score-local", no_argument, 0, 'L'},
        {"select-local", no_argument, 0, 'l'},
        {"no-pixels", no_argument, 0, 'P'},
        {0, 0, 0, 0},
    };
    uint32_t T = 64, window = 16, hop = 8;
    int threads = 2;
    const char *dump = NULL;
    float gsp_keep = 0, sigma = -1, gamma = -1;
    int streams_only = 0, score_local = 0, select_local = 0, pixels = 1;
    float recall_cos = 0.9f;
    char budgets_s[256] = "64,128,256,512", taus_s[256] = "0.85,0.90,0.92,0.93,0.94,0.95,0.97";
    char scenes_s[64] = "0,1,2,3";
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
            case 'f':
                T = (uint32_t)strtoul(optarg, NULL, 10);
                break;
            case 'b':
                snprintf(budgets_s, sizeof budgets_s, "%s", optarg);
                break;
            case 't':
                snprintf(taus_s, sizeof taus_s, "%s", optarg);
                break;
            case 's':
                snprintf(scenes_s, sizeof scenes_s, "%s", optarg);
                break;
            case 'w':
                window = (uint32_t)strtoul(optarg, NULL, 10);
                break;
            case 'h':
                hop = (uint32_t)strtoul(optarg, NULL, 10);
                break;
            case 'r':
                recall_cos = strtof(optarg, NULL);
                break;
            case 'j':
                threads = atoi(optarg);
                break;
            case 'D':
                dump = optarg;
                break;
            case 'g':
                gsp_keep = strtof(optarg, NULL);
                break;
            case 'S':
                streams_only = 1;
                break;
            case 'L':
                score_local = 1;
                break;
            case 'l':
                select_local = 1;
                break;
            case 'P':
                pixels = 0;
                break;
            case 'x':
                sigma = strtof(optarg, NULL);
                break;
            case 'y':
                gamma = strtof(optarg, NULL);
                break;
            default:
                fprintf(stderr,
                        "usage: bench-quality [--frames T] [--budgets B,B] [--taus X,X] "
                        "[--scenes 0,1,2,3] [--window W] [--hop H] [--recall-cos C] "
                        "[--streams-only [--score-local]] [--select-local] [--no-pixels]\n");
                return 2;
        }
    }
    sp_blas_set_threads(threads);
    sp_encoder_config ec;
    sp_encoder_config_init(&ec);
    ec.patch_local = select_local; /* --select-local: the 33-feature encoder, for before/after */
    sp_encoder *enc;
    sp_error err;
    if (sp_encoder_open(&ec, &enc, &err))
        die("encoder", &err);
    /* --score-local: the metrics compare tokens of the 33-feature encoder (patch_local), whatever
     * the stream selected with, so that encoders with other similarity scales compare fairly.
     * Only the stream methods map their picks back to patches, hence --streams-only. */
    sp_encoder *ref_enc = NULL;
    if (score_local) {
        if (!streams_only)
            die("--score-local needs --streams-only", NULL);
        sp_encoder_config rc;
        sp_encoder_config_init(&rc);
        rc.patch_local = true;
        if (sp_encoder_open(&rc, &ref_enc, &err))
            die("scoring encoder", &err);
    }
    size_t budgets[16], nb = 0;
    for (char *s = strtok(budgets_s, ","); s && nb < 16; s = strtok(NULL, ","))
        budgets[nb++] = strtoul(s, NULL, 10);
    float taus[16];
    size_t nt = 0;
    for (char *s = strtok(taus_s, ","); s && nt < 16; s = strtok(NULL, ","))
        taus[nt++] = strtof(s, NULL);
    int scenes[8], ns = 0;
    for (char *s = strtok(scenes_s, ","); s && ns < 8; s = strtok(NULL, ","))
        scenes[ns++] = atoi(s);
    for (int si = 0; si < ns; si++) {
        clip cl;
        make_clip(scenes[si], T, enc, ref_enc, pixels, &cl);
        if (dump) {
            /* Raw float32 tokens, labels and query rows for offline analysis. */
            char path[512];
            snprintf(path, sizeof path, "%s/%s.bin", dump, video_scene_name(cl.scene));
            FILE *f = fopen(path, "wb");
            if (!f)
                die("dump", NULL);
            uint32_t hdr[5] = {cl.T, cl.n, cl.d, (uint32_t)cl.qm, cl.gw};
            fwrite(hdr, sizeof hdr, 1, f);
            fwrite(cl.tok, sizeof(float), (size_t)cl.T * cl.n * cl.d, f);
            fwrite(cl.label, 1, (size_t)cl.T * cl.n, f);
            fwrite(cl.query, sizeof(float), cl.qm * cl.d, f);
            fclose(f);
            free_clip(&cl);
            continue;
        }
        for (size_t bi = 0; bi < nb; bi++)
            for (int wq = 0; wq < 2; wq++) {
                run_ctx r = {.c = &cl,
                             .window = window,
                             .hop = hop,
                             .budget = budgets[bi],
                             .with_query = wq,
                             .recall_cos = recall_cos,
                             .gsp_keep = gsp_keep,
                             .sigma = sigma,
                             .gamma = gamma};
                for (size_t ti = 0; ti < nt; ti++) {
                    memset(&r.m, 0, sizeof r.m);
                    r.ms = 0;
                    run_stream(&r, taus[ti], false);
                    report(&r, "stream", taus[ti]);
                }
                if (streams_only) {
                    free(r.k.v);
                    free(r.k.label);
                    continue;
                }
                memset(&r.m, 0, sizeof r.m);
                r.ms = 0;
                run_stream(&r, SP_STREAM_DEFAULT_TAU_T, true);
                report(&r, "stream-cosine", SP_STREAM_DEFAULT_TAU_T);
                memset(&r.m, 0, sizeof r.m);
                r.ms = 0;
                run_stream(&r, 1.0f, false);
                report(&r, "stream-no-tg", 1.0);
                for (int m = 0; m <= M_DIVPRUNE; m++) {
                    memset(&r.m, 0, sizeof r.m);
                    r.ms = 0;
                    run_baseline(&r, (method)m);
                    report(&r, method_names[m], -1);
                }
                free(r.k.v);
                free(r.k.label);
            }
        free_clip(&cl);
    }
    sp_encoder_free(enc);
    sp_encoder_free(ref_enc);
    return 0;
}
