/* The token-stream writer: the stream header once, then one length-prefixed, checksummed packet
 * per call (docs/wire-format.md). Packets are checked with the reader's own rules first, so a
 * writer never produces a stream its reader would refuse. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../formats/bytes_le.h"
#include "../formats/fileio.h"
#include "../formats/float_store.h"
#include "alloc.h"
#include "wire_internal.h"

struct sp_wire_writer {
    sp_wire_header h;
    sp_wire_sink_fn sink;
    void *user;
    sp_wire_seq seq;
    uint8_t *buf;
    size_t cap;
    uint64_t bytes;
};

static sp_status sink_write(sp_wire_writer *w, const void *data, size_t len, sp_error *err) {
    sp_status st = w->sink(w->user, data, len, err);
    if (!st)
        w->bytes += len;
    return st;
}

sp_status sp_wire_writer_new(const sp_wire_header *h, sp_wire_sink_fn sink, void *user,
                             sp_wire_writer **out, sp_error *err) {
    *out = NULL;
    if (!h || !sink)
        return sp_error_set(err, SP_ERR_INVALID, "sp_wire_writer_new: NULL argument");
    sp_status st = sp_wire_header_validate(h, err);
    if (st)
        return st;
    sp_wire_writer *w = sp_calloc(1, sizeof *w);
    if (!w)
        return sp_error_set(err, SP_ERR_NOMEM, "token-stream writer: out of memory");
    w->h = *h;
    w->h.version = SP_WIRE_VERSION;
    w->sink = sink;
    w->user = user;
    size_t name_len = strlen(h->name);
    uint8_t hdr[SP_WIRE_HEADER_FIXED + SP_WIRE_NAME_MAX];
    memset(hdr, 0, sizeof hdr);
    memcpy(hdr + WH_MAGIC, SP_WIRE_MAGIC, 4);
    sp_store_le16(hdr + WH_VERSION, SP_WIRE_VERSION);
    sp_store_le16(hdr + WH_LENGTH, (uint16_t)(SP_WIRE_HEADER_FIXED + name_len));
    hdr[WH_DTYPE] = h->dtype == SP_DTYPE_F16 ? SP_WIRE_DT_F16 : SP_WIRE_DT_F32;
    hdr[WH_KIND] = (uint8_t)h->kind;
    hdr[WH_MODE] = (uint8_t)h->mode;
    sp_store_le32(hdr + WH_D, h->d);
    sp_store_le16(hdr + WH_GRID_H, h->grid_h);
    sp_store_le16(hdr + WH_GRID_W, h->grid_w);
    sp_store_le32(hdr + WH_WINDOW, h->window);
    sp_store_le32(hdr + WH_HOP, h->hop);
    sp_store_le32(hdr + WH_BUDGET, h->budget);
    uint32_t tau;
    memcpy(&tau, &h->tau_t, 4);
    sp_store_le32(hdr + WH_TAU, tau);
    sp_store_le16(hdr + WH_NAME_LEN, (uint16_t)name_len);
    memcpy(hdr + WH_NAME, h->name, name_len);
    uint32_t crc = sp_crc32_update(0, hdr, WH_CRC);
    crc = sp_crc32_update(crc, hdr + WH_NAME, name_len);
    sp_store_le32(hdr + WH_CRC, crc);
    st = sink_write(w, hdr, SP_WIRE_HEADER_FIXED + name_len, err);
    if (st) {
        sp_free(w);
        return st;
    }
    *out = w;
    return SP_OK;
}

void sp_wire_writer_free(sp_wire_writer *w) {
    if (!w)
        return;
    sp_free(w->buf);
    sp_free(w);
}

uint64_t sp_wire_writer_bytes(const sp_wire_writer *w) {
    return w->bytes;
}

sp_status sp_wire_writer_packet(sp_wire_writer *w, const sp_packet *p, sp_error *err) {
    if (!w || !p || (p->count && (!p->tokens || !p->info)))
        return sp_error_set(err, SP_ERR_INVALID, "sp_wire_writer_packet: NULL argument");
    char where[64];
    snprintf(where, sizeof where, "token-stream writer, packet %llu",
             (unsigned long long)w->seq.packets);
    size_t len;
    if (!sp_wire_packet_length(&w->h, p->count, &len))
        return sp_error_set(err, SP_ERR_OVERFLOW, "%s: %zu tokens do not fit one packet", where,
                            p->count);
    sp_wire_seq next = w->seq;
    sp_status st = sp_wire_check_packet(&w->h, p, &next, where, err);
    if (st)
        return st;
    bool half = w->h.dtype == SP_DTYPE_F16;
    if (half)
        for (size_t i = 0; i < p->count * p->d; i++)
            if (fabsf(p->tokens[i]) > 65504.0f)
                return sp_error_set(err, SP_ERR_INVALID,
                                    "%s: token %zu value %zu (%g) is beyond the float16 range; "
                                    "write float32",
                                    where, i / p->d, i % p->d, (double)p->tokens[i]);
    if (len > w->cap) {
        uint8_t *b = sp_malloc(len);
        if (!b)
            return sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory for %zu bytes", where, len);
        sp_free(w->buf);
        w->buf = b;
        w->cap = len;
    }
    uint8_t *b = w->buf;
    memset(b, 0, WP_INFO);
    memcpy(b + WP_MAGIC, SP_WIRE_PACKET_MAGIC, 4);
    sp_store_le32(b + WP_LENGTH, (uint32_t)len);
    sp_store_le64(b + WP_WINDOW, p->window);
    sp_store_le64(b + WP_PTS_FIRST, (uint64_t)p->pts_first);
    sp_store_le64(b + WP_PTS_LAST, (uint64_t)p->pts_last);
    sp_store_le64(b + WP_FRAME_FIRST, p->frame_first);
    sp_store_le64(b + WP_FRAME_LAST, p->frame_last);
    sp_store_le64(b + WP_QUERY, p->query_hash);
    sp_store_le32(b + WP_COUNT, (uint32_t)p->count);
    sp_store_le32(b + WP_BUDGET, (uint32_t)p->budget);
    b[WP_KIND] = (uint8_t)p->kind;
    b[WP_MODE] = (uint8_t)p->mode;
    uint8_t *q = b + WP_INFO;
    for (size_t i = 0; i < p->count; i++, q += SP_WIRE_INFO_BYTES) {
        const sp_token_info *t = &p->info[i];
        sp_store_le64(q + WI_PTS, (uint64_t)t->pts);
        sp_store_le64(q + WI_LAST_PTS, (uint64_t)t->last_pts);
        sp_store_le64(q + WI_FRAME, t->frame);
        sp_store_le32(q + WI_SEEN, t->seen);
        sp_store_le16(q + WI_Y, t->y);
        sp_store_le16(q + WI_X, t->x);
    }
    q = sp_store_floats_le(q, p->tokens, p->count * p->d, w->h.dtype);
    sp_store_le32(q, sp_crc32_update(0, b, len - SP_WIRE_TRAILER));
    st = sink_write(w, b, len, err);
    if (st)
        return st;
    w->seq = next;
    return SP_OK;
}

sp_status sp_wire_file_sink(void *user, const void *data, size_t len, sp_error *err) {
    FILE *f = user;
    if (fwrite(data, 1, len, f) != len) {
        char msg[128];
        return sp_error_set(err, SP_ERR_IO, "token-stream write failed: %s",
                            sp_strerror(errno, msg, sizeof msg));
    }
    return SP_OK;
}

bool sp_wire_is_stream(const uint8_t *buf, size_t len) {
    return len >= 4 && memcmp(buf, SP_WIRE_MAGIC, 4) == 0;
}
