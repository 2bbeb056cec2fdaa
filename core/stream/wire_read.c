/* The token-stream reader: bytes in (any chunking), validated packets out. Nothing is exposed
 * before the whole packet is present and its checksum, layout and contents passed; the first
 * error is sticky so a corrupted stream cannot be read past the damage by mistake. */
#include <stdio.h>
#include <string.h>

#include "../formats/bytes_le.h"
#include "alloc.h"
#include "wire_internal.h"

#define SP_WIRE_DEFAULT_MAX ((size_t)256 << 20)

struct sp_wire_reader {
    size_t max_packet;
    uint8_t *buf; /* unconsumed input at buf[pos, len) */
    size_t pos, len, cap;
    uint64_t offset; /* stream offset of buf[pos] */
    bool have_header;
    sp_wire_header h;
    sp_wire_seq seq;
    sp_status failed;
    sp_error fail;
    sp_packet_buf out;
};

sp_wire_reader *sp_wire_reader_new(size_t max_packet_bytes) {
    sp_wire_reader *r = sp_calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->max_packet = max_packet_bytes ? max_packet_bytes : SP_WIRE_DEFAULT_MAX;
    sp_packet_buf_init(&r->out);
    return r;
}

void sp_wire_reader_free(sp_wire_reader *r) {
    if (!r)
        return;
    sp_free(r->buf);
    sp_packet_buf_free(&r->out);
    sp_free(r);
}

const sp_wire_header *sp_wire_reader_header(const sp_wire_reader *r) {
    return r->have_header ? &r->h : NULL;
}

uint64_t sp_wire_reader_packets(const sp_wire_reader *r) {
    return r->seq.packets;
}

uint64_t sp_wire_reader_offset(const sp_wire_reader *r) {
    return r->offset;
}

/* Records the first error and returns it. */
static sp_status fail(sp_wire_reader *r, sp_error *err, sp_status st) {
    r->failed = st;
    if (err)
        r->fail = *err;
    else
        sp_error_set(&r->fail, st, "token stream: error");
    return st;
}

static sp_status sticky(const sp_wire_reader *r, sp_error *err) {
    if (err)
        *err = r->fail;
    return r->failed;
}

sp_status sp_wire_reader_feed(sp_wire_reader *r, const void *data, size_t len, sp_error *err) {
    if (r->failed)
        return sticky(r, err);
    if (len == 0)
        return SP_OK;
    if (r->pos > 0 && r->len + len > r->cap) {
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->len -= r->pos;
        r->pos = 0;
    }
    if (r->len + len > r->cap) {
        size_t cap = r->cap ? r->cap : 65536;
        while (cap < r->len + len) {
            if (cap > SIZE_MAX / 2)
                return sp_error_set(err, SP_ERR_OVERFLOW, "token stream: input too large");
            cap *= 2;
        }
        uint8_t *b = sp_realloc(r->buf, cap);
        if (!b)
            return sp_error_set(err, SP_ERR_NOMEM,
                                "token stream: out of memory buffering %zu bytes", cap);
        r->buf = b;
        r->cap = cap;
    }
    memcpy(r->buf + r->len, data, len);
    r->len += len;
    return SP_OK;
}

static sp_status parse_header(sp_wire_reader *r, bool *got, sp_error *err) {
    size_t avail = r->len - r->pos;
    const uint8_t *b = r->buf + r->pos;
    *got = false;
    /* Check the magic as soon as its bytes arrive: a wrong file fails fast. */
    if (avail >= 1 && memcmp(b, SP_WIRE_MAGIC, avail < 4 ? avail : 4) != 0)
        return sp_error_set(err, SP_ERR_FORMAT,
                            "token stream: bad magic at byte 0 (not a token-stream file)");
    if (avail < SP_WIRE_HEADER_FIXED)
        return SP_OK;
    uint16_t version = sp_load_le16(b + WH_VERSION);
    if (version < SP_WIRE_VERSION_MIN || version > SP_WIRE_VERSION)
        return sp_error_set(err, SP_ERR_UNSUPPORTED,
                            "token stream: format version %u (this reader knows versions %d to %d)",
                            version, SP_WIRE_VERSION_MIN, SP_WIRE_VERSION);
    uint16_t hlen = sp_load_le16(b + WH_LENGTH);
    uint16_t nlen = sp_load_le16(b + WH_NAME_LEN);
    if (nlen > SP_WIRE_NAME_MAX || hlen != SP_WIRE_HEADER_FIXED + nlen)
        return sp_error_set(err, SP_ERR_FORMAT,
                            "token stream: header length %u does not match a name of %u bytes "
                            "(at most %d)",
                            hlen, nlen, SP_WIRE_NAME_MAX);
    if (avail < hlen)
        return SP_OK;
    uint32_t crc = sp_crc32_update(0, b, WH_CRC);
    crc = sp_crc32_update(crc, b + WH_NAME, nlen);
    uint32_t stored = sp_load_le32(b + WH_CRC);
    if (crc != stored)
        return sp_error_set(err, SP_ERR_FORMAT,
                            "token stream: header checksum mismatch (stored %08x, computed %08x)",
                            stored, crc);
    if ((version == 1 && b[WH_MODE]) || b[WH_RESERVED0] || sp_load_le16(b + WH_RESERVED1))
        return sp_error_set(err, SP_ERR_FORMAT, "token stream: reserved header bytes are not zero");
    sp_wire_header h;
    sp_wire_header_init(&h);
    h.version = version;
    if (b[WH_MODE] >= SP_PACKET_MODE_COUNT)
        return sp_error_set(err, SP_ERR_UNSUPPORTED, "token stream: packet mode code %u is unknown",
                            b[WH_MODE]);
    h.mode = (sp_packet_mode)b[WH_MODE];
    uint8_t dt = b[WH_DTYPE];
    if (dt != SP_WIRE_DT_F16 && dt != SP_WIRE_DT_F32)
        return sp_error_set(err, SP_ERR_UNSUPPORTED, "token stream: value type code %u is unknown",
                            dt);
    h.dtype = dt == SP_WIRE_DT_F16 ? SP_DTYPE_F16 : SP_DTYPE_F32;
    h.kind = (sp_packet_kind)b[WH_KIND];
    h.d = sp_load_le32(b + WH_D);
    h.grid_h = sp_load_le16(b + WH_GRID_H);
    h.grid_w = sp_load_le16(b + WH_GRID_W);
    h.window = sp_load_le32(b + WH_WINDOW);
    h.hop = sp_load_le32(b + WH_HOP);
    h.budget = sp_load_le32(b + WH_BUDGET);
    uint32_t tau = sp_load_le32(b + WH_TAU);
    memcpy(&h.tau_t, &tau, 4);
    if (memchr(b + WH_NAME, 0, nlen))
        return sp_error_set(err, SP_ERR_FORMAT, "token stream: stream name contains a NUL byte");
    memcpy(h.name, b + WH_NAME, nlen);
    h.name[nlen] = 0;
    sp_status st = sp_wire_header_validate(&h, err);
    if (st)
        return st;
    r->h = h;
    r->have_header = true;
    r->pos += hlen;
    r->offset += hlen;
    *got = true;
    return SP_OK;
}

static sp_status decode_packet(sp_wire_reader *r, const uint8_t *b, size_t len, const char *where,
                               sp_error *err) {
    for (int i = r->h.version == 1 ? WP_MODE : WP_RESERVED; i < WP_INFO; i++)
        if (b[i])
            return sp_error_set(err, SP_ERR_FORMAT, "%s: reserved bytes are not zero", where);
    uint32_t count = sp_load_le32(b + WP_COUNT);
    size_t expect;
    if (!sp_wire_packet_length(&r->h, count, &expect) || expect != len)
        return sp_error_set(err, SP_ERR_FORMAT,
                            "%s: length %zu does not match %u tokens of width %u (%s)", where, len,
                            count, r->h.d, r->h.dtype == SP_DTYPE_F16 ? "F16" : "F32");
    sp_status st = sp_packet_buf_reserve(&r->out, count, r->h.d, err);
    if (st)
        return st;
    sp_packet *p = &r->out.packet;
    p->kind = (sp_packet_kind)b[WP_KIND];
    p->mode = r->h.version == 1 ? r->h.mode : (sp_packet_mode)b[WP_MODE];
    p->window = sp_load_le64(b + WP_WINDOW);
    p->pts_first = (int64_t)sp_load_le64(b + WP_PTS_FIRST);
    p->pts_last = (int64_t)sp_load_le64(b + WP_PTS_LAST);
    p->frame_first = sp_load_le64(b + WP_FRAME_FIRST);
    p->frame_last = sp_load_le64(b + WP_FRAME_LAST);
    p->query_hash = sp_load_le64(b + WP_QUERY);
    p->budget = sp_load_le32(b + WP_BUDGET);
    const uint8_t *q = b + WP_INFO;
    for (size_t i = 0; i < count; i++, q += SP_WIRE_INFO_BYTES) {
        sp_token_info *t = &r->out.info[i];
        t->pts = (int64_t)sp_load_le64(q + WI_PTS);
        t->last_pts = (int64_t)sp_load_le64(q + WI_LAST_PTS);
        t->frame = sp_load_le64(q + WI_FRAME);
        t->seen = sp_load_le32(q + WI_SEEN);
        t->y = sp_load_le16(q + WI_Y);
        t->x = sp_load_le16(q + WI_X);
    }
    size_t nv = (size_t)count * r->h.d;
    float *v = r->out.tokens;
    if (r->h.dtype == SP_DTYPE_F16) {
        for (size_t i = 0; i < nv; i++)
            v[i] = sp_half_to_float(sp_load_le16(q + 2 * i));
    } else {
        for (size_t i = 0; i < nv; i++) {
            uint32_t bits = sp_load_le32(q + 4 * i);
            memcpy(&v[i], &bits, 4);
        }
    }
    return sp_wire_check_packet(&r->h, p, &r->seq, where, err);
}

sp_status sp_wire_reader_next(sp_wire_reader *r, sp_packet *out, bool *got, sp_error *err) {
    *got = false;
    if (r->failed)
        return sticky(r, err);
    sp_status st;
    if (!r->have_header) {
        bool hdr;
        st = parse_header(r, &hdr, err);
        if (st)
            return fail(r, err, st);
        if (!hdr)
            return SP_OK;
    }
    size_t avail = r->len - r->pos;
    const uint8_t *b = r->buf + r->pos;
    char where[96];
    snprintf(where, sizeof where, "token stream: packet %llu at byte %llu",
             (unsigned long long)r->seq.packets, (unsigned long long)r->offset);
    if (avail >= 1 && memcmp(b, SP_WIRE_PACKET_MAGIC, avail < 4 ? avail : 4) != 0) {
        sp_error_set(err, SP_ERR_FORMAT, "%s: bad packet magic", where);
        return fail(r, err, SP_ERR_FORMAT);
    }
    if (avail < 8)
        return SP_OK;
    size_t len = sp_load_le32(b + WP_LENGTH);
    if (len < SP_WIRE_PACKET_FIXED + SP_WIRE_TRAILER || len > r->max_packet) {
        sp_error_set(err, SP_ERR_FORMAT, "%s: length %zu is outside [%d, %zu]", where, len,
                     SP_WIRE_PACKET_FIXED + SP_WIRE_TRAILER, r->max_packet);
        return fail(r, err, SP_ERR_FORMAT);
    }
    if (avail < len)
        return SP_OK;
    uint32_t stored = sp_load_le32(b + len - SP_WIRE_TRAILER);
    uint32_t crc = sp_crc32_update(0, b, len - SP_WIRE_TRAILER);
    if (crc != stored) {
        sp_error_set(err, SP_ERR_FORMAT, "%s: checksum mismatch (stored %08x, computed %08x)",
                     where, stored, crc);
        return fail(r, err, SP_ERR_FORMAT);
    }
    st = decode_packet(r, b, len, where, err);
    if (st)
        return fail(r, err, st);
    r->pos += len;
    r->offset += len;
    *out = r->out.packet;
    *got = true;
    return SP_OK;
}

sp_status sp_wire_reader_finish(sp_wire_reader *r, sp_error *err) {
    if (r->failed)
        return sticky(r, err);
    size_t avail = r->len - r->pos;
    if (!r->have_header) {
        sp_error_set(err, SP_ERR_FORMAT,
                     avail ? "token stream: truncated header (%zu bytes)"
                           : "token stream: empty input (%zu bytes, no header)",
                     avail);
        return fail(r, err, SP_ERR_FORMAT);
    }
    if (avail) {
        size_t need = avail >= 8 ? sp_load_le32(r->buf + r->pos + WP_LENGTH) : 8;
        sp_error_set(err, SP_ERR_FORMAT,
                     "token stream: packet %llu at byte %llu is truncated (%zu of %zu bytes)",
                     (unsigned long long)r->seq.packets, (unsigned long long)r->offset, avail,
                     need);
        return fail(r, err, SP_ERR_FORMAT);
    }
    return SP_OK;
}
