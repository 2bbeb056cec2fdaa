/* scriptprune's query spec, pending queue, query encoder and row building. */
#include "prunequery.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <gst/app/gstappsink.h>
#include <gst/script/script.h>
#include <gst/video/video.h>

#include "scriptprune/npy.h"

#define DECODE_TIMEOUT (10 * GST_SECOND)

void prune_query_spec_clear(PruneQuerySpec *s) {
    g_clear_pointer(&s->text, g_free);
    g_clear_pointer(&s->image, g_free);
    g_clear_pointer(&s->embedding_path, g_free);
    g_clear_pointer(&s->embedding, g_bytes_unref);
    s->rows = s->width = 0;
}

void prune_query_spec_copy(PruneQuerySpec *dst, const PruneQuerySpec *src) {
    if (dst == src)
        return;
    prune_query_spec_clear(dst);
    dst->text = g_strdup(src->text);
    dst->image = g_strdup(src->image);
    dst->embedding_path = g_strdup(src->embedding_path);
    dst->embedding = src->embedding ? g_bytes_ref(src->embedding) : NULL;
    dst->rows = src->rows;
    dst->width = src->width;
}

gboolean prune_query_spec_is_empty(const PruneQuerySpec *s) {
    return !(s->text && *s->text) && !(s->image && *s->image) &&
           !(s->embedding_path && *s->embedding_path) && !s->embedding;
}

gchar *prune_query_spec_describe(const PruneQuerySpec *s) {
    if (prune_query_spec_is_empty(s))
        return g_strdup("no query");
    GString *out = g_string_new(NULL);
    if (s->text && *s->text)
        g_string_append_printf(out, "text \"%s\"", s->text);
    if (s->image && *s->image)
        g_string_append_printf(out, "%simage %s", out->len ? " + " : "", s->image);
    if (s->embedding_path && *s->embedding_path)
        g_string_append_printf(out, "%sembedding %s", out->len ? " + " : "", s->embedding_path);
    if (s->embedding)
        g_string_append_printf(out, "%s%u x %u embedding rows", out->len ? " + " : "", s->rows,
                               s->width);
    return g_string_free(out, FALSE);
}

gboolean prune_query_spec_from_event(PruneQuerySpec *s, GstEvent *event,
                                     GstClockTime *running_time) {
    prune_query_spec_clear(s);
    return gst_script_query_event_parse(event, running_time, &s->text, &s->embedding, &s->rows,
                                        &s->width, &s->image);
}

void prune_pending_free(PrunePending *p) {
    if (!p)
        return;
    prune_query_spec_clear(&p->spec);
    g_free(p);
}

void prune_pending_clear(GQueue *q) {
    PrunePending *p;
    while ((p = g_queue_pop_head(q)))
        prune_pending_free(p);
}

/* NONE sorts first: such requests apply at the next buffer. */
static guint64 sort_key(GstClockTime t) {
    return GST_CLOCK_TIME_IS_VALID(t) ? t + 1 : 0;
}

void prune_pending_push(GQueue *q, GstClockTime running_time, const PruneQuerySpec *spec) {
    PrunePending *p = g_new0(PrunePending, 1);
    p->running_time = running_time;
    prune_query_spec_copy(&p->spec, spec);
    GList *l = q->tail;
    while (l && sort_key(((PrunePending *)l->data)->running_time) > sort_key(running_time))
        l = l->prev;
    if (l)
        g_queue_insert_after(q, l, p);
    else
        g_queue_push_head(q, p);
}

PrunePending *prune_pending_take_due(GQueue *q, GstClockTime rt) {
    PrunePending *last = NULL;
    for (;;) {
        PrunePending *head = g_queue_peek_head(q);
        if (!head)
            break;
        gboolean due = !GST_CLOCK_TIME_IS_VALID(head->running_time) ||
                       (GST_CLOCK_TIME_IS_VALID(rt) && head->running_time <= rt);
        if (!due)
            break;
        g_queue_pop_head(q);
        prune_pending_free(last);
        last = head;
    }
    return last;
}

void prune_encoder_settings_clear(PruneEncoderSettings *s) {
    g_clear_pointer(&s->model, g_free);
}

void prune_encoder_settings_copy(PruneEncoderSettings *dst, const PruneEncoderSettings *src) {
    if (dst == src)
        return;
    gchar *model = g_strdup(src->model);
    prune_encoder_settings_clear(dst);
    *dst = *src;
    dst->model = model;
}

static gboolean settings_equal(const PruneEncoderSettings *a, const PruneEncoderSettings *b) {
    return a->backend == b->backend && g_strcmp0(a->model, b->model) == 0 &&
           a->image_size == b->image_size && a->patch_size == b->patch_size;
}

void prune_query_encoder_close(PruneQueryEncoder *qe) {
    sp_encode_ctx_free(qe->ctx);
    sp_encoder_free(qe->enc);
    qe->ctx = NULL;
    qe->enc = NULL;
    prune_encoder_settings_clear(&qe->settings);
}

gboolean prune_query_encoder_open(PruneQueryEncoder *qe, const PruneEncoderSettings *settings,
                                  gchar **msg) {
    if (qe->enc && settings_equal(&qe->settings, settings))
        return TRUE;
    prune_query_encoder_close(qe);
    sp_encoder_config cfg;
    sp_encoder_config_init(&cfg);
    cfg.image_size = settings->image_size;
    cfg.patch_size = settings->patch_size;
    if (settings->backend == GST_SCRIPT_BACKEND_CLIP) {
        cfg.kind = SP_ENCODER_CLIP;
        if (!settings->model || !*settings->model) {
            *msg = g_strdup("encoder-backend=clip needs encoder-model (a model folder)");
            return FALSE;
        }
        if (access(settings->model, R_OK) != 0) {
            int e = errno;
            *msg = g_strdup_printf("cannot read model \"%s\": %s", settings->model, g_strerror(e));
            return FALSE;
        }
        cfg.model_dir = settings->model;
    }
    sp_error err;
    sp_error_clear(&err);
    if (sp_encoder_open(&cfg, &qe->enc, &err) != SP_OK ||
        sp_encode_ctx_new(qe->enc, &qe->ctx, &err) != SP_OK) {
        *msg = cfg.model_dir
                   ? g_strdup_printf("cannot open model \"%s\": %s", cfg.model_dir, err.message)
                   : g_strdup_printf("cannot open the query encoder: %s", err.message);
        prune_query_encoder_close(qe);
        return FALSE;
    }
    prune_encoder_settings_copy(&qe->settings, settings);
    return TRUE;
}

/* Appends m rows of width w to the growing row array. */
static gboolean append_rows(GArray *acc, gsize *acc_width, const float *rows, gsize m, gsize w,
                            const char *what, gchar **msg) {
    if (m == 0)
        return TRUE;
    if (acc->len > 0 && *acc_width != w) {
        *msg = g_strdup_printf("%s gives rows of width %zu but the query's other rows have width "
                               "%zu",
                               what, w, *acc_width);
        return FALSE;
    }
    *acc_width = w;
    g_array_append_vals(acc, rows, (guint)(m * w));
    return TRUE;
}

gboolean prune_decode_image(const gchar *path, GstSample **sample, gchar **msg) {
    *sample = NULL;
    if (access(path, R_OK) != 0) {
        int e = errno;
        *msg = g_strdup_printf("cannot read query image \"%s\": %s", path, g_strerror(e));
        return FALSE;
    }
    GError *gerr = NULL;
    GstElement *pipe = gst_parse_launch("filesrc name=src ! decodebin ! videoconvert ! "
                                        "video/x-raw,format=RGB ! appsink name=sink sync=false",
                                        &gerr);
    if (!pipe) {
        *msg = g_strdup_printf("cannot build the image decoder (decodebin, videoconvert, appsink "
                               "needed): %s",
                               gerr ? gerr->message : "unknown error");
        g_clear_error(&gerr);
        return FALSE;
    }
    g_clear_error(&gerr);
    GstElement *src = gst_bin_get_by_name(GST_BIN(pipe), "src");
    GstElement *sink = gst_bin_get_by_name(GST_BIN(pipe), "sink");
    g_object_set(src, "location", path, NULL);
    gboolean ok = FALSE;
    if (gst_element_set_state(pipe, GST_STATE_PAUSED) != GST_STATE_CHANGE_FAILURE) {
        *sample = gst_app_sink_try_pull_preroll(GST_APP_SINK(sink), DECODE_TIMEOUT);
        ok = *sample != NULL;
    }
    if (!ok) {
        GstBus *bus = gst_element_get_bus(pipe);
        GstMessage *m = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
        GError *e = NULL;
        if (m)
            gst_message_parse_error(m, &e, NULL);
        *msg = g_strdup_printf("cannot decode query image \"%s\": %s", path,
                               e ? e->message : "no picture came out of the decoder");
        g_clear_error(&e);
        if (m)
            gst_message_unref(m);
        gst_object_unref(bus);
    }
    gst_element_set_state(pipe, GST_STATE_NULL);
    gst_object_unref(src);
    gst_object_unref(sink);
    gst_object_unref(pipe);
    return ok;
}

/* The exemplar's rows, at the scale it has in frames of frame_size (fitted to the encoder's input
 * when it is 0 x 0). */
static gboolean image_rows(PruneQueryEncoder *qe, const PruneEncoderSettings *st, const gchar *path,
                           const PruneFrameSize *frame_size, sp_query_rows *out, gchar **msg) {
    GstSample *sample;
    if (!prune_decode_image(path, &sample, msg))
        return FALSE;
    GstVideoInfo info;
    GstVideoFrame frame;
    GstBuffer *buf = gst_sample_get_buffer(sample);
    gboolean ok = gst_video_info_from_caps(&info, gst_sample_get_caps(sample)) &&
                  gst_video_frame_map(&frame, &info, buf, GST_MAP_READ);
    if (!ok) {
        *msg = g_strdup_printf("query image \"%s\": cannot read the decoded picture", path);
        gst_sample_unref(sample);
        return FALSE;
    }
    sp_image img = {
        .data = GST_VIDEO_FRAME_PLANE_DATA(&frame, 0),
        .width = (uint32_t)GST_VIDEO_FRAME_WIDTH(&frame),
        .height = (uint32_t)GST_VIDEO_FRAME_HEIGHT(&frame),
        .stride = (size_t)GST_VIDEO_FRAME_PLANE_STRIDE(&frame, 0),
        .format = SP_PIXFMT_RGB,
    };
    sp_error err;
    sp_error_clear(&err);
    sp_status s = sp_encode_exemplar_at(qe->ctx, &img, (sp_exemplar)st->exemplar, frame_size->width,
                                        frame_size->height, out, &err);
    gst_video_frame_unmap(&frame);
    gst_sample_unref(sample);
    if (s != SP_OK) {
        *msg = g_strdup_printf("query image \"%s\": %s", path, err.message);
        return FALSE;
    }
    return TRUE;
}

/* Text and image rows from the encoder. */
static gboolean encoder_rows(PruneQueryEncoder *qe, const PruneEncoderSettings *st,
                             const PruneQuerySpec *spec, const PruneFrameSize *frame, GArray *acc,
                             gsize *acc_w, gchar **msg) {
    gboolean text = spec->text && *spec->text, image = spec->image && *spec->image;
    if (!text && !image)
        return TRUE;
    if (!prune_query_encoder_open(qe, st, msg))
        return FALSE;
    sp_encoder_info info;
    sp_encoder_get_info(qe->enc, &info);
    sp_query_rows rows;
    sp_query_rows_init(&rows);
    gboolean ok = TRUE;
    if (text) {
        if (!info.has_text) {
            *msg = g_strdup_printf("query-text needs an encoder with a text tower "
                                   "(encoder-backend=clip with a CLIP or SigLIP model); the %s "
                                   "encoder has none",
                                   info.backend);
            ok = FALSE;
        } else {
            sp_error err;
            sp_error_clear(&err);
            if (sp_encode_text(qe->ctx, spec->text, strlen(spec->text), &rows, &err) != SP_OK) {
                *msg = g_strdup_printf("query text: %s", err.message);
                ok = FALSE;
            }
        }
    }
    if (ok && image)
        ok = image_rows(qe, st, spec->image, frame, &rows, msg);
    if (ok)
        ok = append_rows(acc, acc_w, rows.rows, rows.m, rows.e, "the encoder", msg);
    sp_query_rows_free(&rows);
    return ok;
}

gboolean prune_query_build(PruneQueryEncoder *qe, const PruneEncoderSettings *settings,
                           const PruneQuerySpec *spec, const PruneFrameSize *frame,
                           gsize expect_width, float **rows_out, gsize *m_out, gsize *width_out,
                           gchar **msg) {
    *rows_out = NULL;
    *m_out = *width_out = 0;
    GArray *acc = g_array_new(FALSE, FALSE, sizeof(float));
    gsize w = 0;
    gboolean ok = encoder_rows(qe, settings, spec, frame, acc, &w, msg);
    if (ok && spec->embedding_path && *spec->embedding_path) {
        sp_matrix mat = {0};
        sp_error err;
        sp_error_clear(&err);
        if (sp_npy_read(spec->embedding_path, &mat, &err) != SP_OK) {
            *msg = g_strdup_printf("query-embedding: %s", err.message);
            ok = FALSE;
        } else {
            ok = append_rows(acc, &w, mat.data, mat.rows, mat.cols, spec->embedding_path, msg);
        }
        sp_matrix_free(&mat);
    }
    if (ok && spec->embedding) {
        gsize size;
        const float *data = g_bytes_get_data(spec->embedding, &size);
        ok = append_rows(acc, &w, data, spec->rows, spec->width, "the event's embedding", msg);
    }
    if (ok && acc->len > 0 && expect_width && w != expect_width) {
        *msg = g_strdup_printf("query rows have width %zu but the tokens' joint space has width "
                               "%zu (set the query encoder like scriptencode, or give rows of "
                               "that width)",
                               w, expect_width);
        ok = FALSE;
    }
    if (!ok) {
        g_array_free(acc, TRUE);
        return FALSE;
    }
    *m_out = w ? acc->len / w : 0;
    *width_out = w;
    *rows_out = (float *)g_array_free(acc, FALSE);
    return TRUE;
}
