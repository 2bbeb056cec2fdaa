/* Sampler throughput on a long video, one JSON line per run:
 *   - decoding every frame (SCD_SAMPLE_ALL, the naive way to get the same frames): the baseline;
 *   - the exact mode (the default) at 2 and 1 sampled fps;
 *   - the exact mode with 1 and 2 decoder threads (the others use FFmpeg's automatic count);
 *   - the exact mode with samplers side by side (parallel_sampler.h, one per CPU: the
 *     daemon's default);
 *   - the keyframe mode at 1 and 2 fps (used only when the file has at least fps keyframes per
 *     second, else the sampler falls back to exact, and the line says so);
 *   - the inexact shortcuts on frames far from every instant: skip_loop_filter, and
 *     skip_loop_filter + skip_idct, each with the PSNR of its pictures against the exact ones
 *     (measured in a separate pass that decodes both side by side, not in the timed run).
 * Then one line with the speed-ups over decoding every frame.
 *   bench-sampler VIDEO [THREADS]      (bench/run_sampler.sh generates VIDEO) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/log.h>

#include "bench_util.h"
#include "media/parallel_sampler.h"

typedef struct variant {
    const char *name;
    double fps;
    scd_sample_mode mode;
    int threads; /* -1: the command line's */
    bool skip_loop_filter, skip_idct;
    int workers; /* parallel sampler workers: 1 one sampler, 0 one per CPU */
} variant;

typedef struct result {
    double wall_s;
    double video_s;
    scd_sampler_stats stats;
    scd_sample_mode mode_used;
    unsigned long checksum;
} result;

static const char *const mode_names[] = {"exact", "keyframes", "decode_all"};

static void opts_of(const variant *v, int threads, scd_sampler_opts *o) {
    scd_sampler_opts_init(o);
    o->fps = v->fps;
    o->mode = v->mode;
    o->threads = v->threads >= 0 ? v->threads : threads;
    o->skip_loop_filter = v->skip_loop_filter;
    o->skip_idct = v->skip_idct;
}

static int run(const char *path, const variant *v, int threads, result *r) {
    scd_sampler_opts o;
    opts_of(v, threads, &o);
    scd_parallel_sampler *s;
    sp_error e;
    double t0 = bench_now_ms();
    if (scd_parallel_sampler_open(path, &o, v->workers, &s, &e) != SP_OK) {
        fprintf(stderr, "bench-sampler: %s\n", e.message);
        return 1;
    }
    unsigned long checksum = 0;
    for (;;) {
        scd_sampled_frame f;
        bool got;
        if (scd_parallel_sampler_next(s, &f, &got, &e) != SP_OK) {
            fprintf(stderr, "bench-sampler: %s\n", e.message);
            scd_parallel_sampler_close(s);
            return 1;
        }
        if (!got)
            break;
        checksum += f.rgb[f.stride * (size_t)(f.height / 2) + (size_t)f.width / 2 * 3];
    }
    r->wall_s = (bench_now_ms() - t0) / 1000.0;
    r->checksum = checksum;
    const scd_sampler_info *in = scd_parallel_sampler_get_info(s);
    r->video_s = in->duration_ns / 1e9;
    r->stats = scd_parallel_sampler_get_stats(s);
    r->mode_used = in->mode;
    printf("{\"bench\":\"sampler\",\"variant\":\"%s\",\"mode\":\"%s\",\"fps\":%g,\"threads\":%d,"
           "\"workers\":%d,"
           "\"skip_loop_filter\":%s,\"skip_idct\":%s,\"width\":%d,\"height\":%d,\"codec\":\"%s\","
           "\"video_s\":%.3f,\"wall_s\":%.3f,\"realtime_factor\":%.2f,\"frames_decoded\":%llu,"
           "\"frames_emitted\":%llu,\"packets_read\":%llu,\"seeks\":%llu,"
           "\"keyframes_per_s\":%.3f,\"checksum\":%lu}\n",
           v->name, mode_names[r->mode_used], v->fps, o.threads, scd_parallel_sampler_workers(s),
           v->skip_loop_filter ? "true" : "false", v->skip_idct ? "true" : "false", in->width,
           in->height, in->codec, r->video_s, r->wall_s, r->video_s / r->wall_s,
           (unsigned long long)r->stats.frames_decoded, (unsigned long long)r->stats.frames_emitted,
           (unsigned long long)r->stats.packets_read, (unsigned long long)r->stats.seeks,
           in->keyframes_per_s, checksum);
    fflush(stdout);
    scd_parallel_sampler_close(s);
    return 0;
}

/* PSNR of variant v's pictures against the exact mode's, frame by frame (min and mean; 99 dB
 * stands for identical). */
static int fidelity(const char *path, const variant *v, int threads) {
    variant exact = {"exact", v->fps, SCD_SAMPLE_EXACT, -1, false, false, 1};
    scd_sampler_opts oa, ob;
    opts_of(&exact, threads, &oa);
    opts_of(v, threads, &ob);
    scd_sampler *a = NULL, *b = NULL;
    sp_error e;
    if (scd_sampler_open(path, &oa, &a, &e) != SP_OK ||
        scd_sampler_open(path, &ob, &b, &e) != SP_OK) {
        fprintf(stderr, "bench-sampler: %s\n", e.message);
        scd_sampler_close(a);
        return 1;
    }
    double min_db = 99, sum_db = 0;
    size_t frames = 0, identical = 0, mismatched = 0;
    for (;;) {
        scd_sampled_frame fa, fb;
        bool ga, gb;
        if (scd_sampler_next(a, &fa, &ga, &e) != SP_OK ||
            scd_sampler_next(b, &fb, &gb, &e) != SP_OK)
            break;
        if (!ga || !gb) {
            mismatched += ga != gb;
            break;
        }
        if (fa.pts_ns != fb.pts_ns || fa.width != fb.width || fa.height != fb.height) {
            mismatched++;
            continue;
        }
        size_t n = fa.stride * (size_t)fa.height;
        double se = 0;
        for (size_t i = 0; i < n; i++) {
            double d = (double)fa.rgb[i] - (double)fb.rgb[i];
            se += d * d;
        }
        double db = se == 0 ? 99.0 : fmin(99.0, 10.0 * log10(255.0 * 255.0 * (double)n / se));
        identical += se == 0;
        min_db = fmin(min_db, db);
        sum_db += db;
        frames++;
    }
    printf("{\"bench\":\"sampler_fidelity\",\"variant\":\"%s\",\"fps\":%g,\"frames\":%zu,"
           "\"identical_frames\":%zu,\"psnr_db_min\":%.2f,\"psnr_db_mean\":%.2f,"
           "\"mismatched_frames\":%zu}\n",
           v->name, v->fps, frames, identical, min_db, frames ? sum_db / (double)frames : 0.0,
           mismatched);
    fflush(stdout);
    scd_sampler_close(a);
    scd_sampler_close(b);
    return 0;
}

/* Position of the variant called name in vs (it is always there: the table is below). */
static size_t variant_index(const variant *vs, size_t n, const char *name) {
    size_t i = 0;
    while (i + 1 < n && strcmp(vs[i].name, name) != 0)
        i++;
    return i;
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s VIDEO [THREADS]\n", argv[0]);
        return 2;
    }
    int threads = argc == 3 ? atoi(argv[2]) : 0;
    av_log_set_level(AV_LOG_ERROR);
    const variant vs[] = {
        {"decode_all", 2, SCD_SAMPLE_ALL, -1, false, false, 1},
        {"exact_2fps", 2, SCD_SAMPLE_EXACT, -1, false, false, 1},
        {"exact_1fps", 1, SCD_SAMPLE_EXACT, -1, false, false, 1},
        {"exact_2fps_1thread", 2, SCD_SAMPLE_EXACT, 1, false, false, 1},
        {"exact_2fps_2threads", 2, SCD_SAMPLE_EXACT, 2, false, false, 1},
        {"parallel_2fps", 2, SCD_SAMPLE_EXACT, -1, false, false, 0},
        {"parallel_1fps", 1, SCD_SAMPLE_EXACT, -1, false, false, 0},
        {"keyframes_1fps", 1, SCD_SAMPLE_KEYFRAMES, -1, false, false, 1},
        {"keyframes_2fps", 2, SCD_SAMPLE_KEYFRAMES, -1, false, false, 1},
        {"exact_2fps_skip_loop_filter", 2, SCD_SAMPLE_EXACT, -1, true, false, 1},
        {"exact_2fps_skip_loop_filter_idct", 2, SCD_SAMPLE_EXACT, -1, true, true, 1},
    };
    enum { N = sizeof vs / sizeof vs[0] };
    result r[N];
    for (size_t i = 0; i < N; i++)
        if (run(argv[1], &vs[i], threads, &r[i]))
            return 1;
    for (size_t i = 0; i < N; i++)
        if ((vs[i].skip_loop_filter || vs[i].skip_idct) && fidelity(argv[1], &vs[i], threads))
            return 1;
    size_t exact = variant_index(vs, N, "exact_2fps"),
           parallel = variant_index(vs, N, "parallel_2fps"),
           keyframes = variant_index(vs, N, "keyframes_2fps");
    /* Decoding every frame costs the same whatever the sampling rate, so one baseline serves. */
    double base = r[0].wall_s;
    printf(
        "{\"bench\":\"sampler_speedup\",\"baseline\":\"decode_all\",\"decode_all_realtime\":%.2f",
        r[0].video_s / base);
    for (size_t i = 1; i < N; i++)
        printf(",\"%s_speedup\":%.2f", vs[i].name, base / r[i].wall_s);
    printf(",\"keyframes_2fps_mode_used\":\"%s\",\"same_frames_2fps\":%s,"
           "\"parallel_same_checksum\":%s}\n",
           mode_names[r[keyframes].mode_used],
           r[0].stats.frames_emitted == r[exact].stats.frames_emitted ? "true" : "false",
           r[parallel].checksum == r[exact].checksum ? "true" : "false");
    return 0;
}
