/* bench-gate: what the change gate before the encoder saves, and what it changes, with CLIP
 * ViT-B/16 (random weights of the real shapes, vit_model.h) on 1920x1080 video.
 *
 *   bench-gate make --scene still|pan --seconds S --rate R
 *       writes the scene's frames (raw RGB24, 1920x1080, R per second) to stdout, for ffmpeg to
 *       encode as H.264 (bench/run_gate.sh):
 *       still  a fixed camera on a textured scene with Gaussian sensor noise (sigma 2 levels), a
 *              person-sized object (130 x 380 px) crossing the picture during the middle 10% of
 *              the time
 *       pan    the same scene (no object) panned at 48 px/s
 *   bench-gate run --scene still|pan|demo --fps F --seconds S [--decode-s D] [--threshold T]
 *                  [--max-skip-s M]
 *       reads the sampled frames (raw RGB24, 1920x1080, decoded from the H.264 clip by ffmpeg at
 *       F per second) from stdin and runs two pipelines on each: encode every frame -> sp_stream,
 *       and change gate -> encode the frames it lets through (the others push the last tokens
 *       again) -> sp_stream. A frame the gate encodes is encoded once and its time counted in
 *       both pipelines (same input, same tokens). Prints one JSON line: sampled and encoded
 *       frames; per-stage times; the real-time factor of each pipeline (video seconds / seconds
 *       of gate + encode + stream work) and end to end (adding D, the time ffmpeg took to decode
 *       the clip and sample it, measured by the script); per-packet Jaccard of the two runs'
 *       kept tokens (frame, row, column); for `still`, the frames where the object is in the
 *       encoder's view that were encoded, and the object recall: the share of the encoder cells
 *       at least half covered by the object that the temporal graph calls new (not a repeat).
 *   bench-gate model --out DIR
 *       writes the random ViT-B/16 as a model folder (model.safetensors, config.json), for
 *       bench/run_gate.sh to run scriptd itself end to end on the clips.
 * Also: the largest gate change (levels) of the frames it skipped and of all frames.
 * Defaults: the stream's core defaults (window policy), the gate's table defaults. */
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "rng.h"
#include "scriptprune/change_gate.h"
#include "scriptprune/encode.h"
#include "scriptprune/params.h"
#include "scriptprune/stream.h"
#include "vit_model.h"

#define W 1920
#define H 1080
#define PAN_PX_PER_S 48.0
#define NOISE_SIGMA 2.0
#define PERSON_W 130
#define PERSON_H 380
#define PERSON_TOP 560
#define MAX_PACKETS 4096

static void die(const char *what) {
    fprintf(stderr, "bench-gate: %s\n", what);
    exit(1);
}

/* ---- the scene ----------------------------------------------------------------------------- */

typedef struct scene {
    bool still, pan;
    double seconds;
    uint32_t bw;   /* background width (pan: wider than the frame) */
    uint8_t *bg;   /* bw x H x 3 */
    int8_t *noise; /* noise table, NOISE_LEN values */
} scene;

#define NOISE_LEN ((size_t)W * H * 3 + 65536)

static double hash_unit(uint32_t x, uint32_t y, uint32_t salt) {
    sp_rng r;
    sp_rng_seed(&r, ((uint64_t)x << 32) ^ ((uint64_t)y << 8) ^ salt);
    return sp_rng_unit(&r);
}

/* Value noise at lattice step s (bilinear). */
static double value_noise(double x, double y, double s, uint32_t salt) {
    double fx = x / s, fy = y / s;
    uint32_t ix = (uint32_t)fx, iy = (uint32_t)fy;
    double ax = fx - ix, ay = fy - iy;
    double a = hash_unit(ix, iy, salt), b = hash_unit(ix + 1, iy, salt);
    double c = hash_unit(ix, iy + 1, salt), d = hash_unit(ix + 1, iy + 1, salt);
    return (a * (1 - ax) + b * ax) * (1 - ay) + (c * (1 - ax) + d * ax) * ay;
}

/* A textured scene: smooth colour fields, fine texture, and rectangles (walls, doors, shelves). */
static void make_background(scene *sc) {
    sp_rng r;
    sp_rng_seed(&r, 77);
    enum { N_RECT = 60 };
    struct {
        uint32_t x0, y0, x1, y1;
        uint8_t c[3];
    } rects[N_RECT];
    for (int i = 0; i < N_RECT; i++) {
        uint32_t w = 40 + (uint32_t)sp_rng_below(&r, 260), h = 40 + (uint32_t)sp_rng_below(&r, 300);
        rects[i].x0 = (uint32_t)sp_rng_below(&r, sc->bw);
        rects[i].y0 = (uint32_t)sp_rng_below(&r, H);
        rects[i].x1 = rects[i].x0 + w;
        rects[i].y1 = rects[i].y0 + h;
        for (int c = 0; c < 3; c++)
            rects[i].c[c] = (uint8_t)(40 + sp_rng_below(&r, 180));
    }
    for (uint32_t y = 0; y < H; y++)
        for (uint32_t x = 0; x < sc->bw; x++) {
            double base = 70 + 90 * value_noise(x, y, 180, 1) + 30 * value_noise(x, y, 23, 2);
            double px[3] = {base * 1.05, base * 0.95, base * 0.85};
            for (int i = 0; i < N_RECT; i++)
                if (x >= rects[i].x0 && x < rects[i].x1 && y >= rects[i].y0 && y < rects[i].y1) {
                    double t = 0.8 + 0.4 * value_noise(x, y, 9, 3 + (uint32_t)i);
                    for (int c = 0; c < 3; c++)
                        px[c] = rects[i].c[c] * t;
                }
            uint8_t *o = sc->bg + ((size_t)y * sc->bw + x) * 3;
            for (int c = 0; c < 3; c++)
                o[c] = (uint8_t)fmin(255, fmax(0, px[c]));
        }
}

static void scene_init(scene *sc, const char *name, double seconds) {
    memset(sc, 0, sizeof *sc);
    sc->still = strcmp(name, "still") == 0;
    sc->pan = strcmp(name, "pan") == 0;
    sc->seconds = seconds;
    sc->bw = W + (sc->pan ? (uint32_t)ceil(PAN_PX_PER_S * seconds) + 1 : 0);
    sc->bg = malloc((size_t)sc->bw * H * 3);
    sc->noise = malloc(NOISE_LEN);
    if (!sc->bg || !sc->noise)
        die("out of memory");
    make_background(sc);
    sp_rng r;
    sp_rng_seed(&r, 5);
    for (size_t i = 0; i < NOISE_LEN; i++) {
        /* sum of 4 uniforms: close to Gaussian, sigma NOISE_SIGMA */
        double s = 0;
        for (int k = 0; k < 4; k++)
            s += sp_rng_unit(&r) - 0.5;
        sc->noise[i] = (int8_t)lround(s * NOISE_SIGMA * sqrt(3.0));
    }
}

static void scene_free(scene *sc) {
    free(sc->bg);
    free(sc->noise);
}

/* The object's box at time t (frame pixels, may extend past the frame); false when absent. */
static bool person_box(const scene *sc, double t, double box[4]) {
    if (!sc->still)
        return false;
    double t0 = 0.45 * sc->seconds, t1 = 0.55 * sc->seconds;
    if (t < t0 || t >= t1)
        return false;
    double x = -PERSON_W + (W + PERSON_W) * (t - t0) / (t1 - t0);
    box[0] = x;
    box[1] = PERSON_TOP;
    box[2] = x + PERSON_W;
    box[3] = PERSON_TOP + PERSON_H;
    return true;
}

/* Person pixel at (u, v) inside the box: head, torso, legs, with folds. */
static void person_px(uint32_t u, uint32_t v, uint8_t o[3]) {
    static const uint8_t skin[3] = {205, 160, 130}, shirt[3] = {40, 90, 170},
                         trousers[3] = {50, 45, 40};
    const uint8_t *c = v < 70 ? skin : v < 210 ? shirt : trousers;
    double fold = 0.85 + 0.15 * sin(u * 0.35 + v * 0.05);
    for (int k = 0; k < 3; k++)
        o[k] = (uint8_t)(c[k] * fold);
}

static void render(const scene *sc, double t, uint64_t frame_no, uint8_t *out) {
    uint32_t ox = sc->pan ? (uint32_t)lround(PAN_PX_PER_S * t) : 0;
    for (uint32_t y = 0; y < H; y++)
        memcpy(out + (size_t)y * W * 3, sc->bg + ((size_t)y * sc->bw + ox) * 3, (size_t)W * 3);
    double box[4];
    if (person_box(sc, t, box)) {
        int x0 = (int)lround(box[0]);
        for (uint32_t v = 0; v < PERSON_H; v++)
            for (int u = 0; u < PERSON_W; u++) {
                int x = x0 + u;
                if (x < 0 || x >= W)
                    continue;
                person_px((uint32_t)u, v, out + ((size_t)(PERSON_TOP + v) * W + x) * 3);
            }
    }
    sp_rng r;
    sp_rng_seed(&r, frame_no * 7919 + 1);
    const int8_t *n = sc->noise + sp_rng_below(&r, 65536);
    for (size_t i = 0; i < (size_t)W * H * 3; i++) {
        int v = out[i] + n[i];
        out[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
}

static int cmd_make(const char *name, double seconds, double rate) {
    scene sc;
    scene_init(&sc, name, seconds);
    uint8_t *frame = malloc((size_t)W * H * 3);
    if (!frame)
        die("out of memory");
    uint64_t n = (uint64_t)llround(seconds * rate);
    for (uint64_t i = 0; i < n; i++) {
        render(&sc, (double)i / rate, i, frame);
        if (fwrite(frame, 1, (size_t)W * H * 3, stdout) != (size_t)W * H * 3)
            die("write to stdout failed");
    }
    free(frame);
    scene_free(&sc);
    return 0;
}

/* ---- the two pipelines --------------------------------------------------------------------- */

typedef struct packet_set {
    size_t n;
    uint64_t *keys; /* (frame << 16 | y << 8 | x) of the kept tokens */
} packet_set;

typedef struct run_packets {
    packet_set p[MAX_PACKETS];
    size_t n;
} run_packets;

static sp_status keep_packet(void *user, const sp_packet *p, sp_error *err) {
    (void)err;
    run_packets *rp = user;
    if (rp->n >= MAX_PACKETS)
        return SP_OK;
    packet_set *s = &rp->p[rp->n++];
    s->n = p->count;
    s->keys = malloc((p->count ? p->count : 1) * sizeof *s->keys);
    if (!s->keys)
        die("out of memory");
    for (size_t i = 0; i < p->count; i++)
        s->keys[i] = (p->info[i].frame << 16) | ((uint64_t)p->info[i].y << 8) | p->info[i].x;
    return SP_OK;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double jaccard(packet_set *a, packet_set *b) {
    qsort(a->keys, a->n, sizeof *a->keys, cmp_u64);
    qsort(b->keys, b->n, sizeof *b->keys, cmp_u64);
    size_t i = 0, j = 0, both = 0;
    while (i < a->n && j < b->n) {
        if (a->keys[i] == b->keys[j])
            both++, i++, j++;
        else if (a->keys[i] < b->keys[j])
            i++;
        else
            j++;
    }
    size_t uni = a->n + b->n - both;
    return uni ? (double)both / (double)uni : 1.0;
}

/* Cells of the encoder grid at least half covered by box: mask[gh * gw]; returns their count. */
static size_t object_cells(const sp_preprocess *pre, const double box[4], uint8_t *mask) {
    size_t count = 0;
    double cw = pre->src_w / pre->grid_w, ch = pre->src_h / pre->grid_h;
    for (uint32_t gy = 0; gy < pre->grid_h; gy++)
        for (uint32_t gx = 0; gx < pre->grid_w; gx++) {
            double x0 = pre->src_x + gx * cw, y0 = pre->src_y + gy * ch;
            double ix = fmin(x0 + cw, box[2]) - fmax(x0, box[0]);
            double iy = fmin(y0 + ch, box[3]) - fmax(y0, box[1]);
            bool in = ix > 0 && iy > 0 && ix * iy >= 0.5 * cw * ch;
            mask[gy * pre->grid_w + gx] = in;
            count += in;
        }
    return count;
}

static size_t new_cells(const uint8_t *fates, const uint8_t *mask, size_t n) {
    size_t hit = 0;
    for (size_t i = 0; i < n; i++)
        hit += mask[i] && fates[i] != SP_FATE_TEMPORAL;
    return hit;
}

static sp_stream *new_stream(run_packets *rp) {
    sp_stream_params p;
    sp_stream_params_init(&p);
    p.on_packet = keep_packet;
    p.user = rp;
    sp_stream *s;
    sp_error err;
    if (sp_stream_new(&p, &s, &err))
        die(err.message);
    return s;
}

static double push_ms(sp_stream *s, const sp_encoding *r, int64_t pts, uint8_t *fates) {
    sp_frame f;
    sp_encoding_frame(r, pts, &f);
    sp_error err;
    double a = bench_now_ms();
    if (sp_stream_push(s, &f, &err))
        die(err.message);
    double ms = bench_now_ms() - a;
    if (sp_stream_last_fates(s, fates, r->n, &err))
        die(err.message);
    return ms;
}

typedef struct totals {
    double gate_ms, vit_ms_all, vit_ms_gated, push_ms_all, push_ms_gated;
    double change_max_skipped, change_max; /* largest gate change of skipped / all frames */
    size_t sampled, encoded, obj_frames, obj_frames_encoded, obj_cells, obj_new_all, obj_new_gated;
} totals;

static void print_result(const char *name, double fps, double seconds, double decode_s,
                         const sp_change_gate_params *gp, const totals *t, run_packets *a,
                         run_packets *b, const char *load) {
    double jsum = 0, jmin = 1;
    size_t np = a->n < b->n ? a->n : b->n, ge = 0;
    for (size_t i = 0; i < np; i++) {
        double j = jaccard(&a->p[i], &b->p[i]);
        jsum += j;
        jmin = j < jmin ? j : jmin;
        ge += j >= 0.95;
    }
    double all_s = (t->vit_ms_all + t->push_ms_all) / 1e3;
    double gated_s = (t->gate_ms + t->vit_ms_gated + t->push_ms_gated) / 1e3;
    printf("{\"bench\":\"gate\",\"model\":\"ViT-B/16 random\",\"scene\":\"%s\",\"frame\":\"%dx%d\","
           "\"fps\":%g,\"seconds\":%g,\"threshold\":%g,\"max_skip_s\":%g,\"frames_sampled\":%zu,"
           "\"frames_encoded\":%zu,\"encoded_share\":%.4f,\"vit_ms_mean\":%.1f,"
           "\"gate_ms_mean\":%.2f,\"stream_ms_mean\":%.2f,\"process_s_every\":%.2f,"
           "\"process_s_gated\":%.2f,\"decode_s\":%.2f,\"rtf_every\":%.2f,\"rtf_gated\":%.2f,"
           "\"rtf_gain\":%.2f,\"rtf_e2e_every\":%.2f,\"rtf_e2e_gated\":%.2f,\"rtf_e2e_gain\":%.2f,"
           "\"packets\":%zu,\"packets_gated\":%zu,\"jaccard_mean\":%.4f,\"jaccard_min\":%.4f,"
           "\"packets_jaccard_ge_095\":%.4f,\"change_max_skipped\":%.2f,\"change_max\":%.2f",
           name, W, H, fps, seconds, (double)gp->threshold, (double)gp->max_skip_ns / 1e9,
           t->sampled, t->encoded, (double)t->encoded / (double)t->sampled,
           t->vit_ms_all / (double)t->sampled, t->gate_ms / (double)t->sampled,
           t->push_ms_all / (double)t->sampled, all_s, gated_s, decode_s, seconds / all_s,
           seconds / gated_s, all_s / gated_s, seconds / (decode_s + all_s),
           seconds / (decode_s + gated_s), (decode_s + all_s) / (decode_s + gated_s), a->n, b->n,
           np ? jsum / (double)np : 1.0, jmin, np ? (double)ge / (double)np : 1.0,
           t->change_max_skipped, t->change_max);
    if (t->obj_frames)
        printf(",\"object_frames\":%zu,\"object_frames_encoded\":%zu,\"object_cells\":%zu,"
               "\"object_recall_every\":%.4f,\"object_recall_gated\":%.4f",
               t->obj_frames, t->obj_frames_encoded, t->obj_cells,
               (double)t->obj_new_all / (double)t->obj_cells,
               (double)t->obj_new_gated / (double)t->obj_cells);
    printf(",\"load\":\"%s\"}\n", load);
    fflush(stdout);
}

static int cmd_run(const char *name, double fps, double seconds, double decode_s,
                   const sp_change_gate_params *gate_defaults) {
    char load[64] = "?";
    FILE *lf = fopen("/proc/loadavg", "r");
    if (lf) {
        if (!fgets(load, sizeof load, lf))
            strcpy(load, "?");
        load[strcspn(load, "\n")] = 0;
        fclose(lf);
    }
    scene sc = {0};
    sc.still = strcmp(name, "still") == 0;
    sc.seconds = seconds;
    sp_error err;
    sp_encoder *enc;
    if (vit_open_encoder(&VIT_B16, &enc, &err))
        die(err.message);
    sp_encode_ctx *ctx;
    if (sp_encode_ctx_new(enc, &ctx, &err))
        die(err.message);
    sp_change_gate_params gp = *gate_defaults;
    sp_change_gate_params_for_encoder(&gp, enc, W, H);
    sp_change_gate *gate;
    if (sp_change_gate_new(&gp, &gate, &err))
        die(err.message);
    static run_packets pa, pb;
    sp_stream *sa = new_stream(&pa), *sb = new_stream(&pb);
    sp_encoding r, last;
    sp_encoding_init(&r);
    sp_encoding_init(&last);
    uint8_t *frame = malloc((size_t)W * H * 3);
    uint8_t *fa = NULL, *fb = NULL, *mask = NULL;
    size_t ntok = 0;
    if (!frame)
        die("out of memory");
    totals t = {0};
    sp_preprocess pre;
    sp_encoder_plan(enc, W, H, &pre);
    while (fread(frame, 1, (size_t)W * H * 3, stdin) == (size_t)W * H * 3) {
        double at = (double)t.sampled / fps;
        int64_t pts = (int64_t)llround(at * 1e9);
        sp_image img = {frame, W, H, (size_t)W * 3, SP_PIXFMT_RGB};
        double a = bench_now_ms();
        sp_gate_verdict v;
        float change = 0;
        if (sp_change_gate_test(gate, &img, pts, &v, &change, &err))
            die(err.message);
        t.change_max = fmax(t.change_max, change);
        if (v == SP_GATE_SKIP)
            t.change_max_skipped = fmax(t.change_max_skipped, change);
        t.gate_ms += bench_now_ms() - a;
        a = bench_now_ms();
        if (sp_encode(ctx, &img, &r, &err))
            die(err.message);
        double vit = bench_now_ms() - a;
        t.vit_ms_all += vit;
        if (!fa) {
            ntok = r.n;
            fa = malloc(r.n);
            fb = malloc(r.n);
            mask = malloc(r.n);
            if (!fa || !fb || !mask)
                die("out of memory");
        }
        t.push_ms_all += push_ms(sa, &r, pts, fa);
        if (v != SP_GATE_SKIP) {
            /* the gated pipeline encodes this frame: the same tokens, the same time */
            t.vit_ms_gated += vit;
            t.encoded++;
            sp_encoding tmp = last;
            last = r;
            r = tmp;
        }
        t.push_ms_gated += push_ms(sb, &last, pts, fb);
        double box[4];
        if (person_box(&sc, at, box)) {
            size_t cells = object_cells(&pre, box, mask);
            if (cells) {
                t.obj_frames++;
                t.obj_frames_encoded += v != SP_GATE_SKIP;
                t.obj_cells += cells;
                t.obj_new_all += new_cells(fa, mask, ntok);
                t.obj_new_gated += new_cells(fb, mask, ntok);
            }
        }
        t.sampled++;
    }
    if (!t.sampled)
        die("no frame on stdin (1920x1080 RGB24 expected)");
    if (sp_stream_flush(sa, &err) || sp_stream_flush(sb, &err))
        die(err.message);
    print_result(name, fps, seconds, decode_s, &gp, &t, &pa, &pb, load);
    for (size_t i = 0; i < pa.n; i++)
        free(pa.p[i].keys);
    for (size_t i = 0; i < pb.n; i++)
        free(pb.p[i].keys);
    free(frame);
    free(fa);
    free(fb);
    free(mask);
    sp_stream_free(sa);
    sp_stream_free(sb);
    sp_encoding_free(&r);
    sp_encoding_free(&last);
    sp_change_gate_free(gate);
    sp_encode_ctx_free(ctx);
    sp_encoder_free(enc);
    return 0;
}

static void usage(void) {
    fprintf(stderr, "usage: bench-gate make --scene still|pan --seconds S --rate R > frames.rgb\n"
                    "       bench-gate run --scene still|pan|demo --fps F --seconds S "
                    "[--decode-s D] [--threshold T] [--max-skip-s M] < sampled.rgb\n"
                    "       bench-gate model --out DIR\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage();
        return 2;
    }
    const char *cmd = argv[1];
    const char *name = "still", *out_dir = NULL;
    double seconds = 0, rate = 10, fps = 1, decode_s = 0;
    sp_change_gate_params gp;
    sp_change_gate_params_init(&gp);
    gp.threshold = (float)sp_param_of(SP_PARAM_CHANGE_THRESHOLD)->def;
    gp.max_skip_ns = (int64_t)(sp_param_of(SP_PARAM_MAX_SKIP_S)->def * 1e9);
    static const struct option opts[] = {{"scene", required_argument, 0, 's'},
                                         {"seconds", required_argument, 0, 'S'},
                                         {"rate", required_argument, 0, 'r'},
                                         {"fps", required_argument, 0, 'f'},
                                         {"decode-s", required_argument, 0, 'd'},
                                         {"threshold", required_argument, 0, 't'},
                                         {"max-skip-s", required_argument, 0, 'm'},
                                         {"out", required_argument, 0, 'o'},
                                         {0, 0, 0, 0}};
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
            case 's':
                name = optarg;
                break;
            case 'S':
                seconds = strtod(optarg, NULL);
                break;
            case 'r':
                rate = strtod(optarg, NULL);
                break;
            case 'f':
                fps = strtod(optarg, NULL);
                break;
            case 'd':
                decode_s = strtod(optarg, NULL);
                break;
            case 't':
                gp.threshold = strtof(optarg, NULL);
                break;
            case 'm':
                gp.max_skip_ns = (int64_t)(strtod(optarg, NULL) * 1e9);
                break;
            case 'o':
                out_dir = optarg;
                break;
            default:
                usage();
                return 2;
        }
    }
    if (strcmp(cmd, "model") == 0) {
        if (!out_dir) {
            usage();
            return 2;
        }
        return vit_write_folder(&VIT_B16, out_dir);
    }
    if (!(seconds > 0) || !(rate > 0) || !(fps > 0)) {
        usage();
        return 2;
    }
    if (strcmp(cmd, "make") == 0) {
        if (strcmp(name, "still") != 0 && strcmp(name, "pan") != 0)
            die("make: --scene is still or pan (the demo scene comes from "
                "tools/gen-sample-video.sh)");
        return cmd_make(name, seconds, rate);
    }
    if (strcmp(cmd, "run") == 0)
        return cmd_run(name, fps, seconds, decode_s, &gp);
    usage();
    return 2;
}
