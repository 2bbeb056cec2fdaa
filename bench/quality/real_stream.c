/* real-stream: the real pipeline (the built-in patch encoder, then sp_stream with the core
 * defaults unless an option overrides one) over a raw RGB video, printing what the stream
 * decided, for bench/quality/real_textures.py to score against its ground truth.
 *
 * Input: T frames of W x H packed RGB24, back to back in one file (--video), taken at --fps
 * (default 2). Optionally an exemplar image (raw RGB24, --query with --query-size WxH) encoded
 * at the video's scale (sp_encode_exemplar_at; --query-scale fit: fitted to the encoder's input,
 * sp_encode_exemplar) and set as the stream's query before the first frame.
 *
 * Output, one JSON object per line:
 *   {"frame": t, "fates": "0120...", "encoded": 1}
 *                                      the temporal/spatial fate of each token of frame t
 *                                      (sp_token_fate: 0 candidate, 1 temporal repeat, 2 GSP
 *                                      drop), raster order; encoded 0 when the gate skipped it
 *   {"packet": w, "frame_first": a, "frame_last": b, "tokens": [[frame, y, x], ...]}
 *   {"summary": ..., "encode_ms": mean ms per frame, "grid": g, ...}
 *
 * --gate T puts core's change gate (scriptprune/change_gate.h, threshold T levels, --max-skip-s
 * S, default 10) before the encoder, as scriptencode does: a frame without a change pushes the
 * last encoded frame's tokens again (with sp_pixel_match_repeat's evidence: seen in place).
 *
 * Pixel evidence (scriptprune/pixel_match.h) goes with every encoded frame unless --no-pixels. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "scriptprune/change_gate.h"
#include "scriptprune/encode.h"
#include "scriptprune/pixel_match.h"
#include "scriptprune/stream.h"

static void die(const char *what, const sp_error *err) {
    fprintf(stderr, "real-stream: %s: %s\n", what, err ? err->message : "");
    exit(1);
}

static uint8_t *read_all(const char *path, size_t want) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "real-stream: cannot open %s\n", path);
        exit(1);
    }
    uint8_t *buf = malloc(want ? want : 1);
    if (!buf || fread(buf, 1, want, f) != want) {
        fprintf(stderr, "real-stream: %s is shorter than %zu bytes\n", path, want);
        exit(1);
    }
    fclose(f);
    return buf;
}

static sp_status print_packet(void *user, const sp_packet *p, sp_error *err) {
    (void)user;
    (void)err;
    printf("{\"packet\": %llu, \"frame_first\": %llu, \"frame_last\": %llu, \"tokens\": [",
           (unsigned long long)p->window, (unsigned long long)p->frame_first,
           (unsigned long long)p->frame_last);
    for (size_t i = 0; i < p->count; i++)
        printf("%s[%llu, %u, %u]", i ? ", " : "", (unsigned long long)p->info[i].frame,
               (unsigned)p->info[i].y, (unsigned)p->info[i].x);
    printf("]}\n");
    return SP_OK;
}

static int parse_size(const char *s, uint32_t *w, uint32_t *h) {
    return sscanf(s, "%ux%u", w, h) == 2 && *w > 0 && *h > 0;
}

int main(int argc, char **argv) {
    const char *video = NULL, *query = NULL;
    uint32_t W = 0, H = 0, T = 0, qw = 0, qh = 0;
    double fps = 2.0;
    sp_exemplar qmode = SP_EXEMPLAR_ALL; /* the default of the daemon and scriptprune */
    sp_stream_params p;
    sp_stream_params_init(&p);
    const char *dump = NULL;
    sp_change_gate_params gp;
    sp_change_gate_params_init(&gp);
    bool gated = false, pixels = true, query_at_frame = true;
    enum {
        O_TAU = 256,
        O_SIGMA,
        O_QSIGMA,
        O_GAMMA,
        O_KEEP,
        O_BUDGET,
        O_WINDOW,
        O_HOP,
        O_QSIZE,
        O_QMODE,
        O_DUMP,
        O_CUT,
        O_GATE,
        O_MAX_SKIP,
        O_NO_PIXELS,
        O_QSCALE
    };
    static const struct option opts[] = {{"video", required_argument, 0, 'v'},
                                         {"size", required_argument, 0, 's'},
                                         {"frames", required_argument, 0, 'n'},
                                         {"fps", required_argument, 0, 'f'},
                                         {"query", required_argument, 0, 'q'},
                                         {"query-size", required_argument, 0, O_QSIZE},
                                         {"query-mode", required_argument, 0, O_QMODE},
                                         {"tau-t", required_argument, 0, O_TAU},
                                         {"kernel-sigma", required_argument, 0, O_SIGMA},
                                         {"mass-gamma", required_argument, 0, O_GAMMA},
                                         {"query-kernel-sigma", required_argument, 0, O_QSIGMA},
                                         {"gsp-keep", required_argument, 0, O_KEEP},
                                         {"budget", required_argument, 0, O_BUDGET},
                                         {"window", required_argument, 0, O_WINDOW},
                                         {"hop", required_argument, 0, O_HOP},
                                         {"dump-tokens", required_argument, 0, O_DUMP},
                                         {"cut-fraction", required_argument, 0, O_CUT},
                                         {"gate", required_argument, 0, O_GATE},
                                         {"max-skip-s", required_argument, 0, O_MAX_SKIP},
                                         {"no-pixels", no_argument, 0, O_NO_PIXELS},
                                         {"query-scale", required_argument, 0, O_QSCALE},
                                         {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
            case 'v':
                video = optarg;
                break;
            case 's':
                if (!parse_size(optarg, &W, &H))
                    die("--size: expected WxH", NULL);
                break;
            case 'n':
                T = (uint32_t)strtoul(optarg, NULL, 10);
                break;
            case 'f':
                fps = strtod(optarg, NULL);
                break;
            case 'q':
                query = optarg;
                break;
            case O_QSIZE:
                if (!parse_size(optarg, &qw, &qh))
                    die("--query-size: expected WxH", NULL);
                break;
            case O_QMODE:
                qmode = strcmp(optarg, "pooled") == 0 ? SP_EXEMPLAR_POOLED
                        : strcmp(optarg, "mean") == 0 ? SP_EXEMPLAR_MEAN
                                                      : SP_EXEMPLAR_ALL;
                break;
            case O_TAU:
                p.tau_t = strtof(optarg, NULL);
                break;
            case O_SIGMA:
                p.kernel_sigma = strtof(optarg, NULL);
                break;
            case O_GAMMA:
                p.mass_gamma = strtof(optarg, NULL);
                break;
            case O_QSIGMA:
                p.query_kernel_sigma = strtof(optarg, NULL);
                break;
            case O_KEEP:
                p.gsp_keep = strtof(optarg, NULL);
                break;
            case O_BUDGET:
                p.window_budget = strtoul(optarg, NULL, 10);
                break;
            case O_WINDOW:
                p.window = (uint32_t)strtoul(optarg, NULL, 10);
                break;
            case O_HOP:
                p.hop = (uint32_t)strtoul(optarg, NULL, 10);
                break;
            case O_CUT:
                p.cut_fraction = strtof(optarg, NULL);
                break;
            case O_DUMP:
                dump = optarg;
                break;
            case O_GATE:
                gated = true;
                gp.threshold = strtof(optarg, NULL);
                break;
            case O_MAX_SKIP:
                gp.max_skip_ns = (int64_t)(strtod(optarg, NULL) * 1e9);
                break;
            case O_NO_PIXELS:
                pixels = false;
                break;
            case O_QSCALE:
                if (strcmp(optarg, "frame") && strcmp(optarg, "fit"))
                    die("--query-scale: expected frame or fit", NULL);
                query_at_frame = strcmp(optarg, "frame") == 0;
                break;
            default:
                fprintf(stderr, "usage: real-stream --video RAW --size WxH --frames T [--fps F] "
                                "[--query RAW --query-size WxH [--query-mode pooled|mean|all] "
                                "[--query-scale frame|fit]] "
                                "[--tau-t T] [--kernel-sigma S] [--query-kernel-sigma S] "
                                "[--mass-gamma G] [--gsp-keep K] "
                                "[--budget B] [--window W] [--hop H] [--gate T [--max-skip-s S]] "
                                "[--no-pixels]\n");
                return 2;
        }
    }
    if (!video || !W || !H || !T)
        die("--video, --size and --frames are required", NULL);
    size_t frame_bytes = (size_t)W * H * 3;
    uint8_t *pix = read_all(video, frame_bytes * T);

    sp_error err;
    sp_encoder_config ec;
    sp_encoder_config_init(&ec);
    sp_encoder *enc;
    sp_encode_ctx *ctx;
    if (sp_encoder_open(&ec, &enc, &err) || sp_encode_ctx_new(enc, &ctx, &err))
        die("encoder", &err);
    sp_encoding r;
    sp_encoding_init(&r);

    p.on_packet = print_packet;
    sp_stream *s;
    if (sp_stream_new(&p, &s, &err))
        die("stream", &err);
    sp_query_rows q;
    sp_query_rows_init(&q);
    if (query) {
        uint8_t *qpix = read_all(query, (size_t)qw * qh * 3);
        sp_image qi = {qpix, qw, qh, (size_t)qw * 3, SP_PIXFMT_RGB};
        if (sp_encode_exemplar_at(ctx, &qi, qmode, query_at_frame ? W : 0, query_at_frame ? H : 0,
                                  &q, &err))
            die("exemplar", &err);
        sp_query qv = sp_query_rows_view(&q);
        if (sp_stream_set_query(s, &qv, &err))
            die("query", &err);
        free(qpix);
    }
    FILE *dump_f = dump ? fopen(dump, "wb") : NULL;
    if (dump && !dump_f)
        die("--dump-tokens: cannot create the file", NULL);
    sp_change_gate *gate = NULL;
    if (gated) {
        sp_change_gate_params_for_encoder(&gp, enc, W, H);
        if (sp_change_gate_new(&gp, &gate, &err))
            die("gate", &err);
    }
    sp_pixel_match *pm = NULL;
    if (pixels && sp_pixel_match_new(enc, &pm, &err))
        die("pixel match", &err);
    unsigned long encoded = 0;
    float change_max_skipped = 0;
    double encode_ns = 0;
    uint8_t *fates = NULL;
    char *text = NULL;
    for (uint32_t t = 0; t < T; t++) {
        sp_image img = {pix + t * frame_bytes, W, H, (size_t)W * 3, SP_PIXFMT_RGB};
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        int64_t pts = (int64_t)((double)t * 1e9 / fps);
        sp_gate_verdict v = SP_GATE_FIRST;
        float change = 0;
        if (gate && sp_change_gate_test(gate, &img, pts, &v, &change, &err))
            die("gate", &err);
        if (v == SP_GATE_SKIP && change > change_max_skipped)
            change_max_skipped = change;
        if (v != SP_GATE_SKIP) {
            if (sp_encode(ctx, &img, &r, &err))
                die("encode", &err);
            if (pm && sp_pixel_match_run(pm, &img, &r, &err))
                die("pixel match", &err);
            encoded++;
        }
        clock_gettime(CLOCK_MONOTONIC, &b);
        encode_ns += (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
        if (dump_f && fwrite(r.tokens, sizeof(float), r.n * r.d, dump_f) != r.n * r.d)
            die("--dump-tokens: write failed", NULL);
        sp_frame f;
        /* a skipped frame: the last encoded frame's tokens again, seen in place */
        if (v == SP_GATE_SKIP && pm && sp_pixel_match_repeat(&r, &err))
            die("pixel match", &err);
        sp_encoding_frame(&r, pts, &f);
        if (sp_stream_push(s, &f, &err))
            die("push", &err);
        size_t n = f.n;
        if (!fates) {
            fates = malloc(n);
            text = malloc(n + 1);
            if (!fates || !text)
                die("out of memory", NULL);
        }
        if (sp_stream_last_fates(s, fates, n, &err))
            die("fates", &err);
        for (size_t i = 0; i < n; i++)
            text[i] = (char)('0' + fates[i]);
        text[n] = 0;
        if (f.evidence) {
            printf("{\"frame_evidence\": %u, \"verdicts\": \"", t);
            for (size_t i = 0; i < n; i++)
                putchar('0' + f.evidence[i].verdict);
            printf("\"}\n");
        }
        sp_pixel_match_stats ps;
        sp_pixel_match_get_stats(pm, &ps);
        printf("{\"frame\": %u, \"fates\": \"%s\", \"encoded\": %d, \"pixels\": [%.3f, %zu, %zu, "
               "%zu]}\n",
               t, text, v != SP_GATE_SKIP, (double)ps.noise, ps.seen, ps.fresh, ps.unknown);
    }
    if (dump_f)
        fclose(dump_f);
    if (sp_stream_flush(s, &err))
        die("flush", &err);
    sp_encoder_info info;
    sp_encoder_get_info(enc, &info);
    sp_stream_stats st;
    sp_stream_get_stats(s, &st);
    printf("{\"summary\": true, \"frames\": %u, \"grid\": %u, \"encode_ms\": %.3f, "
           "\"scene_cuts\": %llu, \"candidates\": %llu, \"tau_t\": %g, "
           "\"kernel_sigma\": %g, \"mass_gamma\": %g, \"gsp_keep\": %g, \"budget\": %zu, "
           "\"window\": %u, \"hop\": %u, \"frames_encoded\": %lu, \"change_max_skipped\": %.3f}\n",
           T, info.grid_h, encode_ns / 1e6 / T, (unsigned long long)st.scene_cuts,
           (unsigned long long)st.candidates, (double)p.tau_t, (double)p.kernel_sigma,
           (double)p.mass_gamma, (double)p.gsp_keep, p.window_budget, p.window, p.hop, encoded,
           (double)change_max_skipped);
    sp_change_gate_free(gate);
    sp_pixel_match_free(pm);
    free(fates);
    free(text);
    free(pix);
    sp_query_rows_free(&q);
    sp_stream_free(s);
    sp_encoding_free(&r);
    sp_encode_ctx_free(ctx);
    sp_encoder_free(enc);
    return 0;
}
