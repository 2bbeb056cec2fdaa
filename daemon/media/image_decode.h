/* Exemplar images: PNG or JPEG bytes decoded by an image decoder and nothing else.
 *
 * The bytes go straight to libavcodec's png or mjpeg decoder as one packet: no demuxer is
 * involved, so the bytes can not name another file to read (an HLS playlist sent as an "image"
 * is refused by its first bytes). libavcodec rather than libpng/libjpeg: scriptd links it
 * already, these are the decoders that exemplar images always went through (the same pixels, so
 * the same query rows), and frame_rgb.h converts their output exactly as the sampler converts
 * video frames. The kind is told by magic bytes only, never by a name or a Content-Type. */
#ifndef SCRIPTD_IMAGE_DECODE_H
#define SCRIPTD_IMAGE_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "media/frame_rgb.h"
#include "scriptprune/error.h"

typedef enum scd_image_kind {
    SCD_IMAGE_UNKNOWN = 0,
    SCD_IMAGE_PNG,
    SCD_IMAGE_JPEG,
} scd_image_kind;

/* Pictures larger than this many pixels are refused (64 Mpx: 8192 x 8192). */
enum { SCD_IMAGE_MAX_PIXELS = 8192 * 8192 };

/* The kind from the first bytes (the PNG signature, or a JPEG's SOI marker). */
scd_image_kind scd_image_kind_of(const uint8_t *data, size_t len);

/* A decoded picture: packed RGB24 rows of width * 3 bytes, in conv.rgb. */
typedef struct scd_image {
    int width, height;
    size_t stride;
    const uint8_t *rgb;
    scd_rgb_conv conv; /* owns rgb */
} scd_image;

/* Decodes a PNG or JPEG at its native size into *out (scd_image_clear it, also after a failure).
 * `name` names the image in messages. Errors: SP_ERR_UNSUPPORTED (neither PNG nor JPEG),
 * SP_ERR_FORMAT (damaged, empty or too large), SP_ERR_NOMEM. */
sp_status scd_image_decode(const uint8_t *data, size_t len, const char *name, scd_image *out,
                           sp_error *err);

void scd_image_clear(scd_image *img);

#endif
