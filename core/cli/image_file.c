/* --image files (image_file.h): read whole, told apart by their magic bytes, then parsed (.npy)
 * or decoded (PNG, JPEG). */
#include "image_file.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image_npy.h"

enum { MAX_IMAGE_FILE = 1 << 28 };

static sp_status read_all(const char *path, uint8_t **buf, size_t *len, sp_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return sp_error_set(err, errno == ENOENT ? SP_ERR_NOT_FOUND : SP_ERR_IO, "%s: %s", path,
                            strerror(errno));
    uint8_t *b = NULL;
    size_t n = 0, cap = 0;
    sp_status s = SP_OK;
    for (;;) {
        if (n == cap) {
            size_t ncap = cap ? 2 * cap : 1 << 16;
            if (ncap > MAX_IMAGE_FILE + (size_t)1) {
                s = sp_error_set(err, SP_ERR_UNSUPPORTED, "%s: larger than %d bytes", path,
                                 MAX_IMAGE_FILE);
                break;
            }
            uint8_t *nb = realloc(b, ncap);
            if (!nb) {
                s = sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            b = nb;
            cap = ncap;
        }
        size_t got = fread(b + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f))
                s = sp_error_set(err, SP_ERR_IO, "%s: read error", path);
            break;
        }
    }
    fclose(f);
    if (s) {
        free(b);
        return s;
    }
    *buf = b;
    *len = n;
    return SP_OK;
}

static bool has_prefix(const uint8_t *b, size_t len, const char *magic, size_t n) {
    return len >= n && memcmp(b, magic, n) == 0;
}

#ifndef SP_CLI_HAVE_PNG
sp_status cli_png_decode(const char *path, const uint8_t *data, size_t len, uint8_t **rgb,
                         uint32_t *width, uint32_t *height, sp_error *err) {
    (void)data, (void)len, (void)rgb, (void)width, (void)height;
    return sp_error_set(err, SP_ERR_UNSUPPORTED,
                        "%s: a PNG, but this scriptprune was built without libpng (install "
                        "libpng-dev and rebuild, or convert the image to .npy)",
                        path);
}
#endif

#ifndef SP_CLI_HAVE_JPEG
sp_status cli_jpeg_decode(const char *path, const uint8_t *data, size_t len, uint8_t **rgb,
                          uint32_t *width, uint32_t *height, sp_error *err) {
    (void)data, (void)len, (void)rgb, (void)width, (void)height;
    return sp_error_set(err, SP_ERR_UNSUPPORTED,
                        "%s: a JPEG, but this scriptprune was built without libjpeg (install "
                        "libjpeg62-turbo-dev and rebuild, or convert the image to .npy)",
                        path);
}
#endif

sp_status cli_image_read(const char *path, cli_image *out, sp_error *err) {
    memset(out, 0, sizeof *out);
    uint8_t *b = NULL;
    size_t len = 0;
    sp_status s = read_all(path, &b, &len, err);
    if (s)
        return s;
    if (has_prefix(b, len, "\x93NUMPY", 6)) {
        out->kind = "npy";
        s = npy_image_parse(path, b, len, &out->img, err);
        if (!s) {
            out->owned = b;
            return SP_OK;
        }
        free(b);
        return s;
    }
    uint8_t *rgb = NULL;
    uint32_t w = 0, h = 0;
    if (has_prefix(b, len, "\x89PNG\r\n\x1a\n", 8)) {
        out->kind = "png";
        s = cli_png_decode(path, b, len, &rgb, &w, &h, err);
    } else if (has_prefix(b, len, "\xff\xd8\xff", 3)) {
        out->kind = "jpeg";
        s = cli_jpeg_decode(path, b, len, &rgb, &w, &h, err);
    } else {
        s = sp_error_set(err, SP_ERR_UNSUPPORTED,
                         "%s: not a .npy, PNG or JPEG file (its first bytes are none of their "
                         "signatures)",
                         path);
    }
    free(b);
    if (s)
        return s;
    out->owned = rgb;
    out->img = (sp_image){rgb, w, h, (size_t)w * 3, SP_PIXFMT_RGB};
    return SP_OK;
}

void cli_image_free(cli_image *im) {
    free(im->owned);
    memset(im, 0, sizeof *im);
}
