/* The FFmpeg file sampler: decodes a video file (or network URL) at a target rate, returning the
 * decoded frame nearest to each sampling instant as packed RGB24 with its exact presentation time.
 *
 * Sampling rule. Instants are t_k = k / fps seconds after the first frame's timestamp
 * (k = 0, 1, ...), and only instants before the end of the video (last frame's pts plus its
 * duration) count. For each instant the sampler returns the decoded frame whose pts is nearest
 * to t_k; on a tie the earlier frame wins. A frame is returned at most once: an instant whose
 * nearest frame was already returned (fps above the video's rate, or a gap in the video) yields
 * nothing. Frames come out in pts order; pts_ns is the chosen frame's own timestamp, not t_k.
 *
 * Work avoided (mode SCD_SAMPLE_EXACT, the default) without changing the result:
 *  - packets whose pts is not within two frame durations of an instant are decoded with
 *    skip_frame = AVDISCARD_NONREF, so non-reference frames far from every instant cost nothing;
 *  - when the file's index shows a keyframe between the current read position and the next
 *    instant (the gap exceeds a GOP), the sampler seeks there with avformat_seek_file instead of
 *    reading and decoding the frames in between.
 * "Without changing the result" holds for constant-frame-rate video with closed GOPs (what
 * cameras and encoders write by default; the tests compare against SCD_SAMPLE_ALL pixel for
 * pixel). With variable frame rate or open GOPs the frame returned is still the nearest of the
 * frames decoded, which may differ from the nearest of all frames by up to a frame.
 * SCD_SAMPLE_KEYFRAMES decodes keyframes only (AVDISCARD_NONKEY): the nearest *keyframe* to each
 * instant, much cheaper but not exact in time; it is used only when the index shows at least fps
 * keyframes per second, otherwise the sampler falls back to EXACT (info.mode says which ran).
 * SCD_SAMPLE_ALL decodes every frame (the reference the others are tested and benchmarked
 * against; same output as EXACT).
 *
 * Threads: frame threading for files; slice threading and AV_CODEC_FLAG_LOW_DELAY for live
 * sources (opts.live), where frame threading would add a frame of delay per thread. A sampler is
 * used by one thread at a time, except scd_sampler_abort, which any thread may call.
 *
 * Network inputs: the format context's interrupt callback enforces opts.io_timeout_us on every
 * blocking call (open, probe, read, seek), and the rtsp/http `timeout` and `rw_timeout` options
 * are set, so a dead source returns an error instead of hanging the thread.
 *
 * Requires FFmpeg 5.1 (libavcodec 59.37, libavformat 59.27); the fields renamed in later versions
 * are read through sampler_compat.h. Logging: FFmpeg's own av_log output is process-wide and is
 * left to main (av_log_set_level / av_log_set_callback). */
#ifndef SCRIPTD_SAMPLER_H
#define SCRIPTD_SAMPLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scriptprune/error.h"

typedef enum scd_sample_mode {
    SCD_SAMPLE_EXACT = 0, /* nearest decoded frame; skips and seeks what is not needed */
    SCD_SAMPLE_KEYFRAMES, /* nearest keyframe (when keyframes are frequent enough) */
    SCD_SAMPLE_ALL,       /* decode every frame, then choose (reference, benchmarks) */
} scd_sample_mode;

typedef struct scd_sampler_opts {
    double fps;            /* sampling rate, > 0 */
    int max_side;          /* 0: native size; else scale so the longer side is at most this */
    int threads;           /* decoder threads; 0 = automatic */
    bool live;             /* live source: slice threads, low delay, no seeking */
    scd_sample_mode mode;  /* SCD_SAMPLE_EXACT by default */
    int64_t io_timeout_us; /* per blocking I/O call; 0 = 10 s */
    /* Decoding shortcuts for frames far from every instant (EXACT mode; the frames returned are
     * always decoded in full). They make the sampler faster but NOT exact: a reference frame
     * decoded this way is slightly wrong and the error travels into the frames predicted from
     * it until the next keyframe. Off by default; bench/bench_sampler.c measures their speed
     * and the PSNR of the pictures they give against the exact ones. */
    bool skip_loop_filter; /* no deblocking (AVDISCARD_ALL) on those frames */
    bool skip_idct;        /* no residual transform on those frames (large errors) */
    /* A share of the instants, for parallel sampling (parallel_sampler.h). The index's keyframes
     * cut the video into segments (segment i: the instants whose seek keyframe, as in the seek rule
     * above, is keyframe i); this sampler answers only the instants of segments i with
     * i % share_count == share_index and seeks over the others. share_count 0 or 1: all. A
     * share needs a seekable MP4/MOV or Matroska/WebM file (whose index marks exactly the
     * keyframes) with at least two keyframes; otherwise info.shared is false and the sampler
     * answers every instant. */
    int share_index, share_count;
    /* Decoder threads when a share was asked for (share_count > 1) but the file cannot give one:
     * the sampler then decodes the whole file alone. -1 (the default): threads. */
    int unshared_threads;
    /* An open descriptor of the local file to read (e.g. from scd_media_open), or -1 (the
     * default) to open the url. The sampler reads it with pread and never closes it; the url then
     * only names the input in messages. */
    int input_fd;
} scd_sampler_opts;

typedef struct scd_sampler_info {
    int width, height;         /* coded picture size */
    int out_width, out_height; /* size of the returned RGB frames */
    double frame_rate;         /* average frame rate of the stream, 0 when unknown */
    int64_t duration_ns;       /* -1 when unknown (live) */
    const char *codec;         /* decoder name, e.g. "h264" */
    bool seekable;             /* an index allows seeking between instants */
    double keyframes_per_s;    /* from the index; 0 when unknown */
    scd_sample_mode mode;      /* the mode actually used */
    bool shared;               /* answering a share of the instants (opts.share_count > 1) */
    int decoder_threads;       /* threads asked of the decoder (0: FFmpeg's automatic choice) */
} scd_sampler_info;

typedef struct scd_sampler_stats {
    uint64_t packets_read;   /* video packets read from the container */
    uint64_t frames_decoded; /* frames the decoder returned */
    uint64_t frames_emitted; /* frames returned by scd_sampler_next */
    uint64_t seeks;          /* avformat_seek_file calls that moved the read position */
    uint64_t decode_errors;  /* packets or frames the decoder rejected (skipped) */
    bool truncated;          /* reading stopped at a read error; the result is a clean prefix */
} scd_sampler_stats;

typedef struct scd_sampled_frame {
    int64_t pts_ns;    /* the frame's presentation time, ns after the first frame's */
    int64_t target_ns; /* the instant t_k it was chosen for */
    int64_t index;     /* k of that instant */
    int64_t segment;   /* keyframe segment of that instant (see share_count), 0 without index */
    bool key_frame;
    int width, height;
    size_t stride;      /* bytes per row: always width * 3 (packed RGB24, no padding) */
    const uint8_t *rgb; /* owned by the sampler; valid until the next call on it */
} scd_sampled_frame;

typedef struct scd_sampler scd_sampler;

/* opts defaults: fps 1, native size, automatic threads, file source, EXACT, 10 s timeout, no
 * input_fd. */
void scd_sampler_opts_init(scd_sampler_opts *o);

/* Opens url: a local path (or opts.input_fd) or a URL with a scheme ("rtsp://...", "http://...").
 *
 * A local file is opened once, as a descriptor, and FFmpeg reads only that descriptor, with the
 * demuxers of self-contained video files only (local_input.h): a playlist, a concat list, an
 * image sequence or a reference movie can not make the sampler read anything else.
 *
 * Errors: SP_ERR_NOT_FOUND (missing file), SP_ERR_FORMAT (not a media file, a refused format, no
 * video stream, no decoder), SP_ERR_IO (I/O error or timeout), SP_ERR_INVALID (bad options). */
sp_status scd_sampler_open(const char *url, const scd_sampler_opts *o, scd_sampler **out,
                           sp_error *err);

/* Returns the next sampled frame in *frame with *got = true, or *got = false at the end of the
 * video. A corrupt stretch of the file is skipped (stats.decode_errors); a read error ends the
 * video early (stats.truncated). Errors: SP_ERR_IO (timeout, abort), SP_ERR_FORMAT (the file
 * held no decodable frame), SP_ERR_NOMEM. */
sp_status scd_sampler_next(scd_sampler *s, scd_sampled_frame *frame, bool *got, sp_error *err);

/* Keyframe segment of instant k (see opts.share_count): 0 for every instant without an index. */
int64_t scd_sampler_segment_of(const scd_sampler *s, int64_t k);

/* Fraction of the video done, in [0, 1]; -1 when the duration is unknown. */
double scd_sampler_progress(const scd_sampler *s);

const scd_sampler_info *scd_sampler_get_info(const scd_sampler *s);
const scd_sampler_stats *scd_sampler_get_stats(const scd_sampler *s);

/* Makes blocking I/O in the sampler fail promptly (any thread; the sampler's own thread then gets
 * SP_ERR_IO). */
void scd_sampler_abort(scd_sampler *s);

void scd_sampler_close(scd_sampler *s);

#endif
