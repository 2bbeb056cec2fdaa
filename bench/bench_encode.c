/* bench-encode: time per frame of the encoders, one JSON line per measurement.
 *   patch   the built-in encoder on a 1920x1080 RGBx frame, resize included, on one core; then two
 *           contexts on two threads (frames per second).
 *   clip    ViT-B/16 at 224 and ViT-L/14 at 336 with random weights on T BLAS threads, against the
 *           OpenBLAS SGEMM rate measured in the same process on the model's own GEMM shapes.
 *   llava   LLaVA-1.5's vision side (ViT-L/14 at 336 to layer -2, projector 1024 -> 4096 -> 4096,
 *           and the 13B model's 5120): the vision tower's time per frame (encodes without the
 *           projector), the projector's (its two GEMMs and GELU timed alone, and the difference
 *           of interleaved encodes with and without it), their ratio (target <= 10%), and the
 *           tower's GFLOP/s against the SGEMM rate on the model's shapes measured in the same
 *           run (target >= 75%).
 * The random models are built in memory: a safetensors image (float16, through the formats writer)
 * plus a config.json string, opened with sp_encoder_open_blobs. So the real loader runs and no
 * file of hundreds of MB is needed; float16 halves the transient memory (ViT-L: 0.6 GB image,
 * 1.2 GB of float32 weights once loaded). */
#include <cblas.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "vit_model.h"
#include "scriptprune/encode.h"
#include "scriptprune/select.h"

static void print_json_patch(const char *what, int threads, size_t reps, double median, double min,
                             double fps, const sp_encoder_info *in) {
    printf("{\"bench\":\"encode\",\"backend\":\"patch\",\"measure\":\"%s\",\"frame\":\"1920x1080\","
           "\"format\":\"RGBx\",\"image_size\":%u,\"tokens\":%zu,\"dim\":%zu,\"threads\":%d,"
           "\"reps\":%zu,\"ms_median\":%.3f,\"ms_min\":%.3f,\"fps\":%.1f}\n",
           what, in->image_size, in->n, in->d, threads, reps, median, min, fps);
    fflush(stdout);
}

typedef struct patch_job {
    sp_encoder *enc;
    const sp_image *img;
    size_t frames;
    int failed;
} patch_job;

static void *patch_worker(void *arg) {
    patch_job *j = arg;
    sp_encode_ctx *ctx;
    sp_error err;
    sp_encoding r;
    sp_encoding_init(&r);
    if (sp_encode_ctx_new(j->enc, &ctx, &err)) {
        j->failed = 1;
        return NULL;
    }
    for (size_t k = 0; k < j->frames && !j->failed; k++)
        j->failed = sp_encode(ctx, j->img, &r, &err) != SP_OK;
    sp_encoding_free(&r);
    sp_encode_ctx_free(ctx);
    return NULL;
}

static int bench_patch(size_t reps) {
    sp_encoder_config c;
    sp_encoder_config_init(&c);
    sp_encoder *enc;
    sp_encode_ctx *ctx;
    sp_error err;
    if (sp_encoder_open(&c, &enc, &err) || sp_encode_ctx_new(enc, &ctx, &err)) {
        fprintf(stderr, "bench-encode: %s\n", err.message);
        return 1;
    }
    uint8_t *px = vit_make_frame(1920, 1080, 4, 3);
    double *t = malloc(reps * sizeof *t);
    if (!px || !t)
        return 1;
    sp_image img = {px, 1920, 1080, 1920 * 4, SP_PIXFMT_RGBX};
    sp_encoding r;
    sp_encoding_init(&r);
    sp_encode(ctx, &img, &r, &err); /* warm-up: buffers and filter taps */
    for (size_t k = 0; k < reps; k++) {
        double a = bench_now_ms();
        if (sp_encode(ctx, &img, &r, &err)) {
            fprintf(stderr, "bench-encode: %s\n", err.message);
            return 1;
        }
        t[k] = bench_now_ms() - a;
    }
    sp_encoder_info in;
    sp_encoder_get_info(enc, &in);
    double median = bench_median(t, reps);
    print_json_patch("latency", 1, reps, median, t[0], 1000.0 / median, &in);
    /* two contexts on two threads: throughput of the shared encoder */
    patch_job jobs[2] = {{enc, &img, reps, 0}, {enc, &img, reps, 0}};
    pthread_t th[2];
    double a = bench_now_ms();
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, patch_worker, &jobs[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    double ms = bench_now_ms() - a;
    if (jobs[0].failed || jobs[1].failed)
        return 1;
    print_json_patch("throughput", 2, 2 * reps, ms / (2.0 * reps), ms / (2.0 * reps),
                     2000.0 * reps / ms, &in);
    sp_encoding_free(&r);
    sp_encode_ctx_free(ctx);
    sp_encoder_free(enc);
    free(px);
    free(t);
    return 0;
}

/* ---- clip ---- */

/* Process CPU time in ms (all threads). */
static double cpu_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Best SGEMM rate over the model's own shapes (C[M x N] = A[M x K] B^T, as the linear layers);
 * with a LLaVA projector its two shapes count too. cpu_rate (may be NULL): the best rate per
 * CPU-second of the process instead of per second of wall time. */
static double sgemm_gflops_cpu(const vit_dims *d, size_t reps, double *cpu_rate) {
    size_t n = (size_t)(d->image / d->patch) * (d->image / d->patch), T = n + 1, H = d->hidden;
    size_t D = d->llava_hidden;
    size_t shapes[5][3] = {{T, 3 * H, H}, {T, d->inter, H}, {T, H, d->inter}, {n, D, H}, {n, D, D}};
    double best = 0, best_cpu = 0;
    for (int s = 0; s < (D ? 5 : 3); s++) {
        size_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        float *a = malloc(M * K * 4), *b = malloc(N * K * 4), *c = malloc(M * N * 4);
        if (!a || !b || !c)
            return 0;
        for (size_t i = 0; i < M * K; i++)
            a[i] = (float)(i % 7) * 0.1f;
        for (size_t i = 0; i < N * K; i++)
            b[i] = (float)(i % 5) * 0.1f;
        double *t = malloc(reps * sizeof *t), *u = malloc(reps * sizeof *u);
        if (!t || !u)
            return 0;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)N, (int)K, 1, a, (int)K,
                    b, (int)K, 0, c, (int)N);
        for (size_t k = 0; k < reps; k++) {
            double t0 = bench_now_ms(), u0 = cpu_now_ms();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)N, (int)K, 1, a,
                        (int)K, b, (int)K, 0, c, (int)N);
            t[k] = bench_now_ms() - t0;
            u[k] = cpu_now_ms() - u0;
        }
        double rate = 2.0 * M * N * K / (bench_median(t, reps) * 1e6);
        double rate_cpu = 2.0 * M * N * K / (bench_median(u, reps) * 1e6);
        best = rate > best ? rate : best;
        best_cpu = rate_cpu > best_cpu ? rate_cpu : best_cpu;
        free(a);
        free(b);
        free(c);
        free(t);
        free(u);
    }
    if (cpu_rate)
        *cpu_rate = best_cpu;
    return best;
}

static double sgemm_gflops(const vit_dims *d, size_t reps) {
    return sgemm_gflops_cpu(d, reps, NULL);
}

static int bench_clip(const vit_dims *d, int threads, size_t reps) {
    model_image mi;
    double t0 = bench_now_ms();
    if (vit_build_model(d, &mi))
        return 1;
    sp_model_blobs blobs;
    vit_model_blobs(&mi, &blobs);
    sp_encoder_config c;
    sp_encoder_config_init(&c);
    sp_encoder *enc;
    sp_encode_ctx *ctx;
    sp_error err;
    double t1 = bench_now_ms();
    if (sp_encoder_open_blobs(&c, &blobs, &enc, &err) || sp_encode_ctx_new(enc, &ctx, &err)) {
        fprintf(stderr, "bench-encode: %s: %s\n", d->name, err.message);
        return 1;
    }
    double load_ms = bench_now_ms() - t1, build_ms = t1 - t0;
    free(mi.st);
    uint8_t *px = vit_make_frame(1920, 1080, 4, 3);
    double *t = malloc(reps * sizeof *t);
    if (!px || !t)
        return 1;
    sp_image img = {px, 1920, 1080, 1920 * 4, SP_PIXFMT_RGBX};
    sp_encoding r;
    sp_encoding_init(&r);
    if (sp_encode(ctx, &img, &r, &err)) { /* warm-up */
        fprintf(stderr, "bench-encode: %s\n", err.message);
        return 1;
    }
    for (size_t k = 0; k < reps; k++) {
        double a = bench_now_ms();
        sp_encode(ctx, &img, &r, &err);
        t[k] = bench_now_ms() - a;
    }
    double median = bench_median(t, reps), flops = vit_model_flops(d);
    double rate = flops / (median * 1e6), peak = sgemm_gflops(d, reps > 5 ? reps : 5);
    sp_encoder_info in;
    sp_encoder_get_info(enc, &in);
    printf("{\"bench\":\"encode\",\"backend\":\"clip\",\"model\":\"%s\",\"image_size\":%u,"
           "\"tokens\":%zu,\"frame\":\"1920x1080\",\"threads\":%d,\"reps\":%zu,"
           "\"ms_median\":%.1f,\"ms_min\":%.1f,\"gflop_per_frame\":%.2f,\"gflops\":%.1f,"
           "\"sgemm_gflops\":%.1f,\"fraction_of_sgemm\":%.3f,\"build_ms\":%.0f,\"load_ms\":%.0f}\n",
           d->name, in.image_size, in.n + 1, threads, reps, median, t[0], flops / 1e9, rate, peak,
           rate / peak, build_ms, load_ms);
    fflush(stdout);
    sp_encoding_free(&r);
    sp_encode_ctx_free(ctx);
    sp_encoder_free(enc);
    free(px);
    free(t);
    return 0;
}

/* The projector's work alone on n tokens (two SGEMMs with W row-major [out, in], bias, GELU with
 * libm's erff): median ms over reps. Robust where the difference of two full encodes drowns in
 * the noise of a shared machine. The encoder's own GELU is vectorised and split across the two
 * cores (core/encode/vmath.c), so this is an upper bound of its projector. */
static double projector_ms(size_t n, size_t H, size_t D, size_t reps) {
    float *x = malloc(n * H * 4), *w1 = malloc(D * H * 4), *w2 = malloc(D * D * 4);
    float *mid = malloc(n * D * 4), *y = malloc(n * D * 4), *b = malloc(D * 4);
    double *t = malloc(reps * sizeof *t), ms = -1;
    if (x && w1 && w2 && mid && y && b && t) {
        for (size_t i = 0; i < n * H; i++)
            x[i] = (float)(i % 13) * 0.05f - 0.3f;
        for (size_t i = 0; i < D * H; i++)
            w1[i] = (float)(i % 7) * 0.01f - 0.03f;
        for (size_t i = 0; i < D * D; i++)
            w2[i] = (float)(i % 5) * 0.01f - 0.02f;
        for (size_t i = 0; i < D; i++)
            b[i] = 0.1f;
        for (size_t k = 0; k <= reps; k++) { /* the first is a warm-up */
            double a = bench_now_ms();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)D, (int)H, 1, x,
                        (int)H, w1, (int)H, 0, mid, (int)D);
            for (size_t i = 0; i < n * D; i++) {
                float v = mid[i] + b[i % D];
                mid[i] = 0.5f * v * (1.0f + erff(v * 0.70710678f));
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)D, (int)D, 1, mid,
                        (int)D, w2, (int)D, 0, y, (int)D);
            for (size_t i = 0; i < n * D; i++)
                y[i] += b[i % D];
            if (k)
                t[k - 1] = bench_now_ms() - a;
        }
        ms = bench_median(t, reps);
    }
    free(x);
    free(w1);
    free(w2);
    free(mid);
    free(y);
    free(b);
    free(t);
    return ms;
}

/* Releases the two encoders of an interleaved comparison, their contexts, results and timings. */
static void free_pair(sp_encoder *enc[2], sp_encode_ctx *ctx[2], sp_encoding r[2], double *t[2]) {
    for (int k = 0; k < 2; k++) {
        sp_encoding_free(&r[k]);
        sp_encode_ctx_free(ctx[k]);
        sp_encoder_free(enc[k]);
        free(t[k]);
    }
}

/* The projector inside the encoder: the same weights with vision_feature_layer 1 (one tower
 * layer is loaded and run), interleaved encodes with and without the projector; the difference of
 * the medians is the projector as sp_encode runs it, no longer drowned by a 23-layer tower.
 * *short_ms gets the one-layer encode without the projector. -1 on failure. */
static double in_encoder_projector_ms(const model_image *mi, size_t reps, double *short_ms) {
    char config[1024];
    const char *key = "\"vision_feature_layer\": -2";
    const char *at = strstr(mi->config, key);
    if (!at)
        return -1;
    snprintf(config, sizeof config, "%.*s\"vision_feature_layer\": 1%s", (int)(at - mi->config),
             mi->config, at + strlen(key));
    sp_model_blobs blobs;
    memset(&blobs, 0, sizeof blobs);
    blobs.safetensors = mi->st;
    blobs.safetensors_len = mi->st_len;
    blobs.config_json = config;
    blobs.config_json_len = strlen(config);
    sp_encoder *enc[2] = {NULL, NULL};
    sp_encode_ctx *ctx[2] = {NULL, NULL};
    sp_encoding r[2];
    double *t[2] = {malloc(reps * sizeof(double)), malloc(reps * sizeof(double))};
    uint8_t *px = vit_make_frame(1920, 1080, 4, 3);
    sp_image img = {px, 1920, 1080, 1920 * 4, SP_PIXFMT_RGBX};
    sp_error err;
    double ms = -1;
    int bad = !t[0] || !t[1] || !px;
    for (int k = 0; k < 2; k++) {
        sp_encoding_init(&r[k]);
        sp_encoder_config c;
        sp_encoder_config_init(&c);
        c.projector = k == 0;
        bad = bad || sp_encoder_open_blobs(&c, &blobs, &enc[k], &err) ||
              sp_encode_ctx_new(enc[k], &ctx[k], &err) || sp_encode(ctx[k], &img, &r[k], &err);
    }
    for (size_t i = 0; i < reps && !bad; i++)
        for (int k = 0; k < 2 && !bad; k++) {
            double a = bench_now_ms();
            bad = sp_encode(ctx[k], &img, &r[k], &err) != SP_OK;
            t[k][i] = bench_now_ms() - a;
        }
    if (!bad) {
        *short_ms = bench_median(t[1], reps);
        ms = bench_median(t[0], reps) - *short_ms;
    } else {
        fprintf(stderr, "bench-encode: one-layer LLaVA: %s\n", err.message);
    }
    free_pair(enc, ctx, r, t);
    free(px);
    return ms;
}

/* LLaVA: per frame, interleaved encodes with the projector and without it (one encoder each from
 * the same blobs), the projector's work timed alone, and timed inside a one-layer encoder. */
static int bench_llava(const vit_dims *d, int threads, size_t reps) {
    model_image mi;
    if (vit_build_model(d, &mi))
        return 1;
    sp_model_blobs blobs;
    vit_model_blobs(&mi, &blobs);
    sp_encoder *enc[2] = {NULL, NULL};
    sp_encode_ctx *ctx[2] = {NULL, NULL};
    sp_error err;
    for (int k = 0; k < 2; k++) {
        sp_encoder_config c;
        sp_encoder_config_init(&c);
        c.projector = k == 0;
        if (sp_encoder_open_blobs(&c, &blobs, &enc[k], &err) ||
            sp_encode_ctx_new(enc[k], &ctx[k], &err)) {
            fprintf(stderr, "bench-encode: %s: %s\n", d->name, err.message);
            return 1;
        }
    }
    double short_ms = 0, inside = in_encoder_projector_ms(&mi, 3 * reps, &short_ms);
    free(mi.st);
    uint8_t *px = vit_make_frame(1920, 1080, 4, 3);
    double *t[2] = {malloc(reps * sizeof(double)), malloc(reps * sizeof(double))};
    if (!px || !t[0] || !t[1])
        return 1;
    sp_image img = {px, 1920, 1080, 1920 * 4, SP_PIXFMT_RGBX};
    sp_encoding r[2]; /* one each: the two encoders' tokens differ in width */
    for (int k = 0; k < 2; k++) {
        sp_encoding_init(&r[k]);
        if (sp_encode(ctx[k], &img, &r[k], &err)) { /* warm-up */
            fprintf(stderr, "bench-encode: %s\n", err.message);
            return 1;
        }
    }
    /* The SGEMM rate is measured between the encodes, once per rep, and its median is the
     * reference: on a shared machine the load moves within a run, and a rate taken only before
     * or after the encodes compares two different machines. */
    double *peaks = malloc(reps * sizeof(double)), *peaks_cpu = malloc(reps * sizeof(double));
    double *tower_cpu = malloc(reps * sizeof(double));
    if (!peaks || !peaks_cpu || !tower_cpu)
        return 1;
    for (size_t i = 0; i < reps; i++) {
        for (int k = 0; k < 2; k++) {
            double a = bench_now_ms(), u = cpu_now_ms();
            sp_encode(ctx[k], &img, &r[k], &err);
            t[k][i] = bench_now_ms() - a;
            if (k == 1)
                tower_cpu[i] = cpu_now_ms() - u;
        }
        peaks[i] = sgemm_gflops_cpu(d, 1, &peaks_cpu[i]);
    }
    double with = bench_median(t[0], reps), without = bench_median(t[1], reps);
    sp_encoder_info in;
    sp_encoder_get_info(enc[0], &in);
    double alone = projector_ms(in.n, d->hidden, d->llava_hidden, 3 * reps);
    double H = d->hidden, D = d->llava_hidden, n = (double)in.n;
    double proj_flops = 2 * n * H * D + 2 * n * D * D;
    double T = n + 1, F = d->inter, layers = in.layer;
    double tower_flops =
        2 * n * 3.0 * d->patch * d->patch * H +
        layers * (2 * T * H * 3 * H + 2 * 2 * T * T * H + 2 * T * H * H + 2 * 2 * T * H * F);
    /* The encoder's rate: the tower's FLOPs over its time per frame (without the projector),
     * against the best SGEMM rate on the model's own shapes, measured between the encodes; and
     * the same per CPU-second of the process, which the load of a shared machine moves less
     * (time spent waiting for a CPU is not counted in either). */
    double peak = bench_median(peaks, reps), peak_cpu = bench_median(peaks_cpu, reps);
    double tower_rate_cpu = tower_flops / (bench_median(tower_cpu, reps) * 1e6);
    free(peaks);
    free(peaks_cpu);
    free(tower_cpu);
    double tower_rate = tower_flops / (without * 1e6), proj_rate = proj_flops / (alone * 1e6);
    printf("{\"bench\":\"encode\",\"backend\":\"llava\",\"model\":\"%s\",\"image_size\":%u,"
           "\"tokens\":%zu,\"layers_run\":%d,\"projector\":\"%ux%u->%ux%u\",\"threads\":%d,"
           "\"reps\":%zu,\"ms_with_projector\":%.1f,\"ms_without_projector\":%.1f,"
           "\"projector_ms\":%.1f,\"projector_fraction_of_tower\":%.3f,"
           "\"projector_alone_ms\":%.1f,\"projector_alone_fraction_of_tower\":%.3f,"
           "\"projector_flop_fraction_of_tower\":%.3f,\"projector_in_encoder_ms\":%.1f,"
           "\"projector_in_encoder_fraction_of_tower\":%.3f,\"one_layer_encode_ms\":%.1f,"
           "\"tower_gflop_per_frame\":%.1f,"
           "\"projector_gflop_per_frame\":%.1f,\"tower_gflops\":%.1f,\"projector_gflops\":%.1f,"
           "\"sgemm_gflops\":%.1f,\"tower_fraction_of_sgemm\":%.3f,"
           "\"projector_fraction_of_sgemm\":%.3f,\"tower_gflop_per_cpu_s\":%.1f,"
           "\"sgemm_gflop_per_cpu_s\":%.1f,\"tower_fraction_of_sgemm_cpu\":%.3f,"
           "\"projector_target\":0.10,\"sgemm_target\":0.75,\"meets_projector\":%s,"
           "\"meets_sgemm\":%s,\"meets_sgemm_cpu\":%s}\n",
           d->name, in.image_size, in.n, in.layer, d->hidden, d->llava_hidden, d->llava_hidden,
           d->llava_hidden, threads, reps, with, without, with - without,
           (with - without) / without, alone, alone / without, proj_flops / tower_flops, inside,
           inside / without, short_ms, tower_flops / 1e9, proj_flops / 1e9, tower_rate, proj_rate,
           peak, tower_rate / peak, proj_rate / peak, tower_rate_cpu, peak_cpu,
           tower_rate_cpu / peak_cpu,
           (inside >= 0 ? inside : alone) / without <= 0.10 ? "true" : "false",
           tower_rate / peak >= 0.75 ? "true" : "false",
           tower_rate_cpu / peak_cpu >= 0.75 ? "true" : "false");
    fflush(stdout);
    free_pair(enc, ctx, r, t);
    free(px);
    return 0;
}

static void usage(void) {
    fprintf(stderr,
            "usage: bench-encode [--backend all|patch|clip-b16|clip-l14|llava-7b|llava-13b] "
            "[--threads T] [--reps R]\n");
}

int main(int argc, char **argv) {
    static const struct option opts[] = {
        {"backend", required_argument, 0, 'b'},
        {"threads", required_argument, 0, 't'},
        {"reps", required_argument, 0, 'r'},
        {0, 0, 0, 0},
    };
    const char *backend = "all";
    int threads = 2;
    size_t reps = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
            case 'b':
                backend = optarg;
                break;
            case 't':
                threads = atoi(optarg);
                break;
            case 'r':
                reps = strtoul(optarg, NULL, 10);
                break;
            default:
                usage();
                return 2;
        }
    }
    int all = strcmp(backend, "all") == 0;
    if (threads < 1 || (!all && strcmp(backend, "patch") && strcmp(backend, "clip-b16") &&
                        strcmp(backend, "clip-l14") && strcmp(backend, "llava-7b") &&
                        strcmp(backend, "llava-13b"))) {
        usage();
        return 2;
    }
    sp_blas_set_threads(threads);
    int rc = 0;
    if (all || strcmp(backend, "patch") == 0)
        rc |= bench_patch(reps ? reps : 100);
    if (all || strcmp(backend, "clip-b16") == 0)
        rc |= bench_clip(&VIT_B16, threads, reps ? reps : 9);
    if (all || strcmp(backend, "clip-l14") == 0)
        rc |= bench_clip(&VIT_L14, threads, reps ? reps : 5);
    if (all || strcmp(backend, "llava-7b") == 0)
        rc |= bench_llava(&LLAVA_7B, threads, reps ? reps : 5);
    if (all || strcmp(backend, "llava-13b") == 0)
        rc |= bench_llava(&LLAVA_13B, threads, reps ? reps : 5);
    return rc;
}
