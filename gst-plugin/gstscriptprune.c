/* scriptprune: the streaming form of Script inside a pipeline.
 *
 * Each buffer's GstScriptTokensMeta goes into core's sp_stream. The frame's fates and, when the
 * frame completes an emission, the packet are written back into the meta; every emission also
 * posts a "scriptprune-emission" element message. The stream lives from start() to stop() and is
 * replaced on a flush, a new segment or a timestamp going backwards (frame indices and window ids
 * keep growing across replacements). A packet that completes at EOS or before a new segment has
 * no buffer: it travels as a GstScriptPacket event.
 *
 * Threads: properties under GST_OBJECT_LOCK; the stream pointer under stream_lock, so the
 * `reselect` action signal and the `stats` property can use it from any thread while the
 * streaming thread pushes (core allows that). */
#include "gstscriptprune.h"

#include <string.h>

#include <gst/script/script.h>

#include "elements.h"
#include "enums.h"
#include "evidence.h"
#include "fates.h"
#include "packetwire.h"
#include "pruneparams.h"
#include "pruneprops.h"
#include "prunequery.h"
#include "prunereport.h"

GST_DEBUG_CATEGORY_STATIC(gst_script_prune_debug);
#define GST_CAT_DEFAULT gst_script_prune_debug

#define NO_META_MESSAGE "no GstScriptTokensMeta on the buffer: put scriptencode upstream"

enum {
    PROP_0,
    PROP_STREAM_NAME,
    PROP_QUERY_TEXT,
    PROP_QUERY_IMAGE,
    PROP_QUERY_EMBEDDING,
    PROP_ENCODER_BACKEND,
    PROP_ENCODER_MODEL,
    PROP_ENCODER_IMAGE_SIZE,
    PROP_ENCODER_PATCH_SIZE,
    PROP_EXEMPLAR,
    PROP_STATS,
    PROP_TABLE_FIRST, /* the parameter table's properties (pruneprops.c) follow */
};

enum { SIGNAL_RESELECT, N_SIGNALS };
static guint signals[N_SIGNALS];

struct _GstScriptPrune {
    GstBaseTransform parent;

    /* properties (GST_OBJECT_LOCK) */
    PruneParams params;
    PruneEncoderSettings enc_settings;
    PruneQuerySpec requested; /* the query last asked for (properties read it back) */
    GQueue pending;           /* PrunePending*: requests waiting for their running time */

    /* the stream: pointer, bases and active settings change under stream_lock */
    GMutex stream_lock;
    sp_stream *stream;
    PruneParams active;
    guint64 frame_base, window_base;

    /* streaming thread */
    ScriptStreamDesc desc;
    guint64 frames_in_stream, windows_in_stream;
    GstClockTime last_pts;
    gboolean saw_meta;
    gboolean encoder_checked;
    sp_stream_stats last_emit_stats;
    PruneQueryEncoder qenc;
    PruneEncoderSettings active_enc;
    float *rows; /* the active query, set again on every new stream */
    gsize rows_m, rows_w;
    PruneQuerySpec active_spec;   /* what the active rows were built from */
    PruneFrameSize rows_frame;    /* the frame size its exemplar was encoded at (0 x 0: fitted) */
    ScriptEvidence evidence;      /* the meta's pixel evidence, as the stream takes it */
    GstScriptTokensMeta *cb_meta; /* the packet callback's target, or NULL */
    GstEvent *cb_event;           /* a packet without a buffer, to push */
};

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);
static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

G_DEFINE_TYPE(GstScriptPrune, gst_script_prune, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE(scriptprune, "scriptprune", GST_RANK_NONE, GST_TYPE_SCRIPT_PRUNE);

/* ---- properties ------------------------------------------------------------------------------ */

/* Changes one part of the requested query; applies from the next buffer. Called locked. */
static void request_query_part(GstScriptPrune *self, gchar **field, const GValue *value) {
    g_free(*field);
    *field = g_value_dup_string(value);
    prune_pending_push(&self->pending, GST_CLOCK_TIME_NONE, &self->requested);
}

static void gst_script_prune_set_property(GObject *object, guint prop_id, const GValue *value,
                                          GParamSpec *pspec) {
    GstScriptPrune *self = GST_SCRIPT_PRUNE(object);
    PruneParams *p = &self->params;
    GST_OBJECT_LOCK(self);
    if (prune_props_set(object, p, PROP_TABLE_FIRST, prop_id, value)) {
        GST_OBJECT_UNLOCK(self);
        return;
    }
    switch (prop_id) {
        case PROP_STREAM_NAME:
            g_free(p->stream_name);
            p->stream_name = g_value_dup_string(value);
            if (!p->stream_name)
                p->stream_name = g_strdup("");
            break;
        case PROP_QUERY_TEXT:
            request_query_part(self, &self->requested.text, value);
            break;
        case PROP_QUERY_IMAGE:
            request_query_part(self, &self->requested.image, value);
            break;
        case PROP_QUERY_EMBEDDING:
            /* Rows from an event are replaced by the file (or by nothing). */
            g_clear_pointer(&self->requested.embedding, g_bytes_unref);
            self->requested.rows = self->requested.width = 0;
            request_query_part(self, &self->requested.embedding_path, value);
            break;
        case PROP_ENCODER_BACKEND:
            self->enc_settings.backend = g_value_get_enum(value);
            break;
        case PROP_ENCODER_MODEL:
            g_free(self->enc_settings.model);
            self->enc_settings.model = g_value_dup_string(value);
            break;
        case PROP_ENCODER_IMAGE_SIZE:
            self->enc_settings.image_size = g_value_get_uint(value);
            break;
        case PROP_ENCODER_PATCH_SIZE:
            self->enc_settings.patch_size = g_value_get_uint(value);
            break;
        case PROP_EXEMPLAR:
            self->enc_settings.exemplar = g_value_get_enum(value);
            break;
        default:
            G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
            break;
    }
    GST_OBJECT_UNLOCK(self);
}

static GstStructure *current_stats(GstScriptPrune *self) {
    sp_stream_stats st;
    gboolean have = FALSE;
    g_mutex_lock(&self->stream_lock);
    if (self->stream) {
        sp_stream_get_stats(self->stream, &st);
        have = TRUE;
    }
    g_mutex_unlock(&self->stream_lock);
    return script_stats_structure(have ? &st : NULL);
}

static void gst_script_prune_get_property(GObject *object, guint prop_id, GValue *value,
                                          GParamSpec *pspec) {
    GstScriptPrune *self = GST_SCRIPT_PRUNE(object);
    if (prop_id == PROP_STATS) {
        g_value_take_boxed(value, current_stats(self));
        return;
    }
    const PruneParams *p = &self->params;
    GST_OBJECT_LOCK(self);
    if (prune_props_get(p, PROP_TABLE_FIRST, prop_id, value)) {
        GST_OBJECT_UNLOCK(self);
        return;
    }
    switch (prop_id) {
        case PROP_STREAM_NAME:
            g_value_set_string(value, p->stream_name);
            break;
        case PROP_QUERY_TEXT:
            g_value_set_string(value, self->requested.text);
            break;
        case PROP_QUERY_IMAGE:
            g_value_set_string(value, self->requested.image);
            break;
        case PROP_QUERY_EMBEDDING:
            g_value_set_string(value, self->requested.embedding_path);
            break;
        case PROP_ENCODER_BACKEND:
            g_value_set_enum(value, self->enc_settings.backend);
            break;
        case PROP_ENCODER_MODEL:
            g_value_set_string(value, self->enc_settings.model);
            break;
        case PROP_ENCODER_IMAGE_SIZE:
            g_value_set_uint(value, self->enc_settings.image_size);
            break;
        case PROP_ENCODER_PATCH_SIZE:
            g_value_set_uint(value, self->enc_settings.patch_size);
            break;
        case PROP_EXEMPLAR:
            g_value_set_enum(value, self->enc_settings.exemplar);
            break;
        default:
            G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
            break;
    }
    GST_OBJECT_UNLOCK(self);
}

/* ---- the stream -------------------------------------------------------------------------------
 */

static sp_status on_packet(void *user, const sp_packet *p, sp_error *err) {
    (void)err;
    GstScriptPrune *self = user;
    GstScriptPacket gp;
    gst_script_packet_init(&gp);
    script_packet_from_sp(&gp, p, self->frame_base, self->window_base, &self->desc);
    if (p->kind == SP_PACKET_WINDOW)
        self->windows_in_stream++;
    sp_stream_stats now;
    sp_stream_get_stats(self->stream, &now);
    GstStructure *s = script_emission_structure(&gp, &self->last_emit_stats, &now);
    self->last_emit_stats = now;
    gst_element_post_message(GST_ELEMENT(self), gst_message_new_element(GST_OBJECT(self), s));
    if (self->cb_meta) {
        gst_script_tokens_meta_set_packet(self->cb_meta, &gp);
    } else {
        if (self->cb_event)
            gst_event_unref(self->cb_event);
        self->cb_event = gst_script_packet_event_new(&gp);
    }
    GST_LOG_OBJECT(self, "%s packet %" G_GUINT64_FORMAT ": %u of budget %u",
                   sp_packet_kind_name(p->kind), gp.window_id, gp.count, gp.budget);
    gst_script_packet_clear(&gp);
    return SP_OK;
}

/* A new stream from the active settings, with the active query. */
static sp_stream *new_stream(GstScriptPrune *self, gchar **msg) {
    sp_stream_params sp;
    if (!prune_params_to_stream(&self->active, &sp, msg))
        return NULL;
    sp.on_packet = on_packet;
    sp.user = self;
    sp_stream *s = NULL;
    sp_error err;
    sp_error_clear(&err);
    if (sp_stream_new(&sp, &s, &err) != SP_OK) {
        *msg = g_strdup(err.message);
        return NULL;
    }
    if (self->rows_m) {
        sp_query q = {.rows = self->rows, .m = self->rows_m, .e = self->rows_w};
        if (sp_stream_set_query(s, &q, &err) != SP_OK) {
            *msg = g_strdup_printf("query: %s", err.message);
            sp_stream_free(s);
            return NULL;
        }
    }
    return s;
}

/* Pushes the packet a flush produced (it has no buffer) downstream. */
static void push_cb_event(GstScriptPrune *self) {
    if (!self->cb_event)
        return;
    GstEvent *ev = self->cb_event;
    self->cb_event = NULL;
    gst_pad_push_event(GST_BASE_TRANSFORM_SRC_PAD(self), ev);
}

/* End of input for the current stream: emits the partial window, if any. */
static gboolean flush_stream(GstScriptPrune *self) {
    if (!self->stream || self->frames_in_stream == 0)
        return TRUE;
    sp_error err;
    sp_error_clear(&err);
    self->cb_meta = NULL;
    sp_status st = sp_stream_flush(self->stream, &err);
    push_cb_event(self);
    if (st != SP_OK) {
        GST_ELEMENT_ERROR(self, STREAM, FAILED, ("flushing the stream failed: %s", err.message),
                          (NULL));
        return FALSE;
    }
    return TRUE;
}

/* Replaces the stream by a fresh one (a flush, a new segment, time going backwards). */
static gboolean reset_stream(GstScriptPrune *self, gboolean emit_partial) {
    if (!self->stream)
        return TRUE;
    if (emit_partial)
        flush_stream(self);
    gchar *msg = NULL;
    sp_stream *fresh = new_stream(self, &msg);
    g_mutex_lock(&self->stream_lock);
    sp_stream *old = self->stream;
    self->stream = fresh;
    self->frame_base += self->frames_in_stream;
    self->window_base += self->windows_in_stream;
    g_mutex_unlock(&self->stream_lock);
    sp_stream_free(old);
    GST_DEBUG_OBJECT(self, "stream reset after %" G_GUINT64_FORMAT " frames",
                     self->frames_in_stream);
    self->frames_in_stream = self->windows_in_stream = 0;
    script_evidence_restart(&self->evidence);
    self->last_pts = GST_CLOCK_TIME_NONE;
    memset(&self->last_emit_stats, 0, sizeof self->last_emit_stats);
    if (!fresh) {
        GST_ELEMENT_ERROR(self, LIBRARY, INIT, ("cannot create the stream: %s", msg), (NULL));
        g_free(msg);
        return FALSE;
    }
    return TRUE;
}

/* ---- queries ----------------------------------------------------------------------------------
 */

/* The query encoder must describe the same joint space as the tokens' encoder. */
static gboolean check_query_encoder(GstScriptPrune *self, const GstScriptTokensMeta *meta,
                                    gchar **msg) {
    if (!self->qenc.enc)
        return TRUE;
    sp_encoder_info info;
    sp_encoder_get_info(self->qenc.enc, &info);
    const GstScriptPreprocess *pre = &meta->preprocess;
    if (g_strcmp0(info.backend, meta->backend) != 0 ||
        (pre->image_size && info.image_size != pre->image_size) ||
        (pre->patch_size && info.patch_size != pre->patch_size)) {
        *msg = g_strdup_printf("the query encoder (%s, image %u, patch %u) differs from the "
                               "tokens' encoder (%s, image %u, patch %u): set encoder-backend, "
                               "encoder-model, encoder-image-size and encoder-patch-size like "
                               "scriptencode",
                               info.backend, info.image_size, info.patch_size, meta->backend,
                               pre->image_size, pre->patch_size);
        return FALSE;
    }
    return TRUE;
}

/* The size of the frames meta's tokens come from; 0 x 0 without a meta. */
static PruneFrameSize frame_size_of(const GstScriptTokensMeta *meta) {
    PruneFrameSize f = {0, 0};
    if (meta) {
        f.width = meta->preprocess.frame_width;
        f.height = meta->preprocess.frame_height;
    }
    return f;
}

/* Builds spec's rows (an exemplar at the scale of meta's frames, fitted without a meta) and
 * makes them the active query (on the stream too). */
static gboolean set_query(GstScriptPrune *self, const PruneQuerySpec *spec, gsize width,
                          const GstScriptTokensMeta *meta, gchar **msg) {
    float *rows;
    gsize m, w;
    PruneFrameSize frame = frame_size_of(meta);
    if (!prune_query_build(&self->qenc, &self->active_enc, spec, &frame, width, &rows, &m, &w, msg))
        return FALSE;
    if (meta && (spec->text || spec->image) && !check_query_encoder(self, meta, msg)) {
        g_free(rows);
        return FALSE;
    }
    sp_error err;
    sp_error_clear(&err);
    sp_query q = {.rows = rows, .m = m, .e = w};
    if (self->stream && sp_stream_set_query(self->stream, &q, &err) != SP_OK) {
        *msg = g_strdup(err.message);
        g_free(rows);
        return FALSE;
    }
    g_free(self->rows);
    self->rows = rows;
    self->rows_m = m;
    self->rows_w = w;
    prune_query_spec_copy(&self->active_spec, spec);
    self->rows_frame = frame;
    return TRUE;
}

/* An exemplar query built before the first frame (at start) or for frames of another size is
 * encoded again at the scale of meta's frames: a crop cut from the footage then describes the
 * cells it covers in the frames, not a picture blown up to the encoder's whole input. A failure
 * keeps the rows as they are and is not retried until the frame size changes again. */
static void rescale_query(GstScriptPrune *self, gsize width, const GstScriptTokensMeta *meta) {
    PruneFrameSize frame = frame_size_of(meta);
    if (!self->active_spec.image || !*self->active_spec.image ||
        self->active_enc.exemplar == GST_SCRIPT_EXEMPLAR_POOLED /* always fitted */ ||
        (frame.width == self->rows_frame.width && frame.height == self->rows_frame.height))
        return;
    gchar *msg = NULL;
    if (set_query(self, &self->active_spec, width, meta, &msg)) {
        GST_INFO_OBJECT(self, "exemplar %s encoded at the %ux%u frame scale",
                        self->active_spec.image, frame.width, frame.height);
    } else {
        GST_ELEMENT_WARNING(self, RESOURCE, SETTINGS,
                            ("exemplar not encoded at the frame scale: %s", msg),
                            ("%s keeps its earlier encoding", self->active_spec.image));
        g_free(msg);
        self->rows_frame = frame;
    }
}

/* Applies the newest request due at running time rt; a failure leaves the query as it was. */
static void apply_due_queries(GstScriptPrune *self, GstClockTime rt, gsize width,
                              const GstScriptTokensMeta *meta) {
    GST_OBJECT_LOCK(self);
    PrunePending *due = prune_pending_take_due(&self->pending, rt);
    GST_OBJECT_UNLOCK(self);
    if (!due)
        return;
    gchar *what = prune_query_spec_describe(&due->spec);
    gchar *msg = NULL;
    if (set_query(self, &due->spec, width, meta, &msg)) {
        GST_INFO_OBJECT(self, "query now %s (%zu rows) from running time %" GST_TIME_FORMAT, what,
                        self->rows_m, GST_TIME_ARGS(rt));
    } else {
        GST_ELEMENT_WARNING(self, RESOURCE, SETTINGS, ("query not changed: %s", msg),
                            ("requested: %s", what));
        g_free(msg);
    }
    g_free(what);
    prune_pending_free(due);
}

static void queue_query_event(GstScriptPrune *self, GstEvent *event) {
    PruneQuerySpec spec = {0};
    GstClockTime rt = GST_CLOCK_TIME_NONE;
    if (!prune_query_spec_from_event(&spec, event, &rt)) {
        GST_ELEMENT_WARNING(self, STREAM, FORMAT, ("malformed ScriptQuery event ignored"),
                            ("%" GST_PTR_FORMAT, event));
        prune_query_spec_clear(&spec);
        return;
    }
    GST_OBJECT_LOCK(self);
    prune_query_spec_copy(&self->requested, &spec);
    prune_pending_push(&self->pending, rt, &spec);
    GST_OBJECT_UNLOCK(self);
    GST_DEBUG_OBJECT(self, "query event for running time %" GST_TIME_FORMAT, GST_TIME_ARGS(rt));
    prune_query_spec_clear(&spec);
}

/* ---- lifecycle --------------------------------------------------------------------------------
 */

static void free_state(GstScriptPrune *self) {
    g_mutex_lock(&self->stream_lock);
    sp_stream *s = self->stream;
    self->stream = NULL;
    g_mutex_unlock(&self->stream_lock);
    sp_stream_free(s);
    prune_query_encoder_close(&self->qenc);
    g_clear_pointer(&self->rows, g_free);
    self->rows_m = self->rows_w = 0;
    prune_query_spec_clear(&self->active_spec);
    self->rows_frame = (PruneFrameSize){0, 0};
    if (self->cb_event)
        gst_event_unref(self->cb_event);
    self->cb_event = NULL;
    self->cb_meta = NULL;
    script_evidence_free(&self->evidence);
}

static gboolean gst_script_prune_start(GstBaseTransform *trans) {
    GstScriptPrune *self = GST_SCRIPT_PRUNE(trans);
    PruneQuerySpec spec = {0};
    g_mutex_lock(&self->stream_lock);
    GST_OBJECT_LOCK(self);
    prune_params_copy(&self->active, &self->params);
    prune_encoder_settings_copy(&self->active_enc, &self->enc_settings);
    prune_query_spec_copy(&spec, &self->requested);
    prune_pending_clear(&self->pending);
    GST_OBJECT_UNLOCK(self);
    self->frame_base = self->window_base = 0;
    g_mutex_unlock(&self->stream_lock);

    self->frames_in_stream = self->windows_in_stream = 0;
    script_evidence_restart(&self->evidence);
    self->last_pts = GST_CLOCK_TIME_NONE;
    self->saw_meta = self->encoder_checked = FALSE;
    memset(&self->last_emit_stats, 0, sizeof self->last_emit_stats);
    memset(&self->desc, 0, sizeof self->desc);
    self->desc.stream_name = g_intern_string(self->active.stream_name);
    self->desc.temporal_tau = self->active.sp.tau_t;
    if (self->active.sp.policy == SP_EMIT_WINDOW) {
        self->desc.window_frames = self->active.sp.window;
        self->desc.hop_frames = self->active.sp.hop;
    }

    gchar *msg = NULL;
    gchar *what = prune_query_spec_describe(&spec);
    gboolean ok = set_query(self, &spec, 0, NULL, &msg);
    if (!ok)
        GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("%s", msg), ("query: %s", what));
    g_free(what);
    prune_query_spec_clear(&spec);
    g_clear_pointer(&msg, g_free);
    if (!ok) {
        free_state(self);
        return FALSE;
    }
    sp_stream *s = new_stream(self, &msg);
    if (!s) {
        GST_ELEMENT_ERROR(self, LIBRARY, SETTINGS, ("%s", msg), (NULL));
        g_free(msg);
        free_state(self);
        return FALSE;
    }
    g_mutex_lock(&self->stream_lock);
    self->stream = s;
    g_mutex_unlock(&self->stream_lock);
    return TRUE;
}

static gboolean gst_script_prune_stop(GstBaseTransform *trans) {
    GstScriptPrune *self = GST_SCRIPT_PRUNE(trans);
    free_state(self);
    GST_OBJECT_LOCK(self);
    prune_pending_clear(&self->pending);
    GST_OBJECT_UNLOCK(self);
    return TRUE;
}

/* ---- data ------------------------------------------------------------------------------------ */

static GstClockTime frame_pts(GstScriptPrune *self, GstBuffer *buf,
                              const GstScriptTokensMeta *meta) {
    GstClockTime pts = GST_BUFFER_PTS(buf);
    if (!GST_CLOCK_TIME_IS_VALID(pts))
        pts = meta->pts;
    if (!GST_CLOCK_TIME_IS_VALID(pts)) {
        /* Streams need time stamps; untimed input gets consecutive nanoseconds. */
        pts = GST_CLOCK_TIME_IS_VALID(self->last_pts) ? self->last_pts + 1 : 0;
        GST_LOG_OBJECT(self, "buffer without PTS: using %" G_GUINT64_FORMAT, pts);
    }
    return pts;
}

static GstFlowReturn push_frame(GstScriptPrune *self, GstScriptTokensMeta *meta, GstClockTime pts) {
    GstMapInfo tmap, emap;
    gboolean have_emb = gst_script_tensor_is_set(&meta->embeddings);
    if (!gst_script_tensor_map(&meta->tokens, &tmap)) {
        GST_ELEMENT_ERROR(self, STREAM, FORMAT, ("the tokens meta has no readable tokens"), (NULL));
        return GST_FLOW_ERROR;
    }
    if (have_emb && !gst_script_tensor_map(&meta->embeddings, &emap)) {
        gst_buffer_unmap(meta->tokens.data, &tmap);
        GST_ELEMENT_ERROR(self, STREAM, FORMAT, ("the tokens meta has unreadable embeddings"),
                          (NULL));
        return GST_FLOW_ERROR;
    }
    sp_frame f = {
        .tokens = (const float *)tmap.data,
        .n = meta->tokens.dims[0],
        .d = meta->tokens.dims[1],
        .embed = have_emb ? (const float *)emap.data : NULL,
        .e = have_emb ? meta->embeddings.dims[1] : 0,
        .grid_h = meta->grid_h,
        .grid_w = meta->grid_w,
        .pts = (int64_t)pts,
        /* the patch encoder's tokens describe the cell, then its surroundings */
        .own_d = sp_encoder_own_dims(meta->backend, meta->tokens.dims[1]),
    };
    /* Letterbox padding takes no part in the stream. */
    gst_script_tokens_meta_image_cells(meta, &f.image_y, &f.image_x, &f.image_h, &f.image_w);
    gchar *emsg = NULL;
    if (!script_evidence_read(&self->evidence, meta, &f.evidence, &emsg)) {
        gst_buffer_unmap(meta->tokens.data, &tmap);
        if (have_emb)
            gst_buffer_unmap(meta->embeddings.data, &emap);
        GST_ELEMENT_ERROR(self, STREAM, FORMAT, ("%s", emsg), (NULL));
        g_free(emsg);
        return GST_FLOW_ERROR;
    }
    meta->stream_frame = self->frame_base + self->frames_in_stream;
    sp_error err;
    sp_error_clear(&err);
    self->cb_meta = meta;
    sp_status st = sp_stream_push(self->stream, &f, &err);
    self->cb_meta = NULL;
    gst_buffer_unmap(meta->tokens.data, &tmap);
    if (have_emb)
        gst_buffer_unmap(meta->embeddings.data, &emap);
    if (st != SP_OK) {
        GST_ELEMENT_ERROR(self, STREAM, FAILED, ("pruning failed: %s", err.message), (NULL));
        return GST_FLOW_ERROR;
    }
    self->frames_in_stream++;
    script_evidence_took(&self->evidence, meta);
    self->last_pts = pts;
    meta->pruned = TRUE;
    gchar *msg = NULL;
    if (!script_fates_fill(self->stream, meta, &msg)) {
        GST_ELEMENT_ERROR(self, STREAM, FAILED, ("per-token fates: %s", msg), (NULL));
        g_free(msg);
        return GST_FLOW_ERROR;
    }
    return GST_FLOW_OK;
}

static GstFlowReturn gst_script_prune_transform_ip(GstBaseTransform *trans, GstBuffer *buf) {
    GstScriptPrune *self = GST_SCRIPT_PRUNE(trans);
    GstScriptTokensMeta *meta = gst_buffer_get_script_tokens_meta(buf);
    if (!meta) {
        if (!self->saw_meta) {
            GST_ELEMENT_ERROR(self, STREAM, FORMAT, (NO_META_MESSAGE),
                              ("buffer %" GST_PTR_FORMAT " carries no tokens", buf));
            return GST_FLOW_ERROR;
        }
        return GST_FLOW_OK; /* a frame scriptencode left out (sample-every, max-fps) */
    }
    self->saw_meta = TRUE;
    if (!self->stream)
        return GST_FLOW_ERROR; /* a failed reset already posted the error */
    gsize width = gst_script_tensor_is_set(&meta->embeddings) ? meta->embeddings.dims[1]
                                                              : gst_script_tokens_meta_width(meta);
    if (!self->encoder_checked) {
        gchar *msg = NULL;
        if (self->rows_m && !check_query_encoder(self, meta, &msg)) {
            GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("%s", msg), (NULL));
            g_free(msg);
            return GST_FLOW_ERROR;
        }
        self->encoder_checked = TRUE;
    }
    self->desc.grid_h = meta->grid_h;
    self->desc.grid_w = meta->grid_w;

    GstClockTime pts = frame_pts(self, buf, meta);
    GstClockTime rt = gst_segment_to_running_time(&trans->segment, GST_FORMAT_TIME, pts);
    apply_due_queries(self, rt, width, meta);
    rescale_query(self, width, meta);
    if (GST_CLOCK_TIME_IS_VALID(self->last_pts) && pts < self->last_pts) {
        GST_WARNING_OBJECT(self, "PTS %" GST_TIME_FORMAT " goes back: starting a new stream",
                           GST_TIME_ARGS(pts));
        if (!reset_stream(self, TRUE))
            return GST_FLOW_ERROR;
    }
    return push_frame(self, meta, pts);
}

static gboolean gst_script_prune_sink_event(GstBaseTransform *trans, GstEvent *event) {
    GstScriptPrune *self = GST_SCRIPT_PRUNE(trans);
    switch (GST_EVENT_TYPE(event)) {
        case GST_EVENT_FLUSH_STOP:
            reset_stream(self, FALSE); /* a seek: what was in the window is discarded */
            break;
        case GST_EVENT_SEGMENT:
            if (self->frames_in_stream > 0)
                reset_stream(self, TRUE); /* the old segment's last window goes out first */
            break;
        case GST_EVENT_EOS:
            flush_stream(self);
            break;
        case GST_EVENT_CUSTOM_DOWNSTREAM:
            if (gst_script_query_event_is(event)) {
                queue_query_event(self, event);
                gst_event_unref(event);
                return TRUE;
            }
            break;
        default:
            break;
    }
    return GST_BASE_TRANSFORM_CLASS(gst_script_prune_parent_class)->sink_event(trans, event);
}

static gboolean gst_script_prune_src_event(GstBaseTransform *trans, GstEvent *event) {
    GstScriptPrune *self = GST_SCRIPT_PRUNE(trans);
    if (GST_EVENT_TYPE(event) == GST_EVENT_CUSTOM_UPSTREAM && gst_script_query_event_is(event)) {
        queue_query_event(self, event);
        gst_event_unref(event);
        return TRUE;
    }
    return GST_BASE_TRANSFORM_CLASS(gst_script_prune_parent_class)->src_event(trans, event);
}

/* The `reselect` action signal. */
static GstStructure *gst_script_prune_reselect(GstScriptPrune *self, GBytes *query, guint rows,
                                               guint budget, guint64 since, guint64 until) {
    g_mutex_lock(&self->stream_lock);
    const sp_method_info *mi = sp_method_info_of(self->active.method);
    GstStructure *s = script_reselect(
        self->stream, query, rows, budget, since, until, self->frame_base,
        self->active.stream_name ? self->active.stream_name : "", mi ? mi->name : "script");
    g_mutex_unlock(&self->stream_lock);
    return s;
}

static void gst_script_prune_finalize(GObject *object) {
    GstScriptPrune *self = GST_SCRIPT_PRUNE(object);
    free_state(self);
    prune_params_clear(&self->params);
    prune_params_clear(&self->active);
    prune_encoder_settings_clear(&self->enc_settings);
    prune_encoder_settings_clear(&self->active_enc);
    prune_query_spec_clear(&self->requested);
    prune_pending_clear(&self->pending);
    g_mutex_clear(&self->stream_lock);
    G_OBJECT_CLASS(gst_script_prune_parent_class)->finalize(object);
}

static void install_properties(GObjectClass *gc) {
    const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;
    const GParamFlags ready = rw | GST_PARAM_MUTABLE_READY;
    const GParamFlags live = rw | GST_PARAM_MUTABLE_PLAYING;
    /* Stream parameters and the method: one property per row of core's parameter table. */
    prune_props_install(gc, PROP_TABLE_FIRST, ready);
    g_object_class_install_property(
        gc, PROP_STREAM_NAME,
        g_param_spec_string("stream-name", "Stream name",
                            "Name written into packets and token-stream headers (<= 255 bytes)", "",
                            ready));
    g_object_class_install_property(
        gc, PROP_QUERY_TEXT,
        g_param_spec_string("query-text", "Query text",
                            "Text query (needs encoder-backend=clip with a text tower); changes "
                            "apply from the next frame",
                            NULL, live));
    g_object_class_install_property(
        gc, PROP_QUERY_IMAGE,
        g_param_spec_string("query-image", "Query image",
                            "Exemplar image file (a crop of the footage), decoded with GStreamer "
                            "and encoded at the scale it has in the frames; changes apply from "
                            "the next frame",
                            NULL, live));
    g_object_class_install_property(
        gc, PROP_QUERY_EMBEDDING,
        g_param_spec_string("query-embedding", "Query embedding",
                            ".npy file of M x E float32/float16 query rows in the tokens' joint "
                            "space; changes apply from the next frame",
                            NULL, live));
    g_object_class_install_property(
        gc, PROP_ENCODER_BACKEND,
        g_param_spec_enum("encoder-backend", "Query encoder backend",
                          "Encoder for query-text and query-image; must match scriptencode's",
                          GST_TYPE_SCRIPT_BACKEND, GST_SCRIPT_BACKEND_PATCH, ready));
    g_object_class_install_property(
        gc, PROP_ENCODER_MODEL,
        g_param_spec_string("encoder-model", "Query encoder model",
                            "encoder-backend=clip: the model folder (as scriptencode's model)",
                            NULL, ready));
    g_object_class_install_property(
        gc, PROP_ENCODER_IMAGE_SIZE,
        g_param_spec_uint("encoder-image-size", "Query encoder image size",
                          "As scriptencode's image-size (0 = the backend's default)", 0, 8192, 0,
                          ready));
    g_object_class_install_property(
        gc, PROP_ENCODER_PATCH_SIZE,
        g_param_spec_uint("encoder-patch-size", "Query encoder patch size",
                          "As scriptencode's patch-size", 1, 1024, 14, ready));
    g_object_class_install_property(
        gc, PROP_EXEMPLAR,
        g_param_spec_enum("exemplar-mode", "Exemplar mode",
                          "Query rows an exemplar image gives: its pooled embedding, the mean of "
                          "its tokens, or every token of its picture (a token is as relevant as "
                          "the closest row)",
                          GST_TYPE_SCRIPT_EXEMPLAR, GST_SCRIPT_EXEMPLAR_ALL, ready));
    g_object_class_install_property(
        gc, PROP_STATS,
        g_param_spec_boxed("stats", "Statistics",
                           "The stream's counters (every sp_stream_stats field, e.g. frames-in, "
                           "tokens-emitted, select-ns-total), as a scriptprune-stats structure",
                           GST_TYPE_STRUCTURE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
}

static void gst_script_prune_class_init(GstScriptPruneClass *klass) {
    GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
    GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
    GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS(klass);

    GST_DEBUG_CATEGORY_INIT(gst_script_prune_debug, "scriptprune", 0,
                            "visual-token pruning (scriptd)");

    gobject_class->set_property = gst_script_prune_set_property;
    gobject_class->get_property = gst_script_prune_get_property;
    gobject_class->finalize = gst_script_prune_finalize;
    install_properties(gobject_class);

    /* GstStructure *reselect (GBytes *query_f32, guint query_rows, guint budget,
     *                         guint64 since_ns, guint64 until_ns)
     * QCSP alone over the candidates (window and history) whose span meets [since, until]
     * (G_MAXUINT64: open). Returns a "scriptprune-reselect" structure: ok, error, count,
     * safetensors (GBytes). Safe from any thread. */
    signals[SIGNAL_RESELECT] = g_signal_new_class_handler(
        "reselect", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION,
        G_CALLBACK(gst_script_prune_reselect), NULL, NULL, NULL, GST_TYPE_STRUCTURE, 5,
        G_TYPE_BYTES, G_TYPE_UINT, G_TYPE_UINT, G_TYPE_UINT64, G_TYPE_UINT64);

    gst_element_class_add_static_pad_template(element_class, &sink_template);
    gst_element_class_add_static_pad_template(element_class, &src_template);
    gst_element_class_set_static_metadata(
        element_class, "Script visual-token pruner", "Filter/Analyzer/Video",
        "Keeps the visual tokens that matter: temporal graph, GSP and query DPP (Script) over a "
        "rolling window, exact budgets",
        "scriptd developers");

    trans_class->start = GST_DEBUG_FUNCPTR(gst_script_prune_start);
    trans_class->stop = GST_DEBUG_FUNCPTR(gst_script_prune_stop);
    trans_class->transform_ip = GST_DEBUG_FUNCPTR(gst_script_prune_transform_ip);
    trans_class->sink_event = GST_DEBUG_FUNCPTR(gst_script_prune_sink_event);
    trans_class->src_event = GST_DEBUG_FUNCPTR(gst_script_prune_src_event);
    trans_class->passthrough_on_same_caps = FALSE;

    gst_type_mark_as_plugin_api(GST_TYPE_SCRIPT_METHOD, 0);
    gst_type_mark_as_plugin_api(GST_TYPE_SCRIPT_EMIT, 0);
    gst_type_mark_as_plugin_api(GST_TYPE_SCRIPT_EXEMPLAR, 0);
}

static void gst_script_prune_init(GstScriptPrune *self) {
    prune_params_init(&self->params);
    prune_params_init(&self->active);
    self->enc_settings.backend = GST_SCRIPT_BACKEND_PATCH;
    self->enc_settings.patch_size = 14;
    self->enc_settings.exemplar = GST_SCRIPT_EXEMPLAR_ALL;
    g_queue_init(&self->pending);
    g_mutex_init(&self->stream_lock);
    self->last_pts = GST_CLOCK_TIME_NONE;
    gst_base_transform_set_in_place(GST_BASE_TRANSFORM(self), TRUE);
}
