/* Follow event records (daemon/runtime/follow_event.h, docs/wire-format.md "Follow event
 * records"): the exact bytes of a record, the round trip, partial input, and every malformation
 * the reader refuses; the `events` parameter of a follow request. */
#include <glib.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "runtime/follow_event.h"

/* "{}" as a watch event: the bytes written from the layout table (CRC from Python's zlib.crc32),
 * not from the encoder. */
static const uint8_t tiny[] = {'S',  'P',  'E',  'V', 0x12, 0x00, 0x00, 0x00, 0x01,
                               0x00, 0x00, 0x00, '{', '}',  0xbb, 0x58, 0xe8, 0xb1};

static void a_record_has_the_documented_bytes(void **state) {
    (void)state;
    GBytes *rec = NULL;
    sp_error err;
    assert_int_equal(scd_follow_event_encode(SCD_FOLLOW_EVENT_WATCH, "{}", 2, &rec, &err), SP_OK);
    gsize n = 0;
    const uint8_t *b = g_bytes_get_data(rec, &n);
    assert_int_equal(n, sizeof tiny);
    assert_memory_equal(b, tiny, sizeof tiny);
    g_bytes_unref(rec);
}

static void records_round_trip_and_wait_for_their_end(void **state) {
    (void)state;
    const char *json = "{\"event\":\"watch\",\"answer\":\"a dog \xc3\xa9\"}";
    GBytes *rec = NULL;
    sp_error err;
    assert_int_equal(
        scd_follow_event_encode(SCD_FOLLOW_EVENT_WATCH, json, strlen(json), &rec, &err), SP_OK);
    gsize n = 0;
    const uint8_t *b = g_bytes_get_data(rec, &n);
    assert_int_equal(n, strlen(json) + SCD_FOLLOW_EVENT_OVERHEAD);
    for (size_t have = 0; have < n; have++) { /* every prefix: not complete yet, no error */
        unsigned kind = 0;
        const char *text = NULL;
        size_t len = 0, used = 99;
        assert_int_equal(scd_follow_event_decode(b, have, &kind, &text, &len, &used, &err), SP_OK);
        assert_int_equal(used, 0);
    }
    /* With the next record's bytes behind it, exactly this one is consumed. */
    GByteArray *two = g_byte_array_new();
    g_byte_array_append(two, b, (guint)n);
    g_byte_array_append(two, tiny, sizeof tiny);
    unsigned kind = 0;
    const char *text = NULL;
    size_t len = 0, used = 0;
    assert_int_equal(scd_follow_event_decode(two->data, two->len, &kind, &text, &len, &used, &err),
                     SP_OK);
    assert_int_equal(used, n);
    assert_int_equal(kind, SCD_FOLLOW_EVENT_WATCH);
    assert_int_equal(len, strlen(json));
    assert_memory_equal(text, json, len);
    g_byte_array_unref(two);
    g_bytes_unref(rec);
}

static void expect_refused(const uint8_t *b, size_t n, const char *needle) {
    unsigned kind;
    const char *text;
    size_t len, used;
    sp_error err;
    sp_error_clear(&err);
    assert_int_equal(scd_follow_event_decode(b, n, &kind, &text, &len, &used, &err), SP_ERR_FORMAT);
    if (!strstr(err.message, needle))
        fail_msg("expected '%s' in: %s", needle, err.message);
}

static void malformed_records_are_refused_with_the_reason(void **state) {
    (void)state;
    uint8_t b[sizeof tiny];
    memcpy(b, tiny, sizeof b);
    b[0] = 'X';
    expect_refused(b, sizeof b, "bad magic");
    memcpy(b, tiny, sizeof b);
    b[13] = ']'; /* a changed payload byte */
    expect_refused(b, sizeof b, "checksum mismatch");
    memcpy(b, tiny, sizeof b);
    b[4] = 15; /* shorter than the fixed fields */
    expect_refused(b, sizeof b, "length 15 outside");
    memcpy(b, tiny, sizeof b);
    b[7] = 0x40; /* 1 GiB: refused before waiting for it */
    expect_refused(b, sizeof b, "outside");
    /* Reserved bytes set, with a checksum that matches them. */
    GBytes *rec = NULL;
    sp_error err;
    assert_int_equal(scd_follow_event_encode(SCD_FOLLOW_EVENT_WATCH, "{}", 2, &rec, &err), SP_OK);
    memcpy(b, g_bytes_get_data(rec, NULL), sizeof b);
    g_bytes_unref(rec);
    b[10] = 1;
    uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), b, sizeof b - 4);
    for (int i = 0; i < 4; i++)
        b[sizeof b - 4 + i] = (uint8_t)(crc >> (8 * i));
    expect_refused(b, sizeof b, "reserved bytes");
}

static void encoding_refuses_unknown_kinds_and_oversized_json(void **state) {
    (void)state;
    GBytes *rec = NULL;
    sp_error err;
    assert_int_equal(scd_follow_event_encode((scd_follow_event_kind)7, "{}", 2, &rec, &err),
                     SP_ERR_INVALID);
    assert_null(rec);
    size_t big = SCD_FOLLOW_EVENT_MAX_BYTES;
    char *json = g_malloc0(big);
    assert_int_equal(scd_follow_event_encode(SCD_FOLLOW_EVENT_WATCH, json, big, &rec, &err),
                     SP_ERR_INVALID);
    assert_non_null(strstr(err.message, "exceed"));
    assert_int_equal(scd_follow_event_encode(SCD_FOLLOW_EVENT_WATCH, json,
                                             big - SCD_FOLLOW_EVENT_OVERHEAD, &rec, &err),
                     SP_OK);
    assert_int_equal(g_bytes_get_size(rec), big);
    g_bytes_unref(rec);
    g_free(json);
}

static void the_events_parameter_names_known_kinds(void **state) {
    (void)state;
    guint mask = 0;
    char *why = NULL;
    assert_true(scd_follow_events_parse("watch", &mask, &why));
    assert_int_equal(mask, SCD_FOLLOW_EVENT_BIT(SCD_FOLLOW_EVENT_WATCH));
    assert_true(scd_follow_events_parse(" watch,watch ", &mask, &why));
    assert_int_equal(mask, SCD_FOLLOW_EVENT_BIT(SCD_FOLLOW_EVENT_WATCH));
    assert_false(scd_follow_events_parse("watch,weather", &mask, &why));
    assert_non_null(strstr(why, "'weather'"));
    g_free(why);
    assert_false(scd_follow_events_parse("", &mask, &why));
    g_free(why);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_record_has_the_documented_bytes),
        cmocka_unit_test(records_round_trip_and_wait_for_their_end),
        cmocka_unit_test(malformed_records_are_refused_with_the_reason),
        cmocka_unit_test(encoding_refuses_unknown_kinds_and_oversized_json),
        cmocka_unit_test(the_events_parameter_names_known_kinds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
