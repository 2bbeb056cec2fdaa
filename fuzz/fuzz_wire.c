/* libFuzzer target: the token-stream (wire format) reader.
 *
 * Mutated bytes almost never carry a valid CRC-32, so a plain target stops at the checksum. Here
 * the first input byte is a control byte and the rest is the stream; before feeding it, the
 * harness walks the stream as the reader will and rewrites what mutations break:
 *   - the header length from the name length, and each packet's length from its token count
 *     (unless control bit 1), so the framing holds;
 *   - the header and packet checksums (unless control bit 0), so the reader gets past them and
 *     into the layout, value and sequence checks.
 * The high nibble chooses the chunk size the bytes are fed in (1 byte .. 32 KiB), since the reader
 * promises the same result under any chunking.
 *
 * Properties: a refused stream has a message; every accepted packet is written again by the wire
 * writer with the same header, and the writer's bytes equal the bytes the reader consumed
 * (whatever the writer accepts the reader accepts, and nothing else). */
#include <stdbool.h>
#include <string.h>

#include "fuzz_check.h"
#include "scriptprune/wire.h"
#include "wire_internal.h"

enum { NO_CRC_FIX = 1, NO_LENGTH_FIX = 2 };

static void store_le16(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void store_le32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t load_le16(const uint8_t *p) {
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t load_le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void fix_up(uint8_t *b, size_t size, unsigned control) {
    if (size < SP_WIRE_HEADER_FIXED)
        return;
    size_t nlen = (size_t)b[WH_NAME_LEN] | (size_t)b[WH_NAME_LEN + 1] << 8;
    if (!(control & NO_LENGTH_FIX)) {
        nlen &= 0xff; /* at most SP_WIRE_NAME_MAX */
        store_le16(b + WH_NAME_LEN, (uint32_t)nlen);
        store_le16(b + WH_LENGTH, (uint32_t)(SP_WIRE_HEADER_FIXED + nlen));
    }
    size_t hlen = SP_WIRE_HEADER_FIXED + nlen;
    if (size < hlen)
        return;
    if (!(control & NO_CRC_FIX)) {
        uint32_t crc = sp_crc32_update(0, b, WH_CRC);
        store_le32(b + WH_CRC, sp_crc32_update(crc, b + WH_NAME, nlen));
    }
    sp_wire_header h;
    sp_wire_header_init(&h);
    h.d = load_le32(b + WH_D);
    h.dtype = b[WH_DTYPE] == SP_WIRE_DT_F16 ? SP_DTYPE_F16 : SP_DTYPE_F32;
    for (size_t pos = hlen; pos + WP_COUNT + 4 <= size;) {
        uint8_t *p = b + pos;
        size_t len;
        if (!(control & NO_LENGTH_FIX) && sp_wire_packet_length(&h, load_le32(p + WP_COUNT), &len))
            store_le32(p + WP_LENGTH, (uint32_t)len);
        len = load_le32(p + WP_LENGTH);
        if (len < SP_WIRE_PACKET_FIXED + SP_WIRE_TRAILER || len > size - pos)
            return;
        if (!(control & NO_CRC_FIX))
            store_le32(p + len - SP_WIRE_TRAILER, sp_crc32_update(0, p, len - SP_WIRE_TRAILER));
        pos += len;
    }
}

typedef struct out_buf {
    uint8_t *data;
    size_t len, cap;
} out_buf;

static sp_status to_buf(void *user, const void *data, size_t len, sp_error *err) {
    (void)err;
    out_buf *o = user;
    if (o->len + len > o->cap) {
        o->cap = (o->len + len) * 2;
        o->data = realloc(o->data, o->cap);
        FUZZ_REQUIRE(o->data != NULL);
    }
    memcpy(o->data + o->len, data, len);
    o->len += len;
    return SP_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    unsigned control = data[0];
    size_t chunk = (size_t)1 << (control >> 4 > 15 ? 15 : control >> 4);
    size_t n = size - 1;
    uint8_t *b = malloc(n ? n : 1);
    FUZZ_REQUIRE(b != NULL);
    memcpy(b, data + 1, n);
    fix_up(b, n, control);

    sp_wire_reader *r = sp_wire_reader_new(1 << 20);
    FUZZ_REQUIRE(r != NULL);
    /* What the reader accepts of the current version, the writer writes back byte for byte. An
     * older version is only read: it made promises the current one does not (a version 1 window
     * packet may hold tokens last seen before its span), so it is not rewritten. */
    bool rewrite = n >= 6 && load_le16(b + 4) == SP_WIRE_VERSION;
    sp_wire_writer *w = NULL;
    out_buf written = {0};
    sp_error err;
    sp_error_clear(&err);
    sp_status st = SP_OK;
    for (size_t off = 0; off < n && st == SP_OK;) {
        size_t k = n - off < chunk ? n - off : chunk;
        st = sp_wire_reader_feed(r, b + off, k, &err);
        off += k;
        for (bool got = true; st == SP_OK && got;) {
            sp_packet p;
            st = sp_wire_reader_next(r, &p, &got, &err);
            if (st != SP_OK || !got)
                break;
            if (!rewrite)
                continue;
            sp_error we;
            if (!w) {
                const sp_wire_header *h = sp_wire_reader_header(r);
                FUZZ_REQUIRE(h != NULL);
                if (sp_wire_writer_new(h, to_buf, &written, &w, &we) != SP_OK) {
                    fprintf(stderr, "the writer refuses a header the reader accepted: %s\n",
                            we.message);
                    abort();
                }
            }
            if (sp_wire_writer_packet(w, &p, &we) != SP_OK) {
                fprintf(stderr, "the writer refuses packet %llu the reader accepted: %s\n",
                        (unsigned long long)sp_wire_reader_packets(r), we.message);
                abort();
            }
        }
    }
    if (st == SP_OK)
        st = sp_wire_reader_finish(r, &err);
    if (st != SP_OK) {
        fuzz_require_error(st, &err);
        sp_error again;
        bool got;
        sp_packet p;
        FUZZ_REQUIRE(sp_wire_reader_next(r, &p, &got, &again) == st && !got); /* sticky */
    }
    if (w) {
        /* The header is written when the writer is created: compare what both sides cover. */
        size_t consumed = (size_t)sp_wire_reader_offset(r);
        FUZZ_REQUIRE(written.len == consumed);
        FUZZ_REQUIRE(memcmp(written.data, b, consumed) == 0);
    }
    sp_wire_writer_free(w);
    free(written.data);
    sp_wire_reader_free(r);
    free(b);
    return 0;
}
