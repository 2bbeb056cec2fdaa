/* Decoded FFmpeg frames to packed RGB24, one way for every picture scriptd decodes (the sampler's
 * video frames and exemplar images), so that an image and the same picture in a video give the
 * same pixels: the decoder's colour matrix (BT.709 or BT.601) and range are honoured, area
 * averaging when shrinking, bilinear otherwise, accurate rounding. */
#ifndef SCRIPTD_FRAME_RGB_H
#define SCRIPTD_FRAME_RGB_H

#include <libavutil/frame.h>
#include <stddef.h>
#include <stdint.h>

#include "scriptprune/error.h"

/* The conversion's cached state; zero-initialise, scd_rgb_conv_clear when done. */
typedef struct scd_rgb_conv {
    struct SwsContext *sws;
    AVFrame *scaled;
    uint8_t *rgb; /* the last result: *ow x *oh pixels, rows of *ow * 3 bytes, no padding */
    size_t rgb_cap;
} scd_rgb_conv;

/* Converts f into c->rgb, scaled so that the longer side is at most max_side (0: native size);
 * *ow x *oh is the result's size. `name` names the input in errors. Errors: SP_ERR_UNSUPPORTED
 * (a pixel format swscale cannot read), SP_ERR_NOMEM. */
sp_status scd_rgb_convert(scd_rgb_conv *c, const AVFrame *f, int max_side, const char *name,
                          int *ow, int *oh, sp_error *err);

void scd_rgb_conv_clear(scd_rgb_conv *c);

#endif
