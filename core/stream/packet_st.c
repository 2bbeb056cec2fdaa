/* Packets collected into one safetensors file: `tokens` [n, d] (F16 or F32), `pts` [n] I64,
 * `last_pts` [n] I64, `seen` [n] I32, `frame` [n] I32, `yx` [n, 2] I16 and `packets` [P, 7] I64
 * (window id or -1, pts_first, pts_last, frame_first, frame_last, token count, budget of each
 * packet, in order), with metadata `format`, `stream`, `method`, `window`, `budget`, `query_hash`,
 * `kind`, `mode`, `packets`. docs/wire-format.md has the details. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "scriptprune/safetensors.h"
#include "scriptprune/wire.h"

struct sp_packet_collector {
    size_t d;
    char stream[SP_WIRE_NAME_MAX + 1];
    char method[64];
    float *tokens;
    int64_t *pts;
    int64_t *last_pts;
    int32_t *seen;
    int32_t *frame;
    int16_t *yx;
    size_t n, cap;
    int64_t *packets; /* P x 7 */
    size_t np, pcap;
    uint64_t query_hash;
    bool mixed_query;
    sp_packet_kind kind;
    bool mixed_kind;
    sp_packet_mode mode;
    bool mixed_mode;
};

sp_packet_collector *sp_packet_collector_new(size_t d, const char *stream, const char *method) {
    if (d == 0)
        return NULL;
    sp_packet_collector *c = sp_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->d = d;
    snprintf(c->stream, sizeof c->stream, "%s", stream ? stream : "");
    snprintf(c->method, sizeof c->method, "%s", method ? method : "script-stream");
    return c;
}

void sp_packet_collector_free(sp_packet_collector *c) {
    if (!c)
        return;
    sp_free(c->tokens);
    sp_free(c->pts);
    sp_free(c->last_pts);
    sp_free(c->seen);
    sp_free(c->frame);
    sp_free(c->yx);
    sp_free(c->packets);
    sp_free(c);
}

static sp_status grow(sp_packet_collector *c, size_t need, sp_error *err) {
    if (need <= c->cap)
        return SP_OK;
    size_t cap = c->cap ? c->cap : 256;
    while (cap < need)
        cap *= 2;
    size_t tb;
    if (!sp_mul3_size(cap, c->d, sizeof(float), &tb))
        return sp_error_set(err, SP_ERR_OVERFLOW, "collector: %zu tokens is too many", need);
    float *t = sp_realloc(c->tokens, tb);
    if (t)
        c->tokens = t;
    int64_t *p = t ? sp_realloc(c->pts, cap * sizeof(int64_t)) : NULL;
    if (p)
        c->pts = p;
    int64_t *lp = p ? sp_realloc(c->last_pts, cap * sizeof(int64_t)) : NULL;
    if (lp)
        c->last_pts = lp;
    int32_t *sn = lp ? sp_realloc(c->seen, cap * sizeof(int32_t)) : NULL;
    if (sn)
        c->seen = sn;
    int32_t *f = sn ? sp_realloc(c->frame, cap * sizeof(int32_t)) : NULL;
    if (f)
        c->frame = f;
    int16_t *y = f ? sp_realloc(c->yx, cap * 2 * sizeof(int16_t)) : NULL;
    if (!y)
        return sp_error_set(err, SP_ERR_NOMEM, "collector: out of memory for %zu tokens", cap);
    c->yx = y;
    c->cap = cap;
    return SP_OK;
}

sp_status sp_packet_collector_add(sp_packet_collector *c, const sp_packet *p, sp_error *err) {
    if (!c || !p)
        return sp_error_set(err, SP_ERR_INVALID, "sp_packet_collector_add: NULL argument");
    if (p->count && p->d != c->d)
        return sp_error_set(err, SP_ERR_INVALID,
                            "collector: tokens of width %zu, the file holds width %zu", p->d, c->d);
    for (size_t i = 0; i < p->count; i++) {
        const sp_token_info *t = &p->info[i];
        if (t->frame > INT32_MAX)
            return sp_error_set(err, SP_ERR_OVERFLOW,
                                "collector: frame index %llu does not fit the int32 `frame` "
                                "tensor",
                                (unsigned long long)t->frame);
        if (t->seen > INT32_MAX)
            return sp_error_set(err, SP_ERR_OVERFLOW,
                                "collector: seen count %u does not fit the int32 `seen` tensor",
                                t->seen);
        if (t->y > INT16_MAX || t->x > INT16_MAX)
            return sp_error_set(err, SP_ERR_OVERFLOW,
                                "collector: grid position (%u, %u) does not fit the int16 `yx` "
                                "tensor",
                                t->y, t->x);
    }
    if (p->budget > INT64_MAX || p->frame_last > INT64_MAX ||
        (p->window != SP_WINDOW_NONE && p->window > INT64_MAX))
        return sp_error_set(err, SP_ERR_OVERFLOW, "collector: packet header out of int64 range");
    sp_status st = grow(c, c->n + p->count, err);
    if (st)
        return st;
    if (c->np == c->pcap) {
        size_t cap = c->pcap ? 2 * c->pcap : 16;
        int64_t *pk = sp_realloc(c->packets, cap * 7 * sizeof(int64_t));
        if (!pk)
            return sp_error_set(err, SP_ERR_NOMEM, "collector: out of memory for %zu packets", cap);
        c->packets = pk;
        c->pcap = cap;
    }
    if (p->count)
        memcpy(c->tokens + c->n * c->d, p->tokens, p->count * c->d * sizeof(float));
    for (size_t i = 0; i < p->count; i++) {
        const sp_token_info *t = &p->info[i];
        c->pts[c->n + i] = t->pts;
        c->last_pts[c->n + i] = t->last_pts;
        c->seen[c->n + i] = (int32_t)t->seen;
        c->frame[c->n + i] = (int32_t)t->frame;
        c->yx[2 * (c->n + i)] = (int16_t)t->y;
        c->yx[2 * (c->n + i) + 1] = (int16_t)t->x;
    }
    c->n += p->count;
    int64_t *row = c->packets + 7 * c->np;
    row[0] = p->window == SP_WINDOW_NONE ? -1 : (int64_t)p->window;
    row[1] = p->pts_first;
    row[2] = p->pts_last;
    row[3] = (int64_t)p->frame_first;
    row[4] = (int64_t)p->frame_last;
    row[5] = (int64_t)p->count;
    row[6] = (int64_t)p->budget;
    if (c->np == 0) {
        c->query_hash = p->query_hash;
        c->kind = p->kind;
        c->mode = p->mode;
    } else {
        c->mixed_query |= c->query_hash != p->query_hash;
        c->mixed_kind |= c->kind != p->kind;
        c->mixed_mode |= c->mode != p->mode;
    }
    c->np++;
    return SP_OK;
}

static sp_status build(const sp_packet_collector *c, sp_dtype dtype, sp_st_writer **out,
                       sp_error *err) {
    *out = NULL;
    if (dtype != SP_DTYPE_F16 && dtype != SP_DTYPE_F32)
        return sp_error_set(err, SP_ERR_UNSUPPORTED, "collector: tokens as %s (F16 or F32 only)",
                            sp_dtype_name(dtype));
    sp_st_writer *w = sp_st_writer_new();
    if (!w)
        return sp_error_set(err, SP_ERR_NOMEM, "collector: out of memory");
    size_t n = c->n;
    size_t s_tok[2] = {n, c->d}, s_n[1] = {n}, s_yx[2] = {n, 2}, s_pk[2] = {c->np, 7};
    /* Zero-size tensors still need a non-NULL source pointer. */
    static const int64_t none[1] = {0};
    const float *tok = c->tokens ? c->tokens : (const float *)(const void *)none;
    sp_status st = dtype == SP_DTYPE_F16
                       ? sp_st_writer_add_f32_as_f16(w, "tokens", 2, s_tok, tok, err)
                       : sp_st_writer_add(w, "tokens", SP_DTYPE_F32, 2, s_tok, tok, err);
    if (!st)
        st = sp_st_writer_add(w, "pts", SP_DTYPE_I64, 1, s_n, c->pts ? (const void *)c->pts : none,
                              err);
    if (!st)
        st = sp_st_writer_add(w, "last_pts", SP_DTYPE_I64, 1, s_n,
                              c->last_pts ? (const void *)c->last_pts : none, err);
    if (!st)
        st = sp_st_writer_add(w, "seen", SP_DTYPE_I32, 1, s_n,
                              c->seen ? (const void *)c->seen : none, err);
    if (!st)
        st = sp_st_writer_add(w, "frame", SP_DTYPE_I32, 1, s_n,
                              c->frame ? (const void *)c->frame : none, err);
    if (!st)
        st = sp_st_writer_add(w, "yx", SP_DTYPE_I16, 2, s_yx, c->yx ? (const void *)c->yx : none,
                              err);
    if (!st)
        st = sp_st_writer_add(w, "packets", SP_DTYPE_I64, 2, s_pk,
                              c->packets ? (const void *)c->packets : none, err);
    char buf[64];
    if (!st)
        st = sp_st_writer_metadata(w, "format", "scriptd-tokens-1", err);
    if (!st)
        st = sp_st_writer_metadata(w, "stream", c->stream, err);
    if (!st)
        st = sp_st_writer_metadata(w, "method", c->method, err);
    if (!st) {
        if (c->np == 0 || (c->np == 1 && c->packets[0] < 0))
            snprintf(buf, sizeof buf, "none");
        else if (c->np == 1)
            snprintf(buf, sizeof buf, "%" PRId64, c->packets[0]);
        else
            snprintf(buf, sizeof buf, "%" PRId64 "-%" PRId64, c->packets[0],
                     c->packets[7 * (c->np - 1)]);
        st = sp_st_writer_metadata(w, "window", buf, err);
    }
    if (!st) {
        snprintf(buf, sizeof buf, "%" PRId64, c->np ? c->packets[6] : (int64_t)0);
        st = sp_st_writer_metadata(w, "budget", buf, err);
    }
    if (!st) {
        if (c->mixed_query)
            snprintf(buf, sizeof buf, "mixed");
        else
            snprintf(buf, sizeof buf, "%016" PRIx64, c->query_hash);
        st = sp_st_writer_metadata(w, "query_hash", buf, err);
    }
    if (!st) {
        snprintf(buf, sizeof buf, "%s",
                 c->np == 0 || c->mixed_kind ? "mixed" : sp_packet_kind_name(c->kind));
        st = sp_st_writer_metadata(w, "kind", buf, err);
    }
    if (!st) {
        snprintf(buf, sizeof buf, "%s",
                 c->np == 0 || c->mixed_mode ? "mixed" : sp_packet_mode_name(c->mode));
        st = sp_st_writer_metadata(w, "mode", buf, err);
    }
    if (!st) {
        snprintf(buf, sizeof buf, "%zu", c->np);
        st = sp_st_writer_metadata(w, "packets", buf, err);
    }
    if (st) {
        sp_st_writer_free(w);
        return st;
    }
    *out = w;
    return SP_OK;
}

sp_status sp_packet_collector_write(const sp_packet_collector *c, sp_dtype dtype, const char *path,
                                    sp_error *err) {
    sp_st_writer *w;
    sp_status st = build(c, dtype, &w, err);
    if (st)
        return st;
    st = sp_st_writer_write_file(w, path, err);
    sp_st_writer_free(w);
    return st;
}

sp_status sp_packet_collector_to_buffer(const sp_packet_collector *c, sp_dtype dtype, uint8_t **buf,
                                        size_t *len, sp_error *err) {
    sp_st_writer *w;
    sp_status st = build(c, dtype, &w, err);
    if (st)
        return st;
    st = sp_st_writer_to_buffer(w, buf, len, err);
    sp_st_writer_free(w);
    return st;
}
