/* Sampler throughput on a long video: decoding every frame (SCD_SAMPLE_ALL, the naive way to get
 * the same frames) against the sampler's exact mode at 2 and 1 sampled fps, and the keyframe
 * mode at 1 fps. One JSON line per run, then one line with the speed-ups.
 *   bench-sampler VIDEO [THREADS]      (bench/run_sampler.sh generates VIDEO) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/log.h>

#include "bench_util.h"
#include "sampler.h"

typedef struct result {
    double wall_s;
    double video_s;
    scd_sampler_stats stats;
    scd_sample_mode mode_used;
} result;

static int run(const char *path, double fps, scd_sample_mode mode, int threads, result *r) {
    scd_sampler_opts o;
    scd_sampler_opts_init(&o);
    o.fps = fps;
    o.mode = mode;
    o.threads = threads;
    scd_sampler *s;
    sp_error e;
    double t0 = bench_now_ms();
    if (scd_sampler_open(path, &o, &s, &e) != SP_OK) {
        fprintf(stderr, "bench-sampler: %s\n", e.message);
        return 1;
    }
    unsigned long checksum = 0;
    for (;;) {
        scd_sampled_frame f;
        bool got;
        if (scd_sampler_next(s, &f, &got, &e) != SP_OK) {
            fprintf(stderr, "bench-sampler: %s\n", e.message);
            scd_sampler_close(s);
            return 1;
        }
        if (!got)
            break;
        checksum += f.rgb[f.stride * (size_t)(f.height / 2) + (size_t)f.width / 2 * 3];
    }
    r->wall_s = (bench_now_ms() - t0) / 1000.0;
    r->video_s = scd_sampler_get_info(s)->duration_ns / 1e9;
    r->stats = *scd_sampler_get_stats(s);
    r->mode_used = scd_sampler_get_info(s)->mode;
    const scd_sampler_info *in = scd_sampler_get_info(s);
    static const char *const names[] = {"exact", "keyframes", "decode_all"};
    printf("{\"bench\":\"sampler\",\"mode\":\"%s\",\"fps\":%g,\"threads\":%d,\"width\":%d,"
           "\"height\":%d,\"codec\":\"%s\",\"video_s\":%.3f,\"wall_s\":%.3f,"
           "\"realtime_factor\":%.2f,\"frames_decoded\":%llu,\"frames_emitted\":%llu,"
           "\"packets_read\":%llu,\"seeks\":%llu,\"keyframes_per_s\":%.3f,\"checksum\":%lu}\n",
           names[r->mode_used], fps, threads, in->width, in->height, in->codec, r->video_s,
           r->wall_s, r->video_s / r->wall_s, (unsigned long long)r->stats.frames_decoded,
           (unsigned long long)r->stats.frames_emitted, (unsigned long long)r->stats.packets_read,
           (unsigned long long)r->stats.seeks, in->keyframes_per_s, checksum);
    fflush(stdout);
    scd_sampler_close(s);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s VIDEO [THREADS]\n", argv[0]);
        return 2;
    }
    int threads = argc == 3 ? atoi(argv[2]) : 0;
    av_log_set_level(AV_LOG_ERROR);
    result all2, ex2, ex1, kf1;
    if (run(argv[1], 2.0, SCD_SAMPLE_ALL, threads, &all2) ||
        run(argv[1], 2.0, SCD_SAMPLE_EXACT, threads, &ex2) ||
        run(argv[1], 1.0, SCD_SAMPLE_EXACT, threads, &ex1) ||
        run(argv[1], 1.0, SCD_SAMPLE_KEYFRAMES, threads, &kf1))
        return 1;
    /* Decoding every frame costs the same whatever the sampling rate, so one baseline serves. */
    printf(
        "{\"bench\":\"sampler_speedup\",\"baseline\":\"decode_all\",\"decode_all_realtime\":%.2f,"
        "\"exact_2fps_speedup\":%.2f,\"exact_1fps_speedup\":%.2f,\"keyframes_1fps_speedup\":%.2f,"
        "\"same_frames_2fps\":%s}\n",
        all2.video_s / all2.wall_s, all2.wall_s / ex2.wall_s, all2.wall_s / ex1.wall_s,
        all2.wall_s / kf1.wall_s,
        all2.stats.frames_emitted == ex2.stats.frames_emitted ? "true" : "false");
    return 0;
}
