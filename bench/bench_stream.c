/* bench-stream: throughput and memory of sp_stream. Frames come from the synthetic
 * scene of tests/stream/scene.c (banded background, textured moving objects, sensor noise),
 * rendered once into a loop of frames before timing so that generation costs nothing; pts keep
 * increasing across loops. Content modes:
 *   moving  objects move two patches a frame (a typical live camera with some activity)
 *   static  nothing moves (the cheapest case)
 *   cuts    every frame is a new scene (the worst case: everything is new, GSP on every frame)
 * Prints one JSON line per RSS sample (every --rss-every frames) and a summary line with the
 * frames per second over the whole run and the median / p90 / max time of one push. */
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "../tests/stream/scene.h"
#include "bench_util.h"
#include "scriptprune/stream.h"

static double rss_mib(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, res = 0;
    if (!f)
        return -1;
    if (fscanf(f, "%ld %ld", &pages, &res) != 2)
        res = -1;
    fclose(f);
    return (double)res * (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0);
}

static double peak_rss_mib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

typedef struct sink_count {
    uint64_t packets, tokens;
} sink_count;

static sp_status on_packet(void *user, const sp_packet *p, sp_error *err) {
    (void)err;
    sink_count *c = user;
    c->packets++;
    c->tokens += p->count;
    return SP_OK;
}

static void usage(void) {
    fprintf(stderr,
            "usage: bench-stream [--frames F] [--grid S] [--d D] [--window W] [--hop H]\n"
            "         [--budget K] [--policy frame|window] [--threads T] [--history-mib M]\n"
            "         [--content moving|static|cuts] [--loop L] [--rss-every R] [--tau-t X]\n"
            "         [--reselect]\n");
}

int main(int argc, char **argv) {
    static const struct option opts[] = {
        {"frames", required_argument, 0, 'f'},
        {"grid", required_argument, 0, 'g'},
        {"d", required_argument, 0, 'd'},
        {"window", required_argument, 0, 'w'},
        {"hop", required_argument, 0, 'h'},
        {"budget", required_argument, 0, 'k'},
        {"policy", required_argument, 0, 'p'},
        {"threads", required_argument, 0, 't'},
        {"history-mib", required_argument, 0, 'm'},
        {"content", required_argument, 0, 'c'},
        {"loop", required_argument, 0, 'l'},
        {"rss-every", required_argument, 0, 'r'},
        {"tau-t", required_argument, 0, 'T'},
        {"reselect", no_argument, 0, 'R'},
        {0, 0, 0, 0},
    };
    size_t frames = 2000, grid = 24, d = 1024, budget = 256, loop = 64, rss_every = 0;
    size_t history_mib = 256;
    uint32_t window = 16, hop = 8;
    int threads = 2, do_reselect = 0;
    float tau_t = -2.0f;
    const char *policy = "window", *content = "moving";
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
            case 'f':
                frames = strtoul(optarg, NULL, 10);
                break;
            case 'g':
                grid = strtoul(optarg, NULL, 10);
                break;
            case 'd':
                d = strtoul(optarg, NULL, 10);
                break;
            case 'w':
                window = (uint32_t)strtoul(optarg, NULL, 10);
                break;
            case 'h':
                hop = (uint32_t)strtoul(optarg, NULL, 10);
                break;
            case 'k':
                budget = strtoul(optarg, NULL, 10);
                break;
            case 'p':
                policy = optarg;
                break;
            case 't':
                threads = atoi(optarg);
                break;
            case 'm':
                history_mib = strtoul(optarg, NULL, 10);
                break;
            case 'c':
                content = optarg;
                break;
            case 'l':
                loop = strtoul(optarg, NULL, 10);
                break;
            case 'r':
                rss_every = strtoul(optarg, NULL, 10);
                break;
            case 'T':
                tau_t = strtof(optarg, NULL);
                break;
            case 'R':
                do_reselect = 1;
                break;
            default:
                usage();
                return 2;
        }
    }
    int mode = strcmp(content, "moving") == 0   ? 0
               : strcmp(content, "static") == 0 ? 1
               : strcmp(content, "cuts") == 0   ? 2
                                                : -1;
    if (frames == 0 || grid == 0 || grid > 256 || d == 0 || d > 1024 || loop == 0 || mode < 0 ||
        threads < 1) {
        usage();
        return 2;
    }
    sp_error err;
    sp_stream_params p;
    sp_stream_params_init(&p);
    if (sp_emit_policy_from_name(policy, &p.policy, &err)) {
        fprintf(stderr, "bench-stream: %s\n", err.message);
        return 2;
    }
    p.window = window;
    p.hop = hop;
    p.window_budget = budget;
    p.frame_budget = budget;
    p.history_bytes = history_mib << 20;
    if (tau_t >= -1.0f)
        p.tau_t = tau_t;
    sink_count sink = {0};
    p.on_packet = on_packet;
    p.user = &sink;
    sp_blas_set_threads(threads);

    /* Render the loop of frames. */
    size_t n = grid * grid;
    float *video = malloc(loop * n * d * sizeof(float));
    double *t_push = malloc(frames * sizeof(double));
    if (!video || !t_push) {
        fprintf(stderr, "bench-stream: out of memory\n");
        return 1;
    }
    /* Touch the timing array now, so that RSS samples show the stream's memory alone. */
    memset(t_push, 0, frames * sizeof(double));
    scene sc;
    scene_init(&sc, (uint32_t)grid, (uint32_t)grid, d, 7);
    for (size_t t = 0; t < loop; t++) {
        if (mode == 0) {
            /* Three 4x4 objects, two patches a frame across and one down, wrapping: they do not
             * come back to an earlier place within a 16-frame window. */
            sc.nobj = 3;
            for (uint32_t k = 0; k < 3; k++) {
                int32_t span = (int32_t)grid + 4;
                sc.obj[k] = (scene_object){4,
                                           4,
                                           (int32_t)((t + 8 * k) % (size_t)span) - 4,
                                           (int32_t)((2 * t + 9 * k) % (size_t)span) - 4,
                                           1 + k,
                                           1};
            }
        }
        if (mode == 2)
            sc.scene_id = (uint32_t)t;
        scene_render(&sc, t, video + t * n * d, NULL);
    }

    sp_stream *s;
    if (sp_stream_new(&p, &s, &err)) {
        fprintf(stderr, "bench-stream: %s\n", err.message);
        return 2;
    }
    double t_start = bench_now_ms();
    for (size_t t = 0; t < frames; t++) {
        sp_frame f;
        sp_frame_view(&f, video + (t % loop) * n * d, n, d);
        f.grid_h = f.grid_w = (uint32_t)grid;
        f.pts = (int64_t)t * 500000000; /* 2 frames a second */
        double t0 = bench_now_ms();
        if (sp_stream_push(s, &f, &err)) {
            fprintf(stderr, "bench-stream: frame %zu: %s\n", t, err.message);
            return 1;
        }
        t_push[t] = bench_now_ms() - t0;
        if (rss_every && (t + 1) % rss_every == 0) {
            sp_stream_stats st;
            sp_stream_get_stats(s, &st);
            struct mallinfo2 mi = mallinfo2();
            printf("{\"bench\":\"stream-rss\",\"frame\":%zu,\"rss_mib\":%.1f,\"peak_rss_mib\":%.1f,"
                   "\"heap_in_use_mib\":%.2f,"
                   "\"history_mib\":%.2f,\"history_tokens\":%llu,\"history_evicted\":%llu,"
                   "\"window_tokens\":%llu,\"window_mib\":%.2f,\"fps_so_far\":%.1f}\n",
                   t + 1, rss_mib(), peak_rss_mib(), (double)(mi.uordblks + mi.hblkhd) / 1048576.0,
                   (double)st.history_bytes / 1048576.0, (unsigned long long)st.history_tokens,
                   (unsigned long long)st.history_evicted, (unsigned long long)st.window_tokens,
                   (double)st.window_bytes / 1048576.0,
                   (double)(t + 1) / ((bench_now_ms() - t_start) / 1000.0));
            fflush(stdout);
        }
    }
    if (sp_stream_flush(s, &err)) {
        fprintf(stderr, "bench-stream: flush: %s\n", err.message);
        return 1;
    }
    double total_ms = bench_now_ms() - t_start;
    sp_stream_stats st;
    sp_stream_get_stats(s, &st);
    double med = bench_median(t_push, frames);
    double p90 = t_push[(size_t)(0.9 * (double)(frames - 1))];
    double mx = t_push[frames - 1];
    printf("{\"bench\":\"stream\",\"content\":\"%s\",\"policy\":\"%s\",\"n\":%zu,\"d\":%zu,"
           "\"window\":%u,\"hop\":%u,\"budget\":%zu,\"threads\":%d,\"frames\":%zu,"
           "\"fps\":%.1f,\"median_ms\":%.3f,\"p90_ms\":%.3f,\"max_ms\":%.3f,"
           "\"tokens_in\":%llu,\"temporal_drops\":%llu,\"spatial_drops\":%llu,"
           "\"candidates\":%llu,\"scene_cuts\":%llu,\"packets\":%llu,\"tokens_out\":%llu,"
           "\"window_tokens\":%llu,\"history_tokens\":%llu,\"history_mib\":%.2f,"
           "\"history_bound_mib\":%zu,\"history_evicted\":%llu,\"peak_rss_mib\":%.1f}\n",
           content, policy, n, d, window, hop, budget, threads, frames,
           (double)frames / (total_ms / 1000.0), med, p90, mx, (unsigned long long)st.tokens_in,
           (unsigned long long)st.temporal_drops, (unsigned long long)st.spatial_drops,
           (unsigned long long)st.candidates, (unsigned long long)st.scene_cuts,
           (unsigned long long)sink.packets, (unsigned long long)sink.tokens,
           (unsigned long long)st.window_tokens, (unsigned long long)st.history_tokens,
           (double)st.history_bytes / 1048576.0, history_mib,
           (unsigned long long)st.history_evicted, peak_rss_mib());
    if (do_reselect) {
        /* A new question over everything kept: with a query (an object's base) and without. */
        float *q = malloc(d * sizeof(float));
        scene_object_base(&sc, 2, q);
        sp_query query = {q, 1, d};
        sp_workspace *ws = sp_workspace_new();
        sp_packet_buf out;
        sp_packet_buf_init(&out);
        for (int withq = 0; withq < 2; withq++) {
            double ts[5];
            for (int r = 0; r < 5; r++) {
                double t0 = bench_now_ms();
                if (sp_stream_reselect(s, ws, withq ? &query : NULL, 64, SP_PTS_NONE, SP_PTS_NONE,
                                       &out, &err)) {
                    fprintf(stderr, "bench-stream: reselect: %s\n", err.message);
                    return 1;
                }
                ts[r] = bench_now_ms() - t0;
            }
            printf("{\"bench\":\"stream-reselect\",\"query\":%s,\"candidates\":%llu,"
                   "\"budget\":64,\"tokens\":%zu,\"median_ms\":%.2f}\n",
                   withq ? "true" : "false",
                   (unsigned long long)(st.history_tokens + st.window_tokens), out.packet.count,
                   bench_median(ts, 5));
        }
        sp_packet_buf_free(&out);
        sp_workspace_free(ws);
        free(q);
    }
    sp_stream_free(s);
    free(video);
    free(t_push);
    return 0;
}
