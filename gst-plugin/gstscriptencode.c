/* scriptencode: runs core's vision encoder on video frames and attaches the tokens as
 * GstScriptTokensMeta. The pixels pass through untouched (in place, mapped read-only, so shared
 * memory is never copied). Planar YUV is converted into a scratch RGB frame first, since the core
 * encoder reads packed RGB only. Frames left out by sample-every / max-fps pass without meta.
 * With the clip backend (and share, the default) elements with equal settings share one encoder
 * and batch their frames into one forward pass (encodepool.h); the streaming thread waits for its
 * frame's pass. The patch encoder always runs on the streaming thread: it is small, and a batch
 * gains it nothing while one worker would serialise streams that now run in parallel. */
#include "gstscriptencode.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <gst/script/script.h>

#include "elements.h"
#include "encodegate.h"
#include "encodepool.h"
#include "enums.h"
#include "scriptprune/encode.h"
#include "scriptprune/pixel_match.h"
#include "scriptprune/select.h"

GST_DEBUG_CATEGORY_STATIC(gst_script_encode_debug);
#define GST_CAT_DEFAULT gst_script_encode_debug

#define DEFAULT_BACKEND GST_SCRIPT_BACKEND_PATCH
#define DEFAULT_IMAGE_SIZE 0
#define DEFAULT_PATCH_SIZE 14
#define DEFAULT_OUTPUT_LAYER -2
#define DEFAULT_THREADS 0
#define DEFAULT_SAMPLE_EVERY 1
#define DEFAULT_MAX_FPS 0.0
#define DEFAULT_SHARE TRUE
#define DEFAULT_MAX_BATCH ENCODE_POOL_DEFAULT_MAX_BATCH
#define DEFAULT_BATCH_WINDOW_MS (ENCODE_POOL_DEFAULT_WINDOW_US / 1000)

enum {
    PROP_0,
    PROP_BACKEND,
    PROP_MODEL,
    PROP_TEXT_MODEL,
    PROP_IMAGE_SIZE,
    PROP_PATCH_SIZE,
    PROP_OUTPUT_LAYER,
    PROP_THREADS,
    PROP_SAMPLE_EVERY,
    PROP_MAX_FPS,
    PROP_SKIP_UNCHANGED,
    PROP_CHANGE_THRESHOLD,
    PROP_MAX_SKIP_S,
    PROP_FRAMES_ENCODED,
    PROP_FRAMES_SKIPPED,
    PROP_SHARE,
    PROP_MAX_BATCH,
    PROP_BATCH_WINDOW,
};

struct _GstScriptEncode {
    GstVideoFilter parent;

    /* properties (GST_OBJECT_LOCK) */
    GstScriptBackend backend;
    gchar *model;
    gchar *text_model;
    guint image_size;
    guint patch_size;
    gint output_layer;
    guint threads;
    guint sample_every;
    gdouble max_fps;
    GstScriptSkipUnchanged skip_unchanged;
    gfloat change_threshold;
    gdouble max_skip_s;
    gboolean share;
    guint max_batch;
    guint batch_window_ms;

    /* state, from start() to stop() (streaming thread) */
    sp_encoder *enc; /* share=false: this element's own encoder and context */
    sp_encode_ctx *ctx;
    EncodePool *pool;   /* share=true: the encoder shared with equal elements (encodepool.h) */
    gboolean pool_idle; /* told the pool that our input ended (EOS) */
    sp_encoding result;
    guint64 frames;               /* frames seen since start (index of the next one) */
    GstClockTime last_encoded_rt; /* running time of the last encoded frame */
    EncodeGate gate;              /* skips the encoder on unchanged frames (encodegate.h) */
    sp_pixel_match *pm;           /* pixel evidence against the last encoded frame */
    gboolean have_encoded;        /* a frame was encoded since start, flush or segment */
    guint64 last_encoded;         /* its frame index */

    /* per caps (set_info) */
    sp_pixfmt pixfmt;
    GstVideoConverter *convert; /* NULL for packed RGB input */
    GstVideoInfo rgb_info;
    GstBuffer *rgb;
};

#define RGB_FORMATS "RGB, RGBx, BGRx, xRGB, xBGR, RGBA, BGRA"
#define CAPS GST_VIDEO_CAPS_MAKE("{ " RGB_FORMATS ", I420, NV12 }")

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(CAPS));
static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS(CAPS));

G_DEFINE_TYPE(GstScriptEncode, gst_script_encode, GST_TYPE_VIDEO_FILTER);
GST_ELEMENT_REGISTER_DEFINE(scriptencode, "scriptencode", GST_RANK_NONE, GST_TYPE_SCRIPT_ENCODE);

static void gst_script_encode_set_property(GObject *object, guint prop_id, const GValue *value,
                                           GParamSpec *pspec) {
    GstScriptEncode *self = GST_SCRIPT_ENCODE(object);
    GST_OBJECT_LOCK(self);
    switch (prop_id) {
        case PROP_BACKEND:
            self->backend = g_value_get_enum(value);
            break;
        case PROP_MODEL:
            g_free(self->model);
            self->model = g_value_dup_string(value);
            break;
        case PROP_TEXT_MODEL:
            g_free(self->text_model);
            self->text_model = g_value_dup_string(value);
            break;
        case PROP_IMAGE_SIZE:
            self->image_size = g_value_get_uint(value);
            break;
        case PROP_PATCH_SIZE:
            self->patch_size = g_value_get_uint(value);
            break;
        case PROP_OUTPUT_LAYER:
            self->output_layer = g_value_get_int(value);
            break;
        case PROP_THREADS:
            self->threads = g_value_get_uint(value);
            break;
        case PROP_SAMPLE_EVERY:
            self->sample_every = g_value_get_uint(value);
            break;
        case PROP_MAX_FPS:
            self->max_fps = g_value_get_double(value);
            break;
        case PROP_SKIP_UNCHANGED:
            self->skip_unchanged = g_value_get_enum(value);
            break;
        case PROP_CHANGE_THRESHOLD:
            self->change_threshold = g_value_get_float(value);
            break;
        case PROP_MAX_SKIP_S:
            self->max_skip_s = g_value_get_double(value);
            break;
        case PROP_SHARE:
            self->share = g_value_get_boolean(value);
            break;
        case PROP_MAX_BATCH:
            self->max_batch = g_value_get_uint(value);
            break;
        case PROP_BATCH_WINDOW:
            self->batch_window_ms = g_value_get_uint(value);
            break;
        default:
            G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
            break;
    }
    GST_OBJECT_UNLOCK(self);
}

static void gst_script_encode_get_property(GObject *object, guint prop_id, GValue *value,
                                           GParamSpec *pspec) {
    GstScriptEncode *self = GST_SCRIPT_ENCODE(object);
    GST_OBJECT_LOCK(self);
    switch (prop_id) {
        case PROP_BACKEND:
            g_value_set_enum(value, self->backend);
            break;
        case PROP_MODEL:
            g_value_set_string(value, self->model);
            break;
        case PROP_TEXT_MODEL:
            g_value_set_string(value, self->text_model);
            break;
        case PROP_IMAGE_SIZE:
            g_value_set_uint(value, self->image_size);
            break;
        case PROP_PATCH_SIZE:
            g_value_set_uint(value, self->patch_size);
            break;
        case PROP_OUTPUT_LAYER:
            g_value_set_int(value, self->output_layer);
            break;
        case PROP_THREADS:
            g_value_set_uint(value, self->threads);
            break;
        case PROP_SAMPLE_EVERY:
            g_value_set_uint(value, self->sample_every);
            break;
        case PROP_MAX_FPS:
            g_value_set_double(value, self->max_fps);
            break;
        case PROP_SKIP_UNCHANGED:
            g_value_set_enum(value, self->skip_unchanged);
            break;
        case PROP_CHANGE_THRESHOLD:
            g_value_set_float(value, self->change_threshold);
            break;
        case PROP_MAX_SKIP_S:
            g_value_set_double(value, self->max_skip_s);
            break;
        case PROP_FRAMES_ENCODED:
        case PROP_FRAMES_SKIPPED: {
            guint64 encoded, skipped;
            encode_gate_counts(&self->gate, &encoded, &skipped);
            g_value_set_uint64(value, prop_id == PROP_FRAMES_ENCODED ? encoded : skipped);
            break;
        }
        case PROP_SHARE:
            g_value_set_boolean(value, self->share);
            break;
        case PROP_MAX_BATCH:
            g_value_set_uint(value, self->max_batch);
            break;
        case PROP_BATCH_WINDOW:
            g_value_set_uint(value, self->batch_window_ms);
            break;
        default:
            G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
            break;
    }
    GST_OBJECT_UNLOCK(self);
}

static void free_state(GstScriptEncode *self) {
    sp_pixel_match_free(self->pm);
    self->pm = NULL;
    self->have_encoded = FALSE;
    sp_encode_ctx_free(self->ctx);
    self->ctx = NULL;
    sp_encoder_free(self->enc);
    self->enc = NULL;
    if (self->pool && self->pool_idle)
        encode_pool_set_idle(self->pool, FALSE);
    self->pool_idle = FALSE;
    if (self->pool) {
        EncodePoolStats st;
        encode_pool_get_stats(self->pool, &st);
        GST_INFO_OBJECT(self,
                        "shared encoder: %" G_GUINT64_FORMAT
                        " frames of %u streams in %" G_GUINT64_FORMAT " passes, at most %u a pass",
                        st.frames, st.streams, st.passes, st.largest);
    }
    encode_pool_release(self->pool);
    self->pool = NULL;
    sp_encoding_free(&self->result);
    encode_gate_clear(&self->gate);
}

/* The encoder in use: the pool's or this element's own. */
static const sp_encoder *encoder_of(const GstScriptEncode *self) {
    return self->pool ? encode_pool_encoder(self->pool) : self->enc;
}

/* share=true: the pool of the elements with these settings (opened by the first of them). */
static sp_status open_shared(GstScriptEncode *self, const sp_encoder_config *cfg, sp_error *err) {
    EncodePoolConfig pc;
    encode_pool_config_init(&pc);
    pc.encoder = *cfg;
    GST_OBJECT_LOCK(self);
    pc.max_batch = self->max_batch;
    pc.batch_window_us = self->batch_window_ms * 1000u;
    GST_OBJECT_UNLOCK(self);
    return encode_pool_acquire(&pc, &self->pool, err);
}

static gboolean gst_script_encode_start(GstBaseTransform *trans) {
    GstScriptEncode *self = GST_SCRIPT_ENCODE(trans);
    sp_encoder_config cfg;
    sp_encoder_config_init(&cfg);
    GST_OBJECT_LOCK(self);
    GstScriptBackend backend = self->backend;
    gchar *model = g_strdup(self->model);
    gchar *text_model = g_strdup(self->text_model);
    cfg.image_size = self->image_size;
    cfg.patch_size = self->patch_size;
    cfg.layer = self->output_layer;
    guint threads = self->threads;
    encode_gate_start(&self->gate, self->skip_unchanged, backend == GST_SCRIPT_BACKEND_CLIP,
                      self->change_threshold, self->max_skip_s);
    gboolean share = self->share && backend == GST_SCRIPT_BACKEND_CLIP;
    GST_OBJECT_UNLOCK(self);

    cfg.kind = backend == GST_SCRIPT_BACKEND_CLIP ? SP_ENCODER_CLIP : SP_ENCODER_PATCH;
    if (backend == GST_SCRIPT_BACKEND_CLIP) {
        if (!model || !*model) {
            GST_ELEMENT_ERROR(self, RESOURCE, NOT_FOUND,
                              ("backend=clip needs the model property (a model folder)"), (NULL));
            g_free(model);
            g_free(text_model);
            return FALSE;
        }
        /* Checked here so the message names the path and the system's reason even before the
         * encoder looks inside the folder. */
        if (access(model, R_OK) != 0) {
            int e = errno;
            GST_ELEMENT_ERROR(self, RESOURCE, OPEN_READ,
                              ("cannot read model \"%s\": %s", model, g_strerror(e)), (NULL));
            g_free(model);
            g_free(text_model);
            return FALSE;
        }
        cfg.model_dir = model;
        if (text_model && *text_model)
            cfg.text_model_dir = text_model;
    } else if (model && *model) {
        GST_WARNING_OBJECT(self, "model \"%s\" is ignored by the patch backend", model);
    }
    if (threads > 0)
        sp_blas_set_threads((int)threads);

    sp_error err;
    sp_error_clear(&err);
    sp_encoding_init(&self->result);
    sp_status opened =
        share ? open_shared(self, &cfg, &err) : sp_encoder_open(&cfg, &self->enc, &err);
    if (opened != SP_OK) {
        if (cfg.model_dir)
            GST_ELEMENT_ERROR(self, RESOURCE, OPEN_READ,
                              ("cannot open model \"%s\": %s", model, err.message), (NULL));
        else
            GST_ELEMENT_ERROR(self, LIBRARY, SETTINGS,
                              ("cannot open the %s encoder: %s",
                               cfg.kind == SP_ENCODER_CLIP ? "clip" : "patch", err.message),
                              (NULL));
        g_free(model);
        g_free(text_model);
        return FALSE;
    }
    g_free(model);
    g_free(text_model);
    if (!share && sp_encode_ctx_new(self->enc, &self->ctx, &err) != SP_OK) {
        GST_ELEMENT_ERROR(self, RESOURCE, NO_SPACE_LEFT, ("%s", err.message), (NULL));
        free_state(self);
        return FALSE;
    }
    /* Pixel evidence for the stream (any backend: it reads the frames, not the tokens). */
    if (sp_pixel_match_new(encoder_of(self), &self->pm, &err) != SP_OK) {
        GST_ELEMENT_ERROR(self, RESOURCE, NO_SPACE_LEFT, ("%s", err.message), (NULL));
        free_state(self);
        return FALSE;
    }
    self->have_encoded = FALSE;
    self->frames = 0;
    self->last_encoded_rt = GST_CLOCK_TIME_NONE;
    return TRUE;
}

static void free_convert(GstScriptEncode *self) {
    if (self->convert)
        gst_video_converter_free(self->convert);
    self->convert = NULL;
    gst_clear_buffer(&self->rgb);
}

static gboolean gst_script_encode_stop(GstBaseTransform *trans) {
    GstScriptEncode *self = GST_SCRIPT_ENCODE(trans);
    free_state(self);
    free_convert(self);
    return TRUE;
}

static gboolean gst_script_encode_sink_event(GstBaseTransform *trans, GstEvent *event) {
    GstScriptEncode *self = GST_SCRIPT_ENCODE(trans);
    switch (GST_EVENT_TYPE(event)) {
        case GST_EVENT_FLUSH_STOP:
        case GST_EVENT_SEGMENT:
            /* Running times restart: the next frame is encoded whatever max-fps or the change
             * gate says. */
            self->last_encoded_rt = GST_CLOCK_TIME_NONE;
            encode_gate_reset(&self->gate);
            sp_pixel_match_reset(self->pm);
            self->have_encoded = FALSE;
            break;
        case GST_EVENT_EOS:
            /* No more frames from us: the shared encoder's passes stop waiting for ours. */
            if (self->pool && !self->pool_idle) {
                encode_pool_set_idle(self->pool, TRUE);
                self->pool_idle = TRUE;
            }
            break;
        default:
            break;
    }
    return GST_BASE_TRANSFORM_CLASS(gst_script_encode_parent_class)->sink_event(trans, event);
}

static gboolean packed_format(GstVideoFormat f, sp_pixfmt *out) {
    switch (f) {
        case GST_VIDEO_FORMAT_RGB:
            *out = SP_PIXFMT_RGB;
            return TRUE;
        case GST_VIDEO_FORMAT_RGBx:
        case GST_VIDEO_FORMAT_RGBA:
            *out = SP_PIXFMT_RGBX;
            return TRUE;
        case GST_VIDEO_FORMAT_BGRx:
        case GST_VIDEO_FORMAT_BGRA:
            *out = SP_PIXFMT_BGRX;
            return TRUE;
        case GST_VIDEO_FORMAT_xRGB:
            *out = SP_PIXFMT_XRGB;
            return TRUE;
        case GST_VIDEO_FORMAT_xBGR:
            *out = SP_PIXFMT_XBGR;
            return TRUE;
        default:
            return FALSE;
    }
}

static gboolean gst_script_encode_set_info(GstVideoFilter *filter, GstCaps *incaps,
                                           GstVideoInfo *in_info, GstCaps *outcaps,
                                           GstVideoInfo *out_info) {
    (void)incaps;
    (void)outcaps;
    (void)out_info;
    GstScriptEncode *self = GST_SCRIPT_ENCODE(filter);
    free_convert(self);
    GstVideoFormat f = GST_VIDEO_INFO_FORMAT(in_info);
    if (packed_format(f, &self->pixfmt))
        return TRUE;
    /* I420 / NV12: convert into a scratch RGB frame of the same size. */
    gst_video_info_set_format(&self->rgb_info, GST_VIDEO_FORMAT_RGB, GST_VIDEO_INFO_WIDTH(in_info),
                              GST_VIDEO_INFO_HEIGHT(in_info));
    /* The converter wants the same rate and aspect on both sides. */
    GST_VIDEO_INFO_FPS_N(&self->rgb_info) = GST_VIDEO_INFO_FPS_N(in_info);
    GST_VIDEO_INFO_FPS_D(&self->rgb_info) = GST_VIDEO_INFO_FPS_D(in_info);
    GST_VIDEO_INFO_PAR_N(&self->rgb_info) = GST_VIDEO_INFO_PAR_N(in_info);
    GST_VIDEO_INFO_PAR_D(&self->rgb_info) = GST_VIDEO_INFO_PAR_D(in_info);
    self->convert = gst_video_converter_new(in_info, &self->rgb_info, NULL);
    self->rgb = gst_buffer_new_allocate(NULL, GST_VIDEO_INFO_SIZE(&self->rgb_info), NULL);
    if (!self->convert || !self->rgb) {
        GST_ELEMENT_ERROR(self, CORE, NEGOTIATION,
                          ("cannot convert %s to RGB", gst_video_format_to_string(f)), (NULL));
        free_convert(self);
        return FALSE;
    }
    self->pixfmt = SP_PIXFMT_RGB;
    return TRUE;
}

/* sample-every and max-fps: should frame number `index` at running time rt be encoded? */
static gboolean want_frame(GstScriptEncode *self, guint64 index, GstClockTime rt) {
    GST_OBJECT_LOCK(self);
    guint every = self->sample_every;
    gdouble fps = self->max_fps;
    GST_OBJECT_UNLOCK(self);
    if (every > 1 && index % every != 0)
        return FALSE;
    if (fps > 0.0 && GST_CLOCK_TIME_IS_VALID(rt) &&
        GST_CLOCK_TIME_IS_VALID(self->last_encoded_rt)) {
        GstClockTime interval = (GstClockTime)((gdouble)GST_SECOND / fps);
        if (rt < self->last_encoded_rt + interval)
            return FALSE;
    }
    return TRUE;
}

static void fill_preprocess(GstScriptPreprocess *out, const sp_preprocess *pre,
                            const sp_encoder_info *info, guint width, guint height) {
    out->frame_width = width;
    out->frame_height = height;
    out->src_x = pre->src_x;
    out->src_y = pre->src_y;
    out->src_w = pre->src_w;
    out->src_h = pre->src_h;
    out->dst_x = pre->dst_x;
    out->dst_y = pre->dst_y;
    out->dst_w = pre->dst_w;
    out->dst_h = pre->dst_h;
    out->image_size = info->image_size;
    out->patch_size = info->patch_size;
}

/* Encodes frame into self->result, unless the change gate finds it unchanged since the last
 * encoded frame (*encoded FALSE: self->result still holds that frame's tokens); FALSE with an
 * element error posted. */
static gboolean encode_frame(GstScriptEncode *self, GstVideoFrame *frame, GstClockTime t,
                             gboolean *encoded) {
    GstVideoFrame rgb;
    GstVideoFrame *src = frame;
    if (self->convert) {
        if (!gst_video_frame_map(&rgb, &self->rgb_info, self->rgb, GST_MAP_WRITE)) {
            GST_ELEMENT_ERROR(self, STREAM, FAILED, ("cannot map the RGB scratch frame"), (NULL));
            return FALSE;
        }
        gst_video_converter_frame(self->convert, frame, &rgb);
        src = &rgb;
    }
    sp_image img = {
        .data = GST_VIDEO_FRAME_PLANE_DATA(src, 0),
        .width = (uint32_t)GST_VIDEO_FRAME_WIDTH(src),
        .height = (uint32_t)GST_VIDEO_FRAME_HEIGHT(src),
        .stride = (size_t)GST_VIDEO_FRAME_PLANE_STRIDE(src, 0),
        .format = self->pixfmt,
    };
    sp_error err;
    sp_error_clear(&err);
    if (self->pool && self->pool_idle) { /* frames again after EOS (a flush, a new segment) */
        encode_pool_set_idle(self->pool, FALSE);
        self->pool_idle = FALSE;
    }
    sp_status st = SP_OK;
    if (!encode_gate_decide(&self->gate, encoder_of(self), &img, t, encoded, &err))
        st = err.status ? err.status : SP_ERR_STATE;
    else if (*encoded)
        st = self->pool ? encode_pool_encode(self->pool, &img, &self->result, &err)
                        : sp_encode(self->ctx, &img, &self->result, &err);
    if (st == SP_OK && *encoded && self->pm)
        st = sp_pixel_match_run(self->pm, &img, &self->result, &err);
    if (self->convert)
        gst_video_frame_unmap(&rgb);
    if (st != SP_OK) {
        GST_ELEMENT_ERROR(self, STREAM, FAILED,
                          ("encoding a %ux%u frame failed: %s", img.width, img.height, err.message),
                          (NULL));
        return FALSE;
    }
    return TRUE;
}

/* r's pixel evidence as the meta's FLOAT32 [N, 3] tensor (dy, dx, verdict), against frame ref. */
static gboolean attach_evidence(GstScriptTokensMeta *meta, const sp_encoding *r, guint64 ref) {
    float *v = g_malloc(r->n * 3 * sizeof(float));
    for (size_t i = 0; i < r->n; i++) {
        v[3 * i] = r->evidence[i].dy;
        v[3 * i + 1] = r->evidence[i].dx;
        v[3 * i + 2] = (float)r->evidence[i].verdict;
    }
    GstBuffer *b = gst_buffer_new_wrapped(v, r->n * 3 * sizeof(float));
    gboolean ok = gst_script_tokens_meta_set_evidence(meta, b, ref);
    gst_buffer_unref(b);
    return ok;
}

static GstFlowReturn gst_script_encode_transform_ip(GstBaseTransform *trans, GstBuffer *buf) {
    GstScriptEncode *self = GST_SCRIPT_ENCODE(trans);
    GstVideoFilter *filter = GST_VIDEO_FILTER(trans);
    guint64 index = self->frames++;
    GstClockTime pts = GST_BUFFER_PTS(buf);
    GstClockTime rt = gst_segment_to_running_time(&trans->segment, GST_FORMAT_TIME, pts);
    if (!want_frame(self, index, rt))
        return GST_FLOW_OK;

    /* Read-only map: the frame is not modified, so shared memory is not copied. */
    GstVideoFrame frame;
    if (!gst_video_frame_map(&frame, &filter->in_info, buf, GST_MAP_READ)) {
        GST_ELEMENT_ERROR(self, STREAM, FAILED, ("cannot map the video frame"), (NULL));
        return GST_FLOW_ERROR;
    }
    gboolean encoded = TRUE;
    gboolean ok = encode_frame(self, &frame, pts, &encoded);
    gst_video_frame_unmap(&frame);
    if (!ok)
        return GST_FLOW_ERROR;

    const sp_encoding *r = &self->result;
    sp_encoder_info info;
    sp_encoder_get_info(encoder_of(self), &info);
    GstBuffer *tokens = NULL, *embed = NULL;
    if (encoded) {
        tokens = gst_script_buffer_new_copy(r->tokens, r->n * r->d * sizeof(float));
        if (r->embed && r->embed != r->tokens)
            embed = gst_script_buffer_new_copy(r->embed, r->n * r->e * sizeof(float));
        encode_gate_keep(&self->gate, tokens, embed);
    } else {
        /* Unchanged: the last encoded frame's tokens, the same bytes, stand for this one. */
        tokens = gst_buffer_ref(self->gate.tokens);
        embed = self->gate.embed ? gst_buffer_ref(self->gate.embed) : NULL;
    }
    GstScriptTokensMeta *meta = gst_buffer_add_script_tokens_meta(
        buf, tokens, r->n, r->d, embed, embed ? r->e : 0, r->grid_h, r->grid_w);
    gst_buffer_unref(tokens);
    gst_clear_buffer(&embed);
    if (!meta) {
        GST_ELEMENT_ERROR(self, STREAM, FAILED, ("cannot attach the tokens meta"), (NULL));
        return GST_FLOW_ERROR;
    }
    meta->pts = pts;
    meta->frame_index = index;
    meta->tokens_of = encoded ? index : self->last_encoded;
    /* An encoded frame: its evidence against the last encoded one. A skipped frame carries the
     * last encoded frame's tokens: every cell seen in place, against that frame, which is what
     * encoding the held picture gives (so the stream decides the next frames alike). */
    sp_error err;
    sp_error_clear(&err);
    gboolean ev_ok = TRUE;
    if (!encoded && self->pm && self->have_encoded)
        ev_ok = sp_pixel_match_repeat(&self->result, &err) == SP_OK;
    if (ev_ok && r->has_evidence && self->have_encoded)
        ev_ok = attach_evidence(meta, r, self->last_encoded);
    if (!ev_ok) {
        GST_ELEMENT_ERROR(
            self, STREAM, FAILED,
            ("cannot attach the pixel evidence: %s", err.message[0] ? err.message : "bad size"),
            (NULL));
        return GST_FLOW_ERROR;
    }
    if (encoded) {
        self->have_encoded = TRUE;
        self->last_encoded = index;
    }
    meta->backend = g_intern_string(info.backend);
    fill_preprocess(&meta->preprocess, &r->pre, &info,
                    (guint)GST_VIDEO_INFO_WIDTH(&filter->in_info),
                    (guint)GST_VIDEO_INFO_HEIGHT(&filter->in_info));
    self->last_encoded_rt = rt;
    GST_LOG_OBJECT(self, "frame %" G_GUINT64_FORMAT ": %zu x %zu tokens%s", index, r->n, r->d,
                   encoded ? "" : " (unchanged, not encoded)");
    return GST_FLOW_OK;
}

/* The change gate's properties: defaults and ranges from core's parameter table. */
static void install_gate_properties(GObjectClass *gc) {
    const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY;
    const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;
    const sp_param_info *skip = sp_param_of(SP_PARAM_SKIP_UNCHANGED);
    const sp_param_info *thr = sp_param_of(SP_PARAM_CHANGE_THRESHOLD);
    const sp_param_info *max = sp_param_of(SP_PARAM_MAX_SKIP_S);
    g_object_class_install_property(gc, PROP_SKIP_UNCHANGED,
                                    g_param_spec_enum("skip-unchanged", "Skip unchanged", skip->doc,
                                                      GST_TYPE_SCRIPT_SKIP_UNCHANGED,
                                                      (gint)skip->def, rw));
    g_object_class_install_property(gc, PROP_CHANGE_THRESHOLD,
                                    g_param_spec_float("change-threshold", "Change threshold",
                                                       thr->doc, (gfloat)thr->min, (gfloat)thr->max,
                                                       (gfloat)thr->def, rw));
    g_object_class_install_property(gc, PROP_MAX_SKIP_S,
                                    g_param_spec_double("max-skip-s", "Longest skip", max->doc,
                                                        max->min, max->max, max->def, rw));
    g_object_class_install_property(
        gc, PROP_FRAMES_ENCODED,
        g_param_spec_uint64("frames-encoded", "Frames encoded",
                            "Sampled frames the encoder ran on since start", 0, G_MAXUINT64, 0,
                            ro));
    g_object_class_install_property(
        gc, PROP_FRAMES_SKIPPED,
        g_param_spec_uint64("frames-skipped", "Frames skipped",
                            "Sampled frames the change gate found unchanged since start: they "
                            "carry the last encoded frame's tokens again",
                            0, G_MAXUINT64, 0, ro));
}

static void gst_script_encode_finalize(GObject *object) {
    GstScriptEncode *self = GST_SCRIPT_ENCODE(object);
    g_free(self->model);
    g_free(self->text_model);
    G_OBJECT_CLASS(gst_script_encode_parent_class)->finalize(object);
}

static void gst_script_encode_class_init(GstScriptEncodeClass *klass) {
    GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
    GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
    GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS(klass);
    GstVideoFilterClass *filter_class = GST_VIDEO_FILTER_CLASS(klass);

    GST_DEBUG_CATEGORY_INIT(gst_script_encode_debug, "scriptencode", 0,
                            "visual-token encoder (scriptd)");

    gobject_class->set_property = gst_script_encode_set_property;
    gobject_class->get_property = gst_script_encode_get_property;
    gobject_class->finalize = gst_script_encode_finalize;

    const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;
    g_object_class_install_property(
        gobject_class, PROP_BACKEND,
        g_param_spec_enum("backend", "Backend",
                          "Vision encoder: patch (built in, no weights) or clip (CLIP/SigLIP "
                          "weights given by model)",
                          GST_TYPE_SCRIPT_BACKEND, DEFAULT_BACKEND, rw | GST_PARAM_MUTABLE_READY));
    g_object_class_install_property(
        gobject_class, PROP_MODEL,
        g_param_spec_string("model", "Model",
                            "clip backend: Hugging Face model folder (model.safetensors, "
                            "config.json, ...); an unreadable path fails the state change",
                            NULL, rw | GST_PARAM_MUTABLE_READY));
    g_object_class_install_property(
        gobject_class, PROP_TEXT_MODEL,
        g_param_spec_string("text-model", "Text model",
                            "clip backend with a LLaVA model: a CLIP or SigLIP folder whose "
                            "vision and text towers give the joint space for relevance and text "
                            "queries (as the published Script code); NULL: the tokens themselves",
                            NULL, rw | GST_PARAM_MUTABLE_READY));
    g_object_class_install_property(
        gobject_class, PROP_IMAGE_SIZE,
        g_param_spec_uint("image-size", "Image size",
                          "Model input side S in pixels; 0 = the backend's default (patch 336, "
                          "clip from config.json)",
                          0, 8192, DEFAULT_IMAGE_SIZE, rw | GST_PARAM_MUTABLE_READY));
    g_object_class_install_property(
        gobject_class, PROP_PATCH_SIZE,
        g_param_spec_uint("patch-size", "Patch size",
                          "patch backend: patch side P in pixels (image-size must be a multiple)",
                          1, 1024, DEFAULT_PATCH_SIZE, rw | GST_PARAM_MUTABLE_READY));
    g_object_class_install_property(
        gobject_class, PROP_OUTPUT_LAYER,
        g_param_spec_int("output-layer", "Output layer",
                         "clip backend: hidden state whose patch tokens are output (< 0 counts "
                         "back from the last layer: -1 last, -2 penultimate as LLaVA)",
                         -64, 64, DEFAULT_OUTPUT_LAYER, rw | GST_PARAM_MUTABLE_READY));
    g_object_class_install_property(
        gobject_class, PROP_THREADS,
        g_param_spec_uint("threads", "Threads",
                          "OpenBLAS threads (a process-wide setting applied at start); 0 = leave "
                          "as configured (OPENBLAS_NUM_THREADS)",
                          0, 256, DEFAULT_THREADS, rw | GST_PARAM_MUTABLE_READY));
    g_object_class_install_property(
        gobject_class, PROP_SAMPLE_EVERY,
        g_param_spec_uint("sample-every", "Sample every",
                          "Encode every n-th frame; the others pass through untouched, without "
                          "meta",
                          1, G_MAXUINT, DEFAULT_SAMPLE_EVERY, rw | GST_PARAM_MUTABLE_PLAYING));
    g_object_class_install_property(
        gobject_class, PROP_MAX_FPS,
        g_param_spec_double("max-fps", "Maximum rate",
                            "Encode at most this many frames per second of running time (0 = no "
                            "limit); the others pass through untouched, without meta",
                            0.0, 1000.0, DEFAULT_MAX_FPS, rw | GST_PARAM_MUTABLE_PLAYING));
    install_gate_properties(gobject_class);
    g_object_class_install_property(
        gobject_class, PROP_SHARE,
        g_param_spec_boolean("share", "Share",
                             "clip backend: share one encoder (weights, worker thread) with the "
                             "other scriptencode elements of the process whose encoder, "
                             "max-batch and batch-window settings are equal, and encode the "
                             "frames they have waiting together in one forward pass; false: a "
                             "private encoder run on the streaming thread (as the patch backend "
                             "always does)",
                             DEFAULT_SHARE, rw | GST_PARAM_MUTABLE_READY));
    g_object_class_install_property(
        gobject_class, PROP_MAX_BATCH,
        g_param_spec_uint("max-batch", "Maximum batch",
                          "share: most frames of the sharing elements encoded in one forward "
                          "pass (1 = one at a time)",
                          1, SP_ENCODE_MAX_BATCH, DEFAULT_MAX_BATCH, rw | GST_PARAM_MUTABLE_READY));
    g_object_class_install_property(
        gobject_class, PROP_BATCH_WINDOW,
        g_param_spec_uint("batch-window", "Batch window",
                          "share: when fewer frames wait than elements share the encoder, how "
                          "long (ms) a pass waits for the others after the oldest arrived",
                          0, ENCODE_POOL_MAX_WINDOW_US / 1000, DEFAULT_BATCH_WINDOW_MS,
                          rw | GST_PARAM_MUTABLE_READY));

    gst_element_class_add_static_pad_template(element_class, &sink_template);
    gst_element_class_add_static_pad_template(element_class, &src_template);
    gst_element_class_set_static_metadata(
        element_class, "Script visual-token encoder", "Filter/Analyzer/Video",
        "Encodes video frames into ViT-style visual tokens (GstScriptTokensMeta) for Script "
        "pruning",
        "scriptd developers");

    trans_class->start = GST_DEBUG_FUNCPTR(gst_script_encode_start);
    trans_class->stop = GST_DEBUG_FUNCPTR(gst_script_encode_stop);
    trans_class->sink_event = GST_DEBUG_FUNCPTR(gst_script_encode_sink_event);
    /* Our own transform_ip, not GstVideoFilter's: that one maps the frame for writing. */
    trans_class->transform_ip = GST_DEBUG_FUNCPTR(gst_script_encode_transform_ip);
    filter_class->set_info = GST_DEBUG_FUNCPTR(gst_script_encode_set_info);

    gst_type_mark_as_plugin_api(GST_TYPE_SCRIPT_BACKEND, 0);
    gst_type_mark_as_plugin_api(GST_TYPE_SCRIPT_SKIP_UNCHANGED, 0);
}

static void gst_script_encode_init(GstScriptEncode *self) {
    self->backend = DEFAULT_BACKEND;
    self->image_size = DEFAULT_IMAGE_SIZE;
    self->patch_size = DEFAULT_PATCH_SIZE;
    self->output_layer = DEFAULT_OUTPUT_LAYER;
    self->threads = DEFAULT_THREADS;
    self->sample_every = DEFAULT_SAMPLE_EVERY;
    self->max_fps = DEFAULT_MAX_FPS;
    self->share = DEFAULT_SHARE;
    self->max_batch = DEFAULT_MAX_BATCH;
    self->batch_window_ms = DEFAULT_BATCH_WINDOW_MS;
    self->last_encoded_rt = GST_CLOCK_TIME_NONE;
    self->skip_unchanged = (GstScriptSkipUnchanged)sp_param_of(SP_PARAM_SKIP_UNCHANGED)->def;
    self->change_threshold = (gfloat)sp_param_of(SP_PARAM_CHANGE_THRESHOLD)->def;
    self->max_skip_s = sp_param_of(SP_PARAM_MAX_SKIP_S)->def;
    encode_gate_init(&self->gate);
    gst_base_transform_set_in_place(GST_BASE_TRANSFORM(self), TRUE);
}
