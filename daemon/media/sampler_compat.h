/* The AVFrame fields that FFmpeg renamed after 5.1, read in one place: key_frame became
 * flags & AV_FRAME_FLAG_KEY (lavu 58.7 / FFmpeg 6.1) and pkt_duration became duration
 * (lavu 57.30 / FFmpeg 6.0, with pkt_duration deprecated). scriptd targets 5.1, where
 * `duration` may exist but is not filled by every decoder, so pkt_duration is read there. */
#ifndef SCRIPTD_SAMPLER_COMPAT_H
#define SCRIPTD_SAMPLER_COMPAT_H

#include <libavutil/frame.h>
#include <libavutil/version.h>
#include <stdbool.h>
#include <stdint.h>

static inline bool scd_frame_is_key(const AVFrame *f) {
#if LIBAVUTIL_VERSION_INT >= AV_VERSION_INT(58, 7, 100)
    return (f->flags & AV_FRAME_FLAG_KEY) != 0;
#else
    return f->key_frame != 0;
#endif
}

/* Duration in the stream's time base, 0 when unknown. */
static inline int64_t scd_frame_duration(const AVFrame *f) {
#if LIBAVUTIL_VERSION_MAJOR >= 58
    return f->duration;
#else
    return f->pkt_duration;
#endif
}

#endif
