/* scriptprune stream: runs a sequence of token frames through sp_stream offline and writes the
 * packets as a token stream (docs/wire-format.md) or as one safetensors file. Frames come from a
 * directory of .npy files (one N x D frame each, in name order) or from one safetensors file with
 * a [T, N, D] tensor (and optionally `embeddings` [T, N, E] and `pts` [T] int64). */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "scriptprune/npy.h"
#include "scriptprune/safetensors.h"
#include "scriptprune/stream.h"
#include "scriptprune/wire.h"

static void stream_usage(FILE *to) {
    fprintf(to,
            "usage: scriptprune stream --frames DIR|FILE.safetensors[:TENSOR] --out OUT\n"
            "         [--embeddings DIR] [--grid HxW] [--fps F] [--budget K] [--query Q.npy]\n"
            "         [--query-at FRAME] [--name NAME] [--dtype f16|f32] [--threads T]\n"
            "         [stream parameters below]\n"
            "Frames: a directory of .npy files (N x D each, name order), or a safetensors tensor\n"
            "[T, N, D] (default name 'frames'; 'embeddings' [T, N, E] and 'pts' [T] int64 are\n"
            "used when present). Without pts, frame i has pts i * 1e9 / fps (fps 2).\n"
            "OUT: FILE.safetensors for one safetensors file, anything else for a token stream.\n"
            "--budget K sets both --frame-budget and --window-budget.\n"
            "Prints a JSON summary of the run on stdout.\n"
            "Stream parameters (core's parameter table):\n");
    cli_param_usage(to, SP_PARAM_IN_STREAM, SP_PARAM_COUNT);
    fprintf(to, "Old spellings, still accepted with a warning: --policy (--emit), --tau-t\n"
                "(--temporal-tau), --radius (--temporal-radius), --history-mib M\n"
                "(--history-bytes MMiB).\n");
}

typedef struct stream_args {
    const char *frames, *embeddings, *out, *query, *name;
    bool have_grid;
    uint32_t grid_h, grid_w;
    double fps;
    size_t query_at;
    int threads;
    sp_dtype dtype;
    sp_stream_params p;
} stream_args;

static void stream_args_init(stream_args *a) {
    memset(a, 0, sizeof *a);
    sp_stream_params_init(&a->p);
    a->fps = 2.0;
    a->dtype = SP_DTYPE_F16;
}

/* Sets a table parameter from an option's text; `option` names it in messages. */
static sp_status set_param(stream_args *a, sp_param_id id, const char *arg, sp_error *err) {
    double v;
    sp_status st = cli_param_parse(sp_param_of(id), arg, &v, err);
    return st ? st : sp_stream_params_set(&a->p, id, v, err);
}

/* Old option names: the value goes to the parameter that replaced them. */
static sp_status apply_deprecated(stream_args *a, int c, const char *arg, sp_error *err) {
    size_t mib;
    sp_status st;
    switch (c) {
        case 'P':
            cli_warn_deprecated("--policy", "--emit");
            return set_param(a, SP_PARAM_EMIT, arg, err);
        case 'T':
            cli_warn_deprecated("--tau-t", "--temporal-tau");
            return set_param(a, SP_PARAM_TEMPORAL_TAU, arg, err);
        case 'r':
            cli_warn_deprecated("--radius", "--temporal-radius");
            return set_param(a, SP_PARAM_TEMPORAL_RADIUS, arg, err);
        case 'm':
            cli_warn_deprecated("--history-mib M", "--history-bytes MMiB");
            st = cli_parse_size(arg, "--history-mib", 0, (size_t)1 << 30, &mib, err);
            return st ? st
                      : sp_stream_params_set(&a->p, SP_PARAM_HISTORY_BYTES, (double)mib * 1048576.0,
                                             err);
        default:
            return sp_error_set(err, SP_ERR_STATE, "option %d has no handler", c);
    }
}

static sp_status apply_option(void *args, int c, const char *arg, sp_error *err) {
    stream_args *a = args;
    size_t v;
    float fv;
    sp_status st = SP_OK;
    const sp_param_info *pi = cli_param_of_option(c);
    if (pi)
        return set_param(a, pi->id, arg, err);
    switch (c) {
        case 'f':
            a->frames = arg;
            break;
        case 'e':
            a->embeddings = arg;
            break;
        case 'o':
            a->out = arg;
            break;
        case 'x':
            st = cli_parse_grid(arg, &a->grid_h, &a->grid_w, err);
            a->have_grid = true;
            break;
        case 'F':
            st = cli_parse_float(arg, "--fps", 1e-6, 1e6, &fv, err);
            a->fps = fv;
            break;
        case 'k':
            st = set_param(a, SP_PARAM_FRAME_BUDGET, arg, err);
            if (!st)
                st = set_param(a, SP_PARAM_WINDOW_BUDGET, arg, err);
            break;
        case 'q':
            a->query = arg;
            break;
        case 'a':
            st = cli_parse_size(arg, "--query-at", 0, SIZE_MAX, &a->query_at, err);
            break;
        case 'n':
            a->name = arg;
            break;
        case 'd':
            if (strcmp(arg, "f16") == 0)
                a->dtype = SP_DTYPE_F16;
            else if (strcmp(arg, "f32") == 0)
                a->dtype = SP_DTYPE_F32;
            else
                st = sp_error_set(err, SP_ERR_INVALID, "--dtype: expected f16 or f32, got '%s'",
                                  arg);
            break;
        case 'j':
            st = cli_parse_size(arg, "--threads", 1, 256, &v, err);
            a->threads = (int)v;
            break;
        default:
            st = apply_deprecated(a, c, arg, err);
    }
    return st;
}

static sp_status finish_args(void *args, sp_error *err) {
    stream_args *a = args;
    sp_status st = cli_require(a->frames != NULL, "--frames", err);
    if (!st)
        st = cli_require(a->out != NULL, "--out", err);
    if (!st) {
        if (a->name)
            a->p.name = a->name;
        st = sp_stream_params_validate(&a->p, err);
    }
    return st;
}

/* The command's own options; the stream parameters are appended from core's table. */
static const struct option stream_own_options[] = {
    {"frames", required_argument, 0, 'f'},
    {"embeddings", required_argument, 0, 'e'},
    {"out", required_argument, 0, 'o'},
    {"grid", required_argument, 0, 'x'},
    {"fps", required_argument, 0, 'F'},
    {"budget", required_argument, 0, 'k'},
    {"query", required_argument, 0, 'q'},
    {"query-at", required_argument, 0, 'a'},
    {"name", required_argument, 0, 'n'},
    {"dtype", required_argument, 0, 'd'},
    {"threads", required_argument, 0, 'j'},
    {"help", no_argument, 0, CLI_OPT_HELP},
    {"policy", required_argument, 0, 'P'},
    {"tau-t", required_argument, 0, 'T'},
    {"radius", required_argument, 0, 'r'},
    {"history-mib", required_argument, 0, 'm'},
    {0, 0, 0, 0},
};

/* ---- frame sources ---- */

typedef struct source {
    /* directory mode */
    char **files, **efiles;
    size_t count;
    /* safetensors mode */
    sp_st_file *st;
    const sp_st_tensor *tok, *emb, *pts;
    /* the current frame */
    sp_matrix m, me;
    float *buf, *ebuf;
    size_t n, d, e;
} source;

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static sp_status list_npy(const char *dir, char ***out, size_t *count, sp_error *err) {
    DIR *dp = opendir(dir);
    if (!dp)
        return sp_error_set(err, SP_ERR_IO, "%s: %s", dir, strerror(errno));
    char **v = NULL;
    size_t n = 0, cap = 0;
    sp_status st = SP_OK;
    struct dirent *de;
    while (!st && (de = readdir(dp)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len < 5 || strcmp(de->d_name + len - 4, ".npy") != 0)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **nv = realloc(v, cap * sizeof *nv);
            if (!nv) {
                st = sp_error_set(err, SP_ERR_NOMEM, "out of memory listing %s", dir);
                break;
            }
            v = nv;
        }
        size_t plen = strlen(dir) + 1 + len + 1;
        v[n] = malloc(plen);
        if (!v[n]) {
            st = sp_error_set(err, SP_ERR_NOMEM, "out of memory listing %s", dir);
            break;
        }
        snprintf(v[n], plen, "%s/%s", dir, de->d_name);
        n++;
    }
    closedir(dp);
    if (!st && n == 0)
        st = sp_error_set(err, SP_ERR_INVALID, "%s: no .npy files", dir);
    if (st) {
        for (size_t i = 0; i < n; i++)
            free(v[i]);
        free(v);
        return st;
    }
    qsort(v, n, sizeof *v, cmp_str);
    *out = v;
    *count = n;
    return SP_OK;
}

static bool is_float(sp_dtype t) {
    return t == SP_DTYPE_F32 || t == SP_DTYPE_F16 || t == SP_DTYPE_BF16 || t == SP_DTYPE_F64;
}

static sp_status source_open(source *s, const stream_args *a, sp_error *err) {
    memset(s, 0, sizeof *s);
    const char *spec = a->frames;
    const char *dot = strstr(spec, ".safetensors");
    if (!dot) {
        sp_status st = list_npy(spec, &s->files, &s->count, err);
        if (!st && a->embeddings) {
            size_t ec;
            st = list_npy(a->embeddings, &s->efiles, &ec, err);
            if (!st && ec != s->count)
                st = sp_error_set(err, SP_ERR_INVALID,
                                  "--embeddings %s has %zu frames but --frames has %zu",
                                  a->embeddings, ec, s->count);
        }
        return st;
    }
    if (a->embeddings)
        return sp_error_set(err, SP_ERR_INVALID,
                            "--embeddings is for directories; put an 'embeddings' tensor in %s",
                            spec);
    size_t plen = (size_t)(dot - spec) + strlen(".safetensors");
    char *path = strndup(spec, plen);
    if (!path)
        return sp_error_set(err, SP_ERR_NOMEM, "out of memory");
    const char *name = spec[plen] == ':' ? spec + plen + 1 : "frames";
    sp_status st = sp_st_open(path, &s->st, err);
    free(path);
    if (st)
        return st;
    st = sp_st_get(s->st, name, &s->tok, err);
    if (!st && (s->tok->ndim != 3 || !is_float(s->tok->dtype) || s->tok->shape[0] == 0 ||
                s->tok->shape[1] == 0 || s->tok->shape[2] == 0))
        st = sp_error_set(err, SP_ERR_INVALID,
                          "tensor '%s' must be a float [T, N, D] array with T, N, D >= 1", name);
    if (st)
        return st;
    s->count = s->tok->shape[0];
    s->n = s->tok->shape[1];
    s->d = s->tok->shape[2];
    s->emb = sp_st_find(s->st, "embeddings");
    if (s->emb && (s->emb->ndim != 3 || !is_float(s->emb->dtype) || s->emb->shape[0] != s->count ||
                   s->emb->shape[1] != s->n || s->emb->shape[2] == 0))
        return sp_error_set(err, SP_ERR_INVALID,
                            "tensor 'embeddings' must be a float [%zu, %zu, E] array", s->count,
                            s->n);
    s->e = s->emb ? s->emb->shape[2] : 0;
    s->pts = sp_st_find(s->st, "pts");
    if (s->pts &&
        (s->pts->ndim != 1 || s->pts->dtype != SP_DTYPE_I64 || s->pts->shape[0] != s->count))
        return sp_error_set(err, SP_ERR_INVALID, "tensor 'pts' must be int64 [%zu]", s->count);
    s->buf = malloc(s->n * s->d * sizeof(float));
    s->ebuf = s->e ? malloc(s->n * s->e * sizeof(float)) : NULL;
    if (!s->buf || (s->e && !s->ebuf))
        return sp_error_set(err, SP_ERR_NOMEM, "out of memory for a frame of %zu x %zu", s->n,
                            s->d);
    return SP_OK;
}

static void source_close(source *s) {
    for (size_t i = 0; s->files && i < s->count; i++)
        free(s->files[i]);
    for (size_t i = 0; s->efiles && i < s->count; i++)
        free(s->efiles[i]);
    free(s->files);
    free(s->efiles);
    sp_matrix_free(&s->m);
    sp_matrix_free(&s->me);
    free(s->buf);
    free(s->ebuf);
    sp_st_close(s->st);
}

/* Loads frame i into f (pts from the file, or i * 1e9 / fps). */
static sp_status source_frame(source *s, size_t i, const stream_args *a, sp_frame *f,
                              sp_error *err) {
    int64_t pts = (int64_t)llround((double)i * 1e9 / a->fps);
    if (s->st) {
        size_t es = sp_dtype_size(s->tok->dtype), nd = s->n * s->d;
        sp_convert_to_f32(s->tok->dtype, s->tok->data + i * nd * es, s->buf, nd);
        sp_frame_view(f, s->buf, s->n, s->d);
        if (s->emb) {
            size_t ees = sp_dtype_size(s->emb->dtype), ne = s->n * s->e;
            sp_convert_to_f32(s->emb->dtype, s->emb->data + i * ne * ees, s->ebuf, ne);
            f->embed = s->ebuf;
            f->e = s->e;
        }
        if (s->pts) {
            const uint8_t *p = s->pts->data + 8 * i;
            uint64_t u = 0;
            for (int b = 0; b < 8; b++)
                u |= (uint64_t)p[b] << (8 * b);
            pts = (int64_t)u;
        }
    } else {
        sp_matrix_free(&s->m);
        sp_matrix_free(&s->me);
        sp_status st = sp_npy_read(s->files[i], &s->m, err);
        if (!st && s->m.ndim != 2)
            st = sp_error_set(err, SP_ERR_INVALID, "a frame must be an N x D matrix");
        if (st)
            return sp_error_prefix(err, "%s", s->files[i]);
        sp_frame_view(f, s->m.data, s->m.rows, s->m.cols);
        if (s->efiles) {
            st = sp_npy_read(s->efiles[i], &s->me, err);
            if (!st && (s->me.ndim != 2 || s->me.rows != s->m.rows))
                st = sp_error_set(err, SP_ERR_INVALID, "embeddings must be %zu x E", s->m.rows);
            if (st)
                return sp_error_prefix(err, "%s", s->efiles[i]);
            f->embed = s->me.data;
            f->e = s->me.cols;
        }
    }
    if (a->have_grid) {
        f->grid_h = a->grid_h;
        f->grid_w = a->grid_w;
    }
    f->pts = pts;
    return SP_OK;
}

/* ---- output ---- */

typedef struct output {
    const stream_args *a;
    sp_stream *s;
    bool safetensors;
    char *tmp;
    FILE *file;
    sp_wire_writer *w;
    sp_packet_collector *col;
    uint64_t packets, tokens;
} output;

static sp_status on_packet(void *user, const sp_packet *p, sp_error *err) {
    output *o = user;
    sp_status st;
    if (o->safetensors) {
        if (!o->col) {
            sp_wire_header h;
            st = sp_stream_wire_header(o->s, &h, err);
            if (st)
                return st;
            char method[64];
            snprintf(method, sizeof method, "script-stream-%s",
                     sp_emit_policy_name(o->a->p.policy));
            o->col = sp_packet_collector_new(h.d, h.name, method);
            if (!o->col)
                return sp_error_set(err, SP_ERR_NOMEM, "out of memory");
        }
        st = sp_packet_collector_add(o->col, p, err);
    } else {
        if (!o->w) {
            sp_wire_header h;
            st = sp_stream_wire_header(o->s, &h, err);
            if (st)
                return st;
            h.dtype = o->a->dtype;
            st = sp_wire_writer_new(&h, sp_wire_file_sink, o->file, &o->w, err);
            if (st)
                return st;
        }
        st = sp_wire_writer_packet(o->w, p, err);
    }
    if (!st) {
        o->packets++;
        o->tokens += p->count;
    }
    return st;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

int cli_cmd_stream(int argc, char **argv) {
    stream_args a;
    stream_args_init(&a);
    int rc;
    cli_param_options opts;
    cli_param_options_init(&opts, SP_PARAM_IN_STREAM, stream_own_options);
    const cli_options stream_options = {
        .command = "stream",
        .table = opts.table,
        .apply = apply_option,
        .finish = finish_args,
        .usage = stream_usage,
    };
    if (!cli_parse_command_line(argc, argv, &stream_options, &a, &rc))
        return rc;
    sp_error err;
    sp_error_clear(&err);
    if (a.threads)
        sp_blas_set_threads(a.threads);
    source src;
    output o = {.a = &a, .safetensors = ends_with(a.out, ".safetensors")};
    sp_matrix query = {0};
    sp_stream *s = NULL;
    rc = CLI_OK;
    sp_status st = source_open(&src, &a, &err);
    if (st)
        sp_error_prefix(&err, "--frames %s", a.frames);
    if (!st && a.query && (st = cli_load_matrix(a.query, &query, &err)))
        sp_error_prefix(&err, "--query %s", a.query);
    if (!st && !o.safetensors) {
        size_t len = strlen(a.out) + 32;
        o.tmp = malloc(len);
        if (!o.tmp) {
            st = sp_error_set(&err, SP_ERR_NOMEM, "out of memory");
        } else {
            snprintf(o.tmp, len, "%s.tmp.%ld", a.out, (long)getpid());
            o.file = fopen(o.tmp, "wb");
            if (!o.file)
                st = sp_error_set(&err, SP_ERR_IO, "--out %s: %s", a.out, strerror(errno));
        }
    }
    a.p.on_packet = on_packet;
    a.p.user = &o;
    if (!st)
        st = sp_stream_new(&a.p, &s, &err);
    o.s = s;
    sp_query q = {.rows = query.data, .m = query.rows, .e = query.cols};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (size_t i = 0; !st && i < src.count; i++) {
        if (a.query && i == a.query_at && (st = sp_stream_set_query(s, &q, &err)))
            break;
        sp_frame f;
        st = source_frame(&src, i, &a, &f, &err);
        if (!st)
            st = sp_stream_push(s, &f, &err);
        if (st)
            sp_error_prefix(&err, "frame %zu", i);
    }
    if (!st)
        st = sp_stream_flush(s, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (!st && o.safetensors && !o.col)
        st = sp_error_set(&err, SP_ERR_INVALID, "no packet was emitted");
    if (!st && o.safetensors)
        st = sp_packet_collector_write(o.col, a.dtype, a.out, &err);
    if (!st && !o.safetensors && !o.w)
        st = sp_error_set(&err, SP_ERR_INVALID, "no packet was emitted");
    if (o.file) {
        if (fclose(o.file) != 0 && !st)
            st = sp_error_set(&err, SP_ERR_IO, "--out %s: %s", a.out, strerror(errno));
        if (!st && rename(o.tmp, a.out) != 0)
            st = sp_error_set(&err, SP_ERR_IO, "--out %s: %s", a.out, strerror(errno));
        if (st)
            unlink(o.tmp);
    }
    if (st) {
        rc = cli_fail(cli_status_exit(st), "stream: %s", err.message);
    } else {
        sp_stream_stats stt;
        sp_stream_get_stats(s, &stt);
        double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        printf("{\"frames\":%" PRIu64 ",\"tokens_in\":%" PRIu64 ",\"temporal_drops\":%" PRIu64
               ",\"spatial_drops\":%" PRIu64 ",\"padding_drops\":%" PRIu64
               ",\"candidates\":%" PRIu64 ",\"scene_cuts\":%" PRIu64 ",\"packets\":%" PRIu64
               ",\"tokens_out\":%" PRIu64 ",\"history_tokens\":%" PRIu64
               ",\"packet_mode\":\"%s\",\"ms_per_frame\":%.3f,\"out\":\"%s\"}\n",
               stt.frames_in, stt.tokens_in, stt.temporal_drops, stt.spatial_drops,
               stt.padding_drops, stt.candidates, stt.scene_cuts, o.packets, o.tokens,
               stt.history_tokens, sp_packet_mode_name(a.p.packet_mode),
               stt.frames_in ? ms / (double)stt.frames_in : 0.0,
               o.safetensors ? "safetensors" : "token-stream");
        if (fflush(stdout) != 0)
            rc = cli_fail(CLI_FAIL, "stream: writing stdout failed");
    }
    sp_wire_writer_free(o.w);
    sp_packet_collector_free(o.col);
    free(o.tmp);
    sp_stream_free(s);
    sp_matrix_free(&query);
    source_close(&src);
    return rc;
}
