/* The --image of `scriptprune encode`: a NumPy .npy array, a PNG or a JPEG, told apart by their
 * first bytes (never by the file name), into 8-bit RGB (or RGBx for an (H, W, 4) array).
 *
 * PNG and JPEG are decoded by Debian's libpng and libjpeg-turbo, linked into the CLI only (core
 * stays free of them); a CLI built without one of them says so when given such a file. */
#ifndef SP_CLI_IMAGE_FILE_H
#define SP_CLI_IMAGE_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "scriptprune/encode.h"

/* Pictures with more pixels than this are refused (64 Mpx: 8192 x 8192), so that a small file can
 * not claim gigabytes of pixels; sides are at most CLI_IMAGE_MAX_SIDE. */
enum { CLI_IMAGE_MAX_PIXELS = 1 << 26, CLI_IMAGE_MAX_SIDE = 1 << 15 };

typedef struct cli_image {
    uint8_t *owned; /* the file (.npy) or the decoded pixels; img.data points into it */
    sp_image img;
    const char *kind; /* "npy", "png" or "jpeg" */
} cli_image;

/* Reads path into out. Errors name the file and the problem: SP_ERR_NOT_FOUND / SP_ERR_IO (cannot
 * read), SP_ERR_UNSUPPORTED (not one of the three kinds, a CMYK JPEG, a kind this build can not
 * decode, too large), SP_ERR_FORMAT (damaged or truncated), SP_ERR_NOMEM. */
sp_status cli_image_read(const char *path, cli_image *out, sp_error *err);
void cli_image_free(cli_image *im);

/* The decoders (image_png.c, image_jpeg.c): the whole file in data, 8-bit RGB rows of width * 3
 * bytes into a new *rgb (free). path names the file in messages. */
sp_status cli_png_decode(const char *path, const uint8_t *data, size_t len, uint8_t **rgb,
                         uint32_t *width, uint32_t *height, sp_error *err);
sp_status cli_jpeg_decode(const char *path, const uint8_t *data, size_t len, uint8_t **rgb,
                          uint32_t *width, uint32_t *height, sp_error *err);

#endif
