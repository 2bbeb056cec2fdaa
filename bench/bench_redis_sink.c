/* Throughput of the redis sink (daemon/redis_sink.h) on loopback: 64-token x 1024-D packets
 * pushed from one producer thread, as the daemon's streaming thread does, to a real Redis.
 *
 *   bench/run_redis_sink.sh      (starts redis-server on a free port, runs this, stops it)
 *   bench-redis-sink URL [PACKETS] [f32|f16]
 *
 * Prints JSON lines: the producer's cost per packet (queueing references: what the pipeline
 * pays), the rate at which Redis acknowledged the packets, the writer thread's CPU time per packet
 * (encode + XADD; its inverse is what one core sustains, whatever else runs on the machine, with
 * the load average beside it), and the pipeline's own per-packet work (a
 * fixed matrix product standing in for selection) with and without the sink draining beside it,
 * so "the pipeline's cost is unchanged" is a measured ratio. */
#include <cblas.h>
#include <gst/gst.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "broker/redis_sink.h"

enum { TOKENS = 64, D = 1024, GRID = 32 };

static double now_s(void) {
    return (double)g_get_monotonic_time() / 1e6;
}

/* CPU seconds (user + system) of this process's threads named name, from /proc: what the sink's
 * writer costs, independent of how busy the machine is. */
static double thread_cpu_s(const char *name) {
    double total = 0;
    GDir *dir = g_dir_open("/proc/self/task", 0, NULL);
    const char *tid;
    while (dir && (tid = g_dir_read_name(dir))) {
        char *path = g_strdup_printf("/proc/self/task/%s/comm", tid), *comm = NULL;
        if (g_file_get_contents(path, &comm, NULL, NULL) && g_str_has_prefix(comm, name)) {
            char *stat_path = g_strdup_printf("/proc/self/task/%s/stat", tid), *st = NULL;
            if (g_file_get_contents(stat_path, &st, NULL, NULL)) {
                const char *p = strrchr(st, ')');
                unsigned long ut = 0, stt = 0;
                /* fields after ")": state ... utime is the 12th, stime the 13th */
                if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
                                &stt) == 2)
                    total += (double)(ut + stt) / (double)sysconf(_SC_CLK_TCK);
            }
            g_free(st);
            g_free(stat_path);
        }
        g_free(comm);
        g_free(path);
    }
    if (dir)
        g_dir_close(dir);
    return total;
}

static void make_packet(GstScriptPacket *p, guint64 window) {
    gst_script_packet_init(p);
    float *tok = g_new(float, TOKENS *D);
    gint64 *prov = g_new(gint64, TOKENS * 6);
    for (size_t i = 0; i < (size_t)TOKENS * D; i++)
        tok[i] = sinf((float)(i + window));
    for (int i = 0; i < TOKENS; i++) {
        gint64 *r = prov + i * 6;
        r[0] = r[1] = (gint64)window * 1000000000;
        r[2] = (gint64)window;
        r[3] = 1;
        r[4] = i / 8;
        r[5] = i % 8;
    }
    gsize td[2] = {TOKENS, D}, pd[2] = {TOKENS, 6};
    gst_script_tensor_set(&p->tokens, GST_SCRIPT_TENSOR_ID_PACKET_TOKENS,
                          GST_SCRIPT_TENSOR_DATA_TYPE_FLOAT32,
                          gst_buffer_new_wrapped(tok, TOKENS * D * sizeof(float)), 2, td);
    gst_script_tensor_set(&p->provenance, GST_SCRIPT_TENSOR_ID_PROVENANCE,
                          GST_SCRIPT_TENSOR_DATA_TYPE_INT64,
                          gst_buffer_new_wrapped(prov, TOKENS * 6 * sizeof(gint64)), 2, pd);
    p->kind = GST_SCRIPT_PACKET_KIND_WINDOW;
    p->window_id = window;
    p->pts_first = p->pts_last = window * GST_SECOND;
    p->frame_first = p->frame_last = window;
    p->budget = p->count = TOKENS;
    p->grid_h = p->grid_w = GRID;
    p->window_frames = p->hop_frames = 1;
    p->stream_name = g_intern_string("bench");
}

/* CPU time of the calling thread: unlike wall time, not inflated when other processes hold the
 * cores, so it shows what the sink costs the pipeline's thread itself (cache, memory). */
static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The pipeline's own work per packet: a 64 x 1024 Gram matrix (a similarity step). Returns its
 * thread CPU seconds. */
static double pipeline_step(const float *x, float *g) {
    double t0 = cpu_s();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, TOKENS, TOKENS, D, 1.0f, x, D, x, D, 0.0f,
                g, TOKENS);
    return cpu_s() - t0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench-redis-sink URL [PACKETS] [f32|f16]\n");
        return 2;
    }
    gst_init(NULL, NULL);
    int n = argc > 2 ? atoi(argv[2]) : 4000;
    const char *dtype = argc > 3 ? argv[3] : "f32";
    scd_metric_families *m = scd_metric_families_new();
    scd_sink_cfg cfg = {.kind = SCD_SINK_REDIS,
                        .redis = argv[1],
                        .key = "bench:{stream}",
                        .maxlen = 1000,
                        .password_file = "",
                        .queue_bytes = 1ull << 30,
                        .dtype = strcmp(dtype, "f16") == 0 ? SCD_WIRE_F16 : SCD_WIRE_F32};
    float *x = g_new(float, TOKENS *D), *g = g_new(float, TOKENS *TOKENS);
    for (size_t i = 0; i < (size_t)TOKENS * D; i++)
        x[i] = cosf((float)i);

    /* Baseline: the pipeline step alone. */
    double base = 0;
    for (int i = 0; i < n; i++)
        base += pipeline_step(x, g);

    scd_redis_sink *rs = NULL;
    sp_error err;
    if (scd_redis_sink_new("bench", "redis0", &cfg, m, &rs, &err) != SP_OK) {
        fprintf(stderr, "bench-redis-sink: %s\n", err.message);
        return 1;
    }
    GstScriptPacket *pk = g_new0(GstScriptPacket, 64);
    for (int i = 0; i < 64; i++)
        make_packet(&pk[i], (guint64)i);
    double push = 0, with_sink = 0;
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        GstScriptPacket *p = &pk[i % 64];
        p->window_id = (guint64)i; /* ids increase, as a stream's do */
        double a = cpu_s();
        if (!scd_broker_sink_packet(scd_redis_sink_broker(rs), p, &err)) {
            fprintf(stderr, "bench-redis-sink: %s\n", err.message);
            return 1;
        }
        push += cpu_s() - a;
        with_sink += pipeline_step(x, g);
    }
    scd_broker_stats st;
    do {
        g_usleep(1000);
        scd_broker_sink_stats(scd_redis_sink_broker(rs), &st);
        g_free(st.last_error);
    } while (st.sent + st.dropped < (uint64_t)n && now_s() - t0 < 600);
    double elapsed = now_s() - t0;
    double writer_cpu = thread_cpu_s("sink-redis0");
    double load[1] = {0};
    getloadavg(load, 1);
    printf("{\"bench\":\"redis_sink\",\"dtype\":\"%s\",\"tokens\":%d,\"d\":%d,\"packets\":%d,"
           "\"sent\":%llu,\"dropped\":%llu,\"packets_per_s\":%.0f,\"mb_per_s\":%.1f,"
           "\"producer_cpu_us_per_packet\":%.1f,\"writer_cpu_us_per_packet\":%.1f,"
           "\"writer_capacity_packets_per_cpu_s\":%.0f,\"loadavg\":%.1f}\n",
           dtype, TOKENS, D, n, (unsigned long long)st.sent, (unsigned long long)st.dropped,
           (double)st.sent / elapsed,
           (double)st.sent * (TOKENS * D * (cfg.dtype == SCD_WIRE_F16 ? 2 : 4)) / elapsed / 1e6,
           push / n * 1e6, writer_cpu / n * 1e6, writer_cpu > 0 ? n / writer_cpu : 0.0, load[0]);
    printf("{\"bench\":\"redis_sink_pipeline_cost\",\"dtype\":\"%s\",\"step_cpu_us_no_sink\":%.1f,"
           "\"step_cpu_us_with_sink\":%.1f,\"ratio\":%.3f}\n",
           dtype, base / n * 1e6, with_sink / n * 1e6, with_sink / base);
    scd_redis_sink_free(rs, 5000);
    for (int i = 0; i < 64; i++)
        gst_script_packet_clear(&pk[i]);
    g_free(pk);
    g_free(x);
    g_free(g);
    scd_metric_families_free(m);
    return 0;
}
