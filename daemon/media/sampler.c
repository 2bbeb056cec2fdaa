/* FFmpeg file sampler; the sampling rule and the work it avoids are described in sampler.h. */
#include "media/sampler.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/time.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "media/frame_rgb.h"
#include "media/local_input.h"
#include "media/sampler_compat.h"

#define NS_TB ((AVRational){1, 1000000000})

/* A decoded frame kept as a candidate for the next instant. */
typedef struct candidate {
    AVFrame *f;
    int64_t t_ns;
    bool emitted;
    bool valid;
} candidate;

/* A frame chosen for an instant, waiting to be converted and returned. */
typedef struct pending {
    AVFrame *f;
    int64_t t_ns, target_ns, index;
} pending;

struct scd_sampler {
    scd_sampler_opts o;
    scd_sampler_info info;
    scd_sampler_stats stats;
    char *codec_name;

    AVFormatContext *fmt;
    scd_local_input *input; /* a local file's reader (NULL for network URLs) */
    AVCodecContext *dec;
    AVStream *st;
    int vidx;
    AVPacket *pkt;
    AVFrame *frame;

    candidate prev;   /* latest decoded frame (before any unresolved instant) */
    pending queue[2]; /* one frame arrival resolves at most two distinct frames */
    int n_queue;

    scd_rgb_conv conv;

    int64_t start_pts;      /* pts of the first decoded frame, the origin of every time */
    int64_t dur_ns;         /* nominal frame duration */
    int64_t k;              /* next unresolved sampling instant */
    int64_t last_dts;       /* of the last video packet read (stream time base) */
    int64_t last_seek;      /* index keyframe of the last seek, never sought again */
    int64_t check_limit_ns; /* after a seek: the first frame must come before this */
    int64_t check_want;     /* the demuxer timestamp that seek asked for */
    int seek_attempts;
    bool reseek; /* the last seek overshot: seek again to reseek_want */
    int64_t reseek_want, reseek_limit_ns;
    bool demux_eof, finished;

    int64_t *keys; /* index keyframe timestamps at open, ascending (stream time base) */
    int n_keys;

    atomic_bool abort;
    int64_t deadline_us; /* for the interrupt callback; the sampler's own thread only */
};

/* s->k when a share has no instant left. */
#define K_NONE INT64_MAX

void scd_sampler_opts_init(scd_sampler_opts *o) {
    memset(o, 0, sizeof *o);
    o->fps = 1.0;
    o->mode = SCD_SAMPLE_EXACT;
    o->io_timeout_us = 10 * 1000000LL;
    o->unshared_threads = -1;
    o->input_fd = -1;
}

/* FFmpeg polls this during blocking calls; non-zero makes the call fail with AVERROR_EXIT. */
static int interrupt_cb(void *opaque) {
    scd_sampler *s = opaque;
    if (atomic_load_explicit(&s->abort, memory_order_relaxed))
        return 1;
    return av_gettime_relative() > s->deadline_us;
}

static void arm_deadline(scd_sampler *s) {
    s->deadline_us = av_gettime_relative() + s->o.io_timeout_us;
}

void scd_sampler_abort(scd_sampler *s) {
    if (s)
        atomic_store_explicit(&s->abort, true, memory_order_relaxed);
}

static const char *av_err(int code, char *buf, size_t n) {
    av_strerror(code, buf, n);
    return buf;
}

static sp_status io_error(scd_sampler *s, const char *url, const char *what, int code,
                          sp_error *err) {
    char eb[AV_ERROR_MAX_STRING_SIZE];
    if (code == AVERROR_EXIT)
        return sp_error_set(err, SP_ERR_IO, "%s: %s: %s", url, what,
                            atomic_load(&s->abort) ? "aborted"
                                                   : "timed out (no data within the I/O timeout)");
    if (code == AVERROR(ENOENT))
        return sp_error_set(err, SP_ERR_NOT_FOUND, "%s: %s: no such file", url, what);
    if (code == AVERROR_INVALIDDATA)
        return sp_error_set(err, SP_ERR_FORMAT, "%s: %s: not a recognised media file", url, what);
    if (code == AVERROR(ENOMEM))
        return sp_error_set(err, SP_ERR_NOMEM, "%s: %s: out of memory", url, what);
    return sp_error_set(err, SP_ERR_IO, "%s: %s: %s", url, what, av_err(code, eb, sizeof eb));
}

static bool seek_overshot(scd_sampler *s, int64_t t);

/* Sampling instant k, in ns after the stream start. */
static int64_t instant_ns(const scd_sampler *s, int64_t k) {
    if (k == K_NONE)
        return INT64_MAX;
    return llround((double)k * 1e9 / s->o.fps);
}

/* Segments come from the index as it was at open and from nothing decoded, so every sampler of
 * the same file cuts it the same way (a share must not lose or repeat an instant). They follow
 * the seek rule (keyframes before t_k + half a frame), counted from the first keyframe; the
 * demuxer's timestamps may be dts, a frame or two off, which only moves a cut by an instant. */
int64_t scd_sampler_segment_of(const scd_sampler *s, int64_t k) {
    if (s->n_keys == 0 || k == K_NONE)
        return 0;
    int64_t t =
        s->keys[0] + av_rescale_q(instant_ns(s, k) + s->dur_ns / 2 - 1, NS_TB, s->st->time_base);
    int lo = 0, hi = s->n_keys; /* first key after t */
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (s->keys[mid] <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo > 0 ? lo - 1 : 0;
}

/* The first instant from k on that this sampler answers; K_NONE when its share has none left. */
static int64_t owned_from(const scd_sampler *s, int64_t k) {
    if (!s->info.shared)
        return k;
    for (;; k++) {
        int64_t seg = scd_sampler_segment_of(s, k);
        if (seg % s->o.share_count == s->o.share_index)
            return k;
        if (seg >= s->n_keys - 1)
            return K_NONE; /* every later instant lies in the last segment, not ours */
    }
}

/* Makes the first instant from k on of this sampler's share the next one to answer; a share with
 * none left is finished. */
static void first_instant_from(scd_sampler *s, int64_t k) {
    s->k = owned_from(s, k);
    if (s->k == K_NONE)
        s->finished = true;
}

static int64_t frame_time_ns(scd_sampler *s, const AVFrame *f) {
    int64_t pts = f->best_effort_timestamp;
    if (pts == AV_NOPTS_VALUE) {
        /* No timestamp at all: place the frame one nominal duration after the previous one. */
        return s->prev.valid ? s->prev.t_ns + s->dur_ns : 0;
    }
    if (s->start_pts == AV_NOPTS_VALUE)
        s->start_pts = pts;
    return av_rescale_q(pts - s->start_pts, s->st->time_base, NS_TB);
}

static void enqueue(scd_sampler *s, const AVFrame *f, int64_t t_ns, int64_t target, int64_t k) {
    pending *p = &s->queue[s->n_queue++];
    p->f = av_frame_clone(f);
    p->t_ns = t_ns;
    p->target_ns = target;
    p->index = k;
}

/* Resolves every instant that frame f (arriving in pts order) decides: for an instant T <= t_f
 * the nearest decoded frame is either the previous frame or f (ties to the earlier). */
static sp_status on_frame(scd_sampler *s, AVFrame *f, sp_error *err) {
    int64_t t = frame_time_ns(s, f);
    if (s->reseek || (s->check_limit_ns != INT64_MIN && seek_overshot(s, t))) {
        av_frame_unref(f); /* decoded past the instant after a seek: it will be redone */
        return SP_OK;
    }
    if (s->prev.valid && t <= s->prev.t_ns) {
        /* Out-of-order or repeated timestamp (broken file, or a frame before a seek target). */
        av_frame_unref(f);
        return SP_OK;
    }
    bool f_emitted = false;
    for (int64_t target = instant_ns(s, s->k); target <= t;) {
        bool use_prev = s->prev.valid && (target - s->prev.t_ns) <= (t - target);
        if (use_prev && !s->prev.emitted) {
            enqueue(s, s->prev.f, s->prev.t_ns, target, s->k);
            s->prev.emitted = true;
        } else if (!use_prev && !f_emitted) {
            enqueue(s, f, t, target, s->k);
            f_emitted = true;
        }
        if (s->n_queue > 0 && !s->queue[s->n_queue - 1].f)
            return sp_error_set(err, SP_ERR_NOMEM, "sampler: out of memory holding a frame");
        first_instant_from(s, s->k + 1);
        target = instant_ns(s, s->k);
    }
    if (!s->prev.f) {
        s->prev.f = av_frame_alloc();
        if (!s->prev.f)
            return sp_error_set(err, SP_ERR_NOMEM, "sampler: out of memory");
    }
    av_frame_unref(s->prev.f);
    av_frame_move_ref(s->prev.f, f);
    s->prev.t_ns = t;
    s->prev.emitted = f_emitted;
    s->prev.valid = true;
    return SP_OK;
}

/* End of the video: the last frame answers an instant after it that falls before its end. */
static sp_status on_end(scd_sampler *s, sp_error *err) {
    s->finished = true;
    if (!s->prev.valid || s->prev.emitted)
        return SP_OK;
    int64_t d = scd_frame_duration(s->prev.f);
    int64_t dur = d > 0 ? av_rescale_q(d, s->st->time_base, NS_TB) : s->dur_ns;
    int64_t target = instant_ns(s, s->k);
    if (target < s->prev.t_ns + dur) {
        enqueue(s, s->prev.f, s->prev.t_ns, target, s->k);
        s->prev.emitted = true;
        first_instant_from(s, s->k + 1);
        if (!s->queue[s->n_queue - 1].f)
            return sp_error_set(err, SP_ERR_NOMEM, "sampler: out of memory holding a frame");
    }
    return SP_OK;
}

/* Reads packets until one of the video stream; returns the av_read_frame status. */
static int read_video_packet(scd_sampler *s) {
    for (;;) {
        arm_deadline(s);
        int ret = av_read_frame(s->fmt, s->pkt);
        if (ret < 0 || s->pkt->stream_index == s->vidx)
            return ret;
        av_packet_unref(s->pkt);
    }
}

/* Presentation time of a packet in ns after the origin (dts when it has no pts). */
static int64_t packet_ns(const scd_sampler *s, const AVPacket *pkt) {
    int64_t ts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
    if (ts == AV_NOPTS_VALUE || s->start_pts == AV_NOPTS_VALUE)
        return INT64_MIN;
    return av_rescale_q(ts - s->start_pts, s->st->time_base, NS_TB);
}

static void seek_to(scd_sampler *s, int64_t want, int64_t limit_ns) {
    arm_deadline(s);
    if (avformat_seek_file(s->fmt, s->vidx, INT64_MIN, want, want, 0) < 0)
        return; /* not fatal: reading on decodes the frames instead */
    avcodec_flush_buffers(s->dec);
    s->stats.seeks++;
    s->seek_attempts++;
    s->check_limit_ns = limit_ns;
    s->check_want = want;
}

/* Jumps to the last keyframe presented before t_k + half a frame when the index shows a keyframe
 * ahead of the read position (the gap to the next instant spans a GOP boundary). Landing there
 * loses no candidate: either the keyframe is presented more than half a frame before t_k, and
 * every frame from it to t_k is decoded (so the frames on both sides of t_k are seen), or it
 * lies within half a frame of t_k and, frames being a whole frame apart, it is the nearest frame
 * itself. Frames still inside the decoder lie before the keyframe and far from every unresolved
 * instant, so flushing them changes no result.
 * Demuxers seek by their own timestamps (dts in AVI, edit-list shifted ones in MP4), so the first
 * frame decoded after the seek is checked (on_frame) and, when it overshot, the seek is repeated
 * a little earlier (at most four times). */
static void maybe_seek(scd_sampler *s) {
    if (s->reseek) {
        s->reseek = false;
        seek_to(s, s->reseek_want, s->reseek_limit_ns);
        return;
    }
    if (!s->info.seekable || s->start_pts == AV_NOPTS_VALUE || s->info.mode == SCD_SAMPLE_ALL)
        return;
    int64_t limit_ns = instant_ns(s, s->k) + s->dur_ns / 2; /* keyframes before this will do */
    if (limit_ns <= 0)
        return;
    int64_t want = s->start_pts + av_rescale_q(limit_ns - 1, NS_TB, s->st->time_base);
    const AVIndexEntry *e =
        avformat_index_get_entry_from_timestamp(s->st, want, AVSEEK_FLAG_BACKWARD);
    if (!e || !(e->flags & AVINDEX_KEYFRAME))
        return;
    int64_t one_frame = av_rescale_q(s->dur_ns, NS_TB, s->st->time_base);
    bool ahead = s->last_dts == AV_NOPTS_VALUE || e->timestamp > s->last_dts + one_frame;
    if (!ahead || (s->last_seek != AV_NOPTS_VALUE && e->timestamp <= s->last_seek))
        return;
    s->last_seek = e->timestamp;
    s->seek_attempts = 0;
    seek_to(s, want, limit_ns);
}

/* Called with the first frame decoded after a seek: true when it overshot the instant, in which
 * case a new seek further back is scheduled and frames are dropped until it happens. */
static bool seek_overshot(scd_sampler *s, int64_t t) {
    int64_t limit = s->check_limit_ns;
    s->check_limit_ns = INT64_MIN;
    if (t < limit || s->seek_attempts >= 4)
        return false;
    s->reseek = true;
    s->reseek_limit_ns = limit;
    s->reseek_want =
        s->check_want - av_rescale_q(t - limit + s->dur_ns, NS_TB, s->st->time_base) - 1;
    return true;
}

/* True when a packet presented at pts may be the nearest frame of some unresolved instant:
 * within two nominal frame durations of one. Such packets are always decoded. */
static bool near_instant(const scd_sampler *s, const AVPacket *pkt) {
    int64_t p = packet_ns(s, pkt);
    if (p == INT64_MIN || pkt->pts == AV_NOPTS_VALUE)
        return true;
    int64_t lo = p - 2 * s->dur_ns;
    int64_t j = lo <= 0 ? 0 : (int64_t)ceil((double)lo * s->o.fps / 1e9);
    if (j < s->k)
        j = s->k;
    j = owned_from(s, j);
    return instant_ns(s, j) <= p + 2 * s->dur_ns;
}

/* Reads the next video packet and sends it to the decoder (or flushes it at the end). */
static sp_status feed(scd_sampler *s, sp_error *err) {
    /* Checked here too: packets already buffered would otherwise keep a job going after abort. */
    if (atomic_load_explicit(&s->abort, memory_order_relaxed))
        return sp_error_set(err, SP_ERR_IO, "%s: aborted", s->fmt->url);
    maybe_seek(s);
    int ret = read_video_packet(s);
    if (ret == AVERROR_EXIT)
        return io_error(s, s->fmt->url, "read", ret, err);
    if (ret < 0) {
        /* A read error mid-file (truncated or damaged container) ends the video there: what
         * was decoded so far is still a correct prefix. */
        if (ret != AVERROR_EOF)
            s->stats.truncated = true;
        s->demux_eof = true;
        avcodec_send_packet(s->dec, NULL);
        return SP_OK;
    }
    s->stats.packets_read++;
    s->last_dts = s->pkt->dts != AV_NOPTS_VALUE ? s->pkt->dts : s->pkt->pts;
    bool far = s->info.mode == SCD_SAMPLE_EXACT && !near_instant(s, s->pkt);
    if (s->info.mode == SCD_SAMPLE_KEYFRAMES)
        s->dec->skip_frame = AVDISCARD_NONKEY;
    else if (far)
        s->dec->skip_frame = AVDISCARD_NONREF;
    else
        s->dec->skip_frame = AVDISCARD_DEFAULT;
    /* Frame threads copy these from the user context per packet, like skip_frame. */
    s->dec->skip_loop_filter = far && s->o.skip_loop_filter ? AVDISCARD_ALL : AVDISCARD_DEFAULT;
    s->dec->skip_idct = far && s->o.skip_idct ? AVDISCARD_ALL : AVDISCARD_DEFAULT;
    ret = avcodec_send_packet(s->dec, s->pkt);
    av_packet_unref(s->pkt);
    if (ret == AVERROR(ENOMEM))
        return sp_error_set(err, SP_ERR_NOMEM, "%s: decoder out of memory", s->fmt->url);
    if (ret < 0 && ret != AVERROR(EAGAIN))
        s->stats.decode_errors++; /* a damaged packet: skip it, keep decoding */
    return SP_OK;
}

sp_status scd_sampler_next(scd_sampler *s, scd_sampled_frame *frame, bool *got, sp_error *err) {
    *got = false;
    memset(frame, 0, sizeof *frame);
    for (;;) {
        if (s->n_queue > 0) {
            pending p = s->queue[0];
            s->queue[0] = s->queue[1];
            s->n_queue--;
            int ow, oh;
            sp_status st =
                scd_rgb_convert(&s->conv, p.f, s->o.max_side, s->fmt->url, &ow, &oh, err);
            frame->key_frame = scd_frame_is_key(p.f);
            av_frame_free(&p.f);
            if (st)
                return st;
            frame->pts_ns = p.t_ns;
            frame->target_ns = p.target_ns;
            frame->index = p.index;
            frame->segment = scd_sampler_segment_of(s, p.index);
            frame->width = ow;
            frame->height = oh;
            frame->stride = (size_t)ow * 3;
            frame->rgb = s->conv.rgb;
            s->stats.frames_emitted++;
            *got = true;
            return SP_OK;
        }
        if (s->finished) {
            /* A share may rightly return nothing; the parallel sampler judges the whole file. */
            if (s->stats.frames_emitted == 0 && s->stats.decode_errors > 0 && !s->info.shared)
                return sp_error_set(err, SP_ERR_FORMAT,
                                    "%s: no decodable video frame (%llu damaged packets)",
                                    s->fmt->url, (unsigned long long)s->stats.decode_errors);
            return SP_OK;
        }
        int ret = avcodec_receive_frame(s->dec, s->frame);
        if (ret == 0) {
            s->stats.frames_decoded++;
            sp_status st = on_frame(s, s->frame, err);
            if (st)
                return st;
            continue;
        }
        if (ret == AVERROR_EOF) {
            sp_status st = on_end(s, err);
            if (st)
                return st;
            continue;
        }
        if (ret != AVERROR(EAGAIN)) {
            if (ret == AVERROR(ENOMEM))
                return sp_error_set(err, SP_ERR_NOMEM, "%s: decoder out of memory", s->fmt->url);
            s->stats.decode_errors++;
            continue;
        }
        if (s->demux_eof) {
            /* The decoder wants input after the flush: it has nothing more to give. */
            sp_status st = on_end(s, err);
            if (st)
                return st;
            continue;
        }
        sp_status st = feed(s, err);
        if (st)
            return st;
    }
}

double scd_sampler_progress(const scd_sampler *s) {
    if (s->finished && s->n_queue == 0)
        return 1.0;
    if (s->info.duration_ns <= 0)
        return -1.0;
    double done = (double)instant_ns(s, s->k) / (double)s->info.duration_ns;
    return done < 0 ? 0 : done > 1 ? 1 : done;
}

const scd_sampler_info *scd_sampler_get_info(const scd_sampler *s) {
    return &s->info;
}

const scd_sampler_stats *scd_sampler_get_stats(const scd_sampler *s) {
    return &s->stats;
}

void scd_sampler_close(scd_sampler *s) {
    if (!s)
        return;
    for (int i = 0; i < s->n_queue; i++)
        av_frame_free(&s->queue[i].f);
    av_frame_free(&s->prev.f);
    av_frame_free(&s->frame);
    av_packet_free(&s->pkt);
    scd_rgb_conv_clear(&s->conv);
    avcodec_free_context(&s->dec);
    avformat_close_input(&s->fmt);
    scd_local_input_free(s->input);
    av_free(s->codec_name);
    free(s->keys);
    free(s);
}

/* Copies the index's keyframe timestamps, ascending (the keyframe rate and the shares' segments
 * both come from this copy). An index without keyframes leaves none. */
static sp_status snapshot_keys(scd_sampler *s, sp_error *err) {
    int n = avformat_index_get_entries_count(s->st);
    if (n <= 0)
        return SP_OK;
    s->keys = malloc((size_t)n * sizeof *s->keys);
    if (!s->keys)
        return sp_error_set(err, SP_ERR_NOMEM, "sampler: out of memory for the index");
    for (int i = 0; i < n; i++) {
        const AVIndexEntry *e = avformat_index_get_entry(s->st, i);
        if (e && (e->flags & AVINDEX_KEYFRAME) &&
            (s->n_keys == 0 || e->timestamp > s->keys[s->n_keys - 1]))
            s->keys[s->n_keys++] = e->timestamp;
    }
    return SP_OK;
}

/* Containers whose index marks exactly the decodable starting points: MP4/MOV (the stss table)
 * and Matroska/WebM (cues). Others are not trusted to split a file: FFmpeg's AVI muxer, for one,
 * flags MPEG-4 P-frames as keyframes, and a share that starts there loses frames. */
static bool index_is_exact(const AVFormatContext *fmt) {
    const char *name = fmt->iformat ? fmt->iformat->name : "";
    return strstr(name, "mp4") || strstr(name, "mov") || strstr(name, "matroska");
}

/* Keyframes per second from the snapshot of the index (0 with fewer than two). */
static double keyframe_rate(const scd_sampler *s) {
    if (s->n_keys < 2)
        return 0;
    double span = (double)(s->keys[s->n_keys - 1] - s->keys[0]) * av_q2d(s->st->time_base);
    return (s->n_keys - 1) / span;
}

static sp_status find_video_stream(scd_sampler *s, const char *url, const AVCodec **codec,
                                   sp_error *err) {
    int idx = av_find_best_stream(s->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, codec, 0);
    if (idx == AVERROR_STREAM_NOT_FOUND)
        return sp_error_set(err, SP_ERR_FORMAT, "%s: no video stream", url);
    if (idx == AVERROR_DECODER_NOT_FOUND || (idx >= 0 && !*codec))
        return sp_error_set(err, SP_ERR_UNSUPPORTED, "%s: no decoder for the video stream", url);
    if (idx < 0)
        return io_error(s, url, "finding the video stream", idx, err);
    s->vidx = idx;
    s->st = s->fmt->streams[idx];
    if (s->st->disposition & AV_DISPOSITION_ATTACHED_PIC)
        return sp_error_set(err, SP_ERR_FORMAT, "%s: no video stream (only a cover picture)", url);
    return SP_OK;
}

static sp_status open_decoder(scd_sampler *s, const AVCodec *codec, int threads, const char *url,
                              sp_error *err) {
    s->dec = avcodec_alloc_context3(codec);
    if (!s->dec)
        return sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory", url);
    int ret = avcodec_parameters_to_context(s->dec, s->st->codecpar);
    if (ret < 0)
        return io_error(s, url, "decoder parameters", ret, err);
    s->dec->pkt_timebase = s->st->time_base;
    s->dec->thread_count = threads;
    if (s->o.live) {
        /* Frame threading delays output by one frame per thread: not for live sources. */
        s->dec->thread_type = FF_THREAD_SLICE;
        s->dec->flags |= AV_CODEC_FLAG_LOW_DELAY;
    } else {
        s->dec->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
    }
    ret = avcodec_open2(s->dec, codec, NULL);
    if (ret < 0)
        return io_error(s, url, "opening the decoder", ret, err);
    s->codec_name = av_strdup(codec->name);
    return SP_OK;
}

/* A local path: opened here, once, and read as a descriptor (local_input.h). O_NONBLOCK: a FIFO
 * must not block the open (it is refused as not a regular file). */
static sp_status open_local(scd_sampler *s, const char *path, sp_error *err) {
    sp_status st = SP_OK;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    struct stat sb;
    if (fd < 0)
        st = errno == ENOENT
                 ? sp_error_set(err, SP_ERR_NOT_FOUND, "%s: cannot open: no such file", path)
                 : sp_error_set(err, SP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    else if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))
        st = sp_error_set(err, SP_ERR_FORMAT, "%s: cannot open: not a regular file", path);
    if (st == SP_OK) {
        st = scd_local_input_open(&s->fmt, fd, path, &s->input, err); /* reads a dup of fd */
    } else {
        avformat_free_context(s->fmt);
        s->fmt = NULL;
    }
    if (fd >= 0)
        close(fd);
    return st;
}

/* A URL with a scheme (rtsp, http, ...): FFmpeg's protocols, with I/O timeouts. */
static sp_status open_network(scd_sampler *s, const char *url, sp_error *err) {
    AVDictionary *opts = NULL;
    char us[32];
    snprintf(us, sizeof us, "%lld", (long long)s->o.io_timeout_us);
    av_dict_set(&opts, "timeout", us, 0);    /* rtsp, http, tcp: socket I/O timeout (us) */
    av_dict_set(&opts, "rw_timeout", us, 0); /* any protocol: one read or write (us) */
    int ret = avformat_open_input(&s->fmt, url, NULL, &opts);
    av_dict_free(&opts);
    if (ret < 0)
        return io_error(s, url, "cannot open", ret, err); /* avformat_open_input freed s->fmt */
    return SP_OK;
}

sp_status scd_sampler_open(const char *url, const scd_sampler_opts *o, scd_sampler **out,
                           sp_error *err) {
    *out = NULL;
    if (!url || !url[0])
        return sp_error_set(err, SP_ERR_INVALID, "sampler: no input given");
    if (!o || !(o->fps > 0) || !isfinite(o->fps) || o->fps > 1000 || o->max_side < 0 ||
        o->threads < 0 || o->io_timeout_us < 0 || (unsigned)o->mode > SCD_SAMPLE_ALL ||
        o->share_count < 0 || o->share_index < 0 || o->unshared_threads < -1 ||
        (o->share_count > 1 && o->share_index >= o->share_count))
        return sp_error_set(err, SP_ERR_INVALID,
                            "%s: sampler options: fps must be in (0, 1000], sizes, threads and "
                            "timeout non-negative, share_index below share_count",
                            url);
    scd_sampler *s = calloc(1, sizeof *s);
    if (!s)
        return sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory", url);
    s->o = *o;
    if (s->o.io_timeout_us == 0)
        s->o.io_timeout_us = 10 * 1000000LL;
    s->start_pts = AV_NOPTS_VALUE;
    s->last_dts = AV_NOPTS_VALUE;
    s->last_seek = AV_NOPTS_VALUE;
    s->check_limit_ns = INT64_MIN;
    atomic_init(&s->abort, false);

    sp_status st = SP_OK;
    s->fmt = avformat_alloc_context();
    s->pkt = av_packet_alloc();
    s->frame = av_frame_alloc();
    if (!s->fmt || !s->pkt || !s->frame) {
        st = sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory", url);
        goto fail;
    }
    s->fmt->interrupt_callback.callback = interrupt_cb;
    s->fmt->interrupt_callback.opaque = s;
    arm_deadline(s);
    if (s->o.input_fd >= 0)
        st = scd_local_input_open(&s->fmt, s->o.input_fd, url, &s->input, err);
    else if (strstr(url, "://") == NULL)
        st = open_local(s, url, err);
    else
        st = open_network(s, url, err);
    if (st)
        goto fail; /* s->fmt is freed */
    arm_deadline(s);
    int ret = avformat_find_stream_info(s->fmt, NULL);
    if (ret < 0) {
        st = io_error(s, url, "reading stream information", ret, err);
        goto fail;
    }
    const AVCodec *codec = NULL;
    st = find_video_stream(s, url, &codec, err);
    if (st)
        goto fail;

    AVRational fr = s->st->avg_frame_rate.num > 0 ? s->st->avg_frame_rate : s->st->r_frame_rate;
    s->info.frame_rate = fr.num > 0 && fr.den > 0 ? av_q2d(fr) : 0;
    s->dur_ns = s->info.frame_rate > 0 ? llround(1e9 / s->info.frame_rate) : 40000000;
    if (s->st->duration != AV_NOPTS_VALUE && s->st->duration > 0)
        s->info.duration_ns = av_rescale_q(s->st->duration, s->st->time_base, NS_TB);
    else if (s->fmt->duration != AV_NOPTS_VALUE && s->fmt->duration > 0)
        s->info.duration_ns = av_rescale_q(s->fmt->duration, AV_TIME_BASE_Q, NS_TB);
    else
        s->info.duration_ns = -1;

    st = snapshot_keys(s, err);
    if (st)
        goto fail;
    s->info.keyframes_per_s = keyframe_rate(s);
    s->info.seekable = !s->o.live && s->fmt->pb && (s->fmt->pb->seekable & AVIO_SEEKABLE_NORMAL) &&
                       avformat_index_get_entries_count(s->st) > 0;
    s->info.mode = s->o.mode;
    s->info.shared =
        s->info.seekable && s->o.share_count > 1 && s->n_keys >= 2 && index_is_exact(s->fmt);
    /* Known before the decoder opens: a share the file cannot give decodes the whole file here,
     * with the threads meant for that (the parallel sampler then needs no second open). */
    bool unshared = s->o.share_count > 1 && !s->info.shared && s->o.unshared_threads >= 0;
    s->info.decoder_threads = unshared ? s->o.unshared_threads : s->o.threads;
    st = open_decoder(s, codec, s->info.decoder_threads, url, err);
    if (st)
        goto fail;
    s->info.width = s->dec->width;
    s->info.height = s->dec->height;
    s->info.out_width = s->info.width;
    s->info.out_height = s->info.height;
    int longer = s->info.width > s->info.height ? s->info.width : s->info.height;
    if (s->o.max_side > 0 && longer > s->o.max_side) {
        s->info.out_width = (int)lround((double)s->info.width * s->o.max_side / longer);
        s->info.out_height = (int)lround((double)s->info.height * s->o.max_side / longer);
    }
    s->info.codec = s->codec_name;
    first_instant_from(s, 0);
    if (s->o.mode == SCD_SAMPLE_KEYFRAMES && s->info.keyframes_per_s < s->o.fps)
        s->info.mode = SCD_SAMPLE_EXACT; /* too few keyframes to give fps frames per second */
    *out = s;
    return SP_OK;

fail:
    scd_sampler_close(s);
    return st;
}
