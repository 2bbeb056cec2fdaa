/* scriptprune inspect [--positions] FILE: a token-stream file (docs/wire-format.md) or a
 * safetensors file of packets, described as one JSON line per packet and a final summary line.
 * Every packet is fully validated by core's reader; the first problem ends the listing with an
 * error on stderr. With --positions each packet line also lists its tokens' time spans and grid
 * positions. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "scriptprune/safetensors.h"
#include "scriptprune/wire.h"

static void inspect_usage(FILE *to) {
    fprintf(to, "usage: scriptprune inspect [--positions] FILE\n"
                "FILE: a token stream (scriptprune stream --out X.sptok) or a safetensors file of\n"
                "packets. Prints one JSON line per packet (window, kind, mode, pts_first,\n"
                "pts_last, tokens, current = tokens seen in the packet's span, budget, d, ...)\n"
                "and a summary line (packets, tokens, frames).\n"
                "  --positions  add to each packet line \"positions\": one [pts, last_pts, seen,\n"
                "               frame, y, x] per token, in the packet's order\n");
}

/* Distinct source frames of the tokens: a sorted set, grown as needed. */
typedef struct frame_set {
    uint64_t *v;
    size_t n, cap;
} frame_set;

static int add_frame(frame_set *s, uint64_t f) {
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->v[mid] < f)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < s->n && s->v[lo] == f)
        return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 256;
        uint64_t *v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return -1;
        s->v = v;
        s->cap = cap;
    }
    memmove(s->v + lo + 1, s->v + lo, (s->n - lo) * sizeof *s->v);
    s->v[lo] = f;
    s->n++;
    return 0;
}

typedef struct totals {
    uint64_t packets, tokens;
    frame_set frames; /* distinct frames the tokens come from */
    uint64_t frame_min, frame_max;
    bool have_span;
    uint64_t span_first, span_last; /* frames the packets cover */
} totals;

static void add_span(totals *t, uint64_t first, uint64_t last) {
    if (!t->have_span || first < t->span_first)
        t->span_first = first;
    if (!t->have_span || last > t->span_last)
        t->span_last = last;
    t->have_span = true;
}

static void print_window(uint64_t w) {
    if (w == SP_WINDOW_NONE)
        printf("null");
    else
        printf("%" PRIu64, w);
}

static int print_summary(const totals *t, const char *format, size_t d, unsigned version) {
    printf("{\"packets\":%" PRIu64 ",\"tokens\":%" PRIu64 ",\"frames\":%" PRIu64, t->packets,
           t->tokens, t->have_span ? t->span_last - t->span_first + 1 : 0);
    if (t->have_span)
        printf(",\"frame_first\":%" PRIu64 ",\"frame_last\":%" PRIu64, t->span_first, t->span_last);
    else
        printf(",\"frame_first\":null,\"frame_last\":null");
    printf(",\"source_frames\":%zu,\"d\":%zu,\"format\":\"%s\"", t->frames.n, d, format);
    if (version)
        printf(",\"version\":%u", version);
    printf("}\n");
    return fflush(stdout) == 0 ? CLI_OK : cli_fail(CLI_FAIL, "inspect: writing stdout failed");
}

static int count_tokens(totals *t, const uint64_t *frames, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (add_frame(&t->frames, frames[i]))
            return -1;
        if (t->tokens + i == 0 || frames[i] < t->frame_min)
            t->frame_min = frames[i];
        if (t->tokens + i == 0 || frames[i] > t->frame_max)
            t->frame_max = frames[i];
    }
    t->tokens += n;
    return 0;
}

static int inspect_stream(FILE *in, const char *path, bool positions) {
    sp_wire_reader *r = sp_wire_reader_new(0);
    uint8_t *chunk = malloc(1 << 20);
    uint64_t *frames = NULL;
    size_t frames_cap = 0;
    totals t = {0};
    int rc = CLI_OK;
    sp_error err;
    sp_status st = SP_OK;
    if (!r || !chunk) {
        rc = cli_fail(CLI_FAIL, "inspect: out of memory");
        goto out;
    }
    for (;;) {
        size_t got = fread(chunk, 1, 1 << 20, in);
        if (got == 0) {
            if (ferror(in)) {
                rc = cli_fail(CLI_BAD_INPUT, "inspect: %s: read error: %s", path, strerror(errno));
                goto out;
            }
            st = sp_wire_reader_finish(r, &err);
            break;
        }
        st = sp_wire_reader_feed(r, chunk, got, &err);
        bool have = true;
        while (!st && have) {
            sp_packet p;
            st = sp_wire_reader_next(r, &p, &have, &err);
            if (st || !have)
                break;
            const sp_wire_header *h = sp_wire_reader_header(r);
            printf("{\"window\":");
            print_window(p.window);
            printf(",\"kind\":\"%s\",\"mode\":\"%s\",\"pts_first\":%" PRId64
                   ",\"pts_last\":%" PRId64 ",\"frame_first\":%" PRIu64 ",\"frame_last\":%" PRIu64
                   ",\"tokens\":%zu,\"current\":%zu,\"budget\":%zu,\"d\":%u,\"query_hash\":\"%"
                   "016" PRIx64 "\"",
                   sp_packet_kind_name(p.kind), sp_packet_mode_name(p.mode), p.pts_first,
                   p.pts_last, p.frame_first, p.frame_last, p.count,
                   cli_count_current(p.info, p.count, p.pts_first), p.budget, h->d, p.query_hash);
            if (positions)
                cli_print_positions(p.info, p.count, true);
            printf("}\n");
            if (p.count > frames_cap) {
                uint64_t *f = realloc(frames, p.count * sizeof *f);
                if (!f) {
                    rc = cli_fail(CLI_FAIL, "inspect: out of memory");
                    goto out;
                }
                frames = f;
                frames_cap = p.count;
            }
            for (size_t i = 0; i < p.count; i++)
                frames[i] = p.info[i].frame;
            if (count_tokens(&t, frames, p.count)) {
                rc = cli_fail(CLI_FAIL, "inspect: out of memory");
                goto out;
            }
            add_span(&t, p.frame_first, p.frame_last);
            t.packets++;
        }
        if (st)
            break;
    }
    if (st) {
        fflush(stdout);
        rc = cli_fail(cli_status_exit(st), "inspect: %s: %s", path, err.message);
        goto out;
    }
    rc = print_summary(&t, "token-stream", sp_wire_reader_header(r)->d,
                       sp_wire_reader_header(r)->version);
out:
    sp_wire_reader_free(r);
    free(chunk);
    free(frames);
    free(t.frames.v);
    return rc;
}

/* Reads an integer tensor of the expected dtype and shape into int64 values (a new array). */
static sp_status int_tensor(const sp_st_file *f, const char *name, sp_dtype dt, size_t ndim,
                            const size_t *shape, int64_t **out, sp_error *err) {
    const sp_st_tensor *t;
    sp_status st = sp_st_get(f, name, &t, err);
    if (st)
        return st;
    if (t->dtype != dt || t->ndim != ndim)
        return sp_error_set(err, SP_ERR_FORMAT,
                            "tensor '%s' is %s with %zu dimensions, expected %s "
                            "with %zu",
                            name, sp_dtype_name(t->dtype), t->ndim, sp_dtype_name(dt), ndim);
    for (size_t i = 0; i < ndim; i++)
        if (shape[i] != SIZE_MAX && t->shape[i] != shape[i])
            return sp_error_set(err, SP_ERR_FORMAT,
                                "tensor '%s' has dimension %zu of %zu, "
                                "expected %zu",
                                name, i, t->shape[i], shape[i]);
    int64_t *v = malloc((t->elements ? t->elements : 1) * sizeof *v);
    if (!v)
        return sp_error_set(err, SP_ERR_NOMEM, "out of memory reading '%s'", name);
    size_t es = sp_dtype_size(dt);
    for (size_t i = 0; i < t->elements; i++) {
        const uint8_t *p = t->data + i * es;
        uint64_t u = 0;
        for (size_t b = 0; b < es; b++)
            u |= (uint64_t)p[b] << (8 * b);
        /* sign-extend */
        if (es < 8 && (u >> (8 * es - 1)) & 1)
            u |= ~(uint64_t)0 << (8 * es);
        v[i] = (int64_t)u;
    }
    *out = v;
    return SP_OK;
}

/* The tokens [first, first + count) of a safetensors file as sp_token_info (last_pts and seen
 * left 0 when the file has no such tensors). */
static void token_infos(const int64_t *pts, const int64_t *last_pts, const int64_t *seen,
                        const int64_t *frame, const int64_t *yx, size_t first, size_t count,
                        sp_token_info *out) {
    for (size_t i = 0; i < count; i++) {
        size_t k = first + i;
        out[i] = (sp_token_info){.pts = pts[k],
                                 .last_pts = last_pts ? last_pts[k] : 0,
                                 .frame = (uint64_t)frame[k],
                                 .seen = seen ? (uint32_t)seen[k] : 0,
                                 .y = (uint16_t)yx[2 * k],
                                 .x = (uint16_t)yx[2 * k + 1]};
    }
}

static int inspect_safetensors(const char *path, bool positions) {
    sp_st_file *f = NULL;
    sp_error err;
    sp_status st = sp_st_open(path, &f, &err);
    if (st)
        return cli_fail(cli_status_exit(st), "inspect: %s", err.message);
    int64_t *pts = NULL, *frame = NULL, *yx = NULL, *pk = NULL, *last_pts = NULL, *seen = NULL;
    uint64_t *frames = NULL;
    sp_token_info *info = NULL;
    totals t = {0};
    int rc = CLI_OK;
    const sp_st_tensor *tok;
    st = sp_st_get(f, "tokens", &tok, &err);
    if (!st && (tok->ndim != 2 || tok->shape[1] == 0))
        st = sp_error_set(&err, SP_ERR_FORMAT, "tensor 'tokens' must be n x d with d >= 1");
    if (!st && tok->dtype != SP_DTYPE_F16 && tok->dtype != SP_DTYPE_F32 &&
        tok->dtype != SP_DTYPE_BF16)
        st = sp_error_set(&err, SP_ERR_FORMAT, "tensor 'tokens' is %s, expected a float type",
                          sp_dtype_name(tok->dtype));
    size_t n = st ? 0 : tok->shape[0], d = st ? 0 : tok->shape[1];
    size_t s_n[1] = {n}, s_yx[2] = {n, 2}, s_pk[2] = {SIZE_MAX, 7};
    if (!st)
        st = int_tensor(f, "pts", SP_DTYPE_I64, 1, s_n, &pts, &err);
    /* last_pts and seen came later: files without them still read (as null). */
    if (!st && sp_st_find(f, "last_pts"))
        st = int_tensor(f, "last_pts", SP_DTYPE_I64, 1, s_n, &last_pts, &err);
    if (!st && sp_st_find(f, "seen"))
        st = int_tensor(f, "seen", SP_DTYPE_I32, 1, s_n, &seen, &err);
    if (!st && (last_pts == NULL) != (seen == NULL))
        st = sp_error_set(&err, SP_ERR_FORMAT, "tensor '%s' is missing (it comes with '%s')",
                          last_pts ? "seen" : "last_pts", last_pts ? "last_pts" : "seen");
    if (!st)
        st = int_tensor(f, "frame", SP_DTYPE_I32, 1, s_n, &frame, &err);
    if (!st)
        st = int_tensor(f, "yx", SP_DTYPE_I16, 2, s_yx, &yx, &err);
    size_t np = 0;
    bool have_packets = sp_st_find(f, "packets") != NULL;
    if (!st && have_packets) {
        st = int_tensor(f, "packets", SP_DTYPE_I64, 2, s_pk, &pk, &err);
        np = st ? 0 : sp_st_find(f, "packets")->shape[0];
    }
    if (!st) {
        frames = malloc((n ? n : 1) * sizeof *frames);
        info = malloc((n ? n : 1) * sizeof *info);
        if (!frames || !info)
            st = sp_error_set(&err, SP_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; !st && i < n; i++) {
        if (frame[i] < 0 || yx[2 * i] < 0 || yx[2 * i + 1] < 0)
            st = sp_error_set(&err, SP_ERR_FORMAT, "token %zu has a negative frame or position", i);
        else if (last_pts && (seen[i] < 1 || last_pts[i] < pts[i]))
            st = sp_error_set(&err, SP_ERR_FORMAT,
                              "token %zu: seen %" PRId64 ", last_pts %" PRId64
                              " before pts %" PRId64,
                              i, seen[i], last_pts[i], pts[i]);
        frames[i] = (uint64_t)(st ? 0 : frame[i]);
    }
    if (!st)
        token_infos(pts, last_pts, seen, frame, yx, 0, n, info);
    const char *mode = sp_st_metadata(f, "mode");
    /* Packets must account for every token exactly. */
    size_t sum = 0;
    for (size_t i = 0; !st && i < np; i++) {
        const int64_t *r = pk + 7 * i;
        if (r[5] < 0 || r[6] < r[5] || r[1] > r[2] || r[3] < 0 || r[3] > r[4])
            st = sp_error_set(&err, SP_ERR_FORMAT,
                              "packet %zu: pts [%" PRId64 ", %" PRId64 "], frames [%" PRId64
                              ", %" PRId64 "], count %" PRId64 ", budget %" PRId64
                              " are inconsistent",
                              i, r[1], r[2], r[3], r[4], r[5], r[6]);
        else
            sum += (size_t)r[5];
    }
    if (!st && have_packets && sum != n)
        st = sp_error_set(&err, SP_ERR_FORMAT,
                          "the packets table counts %zu tokens but 'tokens' has %zu", sum, n);
    if (st) {
        rc = cli_fail(cli_status_exit(st), "inspect: %s: %s", path, err.message);
        goto out;
    }
    if (!have_packets) {
        /* A plain file of tokens: one packet spanning the tokens' pts. */
        const char *b = sp_st_metadata(f, "budget");
        int64_t lo = 0, hi = 0;
        for (size_t i = 0; i < n; i++) {
            lo = i == 0 || pts[i] < lo ? pts[i] : lo;
            hi = i == 0 || pts[i] > hi ? pts[i] : hi;
        }
        printf("{\"window\":null,\"kind\":null,\"pts_first\":%" PRId64 ",\"pts_last\":%" PRId64
               ",\"tokens\":%zu,\"budget\":%s,\"d\":%zu",
               lo, hi, n, b && strspn(b, "0123456789") == strlen(b) && *b ? b : "null", d);
        if (positions)
            cli_print_positions(info, n, last_pts != NULL);
        printf("}\n");
        t.packets = 1;
    }
    for (size_t i = 0, first = 0; i < np; i++) {
        const int64_t *r = pk + 7 * i;
        size_t count = (size_t)r[5];
        printf("{\"window\":");
        if (r[0] < 0)
            printf("null");
        else
            printf("%" PRId64, r[0]);
        printf(",\"mode\":");
        if (mode && strspn(mode, "abcdefghijklmnopqrstuvwxyz") == strlen(mode))
            printf("\"%s\"", mode);
        else
            printf("null");
        printf(",\"pts_first\":%" PRId64 ",\"pts_last\":%" PRId64 ",\"frame_first\":%" PRId64
               ",\"frame_last\":%" PRId64 ",\"tokens\":%" PRId64,
               r[1], r[2], r[3], r[4], r[5]);
        if (last_pts)
            printf(",\"current\":%zu", cli_count_current(info + first, count, r[1]));
        else
            printf(",\"current\":null");
        printf(",\"budget\":%" PRId64 ",\"d\":%zu", r[6], d);
        if (positions)
            cli_print_positions(info + first, count, last_pts != NULL);
        printf("}\n");
        first += count;
        add_span(&t, (uint64_t)r[3], (uint64_t)r[4]);
        t.packets++;
    }
    if (count_tokens(&t, frames, n)) {
        rc = cli_fail(CLI_FAIL, "inspect: out of memory");
        goto out;
    }
    rc = print_summary(&t, "safetensors", d, 0);
out:
    free(pts);
    free(last_pts);
    free(seen);
    free(info);
    free(frame);
    free(yx);
    free(pk);
    free(frames);
    free(t.frames.v);
    sp_st_close(f);
    return rc;
}

int cli_cmd_inspect(int argc, char **argv) {
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        inspect_usage(stdout);
        return CLI_OK;
    }
    bool positions = argc == 3 && strcmp(argv[1], "--positions") == 0;
    if (argc != 2 + positions) {
        inspect_usage(stderr);
        return cli_fail(CLI_BAD_INPUT, "inspect: expected [--positions] FILE");
    }
    const char *path = argv[1 + positions];
    FILE *in = fopen(path, "rb");
    if (!in)
        return cli_fail(CLI_BAD_INPUT, "inspect: %s: %s", path, strerror(errno));
    uint8_t magic[4];
    size_t got = fread(magic, 1, sizeof magic, in);
    int rc;
    if (sp_wire_is_stream(magic, got)) {
        rewind(in);
        rc = inspect_stream(in, path, positions);
    } else {
        rc = inspect_safetensors(path, positions);
    }
    fclose(in);
    return rc;
}
