/* Pipelines of streams and jobs: built from element factories by name (runner.h has the shape).
 * Properties come from the config; enum properties are set by their nicks, which are core's
 * names ("script", "window", "patch"), so nothing here depends on the plugin's headers. */
#include "runtime/runner.h"

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/base/gstbasesrc.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "media/filesource.h"
#include "telemetry/log.h"
#include "scriptprune/params.h"
#include "scriptprune/select.h"

struct scd_run {
    char *name;
    scd_source_kind kind;
    GstElement *pipeline;
    GstElement *head;  /* first element of the tail: videoconvert, or scriptencode after appsrc */
    GstElement *prune; /* scriptprune */
    GPtrArray *queues; /* GstElement*, owned by the pipeline */
    GPtrArray *queue_names;
    GPtrArray *scriptsinks; /* GstElement*, owned by the pipeline */
    scd_filesrc *fsrc;
    guint bus_watch;
    atomic_uint_fast64_t frames_seen;
    atomic_bool video_linked; /* uri: the first video pad of uridecodebin is linked */
    bool playing_sent;
    scd_run_callbacks cb;
    void *user;
    /* scriptencode, for its counters */
    GstElement *encode;
};

/* ---- element helpers ------------------------------------------------------------------------ */

static GstElement *make(scd_run *run, const char *factory, const char *role, sp_error *err) {
    char *name = g_strdup_printf("%s-%s", run->name, role);
    GstElement *e = gst_element_factory_make(factory, name);
    g_free(name);
    if (!e) {
        const char *hint = g_str_has_prefix(factory, "script")
                               ? "the scriptprune plugin is not installed or not on "
                                 "GST_PLUGIN_PATH_1_0"
                               : "install the GStreamer plugin that provides it "
                                 "(gstreamer1.0-plugins-base / -good)";
        sp_error_set(err, SP_ERR_NOT_FOUND, "GStreamer element '%s' is not available: %s", factory,
                     hint);
    }
    return e;
}

/* Adds e to the pipeline (which takes the floating reference). */
static void add(scd_run *run, GstElement *e) {
    gst_bin_add(GST_BIN(run->pipeline), e);
}

static sp_status link(scd_run *run, GstElement *a, GstElement *b, sp_error *err) {
    if (!gst_element_link(a, b))
        return sp_error_set(err, SP_ERR_INVALID, "%s: cannot link %s to %s (incompatible formats)",
                            run->name, GST_ELEMENT_NAME(a), GST_ELEMENT_NAME(b));
    return SP_OK;
}

static void set_arg(GstElement *e, const char *prop, const char *value) {
    gst_util_set_object_arg(G_OBJECT(e), prop, value);
}

/* ---- streaming-thread callbacks ------------------------------------------------------------- */

static GstPadProbeReturn count_frames(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
    (void)pad;
    (void)info;
    scd_run *run = data;
    atomic_fetch_add_explicit(&run->frames_seen, 1, memory_order_relaxed);
    return GST_PAD_PROBE_OK;
}

static GstFlowReturn app_new_sample(GstAppSink *sink, gpointer data) {
    scd_run *run = data;
    GstSample *sample = gst_app_sink_pull_sample(sink);
    if (!sample)
        return GST_FLOW_FLUSHING;
    GstBuffer *buf = gst_sample_get_buffer(sample);
    GstScriptTokensMeta *meta = buf ? gst_buffer_get_script_tokens_meta(buf) : NULL;
    if (meta && meta->pruned) {
        if (run->cb.frame)
            run->cb.frame(run->user, meta);
        if (meta->has_packet && run->cb.packet)
            run->cb.packet(run->user, &meta->packet);
    }
    gst_sample_unref(sample);
    return GST_FLOW_OK;
}

/* The last, partial window of a stream has no buffer: it travels as a packet event. */
static GstPadProbeReturn app_event(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
    (void)pad;
    scd_run *run = data;
    GstEvent *ev = GST_PAD_PROBE_INFO_EVENT(info);
    if (ev && gst_script_packet_event_is(ev) && run->cb.packet) {
        GstScriptPacket p;
        gst_script_packet_init(&p);
        if (gst_script_packet_event_parse(ev, &p))
            run->cb.packet(run->user, &p);
        gst_script_packet_clear(&p);
    }
    return GST_PAD_PROBE_OK;
}

/* The overlay branches draw and encode only the frames that completed an emission. */
static GstPadProbeReturn overlay_filter(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
    (void)pad;
    (void)data;
    GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER(info);
    GstScriptTokensMeta *meta = buf ? gst_buffer_get_script_tokens_meta(buf) : NULL;
    return meta && meta->has_packet ? GST_PAD_PROBE_OK : GST_PAD_PROBE_DROP;
}

static GstFlowReturn overlay_new_sample(GstAppSink *sink, gpointer data) {
    scd_run *run = data;
    GstSample *sample = gst_app_sink_pull_sample(sink);
    if (!sample)
        return GST_FLOW_FLUSHING;
    size_t index = GPOINTER_TO_SIZE(g_object_get_data(G_OBJECT(sink), "scd-overlay-index"));
    GstBuffer *buf = gst_sample_get_buffer(sample);
    if (buf && run->cb.overlay)
        run->cb.overlay(run->user, index, buf);
    gst_sample_unref(sample);
    return GST_FLOW_OK;
}

/* uridecodebin / user bins: link the first video pad to the tail; other pads (audio,
 * subtitles) go to a fakesink so that they never stall or fail the pipeline. */
static void pad_added(GstElement *src, GstPad *pad, gpointer data) {
    scd_run *run = data;
    GstCaps *caps = gst_pad_get_current_caps(pad);
    if (!caps)
        caps = gst_pad_query_caps(pad, NULL);
    const GstStructure *s =
        caps && gst_caps_get_size(caps) ? gst_caps_get_structure(caps, 0) : NULL;
    bool video = s && g_str_has_prefix(gst_structure_get_name(s), "video/");
    if (caps)
        gst_caps_unref(caps);
    bool expected = false;
    if (video && atomic_compare_exchange_strong(&run->video_linked, &expected, true)) {
        GstPad *sinkpad = gst_element_get_static_pad(run->head, "sink");
        GstPadLinkReturn lr = gst_pad_link(pad, sinkpad);
        gst_object_unref(sinkpad);
        if (lr != GST_PAD_LINK_OK) {
            GError *e = g_error_new(GST_CORE_ERROR, GST_CORE_ERROR_NEGOTIATION,
                                    "cannot link the decoded video to the tail (%s)",
                                    gst_pad_link_get_name(lr));
            gst_element_post_message(src, gst_message_new_error(GST_OBJECT(src), e, NULL));
            g_error_free(e);
        }
        return;
    }
    /* Not wanted: terminate it. Added from a streaming thread, so sync the new sink's state. */
    GstElement *fs = gst_element_factory_make("fakesink", NULL);
    if (!fs)
        return;
    g_object_set(fs, "sync", FALSE, "async", FALSE, NULL);
    gst_bin_add(GST_BIN(run->pipeline), fs);
    gst_element_sync_state_with_parent(fs);
    GstPad *sinkpad = gst_element_get_static_pad(fs, "sink");
    gst_pad_link(pad, sinkpad);
    gst_object_unref(sinkpad);
}

/* uridecodebin has exposed every stream: without a video one (an audio file, a playlist of
 * subtitles) nothing would ever reach the tail nor end it, so the run would wait for ever. */
static void no_more_pads(GstElement *src, gpointer data) {
    scd_run *run = data;
    if (atomic_load(&run->video_linked))
        return;
    GError *e = g_error_new(GST_STREAM_ERROR, GST_STREAM_ERROR_WRONG_TYPE,
                            "the source has no video stream (only other kinds of media)");
    gst_element_post_message(src, gst_message_new_error(GST_OBJECT(src), e, NULL));
    g_error_free(e);
}

/* ---- bus (main thread) ---------------------------------------------------------------------- */

static char *describe_error(GstMessage *msg, bool warning) {
    GError *gerr = NULL;
    gchar *debug = NULL;
    if (warning)
        gst_message_parse_warning(msg, &gerr, &debug);
    else
        gst_message_parse_error(msg, &gerr, &debug);
    char *text = g_strdup_printf("%s: %s", GST_OBJECT_NAME(GST_MESSAGE_SRC(msg)),
                                 gerr ? gerr->message : "unknown error");
    if (debug && scd_log_enabled(SCD_LOG_DEBUG))
        scd_log(SCD_LOG_DEBUG, "gst", "%s (%s)", text, debug);
    if (gerr)
        g_error_free(gerr);
    g_free(debug);
    return text;
}

static gboolean on_bus(GstBus *bus, GstMessage *msg, gpointer data) {
    (void)bus;
    scd_run *run = data;
    switch (GST_MESSAGE_TYPE(msg)) {
        case GST_MESSAGE_ERROR: {
            char *text = describe_error(msg, false);
            if (run->cb.event)
                run->cb.event(run->user, SCD_RUN_ERROR, text);
            g_free(text);
            break;
        }
        case GST_MESSAGE_WARNING: {
            char *text = describe_error(msg, true);
            if (run->cb.event)
                run->cb.event(run->user, SCD_RUN_WARNING, text);
            g_free(text);
            break;
        }
        case GST_MESSAGE_EOS:
            if (run->cb.event)
                run->cb.event(run->user, SCD_RUN_EOS, "end of stream");
            break;
        case GST_MESSAGE_STATE_CHANGED:
            if (GST_MESSAGE_SRC(msg) == GST_OBJECT(run->pipeline) && !run->playing_sent) {
                GstState old_state, new_state, pending;
                gst_message_parse_state_changed(msg, &old_state, &new_state, &pending);
                if (new_state == GST_STATE_PLAYING) {
                    run->playing_sent = true;
                    if (run->cb.event)
                        run->cb.event(run->user, SCD_RUN_PLAYING, "playing");
                }
            }
            break;
        case GST_MESSAGE_ELEMENT: {
            const GstStructure *s = gst_message_get_structure(msg);
            if (s && gst_structure_has_name(s, "scriptprune-emission") && run->cb.emission)
                run->cb.emission(run->user, s);
            break;
        }
        default:
            break;
    }
    return G_SOURCE_CONTINUE;
}

/* ---- building ------------------------------------------------------------------------------- */

GstElement *scd_parse_user_pipeline(const char *description, GError **error) {
    /* A description may end with caps ("videotestsrc ! video/x-raw,width=640"), which the
     * launch syntax only accepts between two elements: a pass-through identity closes it. */
    char *full = g_strdup_printf("%s ! identity silent=true", description);
    /* Only the source pad is ghosted, here: gst_parse_bin_from_description would also ghost the
     * first unlinked sink pad, which in "filesrc ! decodebin ! videoconvert" is videoconvert's:
     * its link from decodebin is only made when decodebin's pad appears, and fails once the
     * ghost pad holds it, so no frame would ever flow. */
    GstElement *bin = gst_parse_bin_from_description(full, FALSE, error);
    g_free(full);
    if (!bin)
        return NULL;
    GstPad *inner = gst_bin_find_unlinked_pad(GST_BIN(bin), GST_PAD_SRC);
    if (inner) {
        gst_element_add_pad(bin, gst_ghost_pad_new("src", inner));
        gst_object_unref(inner);
    }
    return bin;
}

/* A source element of a user pipeline that keeps producing: a live GstBaseSrc without a
 * num-buffers limit, or a network/URI source bin (rtspsrc, uridecodebin, ...) whose end is not
 * known from the description. */
static bool element_never_ends(GstElement *e) {
    GstElementFactory *f = gst_element_get_factory(e);
    const char *name = f ? gst_plugin_feature_get_name(GST_PLUGIN_FEATURE(f)) : "";
    if (g_str_has_prefix(name, "rtspsrc") || g_str_has_prefix(name, "rtmpsrc") ||
        g_str_has_prefix(name, "srtsrc") || g_str_has_prefix(name, "udpsrc") ||
        g_str_has_prefix(name, "v4l2src"))
        return true;
    if (!GST_IS_BASE_SRC(e))
        return false;
    gboolean live = gst_base_src_is_live(GST_BASE_SRC(e));
    if (!live && g_object_class_find_property(G_OBJECT_GET_CLASS(e), "is-live"))
        g_object_get(e, "is-live", &live, NULL);
    gint n = -1;
    g_object_get(e, "num-buffers", &n, NULL);
    /* A test source (videotestsrc, ...) runs forever unless told how many buffers to make. */
    return n < 0 && (live || g_str_has_suffix(name, "testsrc"));
}

bool scd_source_never_ends(const scd_stream_cfg *c, char **why) {
    *why = NULL;
    if (c->source_kind == SCD_SOURCE_FILE)
        return false;
    if (c->source_kind == SCD_SOURCE_URI) {
        if (g_str_has_prefix(c->uri, "file:"))
            return false;
        *why = g_strdup_printf("uri %s is a live source: its end is a drop, restarted", c->uri);
        return true;
    }
    GstElement *bin = scd_parse_user_pipeline(c->pipeline, NULL);
    if (!bin)
        return false; /* reported when the stream starts */
    bool endless = false;
    GstIterator *it = gst_bin_iterate_recurse(GST_BIN(bin));
    GValue v = G_VALUE_INIT;
    while (!endless && gst_iterator_next(it, &v) == GST_ITERATOR_OK) {
        GstElement *e = g_value_get_object(&v);
        if (element_never_ends(e)) {
            endless = true;
            *why = g_strdup_printf("pipeline element '%s' is a live source without num-buffers",
                                   GST_OBJECT_NAME(e));
        }
        g_value_reset(&v);
    }
    g_value_unset(&v);
    gst_iterator_free(it);
    gst_object_unref(bin);
    return endless;
}

static sp_status build_source(scd_run *run, const scd_run_spec *spec, sp_error *err) {
    GstElement *convert = NULL;
    if (spec->kind == SCD_SOURCE_FILE) {
        GstElement *appsrc = make(run, "appsrc", "src", err);
        if (!appsrc)
            return err->status;
        /* Time format with the sampler's pts; a queue of at most about 4 RGB frames of 1080p
         * keeps the sampler just ahead of the encoder. */
        g_object_set(appsrc, "format", GST_FORMAT_TIME, "is-live", FALSE, "block", TRUE,
                     "max-bytes", (guint64)(4u * 1920u * 1080u * 3u), "emit-signals", FALSE, NULL);
        add(run, appsrc);
        run->head = NULL; /* scriptencode, linked by the caller */
        g_object_set_data(G_OBJECT(run->pipeline), "scd-appsrc", appsrc);
        return SP_OK;
    }
    /* Decoded video goes to scriptencode, which samples it (max-fps, by running time) and
     * takes I420, NV12 and packed RGB as they are: videoconvert only converts other formats.
     * (videorate is not used: 1.22 asserts on variable-rate input such as raw UDP cameras.) */
    if (!(convert = make(run, "videoconvert", "convert", err)))
        return err->status;
    add(run, convert);
    run->head = convert;
    g_object_set_data(G_OBJECT(run->pipeline), "scd-convert", convert);

    if (spec->kind == SCD_SOURCE_URI) {
        GstElement *dec = make(run, "uridecodebin", "decode", err);
        if (!dec)
            return err->status;
        g_object_set(dec, "uri", spec->source, NULL);
        g_signal_connect(dec, "pad-added", G_CALLBACK(pad_added), run);
        g_signal_connect(dec, "no-more-pads", G_CALLBACK(no_more_pads), run);
        add(run, dec);
        return SP_OK;
    }
    /* pipeline: the user's description as a bin; its unlinked src pad becomes a ghost pad. */
    GError *gerr = NULL;
    GstElement *bin = scd_parse_user_pipeline(spec->source, &gerr);
    if (!bin) {
        sp_error_set(err, SP_ERR_INVALID, "pipeline does not parse: %s",
                     gerr ? gerr->message : "unknown error");
        if (gerr)
            g_error_free(gerr);
        return SP_ERR_INVALID;
    }
    if (gerr) { /* a recoverable parse problem (e.g. a missing property): still an error here */
        sp_error_set(err, SP_ERR_INVALID, "pipeline: %s", gerr->message);
        g_error_free(gerr);
        gst_object_unref(bin);
        return SP_ERR_INVALID;
    }
    add(run, bin);
    GstPad *src = gst_element_get_static_pad(bin, "src");
    if (!src)
        /* Only pads that exist when the description is parsed can be ghosted out of the bin; a
         * decodebin's pads appear later. */
        return sp_error_set(err, SP_ERR_INVALID,
                            "pipeline has no unlinked source pad to take video from; end it "
                            "with an element that always has one, e.g. '... ! videoconvert'");
    gst_object_unref(src);
    atomic_store(&run->video_linked, true);
    return link(run, bin, convert, err);
}

static void set_encoder(GstElement *enc, const scd_encoder_cfg *e) {
    set_arg(enc, "backend", e->backend == SCD_ENCODER_CLIP ? "clip" : "patch");
    if (e->model && e->model[0])
        g_object_set(enc, "model", e->model, NULL);
    if (e->text_model && e->text_model[0])
        g_object_set(enc, "text-model", e->text_model, NULL);
    g_object_set(enc, "image-size", (guint)e->image_size, "patch-size", (guint)e->patch_size,
                 "output-layer", e->output_layer, NULL);
    if (e->threads > 0)
        g_object_set(enc, "threads", (guint)e->threads, NULL);
    const char *skip = sp_param_of(SP_PARAM_SKIP_UNCHANGED)->choices[e->skip_unchanged];
    set_arg(enc, "skip-unchanged", skip);
    g_object_set(enc, "change-threshold", (gfloat)e->change_threshold, "max-skip-s", e->max_skip_s,
                 NULL);
    if (e->max_batch > 0)
        g_object_set(enc, "max-batch", (guint)e->max_batch, NULL);
}

/* Sets a number-valued property (uint, uint64, float, boolean or enum) from a table value. */
static void set_number(GstElement *e, const char *prop, double v) {
    GParamSpec *ps = g_object_class_find_property(G_OBJECT_GET_CLASS(e), prop);
    if (!ps) {
        scd_log(SCD_LOG_ERROR, "runner", "%s has no property '%s'", GST_ELEMENT_NAME(e), prop);
        return;
    }
    GValue gv = G_VALUE_INIT;
    g_value_init(&gv, G_PARAM_SPEC_VALUE_TYPE(ps));
    switch (G_TYPE_FUNDAMENTAL(G_PARAM_SPEC_VALUE_TYPE(ps))) {
        case G_TYPE_UINT:
            g_value_set_uint(&gv, (guint)llround(v));
            break;
        case G_TYPE_UINT64:
            g_value_set_uint64(&gv, (guint64)llround(v));
            break;
        case G_TYPE_FLOAT:
            g_value_set_float(&gv, (gfloat)v);
            break;
        case G_TYPE_BOOLEAN:
            g_value_set_boolean(&gv, v != 0.0);
            break;
        case G_TYPE_ENUM:
            g_value_set_enum(&gv, (gint)v);
            break;
        default:
            break;
    }
    g_object_set_property(G_OBJECT(e), prop, &gv);
    g_value_unset(&gv);
}

/* Every stream parameter of core's table (and the method) has a config key and a scriptprune
 * property of the same name, dashed: one loop sets them all. */
void scd_run_set_pruning(GstElement *pr, const scd_pruning_cfg *p) {
    size_t n;
    const sp_param_info *t = sp_param_table(&n);
    for (size_t i = 0; i < n; i++) {
        double v;
        bool exposed = (t[i].scope & SP_PARAM_IN_STREAM) || t[i].id == SP_PARAM_METHOD;
        if (!exposed || !scd_pruning_param(p, t[i].id, &v))
            continue;
        gchar *prop = g_strdelimit(g_strdup(t[i].name), "_", '-');
        set_number(pr, prop, v);
        g_free(prop);
    }
}

static void set_prune(GstElement *pr, const scd_run_spec *spec) {
    scd_run_set_pruning(pr, spec->pruning);
    g_object_set(pr, "stream-name", spec->name, NULL);
    if (spec->query_npy)
        g_object_set(pr, "query-embedding", spec->query_npy, NULL);
}

static GstElement *add_queue(scd_run *run, GstElement *tee, const char *role, sp_error *err) {
    GstElement *q = make(run, "queue", role, err);
    if (!q)
        return NULL;
    add(run, q);
    if (link(run, tee, q, err)) /* request pad of the tee */
        return NULL;
    g_ptr_array_add(run->queues, q);
    g_ptr_array_add(run->queue_names, g_strdup(role + 2)); /* "q-app" -> "app" */
    return q;
}

static sp_status build_branches(scd_run *run, const scd_run_spec *spec, GstElement *tee,
                                sp_error *err) {
    /* The daemon's own branch: every pruned frame, its packet, and packet events. */
    GstElement *q = add_queue(run, tee, "q-app", err);
    GstElement *app = q ? make(run, "appsink", "app", err) : NULL;
    if (!app)
        return err->status;
    g_object_set(app, "sync", FALSE, "async", FALSE, "emit-signals", FALSE, "max-buffers", 4u,
                 "drop", FALSE, NULL);
    GstAppSinkCallbacks cbs = {0};
    cbs.new_sample = app_new_sample;
    gst_app_sink_set_callbacks(GST_APP_SINK(app), &cbs, run, NULL);
    add(run, app);
    if (link(run, q, app, err))
        return err->status;
    GstPad *pad = gst_element_get_static_pad(app, "sink");
    gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, app_event, run, NULL);
    gst_object_unref(pad);

    for (size_t i = 0; i < spec->n_scriptsinks; i++) {
        char role[64];
        snprintf(role, sizeof role, "q-scriptsink%zu", i);
        q = add_queue(run, tee, role, err);
        snprintf(role, sizeof role, "scriptsink%zu", i);
        GstElement *sink = q ? make(run, "scriptsink", role, err) : NULL;
        if (!sink)
            return err->status;
        /* A second for the queue to drain at EOS keeps SIGTERM's exit within its bound. */
        g_object_set(sink, "location", spec->scriptsinks[i], "async", FALSE, "sync", FALSE,
                     "drain-timeout-ms", 1000u, NULL);
        add(run, sink);
        if (link(run, q, sink, err))
            return err->status;
        g_ptr_array_add(run->scriptsinks, sink);
    }

    for (size_t i = 0; i < spec->n_overlays; i++) {
        char role[64];
        snprintf(role, sizeof role, "q-overlay%zu", i);
        q = add_queue(run, tee, role, err);
        if (!q)
            return err->status;
        GstPad *qpad = gst_element_get_static_pad(q, "sink");
        gst_pad_add_probe(qpad, GST_PAD_PROBE_TYPE_BUFFER, overlay_filter, NULL, NULL);
        gst_object_unref(qpad);
        GstElement *ov = NULL, *conv = NULL, *png = NULL, *sink = NULL;
        snprintf(role, sizeof role, "overlay%zu", i);
        ov = make(run, "scriptoverlay", role, err);
        snprintf(role, sizeof role, "overlay%zu-convert", i);
        conv = ov ? make(run, "videoconvert", role, err) : NULL;
        snprintf(role, sizeof role, "overlay%zu-png", i);
        png = conv ? make(run, "pngenc", role, err) : NULL;
        snprintf(role, sizeof role, "overlay%zu-sink", i);
        sink = png ? make(run, "appsink", role, err) : NULL;
        if (!sink) {
            if (ov)
                gst_object_unref(ov);
            if (conv)
                gst_object_unref(conv);
            if (png)
                gst_object_unref(png);
            return err->status;
        }
        g_object_set(png, "snapshot", FALSE, NULL);
        g_object_set(sink, "sync", FALSE, "async", FALSE, "emit-signals", FALSE, NULL);
        g_object_set_data(G_OBJECT(sink), "scd-overlay-index", GSIZE_TO_POINTER(i));
        GstAppSinkCallbacks ocb = {0};
        ocb.new_sample = overlay_new_sample;
        gst_app_sink_set_callbacks(GST_APP_SINK(sink), &ocb, run, NULL);
        add(run, ov);
        add(run, conv);
        add(run, png);
        add(run, sink);
        if (link(run, q, ov, err) || link(run, ov, conv, err) || link(run, conv, png, err) ||
            link(run, png, sink, err))
            return err->status;
    }
    return SP_OK;
}

static sp_status build(scd_run *run, const scd_run_spec *spec, sp_error *err) {
    sp_status st = build_source(run, spec, err);
    if (st)
        return st;
    GstElement *enc = make(run, "scriptencode", "encode", err);
    if (!enc)
        return err->status;
    GstElement *pr = make(run, "scriptprune", "prune", err);
    if (!pr) {
        gst_object_unref(enc);
        return err->status;
    }
    GstElement *tee = make(run, "tee", "tee", err);
    if (!tee) {
        gst_object_unref(enc);
        gst_object_unref(pr);
        return err->status;
    }
    set_encoder(enc, spec->encoder);
    if (spec->kind != SCD_SOURCE_FILE)
        g_object_set(enc, "max-fps", spec->fps, NULL); /* files: the sampler already did it */
    set_prune(pr, spec);
    add(run, enc);
    add(run, pr);
    add(run, tee);
    run->prune = pr;
    run->encode = enc;
    GstElement *before = spec->kind == SCD_SOURCE_FILE
                             ? g_object_get_data(G_OBJECT(run->pipeline), "scd-appsrc")
                             : g_object_get_data(G_OBJECT(run->pipeline), "scd-convert");
    if (!run->head)
        run->head = enc;
    if ((st = link(run, before, enc, err)) || (st = link(run, enc, pr, err)) ||
        (st = link(run, pr, tee, err)))
        return st;
    GstPad *hp = gst_element_get_static_pad(run->head, "sink");
    gst_pad_add_probe(hp, GST_PAD_PROBE_TYPE_BUFFER, count_frames, run, NULL);
    gst_object_unref(hp);
    return build_branches(run, spec, tee, err);
}

sp_status scd_run_start(const scd_run_spec *spec, const scd_run_callbacks *cb, void *user,
                        scd_run **out, sp_error *err) {
    *out = NULL;
    scd_run *run = g_new0(scd_run, 1);
    run->name = g_strdup(spec->name);
    run->kind = spec->kind;
    run->cb = *cb;
    run->user = user;
    run->queues = g_ptr_array_new();
    run->queue_names = g_ptr_array_new_with_free_func(g_free);
    run->scriptsinks = g_ptr_array_new();
    atomic_init(&run->frames_seen, 0);
    atomic_init(&run->video_linked, false);
    char *pname = g_strdup_printf("scriptd-%s", spec->name);
    run->pipeline = gst_pipeline_new(pname);
    g_free(pname);
    sp_status st = build(run, spec, err);
    if (st) {
        sp_error_prefix(err, "%s", spec->name);
        scd_run_free(run);
        return st;
    }
    GstBus *bus = gst_element_get_bus(run->pipeline);
    run->bus_watch = gst_bus_add_watch(bus, on_bus, run);
    gst_object_unref(bus);
    if (spec->kind == SCD_SOURCE_FILE)
        run->fsrc = scd_filesrc_start(g_object_get_data(G_OBJECT(run->pipeline), "scd-appsrc"),
                                      spec->source, spec->source_fd ? *spec->source_fd : -1,
                                      spec->fps, spec->decode_threads, spec->decode_workers);
    if (gst_element_set_state(run->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
        /* The reason is on the bus as an ERROR message (e.g. an unreadable model); take it. */
        GstBus *b = gst_element_get_bus(run->pipeline);
        GstMessage *m = gst_bus_pop_filtered(b, GST_MESSAGE_ERROR);
        gst_object_unref(b);
        char *text = m ? describe_error(m, false) : g_strdup("the pipeline refused to start");
        if (m)
            gst_message_unref(m);
        sp_error_set(err, SP_ERR_STATE, "%s: %s", spec->name, text);
        g_free(text);
        scd_run_free(run);
        return SP_ERR_STATE;
    }
    *out = run;
    return SP_OK;
}

void scd_run_free(scd_run *run) {
    if (!run)
        return;
    scd_filesrc_abort(run->fsrc);
    if (run->pipeline)
        gst_element_set_state(run->pipeline, GST_STATE_NULL);
    scd_filesrc_free(run->fsrc);
    if (run->bus_watch)
        g_source_remove(run->bus_watch);
    if (run->pipeline)
        gst_object_unref(run->pipeline);
    g_ptr_array_unref(run->queues);
    g_ptr_array_unref(run->queue_names);
    g_ptr_array_unref(run->scriptsinks);
    g_free(run->name);
    g_free(run);
}

void scd_run_drain(scd_run *run) {
    if (!run)
        return;
    if (run->fsrc)
        scd_filesrc_finish(run->fsrc);
    else
        gst_element_send_event(run->pipeline, gst_event_new_eos());
}

uint64_t scd_run_frames_seen(const scd_run *run) {
    return run ? atomic_load_explicit(&((scd_run *)run)->frames_seen, memory_order_relaxed) : 0;
}

char *scd_run_early_end(const scd_run *run) {
    return run ? scd_filesrc_early_end(run->fsrc) : NULL;
}

uint64_t scd_run_damaged(const scd_run *run) {
    return run ? scd_filesrc_damaged(run->fsrc) : 0;
}

double scd_run_progress(const scd_run *run) {
    return run && run->fsrc ? scd_filesrc_progress(run->fsrc) : -1.0;
}

gboolean scd_run_send_query(scd_run *run, const scd_query *q) {
    GstEvent *ev;
    if (q) {
        GBytes *b = scd_query_bytes(q);
        ev = gst_script_query_event_new_embedding(GST_EVENT_CUSTOM_UPSTREAM, GST_CLOCK_TIME_NONE, b,
                                                  (guint)q->m, (guint)q->e);
        g_bytes_unref(b);
    } else {
        ev = gst_script_query_event_new_clear(GST_EVENT_CUSTOM_UPSTREAM, GST_CLOCK_TIME_NONE);
    }
    if (!ev)
        return FALSE;
    /* Upstream events are not serialized: sent to scriptprune's source pad they never wait for
     * the streaming thread; the element applies the query from its next frame. */
    GstPad *src = gst_element_get_static_pad(run->prune, "src");
    gboolean ok = gst_pad_send_event(src, ev);
    gst_object_unref(src);
    return ok;
}

GstStructure *scd_run_reselect(scd_run *run, const scd_query *q, guint budget, guint64 since_ns,
                               guint64 until_ns) {
    GBytes *b = q ? scd_query_bytes(q) : NULL;
    GstStructure *res = NULL;
    g_signal_emit_by_name(run->prune, "reselect", b, q ? (guint)q->m : 0u, budget, since_ns,
                          until_ns, &res);
    if (b)
        g_bytes_unref(b);
    return res;
}

GstStructure *scd_run_stats(scd_run *run) {
    GstStructure *s = NULL;
    if (run && run->prune)
        g_object_get(run->prune, "stats", &s, NULL);
    return s;
}

void scd_run_encode_counters(const scd_run *run, uint64_t *encoded, uint64_t *skipped) {
    guint64 e = 0, s = 0;
    if (run && run->encode)
        g_object_get(run->encode, "frames-encoded", &e, "frames-skipped", &s, NULL);
    *encoded = e;
    *skipped = s;
}

size_t scd_run_n_queues(const scd_run *run) {
    return run ? run->queues->len : 0;
}

const char *scd_run_queue_name(const scd_run *run, size_t i) {
    return g_ptr_array_index(run->queue_names, i);
}

guint scd_run_queue_level(const scd_run *run, size_t i) {
    guint n = 0;
    g_object_get(g_ptr_array_index(run->queues, i), "current-level-buffers", &n, NULL);
    return n;
}

void scd_run_scriptsink_counters(const scd_run *run, size_t i, guint64 *written, guint64 *dropped,
                                 guint64 *reconnects) {
    *written = *dropped = *reconnects = 0;
    if (!run || i >= run->scriptsinks->len)
        return;
    g_object_get(g_ptr_array_index(run->scriptsinks, i), "packets-written", written,
                 "packets-dropped", dropped, "reconnects", reconnects, NULL);
}
