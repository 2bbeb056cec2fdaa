/* bench-ask: the cost of `POST /v1/streams/{id}/ask` before the MLLM is called, over one hour of
 * history: the reselection of `budget` tokens with the question's embedding (what
 * scd_stream_reselect_with runs) and the chat request body (scd_vllm_chat_request, the daemon's
 * builder). Target: select + build <= 100 ms at budget 256 over an hour at 1 fps.
 *
 * The history is built by a real scriptprune element (linked statically, with the pruning
 * parameters the daemon gives it for a stream of the default config, set by the same loop as
 * runtime/runner.c) fed with LLaVA-1.5-shaped frames: 24 x 24 = 576 tokens of width 4096 (the
 * language model's hidden size after the projector) and joint-space embeddings of width 768 (a
 * separate CLIP ViT-L/14-336's projection). Encoding an hour of frames through a vision tower is
 * out of reach of a benchmark, so the frames are synthetic: a camera-like scene (a banded
 * background with per-position texture, objects moving one patch every few seconds, sensor noise,
 * a new scene every --scene-s seconds), which gives the temporal graph repeats and GSP new frames
 * to prune, as a real video does. The selection is the element's `reselect` action signal, which
 * is all scd_stream_reselect_with does below its state check (runtime/runner.c: scd_run_reselect);
 * a daemon stream always encodes its own pixels, so the bench drives the element directly.
 *
 * Output, one JSON object a line: {"bench":"ask-history",...} once, {"bench":"ask","run":i,...}
 * per run, and {"bench":"ask-summary",...} with medians and p90 of select_ms and build_ms, the
 * process CPU time of one ask and the load average, once per BLAS thread count (--threads: on a
 * shared machine the one-thread CPU time is the work without the threads' spinning). Options:
 * --seconds S (3600) --fps F (1) --budget K (256) --runs R (9) --scene-s S (60) --dtype f32|f16
 * (the config's mllm.embeds_dtype) --question-rows M (2) --threads LIST (2,1) --reselect-max N
 * (the config's, 2048). */
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gst/script/script.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench_util.h"
#include "config/config.h"
#include "elements.h"
#include "http/vllm_chat.h"
#include "runtime/runner.h"
#include "scriptprune/params.h"
#include "scriptprune/select.h"

enum { GRID = 24, N = GRID * GRID, D = 4096, E = 768, OBJECTS = 3, OBJ = 4 };

typedef struct opts {
    unsigned seconds, fps, budget, runs, scene_s, rows;
    unsigned reselect_max; /* 0: the config's (pruning.reselect_max) */
    const char *dtype;
    const char *threads; /* BLAS thread counts to ask with, in turn: "2,1" */
} opts;

/* ---- a deterministic camera-like scene ---------------------------------------------------- */

static uint64_t mix(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* Fills v (n values) uniform in [-1, 1) from key. */
static void uniform(uint64_t key, float *v, size_t n) {
    uint64_t s = mix(key) | 1u;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        v[i] = (float)((double)(s >> 11) * (2.0 / 9007199254740992.0) - 1.0);
    }
}

/* The picture of one scene in one space (tokens or embeddings): per position its background,
 * per object and local patch its look; rendered frames add noise. */
typedef struct space {
    size_t w;   /* width */
    float *bg;  /* N x w */
    float *obj; /* OBJECTS x OBJ x OBJ x w */
    float *noise;
    uint64_t salt;
} space;

static int space_init(space *s, size_t w, uint64_t salt) {
    s->w = w;
    s->salt = salt;
    s->bg = malloc(sizeof(float) * N * w);
    s->obj = malloc(sizeof(float) * OBJECTS * OBJ * OBJ * w);
    s->noise = malloc(sizeof(float) * w);
    return s->bg && s->obj && s->noise ? 0 : -1;
}

static void space_free(space *s) {
    free(s->bg);
    free(s->obj);
    free(s->noise);
}

/* Background: 4 horizontal bands (a base vector each) plus 0.3 x a per-position texture; objects:
 * a base per object plus a per-patch vector of the same weight. */
static void space_scene(space *s, uint64_t scene) {
    size_t w = s->w;
    float *band = malloc(sizeof(float) * w), *tex = s->noise;
    if (!band)
        abort();
    for (unsigned y = 0; y < GRID; y++) {
        uniform(s->salt ^ (scene * 131u + y * 4u / GRID) * 7919u, band, w);
        for (unsigned x = 0; x < GRID; x++) {
            uniform(s->salt ^ mix(scene * 1000003u + y * GRID + x + 17u), tex, w);
            float *o = s->bg + ((size_t)y * GRID + x) * w;
            for (size_t i = 0; i < w; i++)
                o[i] = band[i] + 0.3f * tex[i];
        }
    }
    for (unsigned k = 0; k < OBJECTS; k++) {
        uniform(s->salt ^ mix(scene * 7u + k + 0x5151u), band, w);
        for (unsigned p = 0; p < OBJ * OBJ; p++) {
            float *o = s->obj + ((size_t)k * OBJ * OBJ + p) * w;
            uniform(s->salt ^ mix(scene * 977u + k * 64u + p + 0x7777u), o, w);
            for (size_t i = 0; i < w; i++)
                o[i] += band[i];
        }
    }
    free(band);
}

/* Object k's top-left cell at second t: a slow walk (one cell every 4 s) around the grid. */
static void object_at(unsigned k, uint64_t t, int *y, int *x) {
    unsigned step = (unsigned)(t / 4u) + k * 11u, span = GRID - OBJ;
    unsigned a = step % (2 * span), b = (step / 3u + k * 5u) % (2 * span);
    *x = (int)(a < span ? a : 2 * span - a);
    *y = (int)(b < span ? b : 2 * span - b);
}

static void space_render(space *s, uint64_t frame, uint64_t second, float *out) {
    size_t w = s->w;
    for (unsigned p = 0; p < N; p++) {
        const float *src = s->bg + (size_t)p * w;
        int py = (int)(p / GRID), px = (int)(p % GRID);
        for (unsigned k = 0; k < OBJECTS; k++) {
            int oy, ox;
            object_at(k, second, &oy, &ox);
            if (py >= oy && py < oy + OBJ && px >= ox && px < ox + OBJ)
                src = s->obj + ((size_t)k * OBJ * OBJ + (size_t)(py - oy) * OBJ + (px - ox)) * w;
        }
        uniform(s->salt ^ mix(frame * 1000u + p + 0x9999u), s->noise, w);
        float *o = out + (size_t)p * w;
        for (size_t i = 0; i < w; i++)
            o[i] = 2.0f * (src[i] + 0.02f * s->noise[i]);
    }
}

/* ---- setup ----------------------------------------------------------------------------------- */

/* The 1-minute load average (the machine may be shared): -1 when unknown. */
static double load1(void) {
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1)
            l = -1;
        fclose(f);
    }
    return l;
}

static double cpu_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The daemon's config for one stream with every default, and an MLLM url (ask needs one). */
static scd_config *default_config(const opts *o) {
    char *yaml = g_strdup_printf("mllm:\n  url: http://127.0.0.1:9/v1/chat/completions\n"
                                 "  embeds_dtype: %s\n"
                                 "streams:\n  - id: cam\n    uri: rtsp://127.0.0.1:9/cam\n",
                                 o->dtype);
    scd_config *cfg = NULL;
    scd_config_error err;
    if (scd_config_load_string(yaml, strlen(yaml), "bench-ask", "/tmp", &cfg, &err) != SP_OK) {
        fprintf(stderr, "bench-ask: config: %s\n", err.message);
        cfg = NULL;
    }
    g_free(yaml);
    return cfg;
}

/* The stream's pruning config onto the element, by the daemon's own function. */
static void set_prune(GstElement *pr, const scd_pruning_cfg *p) {
    scd_run_set_pruning(pr, p); /* what the daemon's runs do */
    g_object_set(pr, "stream-name", "cam", NULL);
}

static GstBuffer *wrap(float *v, size_t n) {
    return gst_buffer_new_wrapped_full(0, v, n * sizeof(float), 0, n * sizeof(float), v, free);
}

/* Pushes seconds x fps frames; returns 0 on success. */
static int build_history(GstHarness *h, const opts *o, space *tok, space *emb) {
    uint64_t frames = (uint64_t)o->seconds * o->fps, scene = UINT64_MAX;
    for (uint64_t f = 0; f < frames; f++) {
        uint64_t second = f / o->fps;
        if (second / o->scene_s != scene) {
            scene = second / o->scene_s;
            space_scene(tok, scene);
            space_scene(emb, scene);
        }
        float *t = malloc(sizeof(float) * N * D), *e = malloc(sizeof(float) * N * E);
        if (!t || !e) {
            fprintf(stderr, "bench-ask: out of memory\n");
            free(t);
            free(e);
            return -1;
        }
        space_render(tok, f, second, t);
        space_render(emb, f, second, e);
        GstBuffer *b = gst_buffer_new();
        GstBuffer *tb = wrap(t, (size_t)N * D), *eb = wrap(e, (size_t)N * E);
        GstScriptTokensMeta *m = gst_buffer_add_script_tokens_meta(b, tb, N, D, eb, E, GRID, GRID);
        gst_buffer_unref(tb);
        gst_buffer_unref(eb);
        if (!m) {
            fprintf(stderr, "bench-ask: cannot attach the tokens meta\n");
            gst_buffer_unref(b);
            return -1;
        }
        GST_BUFFER_PTS(b) = f * GST_SECOND / o->fps;
        GST_BUFFER_DURATION(b) = GST_SECOND / o->fps;
        if (gst_harness_push(h, b) != GST_FLOW_OK) {
            fprintf(stderr, "bench-ask: scriptprune refused frame %llu\n", (unsigned long long)f);
            return -1;
        }
        gst_buffer_unref(gst_harness_pull(h));
        GstEvent *ev;
        while ((ev = gst_harness_try_pull_event(h)))
            gst_event_unref(ev);
    }
    return 0;
}

static guint64 stat_u64(GstElement *pr, const char *field) {
    GstStructure *s = NULL;
    guint64 v = 0;
    g_object_get(pr, "stats", &s, NULL);
    if (s) {
        gst_structure_get_uint64(s, field, &v);
        gst_structure_free(s);
    }
    return v;
}

/* The question's embedding: M rows near the base of object 0 of the middle scene, as a text
 * question split into 77-token segments would give. */
static GBytes *question_rows(const opts *o, space *emb) {
    space_scene(emb, (uint64_t)o->seconds / 2u / o->scene_s);
    float *q = g_new(float, (size_t)o->rows *E);
    for (unsigned r = 0; r < o->rows; r++) {
        uniform(0x4242u + r, q + (size_t)r * E, E);
        for (size_t i = 0; i < E; i++)
            q[(size_t)r * E + i] = emb->obj[i] + 0.5f * q[(size_t)r * E + i];
    }
    return g_bytes_new_take(q, sizeof(float) * o->rows * E);
}

static double p90(double *v, size_t n) {
    bench_median(v, n); /* sorts */
    size_t i = (size_t)ceil(0.9 * (double)n) - 1;
    return v[i < n ? i : n - 1];
}

static int parse(int argc, char **argv, opts *o) {
    *o = (opts){3600, 1, 256, 9, 60, 2, 0, "f16", "2,1"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        unsigned *slot = !strcmp(a, "--seconds")         ? &o->seconds
                         : !strcmp(a, "--fps")           ? &o->fps
                         : !strcmp(a, "--budget")        ? &o->budget
                         : !strcmp(a, "--runs")          ? &o->runs
                         : !strcmp(a, "--scene-s")       ? &o->scene_s
                         : !strcmp(a, "--question-rows") ? &o->rows
                         : !strcmp(a, "--reselect-max")  ? &o->reselect_max
                                                         : NULL;
        if (!v || (!slot && strcmp(a, "--dtype") && strcmp(a, "--threads"))) {
            fprintf(stderr, "usage: bench-ask [--seconds S] [--fps F] [--budget K] [--runs R] "
                            "[--scene-s S] [--question-rows M] [--dtype f32|f16] "
                            "[--threads T1,T2,...] [--reselect-max N]\n");
            return -1;
        }
        if (slot) {
            char *end;
            unsigned long x = strtoul(v, &end, 10);
            if (*end || x == 0 || x > 1000000) {
                fprintf(stderr, "bench-ask: %s wants a whole number in [1, 1000000], not '%s'\n", a,
                        v);
                return -1;
            }
            *slot = (unsigned)x;
        } else if (!strcmp(a, "--dtype")) {
            o->dtype = v;
        } else {
            o->threads = v;
        }
        i++;
    }
    return 0;
}

/* o->runs asks on BLAS `threads` threads: one "ask" line each, then the "ask-summary". */
static int ask_runs(const opts *o, GstElement *pr, const scd_config *cfg, GBytes *q, int threads) {
    const char *question = "Is anyone carrying a red bag near the gate, and when did they leave?";
    double *sel = g_new(double, o->runs), *bld = g_new(double, o->runs),
           *cpu = g_new(double, o->runs);
    int rc = 0;
    for (unsigned r = 0; r < o->runs && rc == 0; r++) {
        double t0 = bench_now_ms(), u0 = cpu_ms();
        GstStructure *res = NULL;
        /* runtime/runner.c scd_run_reselect: the action signal with the query rows. */
        g_signal_emit_by_name(pr, "reselect", q, o->rows, o->budget, (guint64)0, G_MAXUINT64, &res);
        gboolean ok = FALSE;
        guint count = 0;
        GBytes *st = NULL;
        if (!res || !gst_structure_get_boolean(res, "ok", &ok) || !ok ||
            !gst_structure_get_uint(res, "count", &count) ||
            !gst_structure_get(res, "safetensors", G_TYPE_BYTES, &st, NULL)) {
            fprintf(stderr, "bench-ask: reselect failed: %s\n",
                    res ? gst_structure_get_string(res, "error") : "no result");
            rc = 1;
        }
        if (res)
            gst_structure_free(res);
        if (rc)
            break;
        double t1 = bench_now_ms();
        scd_chat_summary sum = {0};
        sp_error err;
        sp_error_clear(&err);
        GBytes *body = scd_vllm_chat_request(st, cfg->streams[0].pruning.hop, &cfg->mllm, question,
                                             cfg->mllm.max_tokens, &sum, &err);
        double t2 = bench_now_ms(), u1 = cpu_ms();
        if (!body) {
            fprintf(stderr, "bench-ask: chat body: %s\n", err.message);
            rc = 1;
            g_bytes_unref(st);
            break;
        }
        sel[r] = t1 - t0;
        bld[r] = t2 - t1;
        cpu[r] = u1 - u0;
        printf("{\"bench\":\"ask\",\"threads\":%d,\"run\":%u,\"select_ms\":%.2f,\"build_ms\":%.2f,"
               "\"cpu_ms\":%.2f,"
               "\"tokens\":%u,\"windows\":%u,\"body_bytes\":%zu,\"safetensors_bytes\":%zu}\n",
               threads, r, sel[r], bld[r], cpu[r], count, sum.windows->len, g_bytes_get_size(body),
               g_bytes_get_size(st));
        fflush(stdout);
        scd_chat_summary_clear(&sum);
        g_bytes_unref(body);
        g_bytes_unref(st);
    }
    if (rc == 0) {
        guint shortlist = 0;
        g_object_get(pr, "reselect-max", &shortlist, NULL);
        double *tot = g_new(double, o->runs);
        for (unsigned r = 0; r < o->runs; r++)
            tot[r] = sel[r] + bld[r];
        double ms = bench_median(sel, o->runs), mb = bench_median(bld, o->runs);
        double mt = bench_median(tot, o->runs), mc = bench_median(cpu, o->runs);
        printf("{\"bench\":\"ask-summary\",\"threads\":%d,\"load1\":%.2f,\"runs\":%u,\"budget\":%u,"
               "\"question_rows\":%u,"
               "\"embeds_dtype\":\"%s\",\"reselect_max\":%u,\"select_ms_median\":%.2f,\"select_ms_"
               "p90\":%.2f,"
               "\"build_ms_median\":%.2f,\"build_ms_p90\":%.2f,\"total_ms_median\":%.2f,"
               "\"total_ms_p90\":%.2f,\"cpu_ms_median\":%.2f,\"target_ms\":100,\"meets\":%s}\n",
               threads, load1(), o->runs, o->budget, o->rows, o->dtype, shortlist, ms,
               p90(sel, o->runs), mb, p90(bld, o->runs), mt, p90(tot, o->runs), mc,
               p90(tot, o->runs) <= 100.0 ? "true" : "false");
        g_free(tot);
    }
    g_free(sel);
    g_free(bld);
    g_free(cpu);
    return rc;
}

int main(int argc, char **argv) {
    opts o;
    if (parse(argc, argv, &o))
        return 2;
    gst_init(NULL, NULL);
    if (!gst_plugin_register_static(GST_VERSION_MAJOR, GST_VERSION_MINOR, "scriptprune",
                                    "scriptprune (bench build)", gst_scriptprune_plugin_init,
                                    "0.1.0", "MIT/X11", "scriptd", "scriptd", "bench"))
        return 1;
    scd_config *cfg = default_config(&o);
    if (!cfg)
        return 2;
    const scd_stream_cfg *sc = &cfg->streams[0];

    /* Properties first: most of them can only change before the element starts. */
    GstElement *pr = gst_element_factory_make("scriptprune", NULL);
    if (!pr)
        return 1;
    set_prune(pr, &sc->pruning);
    if (o.reselect_max)
        g_object_set(pr, "reselect-max", o.reselect_max, NULL);
    GstHarness *h = gst_harness_new_with_element(pr, "sink", "src");
    gst_object_unref(pr);
    gst_harness_set_src_caps_str(h, "video/x-raw,format=RGBx,width=336,height=336,framerate=1/1");
    space tok, emb;
    if (space_init(&tok, D, 0x70c3u) || space_init(&emb, E, 0xe3b0u)) {
        fprintf(stderr, "bench-ask: out of memory\n");
        return 1;
    }
    double w0 = bench_now_ms(), c0 = cpu_ms();
    if (build_history(h, &o, &tok, &emb))
        return 1;
    double build_s = (bench_now_ms() - w0) / 1e3, build_cpu_s = (cpu_ms() - c0) / 1e3;
    printf("{\"bench\":\"ask-history\",\"seconds\":%u,\"fps\":%u,\"frames\":%llu,\"tokens_per_"
           "frame\":%d,"
           "\"d\":%d,\"e\":%d,\"scene_s\":%u,\"window\":%u,\"hop\":%u,\"window_budget\":%u,"
           "\"history_tokens\":%llu,\"history_bytes\":%llu,\"history_bound\":%llu,"
           "\"history_evicted\":%llu,\"temporal_drops\":%llu,\"spatial_drops\":%llu,"
           "\"candidates\":%llu,\"tokens_emitted\":%llu,\"build_s\":%.1f,\"build_cpu_s\":%.1f,"
           "\"load1\":%.2f}\n",
           o.seconds, o.fps, (unsigned long long)o.seconds * o.fps, N, D, E, o.scene_s,
           (unsigned)sc->pruning.window, (unsigned)sc->pruning.hop,
           (unsigned)sc->pruning.window_budget,
           (unsigned long long)stat_u64(h->element, "history-tokens"),
           (unsigned long long)stat_u64(h->element, "history-bytes"),
           (unsigned long long)stat_u64(h->element, "history-bound"),
           (unsigned long long)stat_u64(h->element, "history-evicted"),
           (unsigned long long)stat_u64(h->element, "temporal-drops"),
           (unsigned long long)stat_u64(h->element, "spatial-drops"),
           (unsigned long long)stat_u64(h->element, "candidates"),
           (unsigned long long)stat_u64(h->element, "tokens-emitted"), build_s, build_cpu_s,
           load1());
    fflush(stdout);

    GBytes *q = question_rows(&o, &emb);
    int rc = 0;
    for (const char *t = o.threads; *t && rc == 0;) {
        char *end;
        long threads = strtol(t, &end, 10);
        if (end == t || threads < 1 || threads > 64 || (*end && *end != ',')) {
            fprintf(stderr, "bench-ask: --threads wants numbers in [1, 64] separated by commas\n");
            rc = 2;
            break;
        }
        sp_blas_set_threads((int)threads);
        rc = ask_runs(&o, h->element, cfg, q, (int)threads);
        t = *end ? end + 1 : end;
    }
    g_bytes_unref(q);
    space_free(&tok);
    space_free(&emb);
    gst_harness_teardown(h);
    scd_config_free(cfg);
    return rc;
}
