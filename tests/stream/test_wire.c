/* The token-stream wire format: round trips in float16 and float32, any chunking of the input,
 * the writer's refusals, and the reader against thousands of deterministic truncations and
 * corruptions (every prefix length, every single-bit flip of a small stream, random multi-byte
 * damage, and hand-made structurally wrong packets with valid checksums): always a clear error,
 * never a crash, a hang or a packet that breaks the rules. Run under ASan/UBSan in CI. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"
#include "rng.h"
#include "scriptprune/wire.h"

/* ---- helpers ---- */

typedef struct bytes {
    uint8_t *data;
    size_t len;
} bytes;

static sp_status sink(void *user, const void *data, size_t len, sp_error *err) {
    bytes *b = user;
    uint8_t *p = realloc(b->data, b->len + len);
    if (!p)
        return sp_error_set(err, SP_ERR_NOMEM, "test sink");
    memcpy(p + b->len, data, len);
    b->data = p;
    b->len += len;
    return SP_OK;
}

static void assert_contains(const sp_error *err, const char *needle) {
    if (!strstr(err->message, needle))
        fail_msg("message '%s' does not contain '%s'", err->message, needle);
}

static void header_for(sp_wire_header *h, sp_dtype dt, uint32_t d) {
    sp_wire_header_init(h);
    h->dtype = dt;
    h->kind = SP_PACKET_WINDOW;
    h->d = d;
    h->grid_h = 4;
    h->grid_w = 5;
    h->window = 8;
    h->hop = 4;
    h->budget = 6;
    h->tau_t = 0.9f;
    strcpy(h->name, "cam-1");
}

/* Packet number w of a synthetic stream: count tokens of width d. */
typedef struct pk_store {
    sp_packet p;
    float tok[64 * 16];
    sp_token_info info[64];
} pk_store;

static void make_packet(pk_store *s, uint64_t w, size_t count, size_t d, uint64_t seed) {
    sp_rng r;
    sp_rng_seed(&r, seed * 977 + w);
    memset(&s->p, 0, sizeof s->p);
    s->p.kind = SP_PACKET_WINDOW;
    s->p.window = w;
    s->p.frame_first = w * 4;
    s->p.frame_last = w * 4 + 7;
    s->p.pts_first = (int64_t)s->p.frame_first * 40000000;
    s->p.pts_last = (int64_t)s->p.frame_last * 40000000;
    s->p.query_hash = w % 2 ? 0x1234abcd5678ef90ull : 0;
    s->p.budget = 6;
    s->p.count = count;
    s->p.d = d;
    for (size_t i = 0; i < count; i++) {
        uint64_t f = s->p.frame_first + (i * 7) / (count ? count : 1);
        s->info[i] = (sp_token_info){(int64_t)f * 40000000,
                                     (int64_t)f * 40000000 + 80000000,
                                     f,
                                     1 + (uint32_t)(i % 3),
                                     (uint16_t)(i % 4),
                                     (uint16_t)(i % 5)};
        /* keep (frame, y, x) strictly increasing */
        s->info[i].y = (uint16_t)((i / 5) % 4);
        s->info[i].x = (uint16_t)(i % 5);
        s->info[i].frame = s->p.frame_first + i / 20;
        s->info[i].pts = (int64_t)s->info[i].frame * 40000000;
        s->info[i].last_pts = s->info[i].pts + 80000000;
    }
    for (size_t i = 0; i < count * d; i++)
        s->tok[i] = (float)(sp_rng_unit(&r) * 8.0 - 4.0);
    s->p.tokens = s->tok;
    s->p.info = s->info;
}

/* A small valid stream of `np` packets. */
static bytes make_stream(sp_dtype dt, size_t d, size_t np) {
    sp_wire_header h;
    header_for(&h, dt, (uint32_t)d);
    bytes b = {0};
    sp_wire_writer *w;
    sp_error err;
    if (sp_wire_writer_new(&h, sink, &b, &w, &err))
        fail_msg("writer: %s", err.message);
    pk_store *ps = malloc(sizeof *ps);
    for (size_t i = 0; i < np; i++) {
        make_packet(ps, i, i % 7, d, 1);
        if (sp_wire_writer_packet(w, &ps->p, &err))
            fail_msg("packet %zu: %s", i, err.message);
    }
    free(ps);
    assert_int_equal(sp_wire_writer_bytes(w), b.len);
    sp_wire_writer_free(w);
    return b;
}

/* Reads everything (fed in chunks of `chunk` bytes); returns the status of the first error or of
 * finish, the packets read, and checks each packet obeys the rules. */
static sp_status read_all(const uint8_t *data, size_t len, size_t chunk, size_t *packets,
                          sp_error *err) {
    sp_wire_reader *r = sp_wire_reader_new(1 << 20);
    assert_non_null(r);
    *packets = 0;
    sp_status st = SP_OK;
    size_t off = 0;
    while (!st) {
        size_t n = len - off < chunk ? len - off : chunk;
        if (n) {
            st = sp_wire_reader_feed(r, data + off, n, err);
            off += n;
        }
        bool got = true;
        while (!st && got) {
            sp_packet p;
            st = sp_wire_reader_next(r, &p, &got, err);
            if (!st && got) {
                (*packets)++;
                const sp_wire_header *h = sp_wire_reader_header(r);
                assert_non_null(h);
                assert_true(p.count <= p.budget);
                for (size_t i = 0; i < p.count; i++) {
                    assert_true(p.info[i].y < h->grid_h && p.info[i].x < h->grid_w);
                    for (size_t j = 0; j < p.d; j++)
                        assert_true(isfinite(p.tokens[i * p.d + j]));
                }
            }
        }
        if (off == len && !st) {
            st = sp_wire_reader_finish(r, err);
            break;
        }
    }
    /* Errors are sticky. */
    if (st) {
        sp_error again;
        bool got;
        sp_packet p;
        assert_int_equal(sp_wire_reader_next(r, &p, &got, &again), st);
        assert_false(got);
    }
    sp_wire_reader_free(r);
    return st;
}

/* ---- round trips ---- */

static void test_round_trip_keeps_every_field_in_f32_and_rounds_values_in_f16(void **state) {
    (void)state;
    for (int dt = 0; dt < 2; dt++) {
        sp_dtype t = dt ? SP_DTYPE_F16 : SP_DTYPE_F32;
        bytes b = make_stream(t, 16, 9);
        sp_wire_reader *r = sp_wire_reader_new(0);
        sp_error err;
        assert_int_equal(sp_wire_reader_feed(r, b.data, b.len, &err), SP_OK);
        const sp_wire_header *h = NULL;
        pk_store *ps = malloc(sizeof *ps);
        for (size_t i = 0; i < 9; i++) {
            sp_packet p;
            bool got;
            assert_int_equal(sp_wire_reader_next(r, &p, &got, &err), SP_OK);
            assert_true(got);
            h = sp_wire_reader_header(r);
            make_packet(ps, i, i % 7, 16, 1);
            assert_int_equal(p.kind, ps->p.kind);
            assert_int_equal(p.window, ps->p.window);
            assert_int_equal(p.pts_first, ps->p.pts_first);
            assert_int_equal(p.pts_last, ps->p.pts_last);
            assert_int_equal(p.frame_first, ps->p.frame_first);
            assert_int_equal(p.frame_last, ps->p.frame_last);
            assert_int_equal(p.query_hash, ps->p.query_hash);
            assert_int_equal(p.budget, ps->p.budget);
            assert_int_equal(p.count, ps->p.count);
            if (p.count)
                assert_memory_equal(p.info, ps->p.info, p.count * sizeof(sp_token_info));
            for (size_t j = 0; j < p.count * 16; j++) {
                if (t == SP_DTYPE_F32)
                    assert_true(p.tokens[j] == ps->tok[j]);
                else
                    assert_true(p.tokens[j] == sp_half_to_float(sp_float_to_half(ps->tok[j])));
            }
        }
        bool got;
        sp_packet p;
        assert_int_equal(sp_wire_reader_next(r, &p, &got, &err), SP_OK);
        assert_false(got);
        assert_int_equal(sp_wire_reader_finish(r, &err), SP_OK);
        assert_int_equal(h->dtype, t);
        assert_int_equal(h->d, 16);
        assert_int_equal(h->grid_h, 4);
        assert_int_equal(h->grid_w, 5);
        assert_int_equal(h->window, 8);
        assert_int_equal(h->hop, 4);
        assert_int_equal(h->budget, 6);
        assert_true(h->tau_t == 0.9f);
        assert_string_equal(h->name, "cam-1");
        assert_int_equal(sp_wire_reader_packets(r), 9);
        assert_int_equal(sp_wire_reader_offset(r), b.len);
        assert_true(sp_wire_is_stream(b.data, b.len));
        free(ps);
        sp_wire_reader_free(r);
        free(b.data);
    }
}

static void test_any_chunking_of_the_input_reads_the_same_packets(void **state) {
    (void)state;
    bytes b = make_stream(SP_DTYPE_F16, 8, 12);
    const size_t chunks[] = {1, 2, 3, 7, 44, 45, 100, 1 << 20};
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        size_t n;
        sp_error err;
        assert_int_equal(read_all(b.data, b.len, chunks[i], &n, &err), SP_OK);
        assert_int_equal(n, 12);
    }
    free(b.data);
}

static void test_layout_matches_the_documented_byte_table(void **state) {
    (void)state;
    bytes b = make_stream(SP_DTYPE_F16, 2, 2);
    /* header: magic, version 2, length 44 + 5, dtype 2 (F16), kind 1 (window), mode 0
     * (snapshot), d 2 */
    assert_memory_equal(b.data, "SPTS", 4);
    assert_int_equal(b.data[4] | b.data[5] << 8, 2);
    assert_int_equal(b.data[10], 0);
    assert_int_equal(b.data[6] | b.data[7] << 8, 49);
    assert_int_equal(b.data[8], 2);
    assert_int_equal(b.data[9], 1);
    assert_int_equal(b.data[12], 2);
    assert_memory_equal(b.data + 44, "cam-1", 5);
    /* first packet (0 tokens) right after: magic and length 76 */
    const uint8_t *p = b.data + 49;
    assert_memory_equal(p, "SPPK", 4);
    assert_int_equal(p[4] | p[5] << 8, 76);
    /* second packet: 1 token of width 2 in F16: 76 + 32 + 4 bytes */
    p += 76;
    assert_memory_equal(p, "SPPK", 4);
    assert_int_equal(p[4] | p[5] << 8, 112);
    assert_int_equal(p[56], 1); /* count */
    assert_int_equal(p[64], 1); /* kind */
    assert_int_equal(p[65], 0); /* mode */
    assert_int_equal(b.len, 49 + 76 + 112);
    free(b.data);
}

/* A stream of two window packets in the given mode (one token each). */
static bytes make_mode_stream(sp_packet_mode mode) {
    sp_wire_header h;
    header_for(&h, SP_DTYPE_F32, 3);
    h.mode = mode;
    bytes b = {0};
    sp_wire_writer *w;
    sp_error err;
    if (sp_wire_writer_new(&h, sink, &b, &w, &err))
        fail_msg("writer: %s", err.message);
    pk_store *ps = malloc(sizeof *ps);
    for (size_t i = 0; i < 2; i++) {
        make_packet(ps, i, 1, 3, 1);
        ps->p.mode = mode;
        if (sp_wire_writer_packet(w, &ps->p, &err))
            fail_msg("packet %zu: %s", i, err.message);
    }
    free(ps);
    sp_wire_writer_free(w);
    return b;
}

static void fix_header_crc(uint8_t *buf, size_t hlen) {
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < hlen; i++) {
        if (i >= 40 && i < 44)
            continue;
        crc ^= buf[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    crc = ~crc;
    memcpy(buf + 40, &crc, 4);
}

static void test_packet_mode_is_in_the_header_and_every_packet(void **state) {
    (void)state;
    bytes b = make_mode_stream(SP_PACKET_DELTA);
    assert_int_equal(b.data[10], 1);
    assert_int_equal(b.data[49 + 65], 1);
    sp_wire_reader *r = sp_wire_reader_new(0);
    sp_error err;
    assert_int_equal(sp_wire_reader_feed(r, b.data, b.len, &err), SP_OK);
    sp_packet p;
    bool got;
    assert_int_equal(sp_wire_reader_next(r, &p, &got, &err), SP_OK);
    assert_true(got);
    assert_int_equal(p.mode, SP_PACKET_DELTA);
    assert_int_equal(sp_wire_reader_header(r)->mode, SP_PACKET_DELTA);
    assert_int_equal(sp_wire_reader_header(r)->version, SP_WIRE_VERSION);
    sp_wire_reader_free(r);
    free(b.data);
    assert_string_equal(sp_packet_mode_name(SP_PACKET_SNAPSHOT), "snapshot");
    assert_string_equal(sp_packet_mode_name(SP_PACKET_DELTA), "delta");
    sp_packet_mode m;
    assert_int_equal(sp_packet_mode_from_name("delta", &m, &err), SP_OK);
    assert_int_equal(m, SP_PACKET_DELTA);
    assert_int_equal(sp_packet_mode_from_name("latest", &m, &err), SP_ERR_INVALID);
    assert_contains(&err, "snapshot, delta");
}

/* Version 1 (no packet mode) is still read, as snapshot; a newer version gets a version error. */
static void test_version_1_streams_are_read_and_newer_versions_refused_by_version(void **state) {
    (void)state;
    bytes b = make_mode_stream(SP_PACKET_SNAPSHOT);
    b.data[4] = 1;
    fix_header_crc(b.data, 49);
    size_t n;
    sp_error err;
    assert_int_equal(read_all(b.data, b.len, 13, &n, &err), SP_OK);
    assert_int_equal(n, 2);
    sp_wire_reader *r = sp_wire_reader_new(0);
    assert_int_equal(sp_wire_reader_feed(r, b.data, b.len, &err), SP_OK);
    sp_packet p;
    bool got;
    assert_int_equal(sp_wire_reader_next(r, &p, &got, &err), SP_OK);
    assert_int_equal(sp_wire_reader_header(r)->version, 1);
    assert_int_equal(p.mode, SP_PACKET_SNAPSHOT);
    sp_wire_reader_free(r);
    /* In version 1 the mode bytes were reserved. */
    b.data[10] = 1;
    fix_header_crc(b.data, 49);
    assert_int_equal(read_all(b.data, b.len, b.len, &n, &err), SP_ERR_FORMAT);
    assert_contains(&err, "reserved");
    b.data[10] = 0;
    b.data[4] = 3;
    fix_header_crc(b.data, 49);
    assert_int_equal(read_all(b.data, b.len, b.len, &n, &err), SP_ERR_UNSUPPORTED);
    assert_contains(&err, "format version 3 (this reader knows versions 1 to 2)");
    free(b.data);
}

/* A snapshot window packet may not carry a token last seen before its span; a delta one may. */
static void test_snapshot_packets_refuse_tokens_not_seen_in_their_span(void **state) {
    (void)state;
    for (int mode = 0; mode < 2; mode++) {
        sp_wire_header h;
        header_for(&h, SP_DTYPE_F32, 3);
        h.mode = (sp_packet_mode)mode;
        bytes b = {0};
        sp_wire_writer *w;
        sp_error err;
        assert_int_equal(sp_wire_writer_new(&h, sink, &b, &w, &err), SP_OK);
        pk_store *ps = malloc(sizeof *ps);
        make_packet(ps, 3, 1, 3, 1);
        ps->p.mode = (sp_packet_mode)mode;
        ps->info[0].frame = 0; /* taken before the window, last seen before it too */
        ps->info[0].pts = 0;
        ps->info[0].last_pts = ps->p.pts_first - 1;
        sp_status st = sp_wire_writer_packet(w, &ps->p, &err);
        if (mode == SP_PACKET_SNAPSHOT) {
            assert_int_equal(st, SP_ERR_FORMAT);
            assert_contains(&err, "before the snapshot packet's span began");
        } else {
            assert_int_equal(st, SP_OK);
        }
        free(ps);
        sp_wire_writer_free(w);
        free(b.data);
    }
}

/* ---- writer refusals ---- */

static void test_writer_refuses_packets_that_break_the_rules(void **state) {
    (void)state;
    sp_wire_header h;
    header_for(&h, SP_DTYPE_F16, 4);
    bytes b = {0};
    sp_wire_writer *w;
    sp_error err;
    assert_int_equal(sp_wire_writer_new(&h, sink, &b, &w, &err), SP_OK);
    pk_store *ps = malloc(sizeof *ps);
    make_packet(ps, 0, 3, 4, 2);
    ps->p.count = 7; /* over the budget of 6 */
    assert_int_equal(sp_wire_writer_packet(w, &ps->p, &err), SP_ERR_FORMAT);
    assert_contains(&err, "budget");
    make_packet(ps, 0, 3, 4, 2);
    ps->info[1].x = 5;
    assert_int_equal(sp_wire_writer_packet(w, &ps->p, &err), SP_ERR_FORMAT);
    assert_contains(&err, "off the");
    make_packet(ps, 0, 3, 4, 2);
    ps->tok[5] = NAN;
    assert_int_equal(sp_wire_writer_packet(w, &ps->p, &err), SP_ERR_FORMAT);
    assert_contains(&err, "NaN");
    make_packet(ps, 0, 3, 4, 2);
    ps->tok[5] = 1e6f;
    assert_int_equal(sp_wire_writer_packet(w, &ps->p, &err), SP_ERR_INVALID);
    assert_contains(&err, "float16 range");
    make_packet(ps, 0, 3, 4, 2);
    ps->p.d = 5;
    assert_int_equal(sp_wire_writer_packet(w, &ps->p, &err), SP_ERR_FORMAT);
    assert_contains(&err, "width");
    make_packet(ps, 0, 3, 4, 2);
    sp_token_info t = ps->info[0];
    ps->info[0] = ps->info[1];
    ps->info[1] = t;
    assert_int_equal(sp_wire_writer_packet(w, &ps->p, &err), SP_ERR_FORMAT);
    assert_contains(&err, "order");
    make_packet(ps, 3, 3, 4, 2);
    assert_int_equal(sp_wire_writer_packet(w, &ps->p, &err), SP_OK);
    make_packet(ps, 3, 3, 4, 2); /* the same window id again */
    assert_int_equal(sp_wire_writer_packet(w, &ps->p, &err), SP_ERR_FORMAT);
    assert_contains(&err, "does not increase");
    make_packet(ps, 4, 3, 4, 2);
    ps->p.kind = SP_PACKET_FRAME;
    assert_int_equal(sp_wire_writer_packet(w, &ps->p, &err), SP_ERR_FORMAT);
    assert_contains(&err, "frame packet");
    /* A reselect packet may come between windows. */
    make_packet(ps, 4, 3, 4, 2);
    ps->p.kind = SP_PACKET_RESELECT;
    ps->p.window = SP_WINDOW_NONE;
    assert_int_equal(sp_wire_writer_packet(w, &ps->p, &err), SP_OK);
    free(ps);
    sp_wire_writer_free(w);
    /* The stream written so far reads back: 2 packets. */
    size_t n;
    assert_int_equal(read_all(b.data, b.len, 1000, &n, &err), SP_OK);
    assert_int_equal(n, 2);
    free(b.data);
    /* Header checks. */
    header_for(&h, SP_DTYPE_I32, 4);
    assert_int_equal(sp_wire_writer_new(&h, sink, &b, &w, &err), SP_ERR_UNSUPPORTED);
    header_for(&h, SP_DTYPE_F16, 0);
    assert_int_equal(sp_wire_writer_new(&h, sink, &b, &w, &err), SP_ERR_FORMAT);
    assert_contains(&err, "width");
    header_for(&h, SP_DTYPE_F16, 4);
    h.hop = 9;
    assert_int_equal(sp_wire_writer_new(&h, sink, &b, &w, &err), SP_ERR_FORMAT);
    assert_contains(&err, "hop");
}

/* ---- reader against damage ---- */

static void test_every_truncation_is_reported_as_truncated(void **state) {
    (void)state;
    bytes b = make_stream(SP_DTYPE_F16, 6, 6);
    size_t full;
    sp_error err;
    assert_int_equal(read_all(b.data, b.len, b.len, &full, &err), SP_OK);
    /* Packet boundaries: a prefix ending exactly on one is a valid shorter stream. */
    size_t boundaries = 0;
    for (size_t cut = 0; cut < b.len; cut++) {
        size_t n;
        sp_status st = read_all(b.data, cut, 1 + cut % 13, &n, &err);
        if (st == SP_OK) {
            boundaries++;
            assert_true(n < full);
            continue;
        }
        assert_int_equal(st, SP_ERR_FORMAT);
        if (!strstr(err.message, "truncated") && !strstr(err.message, "empty input"))
            fail_msg("cut at %zu: '%s'", cut, err.message);
    }
    assert_int_equal(boundaries, full); /* after the header and after each packet but the last */
    free(b.data);
}

static void test_every_single_bit_flip_is_rejected(void **state) {
    (void)state;
    bytes b = make_stream(SP_DTYPE_F16, 3, 4);
    size_t flips = 0;
    for (size_t i = 0; i < b.len; i++)
        for (int bit = 0; bit < 8; bit++) {
            b.data[i] ^= (uint8_t)(1u << bit);
            size_t n;
            sp_error err;
            sp_status st = read_all(b.data, b.len, 1 + (i + (size_t)bit) % 50, &n, &err);
            b.data[i] ^= (uint8_t)(1u << bit);
            if (st == SP_OK)
                fail_msg("flip of byte %zu bit %d was accepted", i, bit);
            assert_true(st == SP_ERR_FORMAT || st == SP_ERR_UNSUPPORTED);
            assert_true(strlen(err.message) > 10);
            flips++;
        }
    assert_true(flips > 2000);
    free(b.data);
}

static void test_random_damage_never_crashes_or_passes_bad_packets(void **state) {
    (void)state;
    bytes good = make_stream(SP_DTYPE_F32, 5, 8);
    sp_rng r;
    sp_rng_seed(&r, 99);
    uint8_t *buf = malloc(good.len + 64);
    size_t rejected = 0;
    for (int trial = 0; trial < 3000; trial++) {
        size_t len = good.len;
        memcpy(buf, good.data, len);
        int kind = (int)sp_rng_below(&r, 5);
        size_t at = (size_t)sp_rng_below(&r, len);
        switch (kind) {
            case 0: /* overwrite a run of bytes with noise */
                for (size_t k = 0; k < 1 + sp_rng_below(&r, 16) && at + k < len; k++)
                    buf[at + k] = (uint8_t)sp_rng_next(&r);
                break;
            case 1: /* delete bytes */
            {
                size_t k = 1 + (size_t)sp_rng_below(&r, 9);
                if (at + k > len)
                    k = len - at;
                memmove(buf + at, buf + at + k, len - at - k);
                len -= k;
                break;
            }
            case 2: /* insert bytes */
            {
                size_t k = 1 + (size_t)sp_rng_below(&r, 9);
                memmove(buf + at + k, buf + at, len - at);
                for (size_t j = 0; j < k; j++)
                    buf[at + j] = (uint8_t)sp_rng_next(&r);
                len += k;
                break;
            }
            case 3: /* a huge length field in some packet */
            {
                size_t p = 49;
                while (p + 8 < len && sp_rng_below(&r, 3))
                    p += (size_t)(buf[p + 4] | buf[p + 5] << 8 | buf[p + 6] << 16);
                if (p + 8 < len) {
                    uint32_t v = (uint32_t)sp_rng_next(&r);
                    memcpy(buf + p + 4, &v, 4);
                }
                break;
            }
            default: /* trailing garbage */
                for (size_t j = 0; j < 1 + sp_rng_below(&r, 40); j++)
                    buf[len++] = (uint8_t)sp_rng_next(&r);
                break;
        }
        size_t n;
        sp_error err;
        sp_status st = read_all(buf, len, 1 + (size_t)sp_rng_below(&r, 300), &n, &err);
        if (st) {
            rejected++;
            assert_true(st == SP_ERR_FORMAT || st == SP_ERR_UNSUPPORTED);
        }
    }
    /* Some damage (e.g. noise written over itself) can leave the bytes valid; nearly all fails. */
    assert_true(rejected > 2900);
    free(buf);
    free(good.data);
}

/* Rewrites the checksum of the packet at `off` so structural checks are reached. */
static void fix_crc(uint8_t *p) {
    size_t len = (size_t)p[4] | (size_t)p[5] << 8 | (size_t)p[6] << 16 | (size_t)p[7] << 24;
    /* The test knows the CRC-32 polynomial (zlib's). */
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < len - 4; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    crc = ~crc;
    memcpy(p + len - 4, &crc, 4);
}

static void put32(uint8_t *p, uint32_t v) {
    memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v) {
    memcpy(p, &v, 8);
}

typedef struct bad_case {
    const char *what; /* expected in the message */
    size_t off;       /* byte offset inside the second packet */
    int width;        /* 1, 2, 4, 8 */
    uint64_t value;
} bad_case;

static void test_structurally_wrong_packets_with_valid_checksums_are_rejected(void **state) {
    (void)state;
    /* Stream: header (49 bytes), packet 0 (0 tokens, 76 bytes), packet 1 (1 token, F32, d 3). */
    bytes b = make_stream(SP_DTYPE_F32, 3, 3);
    size_t p1 = 49 + 76;
    const bad_case cases[] = {
        {"does not match", 56, 4, 7}, /* count 7: the length says 1 */
        {"does not match", 56, 4, 0}, /* count 0 but room for one */
        {"budget", 60, 4, 0},         /* budget 0 < count 1 */
        {"reserved", 66, 1, 1},
        {"a delta packet in a stream of snapshot packets", 65, 1, 1},
        {"kind", 64, 1, 9},
        {"frame packet", 64, 1, 0},               /* a frame packet in a window stream */
        {"does not increase", 8, 8, 0},           /* window id equal to the previous */
        {"reversed", 16, 8, (uint64_t)INT64_MAX}, /* pts_first > pts_last */
        {"reversed", 32, 8, 1000},                /* frame_first > frame_last */
        {"off the", 72 + 28, 2, 4},               /* y = 4 on a 4-row grid */
        {"off the", 72 + 30, 2, 9},               /* x = 9 on a 5-column grid */
        {"seen count", 72 + 24, 4, 0},
        {"before", 72 + 8, 8, 0},     /* last_pts < pts */
        {"outside", 72 + 16, 8, 999}, /* frame after frame_last */
        {"NaN", 72 + 32, 4, 0x7fc00000u},
        {"infinite", 72 + 32 + 4, 4, 0x7f800000u},
        {"window id", 8, 8, UINT64_MAX}, /* NONE on a window packet */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        uint8_t *buf = malloc(b.len);
        memcpy(buf, b.data, b.len);
        uint8_t *p = buf + p1;
        assert_memory_equal(p, "SPPK", 4);
        switch (cases[c].width) {
            case 1:
                p[cases[c].off] = (uint8_t)cases[c].value;
                break;
            case 2:
                p[cases[c].off] = (uint8_t)cases[c].value;
                p[cases[c].off + 1] = (uint8_t)(cases[c].value >> 8);
                break;
            case 4:
                put32(p + cases[c].off, (uint32_t)cases[c].value);
                break;
            default:
                put64(p + cases[c].off, cases[c].value);
                break;
        }
        fix_crc(p);
        size_t n;
        sp_error err;
        sp_status st = read_all(buf, b.len, b.len, &n, &err);
        if (st == SP_OK || !strstr(err.message, cases[c].what))
            fail_msg("case %zu (%s): status %d, '%s'", c, cases[c].what, (int)st, err.message);
        assert_int_equal(n, 1);
        free(buf);
    }
    /* Header damage with a valid header checksum. */
    const struct {
        size_t off;
        uint8_t v;
        const char *what;
    } hcases[] = {
        {4, 3, "version"},
        {8, 7, "value type"},
        {9, 5, "kind"},
        {11, 1, "reserved"},
        {12, 0, "width"},
        {16, 0, "grid"},
        {36, 6, "length"},
        {10, 2, "packet mode"},
        {10, 1, "a snapshot packet in a stream of delta packets"},
    };
    for (size_t c = 0; c < sizeof hcases / sizeof hcases[0]; c++) {
        uint8_t *buf = malloc(b.len);
        memcpy(buf, b.data, b.len);
        buf[hcases[c].off] = hcases[c].v;
        if (hcases[c].off == 12)
            buf[13] = buf[14] = buf[15] = 0;
        uint32_t crc = 0xffffffffu;
        for (size_t i = 0; i < 49; i++) {
            if (i >= 40 && i < 44)
                continue;
            crc ^= buf[i];
            for (int k = 0; k < 8; k++)
                crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
        }
        crc = ~crc;
        memcpy(buf + 40, &crc, 4);
        size_t n;
        sp_error err;
        sp_status st = read_all(buf, b.len, 7, &n, &err);
        if (st == SP_OK || !strstr(err.message, hcases[c].what))
            fail_msg("header case %zu (%s): '%s'", c, hcases[c].what, err.message);
        free(buf);
    }
    /* Not a token stream at all. */
    size_t n;
    sp_error err;
    const uint8_t junk[] = "{\"safetensors\": 1}";
    assert_int_equal(read_all(junk, sizeof junk, 4, &n, &err), SP_ERR_FORMAT);
    assert_contains(&err, "bad magic");
    assert_false(sp_wire_is_stream(junk, sizeof junk));
    assert_int_equal(read_all(junk, 0, 4, &n, &err), SP_ERR_FORMAT);
    assert_contains(&err, "empty");
    free(b.data);
}

static void test_packet_longer_than_the_reader_limit_is_refused_before_buffering(void **s0) {
    (void)s0;
    bytes b = make_stream(SP_DTYPE_F32, 16, 8);
    sp_wire_reader *r = sp_wire_reader_new(200); /* smaller than packet 2 */
    sp_error err;
    assert_int_equal(sp_wire_reader_feed(r, b.data, b.len, &err), SP_OK);
    sp_status st = SP_OK;
    bool got = true;
    size_t n = 0;
    while (!st && got) {
        sp_packet p;
        st = sp_wire_reader_next(r, &p, &got, &err);
        n += !st && got;
    }
    assert_int_equal(st, SP_ERR_FORMAT);
    assert_contains(&err, "outside");
    assert_int_equal(n, 2);
    sp_wire_reader_free(r);
    free(b.data);
}

static void test_reader_and_writer_survive_allocation_failures(void **state) {
    (void)state;
    bytes good = make_stream(SP_DTYPE_F16, 4, 5);
    for (long k = 0; k < 200; k++) {
        sp_fault_fail_after(k);
        sp_wire_reader *r = sp_wire_reader_new(0);
        sp_status st = r ? SP_OK : SP_ERR_NOMEM;
        sp_error err;
        if (r) {
            st = sp_wire_reader_feed(r, good.data, good.len, &err);
            bool got = true;
            while (!st && got) {
                sp_packet p;
                st = sp_wire_reader_next(r, &p, &got, &err);
            }
            sp_wire_reader_free(r);
        }
        sp_wire_header h;
        header_for(&h, SP_DTYPE_F16, 4);
        bytes out = {0};
        sp_wire_writer *w = NULL;
        sp_status st2 = sp_wire_writer_new(&h, sink, &out, &w, &err);
        pk_store *ps = malloc(sizeof *ps);
        for (size_t i = 0; !st2 && i < 4; i++) {
            make_packet(ps, i, 3, 4, 3);
            st2 = sp_wire_writer_packet(w, &ps->p, &err);
        }
        free(ps);
        sp_wire_writer_free(w);
        free(out.data);
        long injected = sp_fault_injected();
        sp_fault_fail_after(-1);
        if (st)
            assert_int_equal(st, SP_ERR_NOMEM);
        if (st2)
            assert_int_equal(st2, SP_ERR_NOMEM);
        if (!injected) {
            assert_int_equal(st, SP_OK);
            assert_int_equal(st2, SP_OK);
            break;
        }
    }
    free(good.data);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_keeps_every_field_in_f32_and_rounds_values_in_f16),
        cmocka_unit_test(test_any_chunking_of_the_input_reads_the_same_packets),
        cmocka_unit_test(test_layout_matches_the_documented_byte_table),
        cmocka_unit_test(test_packet_mode_is_in_the_header_and_every_packet),
        cmocka_unit_test(test_version_1_streams_are_read_and_newer_versions_refused_by_version),
        cmocka_unit_test(test_snapshot_packets_refuse_tokens_not_seen_in_their_span),
        cmocka_unit_test(test_writer_refuses_packets_that_break_the_rules),
        cmocka_unit_test(test_every_truncation_is_reported_as_truncated),
        cmocka_unit_test(test_every_single_bit_flip_is_rejected),
        cmocka_unit_test(test_random_damage_never_crashes_or_passes_bad_packets),
        cmocka_unit_test(test_structurally_wrong_packets_with_valid_checksums_are_rejected),
        cmocka_unit_test(test_packet_longer_than_the_reader_limit_is_refused_before_buffering),
        cmocka_unit_test(test_reader_and_writer_survive_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
