/* file: sources: the FFmpeg sampler feeding an appsrc from its own thread. */
#include "filesource.h"

#include <fcntl.h>
#include <gst/app/gstappsrc.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "psampler.h"

struct scd_filesrc {
    GstElement *appsrc;
    char *path;
    int fd;        /* a duplicate of the caller's descriptor, or -1: open path */
    int dup_errno; /* the duplicate could not be made (then nothing is opened) */
    double fps;
    int threads, workers;
    GThread *thread;
    GMutex lock; /* guards sampler (abort from another thread vs close) */
    scd_psampler *sampler;
    gint stop;         /* 1: finish (EOS), 2: abort */
    gint progress_ppm; /* progress * 1e6, -1 unknown */
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

static gpointer reader_main(gpointer data) {
    scd_filesrc *f = data;
    scd_sampler_opts o;
    scd_sampler_opts_init(&o);
    o.fps = f->fps;
    o.threads = f->threads;
    o.input_fd = f->fd;
    scd_psampler *s = NULL;
    sp_error err;
    sp_status st = f->dup_errno ? sp_error_set(&err, SP_ERR_IO, "%s: cannot open: %s", f->path,
                                               g_strerror(f->dup_errno))
                                : scd_psampler_open(f->path, &o, f->workers, &s, &err);
    if (st != SP_OK) {
        post_error(f, error_domain(st), error_code(st), err.message);
        return NULL;
    }
    g_mutex_lock(&f->lock);
    f->sampler = s;
    bool aborted = g_atomic_int_get(&f->stop) == 2;
    g_mutex_unlock(&f->lock);
    if (aborted)
        scd_psampler_abort(s);

    const scd_sampler_info *info = scd_psampler_get_info(s);
    scd_log(SCD_LOG_INFO, "source", "%s: %dx%d %s, %d sampler%s", f->path, info->width,
            info->height, info->codec, scd_psampler_workers(s),
            scd_psampler_workers(s) > 1 ? "s side by side" : "");
    GstCaps *caps = gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, "RGB", "width",
                                        G_TYPE_INT, info->out_width, "height", G_TYPE_INT,
                                        info->out_height, "framerate", GST_TYPE_FRACTION, 0, 1,
                                        "pixel-aspect-ratio", GST_TYPE_FRACTION, 1, 1, NULL);
    gst_app_src_set_caps(GST_APP_SRC(f->appsrc), caps);
    gst_caps_unref(caps);

    bool ended = false, failed = false;
    while (g_atomic_int_get(&f->stop) == 0) {
        scd_sampled_frame fr;
        bool got = false;
        st = scd_psampler_next(s, &fr, &got, &err);
        if (st != SP_OK) {
            if (g_atomic_int_get(&f->stop) == 0) {
                post_error(f, error_domain(st), error_code(st), err.message);
                failed = true;
            }
            break;
        }
        double p = scd_psampler_progress(s);
        g_atomic_int_set(&f->progress_ppm, p < 0 ? -1 : (gint)(p * 1e6));
        if (!got) {
            ended = true;
            break;
        }
        size_t size = fr.stride * (size_t)fr.height;
        /* The sampler reuses its frame memory: the buffer needs its own copy. */
        GstBuffer *buf = gst_buffer_new_allocate(NULL, size, NULL);
        gst_buffer_fill(buf, 0, fr.rgb, size);
        GST_BUFFER_PTS(buf) = (GstClockTime)fr.pts_ns;
        GST_BUFFER_DTS(buf) = GST_CLOCK_TIME_NONE;
        GstFlowReturn fl = gst_app_src_push_buffer(GST_APP_SRC(f->appsrc), buf);
        if (fl != GST_FLOW_OK)
            break; /* flushing (the run is being stopped) or the pipeline failed downstream */
    }
    if (ended) {
        scd_sampler_stats ss = scd_psampler_get_stats(s);
        g_atomic_int_set(&f->progress_ppm, 1000000);
        if (ss.truncated)
            scd_log(SCD_LOG_WARNING, "source",
                    "%s: a read error ended the file early; %" G_GUINT64_FORMAT
                    " frames were sampled",
                    f->path, ss.frames_emitted);
        if (ss.decode_errors)
            scd_log(SCD_LOG_WARNING, "source",
                    "%s: %" G_GUINT64_FORMAT " damaged packets or frames were skipped", f->path,
                    ss.decode_errors);
    }
    if (!failed && g_atomic_int_get(&f->stop) != 2)
        gst_app_src_end_of_stream(GST_APP_SRC(f->appsrc));
    g_mutex_lock(&f->lock);
    f->sampler = NULL;
    g_mutex_unlock(&f->lock);
    scd_psampler_close(s);
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
        scd_psampler_abort(f->sampler);
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
    g_free(f->path);
    g_free(f);
}

double scd_filesrc_progress(const scd_filesrc *f) {
    gint ppm = g_atomic_int_get(&((scd_filesrc *)f)->progress_ppm);
    return ppm < 0 ? -1.0 : ppm / 1e6;
}
