/* bench-encode-streams: frames per second of S streams (1, 2, 4, 8) encoding 1920x1080 frames
 * through one CLIP ViT-B/16 (random weights of the real shapes, vit_model.h), one JSON line per
 * measurement and a summary line per S. Each stream is a thread that sends its own frames one
 * after the other, as a scriptencode element's streaming thread does. Three ways, all on the same
 * T BLAS threads (OpenBLAS's pool is process-wide):
 *   batched      one shared pool (gst-plugin/encodepool.h), up to max-batch frames per forward
 *                pass: what scriptencode does by default
 *   one-by-one   the same pool with max-batch 1: shared encoder, one frame per pass
 *   independent  each stream its own context calling sp_encode on its own thread (share=false)
 * Each stream first encodes one frame untimed (buffers, the batch's growth); the time runs from
 * the first timed frame sent to the last result; the process's CPU time per frame is given too
 * (what a frame costs whatever else runs on the machine). The three ways take turns, --rounds
 * times (the machine may be shared: the summary gives each way's medians).
 * --gemm times the transformer layer's four products (q/k/v, attention output, the two MLP
 * products) on B frames' stacked tokens against B products of one frame's: the part of a pass
 * batching speeds up, alone. */
#include <cblas.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "vit_model.h"
#include "encodepool.h"
#include "scriptprune/encode.h"
#include "scriptprune/select.h"

enum { FRAME_W = 1920, FRAME_H = 1080, MAX_STREAMS = 8 };

typedef enum mode { MODE_BATCHED, MODE_ONE_BY_ONE, MODE_INDEPENDENT, MODE_COUNT } mode;
static const char *const MODE_NAMES[MODE_COUNT] = {"batched", "one-by-one", "independent"};

typedef struct run {
    mode how;
    EncodePool *pool;      /* batched, one-by-one */
    const sp_encoder *enc; /* independent */
    const uint8_t *px;     /* this stream's frame */
    size_t frames;         /* timed frames */
    GMutex *lock;          /* start barrier */
    GCond *cond;
    guint *ready, streams;
    double *cpu_start_ms; /* process CPU time when the timed frames start */
    double start_ms, end_ms;
    int failed;
} run;

/* All streams start their timed frames together, after their warm-up frame. */
static double process_cpu_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void barrier(run *r) {
    g_mutex_lock(r->lock);
    if (++*r->ready == r->streams) {
        *r->cpu_start_ms = process_cpu_ms();
        g_cond_broadcast(r->cond);
    }
    while (*r->ready < r->streams)
        g_cond_wait(r->cond, r->lock);
    g_mutex_unlock(r->lock);
}

static gpointer stream_main(gpointer data) {
    run *r = data;
    sp_image img = {r->px, FRAME_W, FRAME_H, (size_t)FRAME_W * 4, SP_PIXFMT_RGBX};
    sp_encoding out;
    sp_encoding_init(&out);
    sp_encode_ctx *ctx = NULL;
    sp_error err;
    if (r->how == MODE_INDEPENDENT && sp_encode_ctx_new(r->enc, &ctx, &err))
        r->failed = 1;
    for (size_t k = 0; k <= r->frames && !r->failed; k++) {
        if (k == 1) {
            barrier(r);
            r->start_ms = bench_now_ms();
        }
        sp_status st =
            ctx ? sp_encode(ctx, &img, &out, &err) : encode_pool_encode(r->pool, &img, &out, &err);
        if (st != SP_OK) {
            fprintf(stderr, "bench-encode-streams: %s\n", err.message);
            r->failed = 1;
        }
    }
    if (r->failed && r->frames > 0 && r->start_ms == 0)
        barrier(r); /* do not leave the others waiting */
    r->end_ms = bench_now_ms();
    sp_encoding_free(&out);
    sp_encode_ctx_free(ctx);
    return NULL;
}

typedef struct result {
    double fps, seconds, mean_batch;
    double cpu_ms_per_frame; /* CPU time of the whole process per timed frame: what a frame costs
                                whatever else runs on the machine */
    guint64 passes, frames;
    guint largest;
} result;

static int measure(mode how, guint streams, size_t frames, guint max_batch, const model_image *mi,
                   uint8_t *const *px, result *res) {
    EncodePoolConfig pc;
    encode_pool_config_init(&pc);
    sp_model_blobs blobs;
    vit_model_blobs(mi, &blobs);
    pc.blobs = &blobs;
    pc.max_batch = how == MODE_BATCHED ? max_batch : 1;
    EncodePool *pool = NULL;
    sp_error err;
    if (encode_pool_new(&pc, &pool, &err)) {
        fprintf(stderr, "bench-encode-streams: %s\n", err.message);
        return 1;
    }
    GMutex lock;
    GCond cond;
    g_mutex_init(&lock);
    g_cond_init(&cond);
    guint ready = 0;
    double cpu_start = 0;
    run runs[MAX_STREAMS];
    GThread *threads[MAX_STREAMS];
    for (guint s = 0; s < streams; s++) {
        if (s > 0 && how != MODE_INDEPENDENT)
            encode_pool_ref(pool);
        runs[s] = (run){.how = how,
                        .pool = pool,
                        .enc = encode_pool_encoder(pool),
                        .px = px[s],
                        .frames = frames,
                        .lock = &lock,
                        .cond = &cond,
                        .ready = &ready,
                        .streams = streams,
                        .cpu_start_ms = &cpu_start};
    }
    for (guint s = 0; s < streams; s++)
        threads[s] = g_thread_new("stream", stream_main, &runs[s]);
    double first = 0, last = 0;
    int failed = 0;
    for (guint s = 0; s < streams; s++) {
        g_thread_join(threads[s]);
        failed |= runs[s].failed;
        first = s == 0 || runs[s].start_ms < first ? runs[s].start_ms : first;
        last = runs[s].end_ms > last ? runs[s].end_ms : last;
    }
    double cpu_end = process_cpu_ms();
    EncodePoolStats st;
    encode_pool_get_stats(pool, &st);
    for (guint s = 0; s < streams; s++)
        if (s == 0 || how != MODE_INDEPENDENT)
            encode_pool_release(pool);
    g_mutex_clear(&lock);
    g_cond_clear(&cond);
    if (failed)
        return 1;
    res->seconds = (last - first) / 1000.0;
    res->frames = (guint64)streams * frames;
    res->fps = (double)res->frames / res->seconds;
    res->cpu_ms_per_frame = (cpu_end - cpu_start) / (double)res->frames;
    /* the pool's counts include the warm-up frames */
    res->passes = st.passes;
    res->largest = st.largest;
    res->mean_batch = st.passes ? (double)st.frames / (double)st.passes : 0;
    return 0;
}

static void print_measurement(guint S, mode m, size_t round, guint max_batch, int threads,
                              const result *r) {
    int pooled = m != MODE_INDEPENDENT;
    printf("{\"bench\":\"encode_streams\",\"model\":\"%s\",\"frame\":\"%dx%d\",\"streams\":%u,"
           "\"mode\":\"%s\",\"round\":%zu,\"max_batch\":%u,\"blas_threads\":%d,"
           "\"frames\":%" G_GUINT64_FORMAT ",\"seconds\":%.2f,\"fps\":%.3f,"
           "\"cpu_ms_per_frame\":%.1f,\"passes\":%" G_GUINT64_FORMAT ",\"mean_batch\":%.2f,"
           "\"largest_batch\":%u}\n",
           VIT_B16.name, FRAME_W, FRAME_H, S, MODE_NAMES[m], round,
           m == MODE_BATCHED ? max_batch : 1, threads, r->frames, r->seconds, r->fps,
           r->cpu_ms_per_frame, pooled ? r->passes : 0, pooled ? r->mean_batch : 1.0,
           pooled ? r->largest : 1);
    fflush(stdout);
}

/* ms of the four products of one ViT-B/16 layer over B frames: stacked (one GEMM each) or one
 * frame at a time; the median of reps. */
static int bench_gemm(size_t reps) {
    const size_t T = 197, H = VIT_B16.hidden, F = VIT_B16.inter;
    const size_t shapes[4][2] = {{H, 3 * H}, {H, H}, {H, F}, {F, H}}; /* in, out */
    static const size_t batches[] = {1, 2, 4, 8};
    for (size_t bi = 0; bi < sizeof batches / sizeof *batches; bi++) {
        size_t B = batches[bi];
        double *sep = malloc(reps * sizeof *sep), *stk = malloc(reps * sizeof *stk);
        float *x = calloc(B * T * F, sizeof *x), *w = calloc(F * H, sizeof *w);
        float *y = calloc(B * T * F, sizeof *y);
        if (!sep || !stk || !x || !w || !y)
            return 1;
        for (size_t i = 0; i < B * T * F; i++)
            x[i] = (float)(i % 13) * 0.01f - 0.06f;
        for (size_t i = 0; i < F * H; i++)
            w[i] = (float)(i % 7) * 0.01f - 0.03f;
        for (size_t r = 0; r <= reps; r++) { /* the first is a warm-up */
            double a = bench_now_ms();
            for (int s = 0; s < 4; s++)
                for (size_t b = 0; b < B; b++)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)shapes[s][1],
                                (int)shapes[s][0], 1.0f, x + b * T * shapes[s][0],
                                (int)shapes[s][0], w, (int)shapes[s][0], 0.0f,
                                y + b * T * shapes[s][1], (int)shapes[s][1]);
            double m = bench_now_ms();
            for (int s = 0; s < 4; s++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(B * T),
                            (int)shapes[s][1], (int)shapes[s][0], 1.0f, x, (int)shapes[s][0], w,
                            (int)shapes[s][0], 0.0f, y, (int)shapes[s][1]);
            double e = bench_now_ms();
            if (r) {
                sep[r - 1] = m - a;
                stk[r - 1] = e - m;
            }
        }
        double ms_sep = bench_median(sep, reps), ms_stk = bench_median(stk, reps);
        printf("{\"bench\":\"encode_streams\",\"measure\":\"layer_gemms\",\"model\":\"%s\","
               "\"frames\":%zu,\"reps\":%zu,\"ms_one_frame_at_a_time\":%.1f,\"ms_stacked\":%.1f,"
               "\"speedup\":%.3f}\n",
               VIT_B16.name, B, reps, ms_sep, ms_stk, ms_sep / ms_stk);
        fflush(stdout);
        free(sep);
        free(stk);
        free(x);
        free(w);
        free(y);
    }
    return 0;
}

static void usage(void) {
    fprintf(stderr, "usage: bench-encode-streams [--threads T] [--frames F] [--max-batch B] "
                    "[--streams 1,2,4,8] [--rounds R] [--gemm]\n"
                    "  F: timed frames of all streams together per measurement (default 8; each "
                    "stream sends at least 2)\n");
}

int main(int argc, char **argv) {
    static const struct option opts[] = {
        {"threads", required_argument, 0, 't'},
        {"frames", required_argument, 0, 'f'},
        {"max-batch", required_argument, 0, 'b'},
        {"streams", required_argument, 0, 's'},
        {"rounds", required_argument, 0, 'r'},
        {"gemm", no_argument, 0, 'g'},
        {0, 0, 0, 0},
    };
    int threads = 2;
    size_t total = 8;
    guint max_batch = ENCODE_POOL_DEFAULT_MAX_BATCH;
    guint counts[8] = {1, 2, 4, 8};
    size_t ncounts = 4, rounds = 3;
    int gemm = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
            case 't':
                threads = atoi(optarg);
                break;
            case 'f':
                total = strtoul(optarg, NULL, 10);
                break;
            case 'b':
                max_batch = (guint)strtoul(optarg, NULL, 10);
                break;
            case 'r':
                rounds = strtoul(optarg, NULL, 10);
                break;
            case 'g':
                gemm = 1;
                break;
            case 's': {
                ncounts = 0;
                for (char *tok = strtok(optarg, ","); tok && ncounts < 8; tok = strtok(NULL, ","))
                    counts[ncounts++] = (guint)strtoul(tok, NULL, 10);
                break;
            }
            default:
                usage();
                return 2;
        }
    }
    int bad = threads < 1 || total < 1 || rounds < 1 || rounds > 64 || max_batch < 1 ||
              max_batch > SP_ENCODE_MAX_BATCH || ncounts == 0;
    for (size_t i = 0; i < ncounts; i++)
        bad |= counts[i] < 1 || counts[i] > MAX_STREAMS;
    if (bad) {
        usage();
        return 2;
    }
    sp_blas_set_threads(threads);
    if (gemm)
        return bench_gemm(rounds * 3);
    model_image mi;
    if (vit_build_model(&VIT_B16, &mi))
        return 1;
    uint8_t *px[MAX_STREAMS];
    for (int s = 0; s < MAX_STREAMS; s++)
        if (!(px[s] = vit_make_frame(FRAME_W, FRAME_H, 4, 100 + (uint64_t)s)))
            return 1;
    int rc = 0;
    double base = 0, base_cpu = 0; /* one stream, one frame per pass: the cost of one */
    for (size_t i = 0; i < ncounts && !rc; i++) {
        guint S = counts[i];
        size_t frames = total / S > 2 ? total / S : 2;
        double fps[MODE_COUNT][64], cpu[MODE_COUNT][64];
        for (size_t round = 0; round < rounds && !rc; round++)
            for (int k = 0; k < MODE_COUNT && !rc; k++) {
                int m = (int)((k + round) % MODE_COUNT); /* take turns */
                result r;
                rc = measure((mode)m, S, frames, max_batch, &mi, px, &r);
                if (rc)
                    break;
                fps[m][round] = r.fps;
                cpu[m][round] = r.cpu_ms_per_frame;
                print_measurement(S, (mode)m, round, max_batch, threads, &r);
            }
        if (rc)
            break;
        double med[MODE_COUNT], cmed[MODE_COUNT];
        for (int m = 0; m < MODE_COUNT; m++) {
            med[m] = bench_median(fps[m], rounds);
            cmed[m] = bench_median(cpu[m], rounds);
        }
        if (S == 1) {
            base = med[MODE_ONE_BY_ONE];
            base_cpu = cmed[MODE_ONE_BY_ONE];
        }
        printf("{\"bench\":\"encode_streams\",\"summary\":true,\"model\":\"%s\",\"streams\":%u,"
               "\"rounds\":%zu,\"blas_threads\":%d,\"fps_batched\":%.3f,\"fps_one_by_one\":%.3f,"
               "\"fps_independent\":%.3f,\"speedup_vs_one_by_one\":%.3f,"
               "\"speedup_vs_independent\":%.3f,\"cost_vs_streams_x_one\":%.3f,"
               "\"cpu_ms_per_frame_batched\":%.1f,\"cpu_ms_per_frame_one_by_one\":%.1f,"
               "\"cpu_ms_per_frame_independent\":%.1f,\"cpu_cost_vs_streams_x_one\":%.3f}\n",
               VIT_B16.name, S, rounds, threads, med[MODE_BATCHED], med[MODE_ONE_BY_ONE],
               med[MODE_INDEPENDENT], med[MODE_BATCHED] / med[MODE_ONE_BY_ONE],
               med[MODE_BATCHED] / med[MODE_INDEPENDENT], base > 0 ? base / med[MODE_BATCHED] : 0,
               cmed[MODE_BATCHED], cmed[MODE_ONE_BY_ONE], cmed[MODE_INDEPENDENT],
               base_cpu > 0 ? cmed[MODE_BATCHED] / base_cpu : 0);
        fflush(stdout);
    }
    for (int s = 0; s < MAX_STREAMS; s++)
        free(px[s]);
    free(mi.st);
    return rc;
}
