/* file: sources: the FFmpeg sampler feeding an appsrc from its own thread. */
#include "media/filesource.h"

#include <fcntl.h>
#include <gst/app/gstappsrc.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "telemetry/log.h"
#include "media/parallel_sampler.h"

struct scd_filesrc {
    GstElement *appsrc;
    char *path;
    int fd;        /* a duplicate of the caller's descriptor, or -1: open path */
    int dup_errno; /* the duplicate could not be made (then nothing is opened) */
    double fps;
    int threads, workers;
    GThread *thread;
    GMutex lock; /* guards sampler (abort from another thread vs close) */
    scd_parallel_sampler *sampler;
    gint stop;         /* 1: finish (EOS), 2: abort */
    gint progress_ppm; /* progress * 1e6, -1 unknown */
    /* Set by the thread before it sends EOS, read after the EOS (under lock). */
    char *early_end; /* why the file ended before its announced end, or NULL */
    guint64 damaged; /* damaged packets or frames skipped */
};

static void post_error(scd_filesrc *f, GQuark domain, gint code, const char *text) {
    GError *gerr = g_error_new_literal(domain, code, text);
    gchar *debug = g_strdup_printf("file source %s", f->path);
    GstMessage *msg = gst_message_new_error(GST_OBJECT(f->appsrc), gerr, debug);
    gst_element_post_message(f->appsrc, msg);
    g_error_free(gerr);
    g_free(debug);
}

static GQuark error_domain(sp_status st) {
    return st == SP_ERR_NOT_FOUND || st == SP_ERR_IO ? GST_RESOURCE_ERROR : GST_STREAM_ERROR;
}

static gint error_code(sp_status st) {
    switch (st) {
        case SP_ERR_NOT_FOUND:
            return GST_RESOURCE_ERROR_NOT_FOUND;
        case SP_ERR_IO:
            return GST_RESOURCE_ERROR_READ;
        default:
            return GST_STREAM_ERROR_DECODE;
    }
}

/* A copy of the sampler's frame (it reuses its memory) in GStreamer's layout for video/x-raw RGB
 * without a video meta: each row padded to a multiple of 4 bytes. The sampler's rows are packed
 * (width * 3), which is the same only when the width is a multiple of 4. */
static GstBuffer *rgb_buffer(const scd_sampled_frame *fr) {
    size_t row = (size_t)fr->width * 3, padded = GST_ROUND_UP_4(row);
    GstBuffer *buf = gst_buffer_new_allocate(NULL, padded * (size_t)fr->height, NULL);
    GstMapInfo map;
    if (!gst_buffer_map(buf, &map, GST_MAP_WRITE)) {
        gst_buffer_unref(buf);
        return NULL;
    }
    for (int y = 0; y < fr->height; y++) {
        memcpy(map.data + (size_t)y * padded, fr->rgb + (size_t)y * fr->stride, row);
        memset(map.data + (size_t)y * padded + row, 0, padded - row);
    }
    gst_buffer_unmap(buf, &map);
    return buf;
}

/* At the end of the file: did it end where its index said it would, and was anything damaged?
 * A file whose reading stopped well before the duration its container announces (a read error,
 * or data cut off: copied while still being written, truncated on disk) is an early end; the
 * frames read so far were still sent, then the run's owner reports the stream or job as failed
 * with how far it got. Damaged packets that the decoder skipped are counted; the file still
 * ended where it should. */
static void judge_end(scd_filesrc *f, scd_parallel_sampler *s, const scd_sampler_info *info,
                      int64_t last_pts_ns) {
    scd_sampler_stats ss = scd_parallel_sampler_get_stats(s);
    g_atomic_int_set(&f->progress_ppm, 1000000);
    /* The last instant is at most one sampling interval before the end; a frame or two and a
     * half second of slack cover container rounding. */
    double slack_s = 1.0 / f->fps + (info->frame_rate > 0 ? 2.0 / info->frame_rate : 0.1) + 0.5;
    double got_s = last_pts_ns < 0 ? 0.0 : (double)last_pts_ns / 1e9;
    double want_s = info->duration_ns > 0 ? (double)info->duration_ns / 1e9 : -1.0;
    char *early = NULL;
    if (ss.truncated || (want_s > 0 && got_s + slack_s < want_s)) {
        char total[48] = "";
        if (want_s > 0)
            snprintf(total, sizeof total, " of the %.1f s its index announces", want_s);
        early = g_strdup_printf(
            "the file ended early (%s): %" G_GUINT64_FORMAT " frames sampled, up to %.1f s%s",
            ss.truncated ? "read error" : "data cut off", ss.frames_emitted, got_s, total);
        scd_log(SCD_LOG_WARNING, "source", "%s: %s", f->path, early);
    }
    if (ss.decode_errors)
        scd_log(SCD_LOG_WARNING, "source",
                "%s: %" G_GUINT64_FORMAT " damaged packets or frames were skipped", f->path,
                ss.decode_errors);
    g_mutex_lock(&f->lock);
    f->early_end = early;
    f->damaged = ss.decode_errors;
    g_mutex_unlock(&f->lock);
}

static gpointer reader_main(gpointer data) {
    scd_filesrc *f = data;
    scd_sampler_opts o;
    scd_sampler_opts_init(&o);
    o.fps = f->fps;
    o.threads = f->threads;
    o.input_fd = f->fd;
    scd_parallel_sampler *s = NULL;
    sp_error err;
    sp_status st = f->dup_errno ? sp_error_set(&err, SP_ERR_IO, "%s: cannot open: %s", f->path,
                                               g_strerror(f->dup_errno))
                                : scd_parallel_sampler_open(f->path, &o, f->workers, &s, &err);
    if (st != SP_OK) {
        post_error(f, error_domain(st), error_code(st), err.message);
        return NULL;
    }
    g_mutex_lock(&f->lock);
    f->sampler = s;
    bool aborted = g_atomic_int_get(&f->stop) == 2;
    g_mutex_unlock(&f->lock);
    if (aborted)
        scd_parallel_sampler_abort(s);

    const scd_sampler_info *info = scd_parallel_sampler_get_info(s);
    scd_log(SCD_LOG_INFO, "source", "%s: %dx%d %s, %d sampler%s", f->path, info->width,
            info->height, info->codec, scd_parallel_sampler_workers(s),
            scd_parallel_sampler_workers(s) > 1 ? "s side by side" : "");
    GstCaps *caps = gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, "RGB", "width",
                                        G_TYPE_INT, info->out_width, "height", G_TYPE_INT,
                                        info->out_height, "framerate", GST_TYPE_FRACTION, 0, 1,
                                        "pixel-aspect-ratio", GST_TYPE_FRACTION, 1, 1, NULL);
    gst_app_src_set_caps(GST_APP_SRC(f->appsrc), caps);
    gst_caps_unref(caps);

    bool ended = false, failed = false;
    int64_t last_pts_ns = -1;
    while (g_atomic_int_get(&f->stop) == 0) {
        scd_sampled_frame fr;
        bool got = false;
        st = scd_parallel_sampler_next(s, &fr, &got, &err);
        if (st != SP_OK) {
            if (g_atomic_int_get(&f->stop) == 0) {
                post_error(f, error_domain(st), error_code(st), err.message);
                failed = true;
            }
            break;
        }
        double p = scd_parallel_sampler_progress(s);
        g_atomic_int_set(&f->progress_ppm, p < 0 ? -1 : (gint)(p * 1e6));
        if (!got) {
            ended = true;
            break;
        }
        GstBuffer *buf = rgb_buffer(&fr);
        if (!buf) {
            post_error(f, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NO_SPACE_LEFT,
                       "cannot map a new frame buffer");
            failed = true;
            break;
        }
        GST_BUFFER_PTS(buf) = (GstClockTime)fr.pts_ns;
        last_pts_ns = fr.pts_ns;
        GST_BUFFER_DTS(buf) = GST_CLOCK_TIME_NONE;
        GstFlowReturn fl = gst_app_src_push_buffer(GST_APP_SRC(f->appsrc), buf);
        if (fl != GST_FLOW_OK)
            break; /* flushing (the run is being stopped) or the pipeline failed downstream */
    }
    if (ended)
        judge_end(f, s, info, last_pts_ns);
    if (!failed && g_atomic_int_get(&f->stop) != 2)
        gst_app_src_end_of_stream(GST_APP_SRC(f->appsrc));
    g_mutex_lock(&f->lock);
    f->sampler = NULL;
    g_mutex_unlock(&f->lock);
    scd_parallel_sampler_close(s);
    return NULL;
}

scd_filesrc *scd_filesrc_start(GstElement *appsrc, const char *path, int fd, double fps,
                               int threads, int workers) {
    scd_filesrc *f = g_new0(scd_filesrc, 1);
    f->appsrc = gst_object_ref(appsrc);
    f->path = g_strdup(path);
    /* Duplicated now, before the caller can close it: the thread opens the sampler later. */
    f->fd = -1;
    if (fd >= 0 && (f->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0)
        f->dup_errno = errno;
    f->fps = fps;
    f->threads = threads;
    f->workers = workers;
    f->progress_ppm = -1;
    g_mutex_init(&f->lock);
    /* g_thread_new aborts when no thread can be created (GLib's policy, and ours). */
    f->thread = g_thread_new("scd-file", reader_main, f);
    return f;
}

void scd_filesrc_finish(scd_filesrc *f) {
    if (f)
        g_atomic_int_compare_and_exchange(&f->stop, 0, 1);
}

void scd_filesrc_abort(scd_filesrc *f) {
    if (!f)
        return;
    g_atomic_int_set(&f->stop, 2);
    g_mutex_lock(&f->lock);
    if (f->sampler)
        scd_parallel_sampler_abort(f->sampler);
    g_mutex_unlock(&f->lock);
}

void scd_filesrc_free(scd_filesrc *f) {
    if (!f)
        return;
    g_thread_join(f->thread);
    gst_object_unref(f->appsrc);
    g_mutex_clear(&f->lock);
    if (f->fd >= 0)
        close(f->fd);
    g_free(f->early_end);
    g_free(f->path);
    g_free(f);
}

double scd_filesrc_progress(const scd_filesrc *f) {
    gint ppm = g_atomic_int_get(&((scd_filesrc *)f)->progress_ppm);
    return ppm < 0 ? -1.0 : ppm / 1e6;
}

char *scd_filesrc_early_end(scd_filesrc *f) {
    if (!f)
        return NULL;
    g_mutex_lock(&f->lock);
    char *r = g_strdup(f->early_end);
    g_mutex_unlock(&f->lock);
    return r;
}

uint64_t scd_filesrc_damaged(scd_filesrc *f) {
    if (!f)
        return 0;
    g_mutex_lock(&f->lock);
    uint64_t r = f->damaged;
    g_mutex_unlock(&f->lock);
    return r;
}
