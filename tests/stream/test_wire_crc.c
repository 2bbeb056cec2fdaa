/* The wire format's CRC-32: the folding path (carry-less multiplication, used where the CPU has
 * it) gives the table path's value for every length, alignment and continuation, and both give
 * the standard check value and zlib's results (tests/stream/cli_stream.py checks whole streams
 * against Python's zlib.crc32). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wire_internal.h"

static void the_check_value(void **state) {
    (void)state;
    const char *nine = "123456789";
    assert_int_equal(sp_crc32_update(0, nine, 9), 0xcbf43926u);
    assert_int_equal(sp_crc32_update_tables(0, nine, 9), 0xcbf43926u);
    /* 64 zero bytes and 256 x 0xff: long enough to fold (values from zlib.crc32). */
    uint8_t zeros[64] = {0}, ones[256];
    memset(ones, 0xff, sizeof ones);
    assert_int_equal(sp_crc32_update(0, zeros, sizeof zeros), 0x758d6336u);
    assert_int_equal(sp_crc32_update(0, ones, sizeof ones), 0xfea8a821u);
}

static uint32_t next_random(uint32_t *s) {
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

static void folding_equals_the_tables(void **state) {
    (void)state;
    enum { BIG = 256 * 1024 + 77 };
    uint8_t *buf = malloc(BIG + 16);
    assert_non_null(buf);
    uint32_t seed = 12345;
    for (size_t i = 0; i < BIG + 16; i++)
        buf[i] = (uint8_t)next_random(&seed);
    /* Every length up to 600 at every alignment within 16, with a non-zero starting crc. */
    for (size_t off = 0; off < 16; off++)
        for (size_t len = 0; len <= 600; len++) {
            uint32_t start = len * 2654435761u;
            assert_int_equal(sp_crc32_update(start, buf + off, len),
                             sp_crc32_update_tables(start, buf + off, len));
        }
    /* A whole float32 packet's worth, in one call and in uneven pieces. */
    uint32_t whole = sp_crc32_update_tables(0, buf, BIG);
    assert_int_equal(sp_crc32_update(0, buf, BIG), whole);
    uint32_t crc = 0;
    for (size_t at = 0, step = 1; at < BIG; at += step, step = step * 3 + 1)
        crc = sp_crc32_update(crc, buf + at, at + step > BIG ? BIG - at : step);
    assert_int_equal(crc, whole);
    free(buf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_check_value),
        cmocka_unit_test(folding_equals_the_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
