/* Exemplar images: PNG and JPEG decoded by an image decoder only; anything else is refused by its
 * first bytes (a playlist sent as an image never reaches a demuxer). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>
#include <libavutil/log.h>

#include "media/image_decode.h"

static GBytes *read_video_file(const char *name) {
    const char *dir = getenv("SCRIPTD_TEST_VIDEOS");
    char *path = g_build_filename(dir ? dir : ".", name, NULL);
    gchar *data = NULL;
    gsize len = 0;
    if (!g_file_get_contents(path, &data, &len, NULL))
        fail_msg("cannot read %s", path);
    g_free(path);
    return g_bytes_new_take(data, len);
}

static sp_status decode(const void *data, size_t len, scd_image *img, sp_error *e) {
    sp_status st = scd_image_decode(data, len, "test image", img, e);
    if (st != SP_OK) {
        assert_null(img->rgb);
        assert_non_null(strstr(e->message, "test image"));
    }
    return st;
}

/* Every pixel within tol of (0x40, 0x80, 0xc0). */
static void assert_solid(const scd_image *img, int tol) {
    static const int want[3] = {0x40, 0x80, 0xc0};
    assert_int_equal(img->width, 48);
    assert_int_equal(img->height, 32);
    assert_int_equal(img->stride, 48 * 3);
    for (int y = 0; y < img->height; y++)
        for (int x = 0; x < img->width; x++)
            for (int c = 0; c < 3; c++) {
                int v = img->rgb[(size_t)y * img->stride + (size_t)x * 3 + (size_t)c];
                if (abs(v - want[c]) > tol)
                    fail_msg("pixel (%d, %d) channel %d is %d, not %d", x, y, c, v, want[c]);
            }
}

static void png_and_jpeg_decode_to_their_pixels(void **state) {
    (void)state;
    const char *files[] = {"solid.png", "solid.jpg"};
    const int tol[] = {0, 6}; /* PNG is lossless; JPEG's chroma costs a few levels */
    for (size_t i = 0; i < G_N_ELEMENTS(files); i++) {
        GBytes *b = read_video_file(files[i]);
        gsize len;
        const uint8_t *d = g_bytes_get_data(b, &len);
        assert_int_equal(scd_image_kind_of(d, len), i == 0 ? SCD_IMAGE_PNG : SCD_IMAGE_JPEG);
        scd_image img;
        sp_error e;
        assert_int_equal(decode(d, len, &img, &e), SP_OK);
        assert_solid(&img, tol[i]);
        scd_image_clear(&img);
        g_bytes_unref(b);
    }
}

static void other_bytes_are_refused_by_their_first_bytes(void **state) {
    (void)state;
    const char *playlist = "#EXTM3U\n#EXTINF:5.0,\n/etc/secret.ts\n#EXT-X-ENDLIST\n";
    const char *gif = "GIF89a\x01\x00\x01\x00";
    const char *others[] = {playlist, gif, "ffconcat version 1.0\nfile '/x.mp4'\n", "\x89PNG"};
    for (size_t i = 0; i < G_N_ELEMENTS(others); i++) {
        scd_image img;
        sp_error e;
        assert_int_equal(decode(others[i], strlen(others[i]), &img, &e), SP_ERR_UNSUPPORTED);
        assert_non_null(strstr(e.message, "not a PNG or JPEG"));
        scd_image_clear(&img);
    }
    scd_image img;
    sp_error e;
    assert_int_equal(decode("", 0, &img, &e), SP_ERR_UNSUPPORTED);
    scd_image_clear(&img);
}

/* A PNG signature and an IHDR chunk, then whatever follows (no CRC checks by default). */
static GByteArray *png_header(uint32_t width, uint32_t height) {
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    uint8_t ihdr[25] = {0, 0, 0, 13, 'I', 'H', 'D', 'R'};
    for (int i = 0; i < 4; i++) {
        ihdr[8 + i] = (uint8_t)(width >> (24 - 8 * i));
        ihdr[12 + i] = (uint8_t)(height >> (24 - 8 * i));
    }
    ihdr[16] = 8; /* bit depth */
    ihdr[17] = 2; /* RGB */
    GByteArray *a = g_byte_array_new();
    g_byte_array_append(a, sig, sizeof sig);
    g_byte_array_append(a, ihdr, sizeof ihdr);
    return a;
}

static void damaged_or_huge_images_are_format_errors(void **state) {
    (void)state;
    GBytes *b = read_video_file("solid.png");
    gsize len;
    const uint8_t *d = g_bytes_get_data(b, &len);
    const size_t cuts[] = {8, 20, 40, len / 2};
    for (size_t i = 0; i < G_N_ELEMENTS(cuts); i++) {
        scd_image img;
        sp_error e;
        assert_int_equal(decode(d, cuts[i], &img, &e), SP_ERR_FORMAT);
        scd_image_clear(&img);
    }
    g_bytes_unref(b);
    b = read_video_file("solid.jpg");
    d = g_bytes_get_data(b, &len);
    scd_image img;
    sp_error e;
    assert_int_equal(decode(d, 64, &img, &e), SP_ERR_FORMAT);
    scd_image_clear(&img);
    g_bytes_unref(b);
    /* 100000 x 100000 pixels (30 GB of RGB) is refused before anything is allocated. */
    GByteArray *huge = png_header(100000, 100000);
    assert_int_equal(decode(huge->data, huge->len, &img, &e), SP_ERR_FORMAT);
    scd_image_clear(&img);
    g_byte_array_unref(huge);
}

int main(void) {
    av_log_set_level(AV_LOG_QUIET);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(png_and_jpeg_decode_to_their_pixels),
        cmocka_unit_test(other_bytes_are_refused_by_their_first_bytes),
        cmocka_unit_test(damaged_or_huge_images_are_format_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
