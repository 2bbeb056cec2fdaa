/* Packets with owned storage, the query hash, and packet kind and mode names. */
#include <string.h>

#include "alloc.h"
#include "scriptprune/wire.h"

void sp_packet_buf_init(sp_packet_buf *b) {
    memset(b, 0, sizeof *b);
    b->packet.window = SP_WINDOW_NONE;
}

void sp_packet_buf_free(sp_packet_buf *b) {
    sp_free(b->tokens);
    sp_free(b->info);
    sp_packet_buf_init(b);
}

sp_status sp_packet_buf_reserve(sp_packet_buf *b, size_t count, size_t d, sp_error *err) {
    size_t vals;
    if (!sp_mul_size(count, d, &vals) || vals > SIZE_MAX / sizeof(float))
        return sp_error_set(err, SP_ERR_OVERFLOW, "packet of %zu x %zu tokens is too large", count,
                            d);
    if (vals > b->cap_tokens) {
        float *t = sp_alloc_array(vals, sizeof(float));
        if (!t)
            return sp_error_set(err, SP_ERR_NOMEM, "packet: out of memory for %zu x %zu tokens",
                                count, d);
        sp_free(b->tokens);
        b->tokens = t;
        b->cap_tokens = vals;
    }
    if (count > b->cap_info) {
        sp_token_info *in = sp_alloc_array(count, sizeof(sp_token_info));
        if (!in)
            return sp_error_set(err, SP_ERR_NOMEM, "packet: out of memory for %zu entries", count);
        sp_free(b->info);
        b->info = in;
        b->cap_info = count;
    }
    b->packet.count = count;
    b->packet.d = d;
    b->packet.tokens = b->tokens;
    b->packet.info = b->info;
    return SP_OK;
}

sp_status sp_packet_buf_copy(sp_packet_buf *b, const sp_packet *p, sp_error *err) {
    sp_status st = sp_packet_buf_reserve(b, p->count, p->d, err);
    if (st)
        return st;
    if (p->count) {
        memcpy(b->tokens, p->tokens, p->count * p->d * sizeof(float));
        memcpy(b->info, p->info, p->count * sizeof(sp_token_info));
    }
    sp_packet keep = b->packet;
    b->packet = *p;
    b->packet.tokens = keep.tokens;
    b->packet.info = keep.info;
    return SP_OK;
}

static uint64_t fnv1a_u64le(uint64_t h, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; i++) {
        h ^= (uint8_t)(v >> (8 * i));
        h *= 0x100000001b3ull;
    }
    return h;
}

uint64_t sp_query_hash(const sp_query *q) {
    if (!q || q->m == 0 || !q->rows)
        return 0;
    /* Over little-endian bytes whatever the host, so files agree across machines. */
    uint64_t h = 0xcbf29ce484222325ull;
    h = fnv1a_u64le(h, (uint64_t)q->m, 8);
    h = fnv1a_u64le(h, (uint64_t)q->e, 8);
    for (size_t i = 0; i < q->m * q->e; i++) {
        uint32_t bits;
        memcpy(&bits, &q->rows[i], 4);
        h = fnv1a_u64le(h, bits, 4);
    }
    return h ? h : 1;
}

const char *sp_packet_kind_name(sp_packet_kind k) {
    static const char *const names[] = {"frame", "window", "reselect"};
    return (unsigned)k < SP_PACKET_KIND_COUNT ? names[k] : "unknown";
}

static const char *const mode_names[] = {"snapshot", "delta"};

const char *sp_packet_mode_name(sp_packet_mode m) {
    return (unsigned)m < SP_PACKET_MODE_COUNT ? mode_names[m] : "unknown";
}

sp_status sp_packet_mode_from_name(const char *name, sp_packet_mode *out, sp_error *err) {
    for (int i = 0; i < SP_PACKET_MODE_COUNT; i++)
        if (name && strcmp(name, mode_names[i]) == 0) {
            *out = (sp_packet_mode)i;
            return SP_OK;
        }
    return sp_error_set(err, SP_ERR_INVALID, "unknown packet mode '%s' (snapshot, delta)",
                        name ? name : "(null)");
}
