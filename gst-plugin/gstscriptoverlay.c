/* scriptoverlay: shows what the MLLM will see. Each token of the frame's GstScriptTokensMeta is
 * mapped back to the pixels it came from (through the encoder's letterbox/crop, recorded in the
 * meta) and drawn by its fate: candidates not (yet) emitted get a light outline, temporal repeats
 * an outline in their own colour, and GSP-pruned patches are dimmed. On a frame that completed a
 * packet, every token of the packet is outlined at its grid cell, whichever frame it was taken
 * from: in emitted-color when taken from this frame, shading to aged-color as it was taken longer
 * ago (a window's length or more: aged-color itself), so the picture shows everything the MLLM
 * received. Frames without a pruned meta pass unchanged. */
#include "gstscriptoverlay.h"

#include <string.h>

#include <gst/script/script.h>

#include "elements.h"
#include "overlaydraw.h"

GST_DEBUG_CATEGORY_STATIC(gst_script_overlay_debug);
#define GST_CAT_DEFAULT gst_script_overlay_debug

#define DEFAULT_EMITTED_COLOR 0xff00e000u   /* opaque green */
#define DEFAULT_CANDIDATE_COLOR 0x80ffd000u /* half-transparent amber */
#define DEFAULT_TEMPORAL_COLOR 0xff20a0ffu  /* opaque sky blue */
#define DEFAULT_AGED_COLOR 0xd0ff3030u      /* mostly opaque red */
#define DEFAULT_DIM 0.6
#define DEFAULT_LINE_WIDTH 2

enum {
    PROP_0,
    PROP_EMITTED_COLOR,
    PROP_CANDIDATE_COLOR,
    PROP_TEMPORAL_COLOR,
    PROP_AGED_COLOR,
    PROP_DIM,
    PROP_LINE_WIDTH,
};

struct _GstScriptOverlay {
    GstVideoFilter parent;
    /* properties (GST_OBJECT_LOCK) */
    guint32 emitted_color, candidate_color, temporal_color, aged_color;
    gdouble dim;
    guint line_width;
    /* streaming thread: per grid cell, 1 + the age in frames of the youngest packet token there
     * (0: no packet token) */
    guint32 *emitted;
    gsize emitted_cap;
};

#define FORMATS "{ RGB, RGBx, BGRx, xRGB, xBGR, RGBA, BGRA, I420, NV12 }"
static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE(
    "sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE(FORMATS)));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE(
    "src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE(FORMATS)));

G_DEFINE_TYPE(GstScriptOverlay, gst_script_overlay, GST_TYPE_VIDEO_FILTER);
GST_ELEMENT_REGISTER_DEFINE(scriptoverlay, "scriptoverlay", GST_RANK_NONE, GST_TYPE_SCRIPT_OVERLAY);

static void gst_script_overlay_set_property(GObject *object, guint prop_id, const GValue *value,
                                            GParamSpec *pspec) {
    GstScriptOverlay *self = GST_SCRIPT_OVERLAY(object);
    GST_OBJECT_LOCK(self);
    switch (prop_id) {
        case PROP_EMITTED_COLOR:
            self->emitted_color = g_value_get_uint(value);
            break;
        case PROP_CANDIDATE_COLOR:
            self->candidate_color = g_value_get_uint(value);
            break;
        case PROP_TEMPORAL_COLOR:
            self->temporal_color = g_value_get_uint(value);
            break;
        case PROP_AGED_COLOR:
            self->aged_color = g_value_get_uint(value);
            break;
        case PROP_DIM:
            self->dim = g_value_get_double(value);
            break;
        case PROP_LINE_WIDTH:
            self->line_width = g_value_get_uint(value);
            break;
        default:
            G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
            break;
    }
    GST_OBJECT_UNLOCK(self);
}

static void gst_script_overlay_get_property(GObject *object, guint prop_id, GValue *value,
                                            GParamSpec *pspec) {
    GstScriptOverlay *self = GST_SCRIPT_OVERLAY(object);
    GST_OBJECT_LOCK(self);
    switch (prop_id) {
        case PROP_EMITTED_COLOR:
            g_value_set_uint(value, self->emitted_color);
            break;
        case PROP_CANDIDATE_COLOR:
            g_value_set_uint(value, self->candidate_color);
            break;
        case PROP_TEMPORAL_COLOR:
            g_value_set_uint(value, self->temporal_color);
            break;
        case PROP_AGED_COLOR:
            g_value_set_uint(value, self->aged_color);
            break;
        case PROP_DIM:
            g_value_set_double(value, self->dim);
            break;
        case PROP_LINE_WIDTH:
            g_value_set_uint(value, self->line_width);
            break;
        default:
            G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
            break;
    }
    GST_OBJECT_UNLOCK(self);
}

/* Marks the grid cells of the buffer's packet tokens with 1 + their age in frames (the youngest
 * token of a cell wins). */
static void mark_emitted(GstScriptOverlay *self, const GstScriptTokensMeta *meta, gsize n) {
    if (n > self->emitted_cap) {
        g_free(self->emitted);
        self->emitted = g_new(guint32, n);
        self->emitted_cap = n;
    }
    memset(self->emitted, 0, n * sizeof *self->emitted);
    GstMapInfo map;
    if (!meta->has_packet || meta->packet.count == 0 ||
        !gst_script_tensor_map(&meta->packet.provenance, &map))
        return;
    const gint64 *row = (const gint64 *)map.data;
    for (guint i = 0; i < meta->packet.count; i++, row += GST_SCRIPT_PROVENANCE_COLUMNS) {
        guint64 frame = (guint64)row[GST_SCRIPT_PROVENANCE_FRAME];
        guint64 age = frame < meta->stream_frame ? meta->stream_frame - frame : 0;
        guint32 mark = (guint32)MIN(age, (guint64)G_MAXUINT32 - 1) + 1;
        gsize pos = (gsize)row[GST_SCRIPT_PROVENANCE_Y] * meta->grid_w +
                    (gsize)row[GST_SCRIPT_PROVENANCE_X];
        if (pos < n && (self->emitted[pos] == 0 || mark < self->emitted[pos]))
            self->emitted[pos] = mark;
    }
    gst_buffer_unmap(meta->packet.provenance.data, &map);
}

/* The outline colour of a packet token `age` frames old: emitted (age 0) shading linearly, channel
 * by channel (alpha included), to aged at `span` frames and beyond. */
static guint32 age_color(guint32 emitted, guint32 aged, guint32 age, guint span) {
    if (age == 0)
        return emitted;
    guint32 t = age >= span ? 256 : (age * 256) / span;
    guint32 out = 0;
    for (int shift = 0; shift < 32; shift += 8) {
        gint a = (gint)((emitted >> shift) & 0xff), b = (gint)((aged >> shift) & 0xff);
        gint v = a + (((b - a) * (gint)t) / 256);
        out |= (guint32)CLAMP(v, 0, 255) << shift;
    }
    return out;
}

typedef struct {
    guint32 emitted, candidate, temporal, aged, dim;
    guint line;
    guint span; /* frames over which a packet token's outline shades to the aged colour */
} DrawStyle;

static void draw_token(GstVideoFrame *frame, const DrawStyle *st, guint8 fate, guint32 mark,
                       gint x0, gint y0, gint x1, gint y1) {
    if (mark) {
        guint32 c = age_color(st->emitted, st->aged, mark - 1, st->span);
        overlay_outline_rect(frame, x0, y0, x1, y1, st->line, c);
        return;
    }
    switch (fate) {
        case GST_SCRIPT_FATE_SPATIAL:
            overlay_blend_rect(frame, x0, y0, x1, y1, st->dim);
            break;
        case GST_SCRIPT_FATE_TEMPORAL:
            overlay_outline_rect(frame, x0, y0, x1, y1, st->line, st->temporal);
            break;
        case GST_SCRIPT_FATE_CANDIDATE:
            overlay_outline_rect(frame, x0, y0, x1, y1, st->line, st->candidate);
            break;
        default:
            break; /* unknown: leave the pixels alone */
    }
}

static GstFlowReturn gst_script_overlay_transform_frame_ip(GstVideoFilter *filter,
                                                           GstVideoFrame *frame) {
    GstScriptOverlay *self = GST_SCRIPT_OVERLAY(filter);
    GstScriptTokensMeta *meta = gst_buffer_get_script_tokens_meta(frame->buffer);
    if (!meta || !meta->pruned)
        return GST_FLOW_OK;
    gsize n = gst_script_tokens_meta_n_tokens(meta);
    GstMapInfo fmap;
    if (n == 0 || !gst_script_tensor_map(&meta->fates, &fmap))
        return GST_FLOW_OK;
    DrawStyle st;
    GST_OBJECT_LOCK(self);
    st.emitted = self->emitted_color;
    st.candidate = self->candidate_color;
    st.temporal = self->temporal_color;
    st.aged = self->aged_color;
    /* Dimming is a blend towards black with the dim strength as alpha. */
    st.dim = (guint32)(self->dim * 255.0 + 0.5) << 24;
    st.line = self->line_width;
    GST_OBJECT_UNLOCK(self);
    mark_emitted(self, meta, n);
    st.span = meta->has_packet && meta->packet.window_frames > 1 ? meta->packet.window_frames : 8;
    guint w = (guint)GST_VIDEO_FRAME_WIDTH(frame), h = (guint)GST_VIDEO_FRAME_HEIGHT(frame);
    const guint8 *fates = fmap.data;
    for (guint y = 0; y < meta->grid_h; y++)
        for (guint x = 0; x < meta->grid_w; x++) {
            gint x0, y0, x1, y1;
            if (!gst_script_tokens_meta_token_rect(meta, y, x, w, h, &x0, &y0, &x1, &y1))
                continue;
            gsize i = (gsize)y * meta->grid_w + x;
            draw_token(frame, &st, fates[i], self->emitted[i], x0, y0, x1, y1);
        }
    gst_buffer_unmap(meta->fates.data, &fmap);
    return GST_FLOW_OK;
}

static gboolean gst_script_overlay_stop(GstBaseTransform *trans) {
    GstScriptOverlay *self = GST_SCRIPT_OVERLAY(trans);
    g_clear_pointer(&self->emitted, g_free);
    self->emitted_cap = 0;
    return TRUE;
}

static void gst_script_overlay_finalize(GObject *object) {
    GstScriptOverlay *self = GST_SCRIPT_OVERLAY(object);
    g_free(self->emitted);
    G_OBJECT_CLASS(gst_script_overlay_parent_class)->finalize(object);
}

static void gst_script_overlay_class_init(GstScriptOverlayClass *klass) {
    GObjectClass *gc = G_OBJECT_CLASS(klass);
    GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
    GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS(klass);
    GstVideoFilterClass *filter_class = GST_VIDEO_FILTER_CLASS(klass);

    GST_DEBUG_CATEGORY_INIT(gst_script_overlay_debug, "scriptoverlay", 0,
                            "token decisions overlay (scriptd)");

    gc->set_property = gst_script_overlay_set_property;
    gc->get_property = gst_script_overlay_get_property;
    gc->finalize = gst_script_overlay_finalize;

    const GParamFlags live = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING;
    g_object_class_install_property(
        gc, PROP_EMITTED_COLOR,
        g_param_spec_uint("emitted-color", "Emitted colour",
                          "Outline of packet tokens taken from the frame that completed the "
                          "packet, 0xAARRGGBB (alpha = opacity)",
                          0, G_MAXUINT32, DEFAULT_EMITTED_COLOR, live));
    g_object_class_install_property(
        gc, PROP_CANDIDATE_COLOR,
        g_param_spec_uint("candidate-color", "Candidate colour",
                          "Outline of candidates not emitted with this frame, 0xAARRGGBB", 0,
                          G_MAXUINT32, DEFAULT_CANDIDATE_COLOR, live));
    g_object_class_install_property(
        gc, PROP_TEMPORAL_COLOR,
        g_param_spec_uint("temporal-color", "Temporal colour",
                          "Outline of temporal repeats (tokens an earlier kept token stands for), "
                          "0xAARRGGBB",
                          0, G_MAXUINT32, DEFAULT_TEMPORAL_COLOR, live));
    g_object_class_install_property(
        gc, PROP_AGED_COLOR,
        g_param_spec_uint("aged-color", "Aged colour",
                          "Outline of packet tokens taken a window's length (or more) before the "
                          "frame that completed the packet, 0xAARRGGBB; younger ones shade from "
                          "emitted-color to it",
                          0, G_MAXUINT32, DEFAULT_AGED_COLOR, live));
    g_object_class_install_property(
        gc, PROP_DIM,
        g_param_spec_double("dim", "Dim",
                            "How much GSP-pruned patches are darkened (0 = not, 1 = "
                            "black)",
                            0.0, 1.0, DEFAULT_DIM, live));
    g_object_class_install_property(gc, PROP_LINE_WIDTH,
                                    g_param_spec_uint("line-width", "Line width",
                                                      "Outline thickness in pixels", 1, 64,
                                                      DEFAULT_LINE_WIDTH, live));

    gst_element_class_add_static_pad_template(element_class, &sink_template);
    gst_element_class_add_static_pad_template(element_class, &src_template);
    gst_element_class_set_static_metadata(
        element_class, "Script token overlay", "Filter/Effect/Video",
        "Draws which visual tokens scriptprune kept, repeated over time or pruned",
        "scriptd developers");

    trans_class->stop = GST_DEBUG_FUNCPTR(gst_script_overlay_stop);
    filter_class->transform_frame_ip = GST_DEBUG_FUNCPTR(gst_script_overlay_transform_frame_ip);
}

static void gst_script_overlay_init(GstScriptOverlay *self) {
    self->emitted_color = DEFAULT_EMITTED_COLOR;
    self->candidate_color = DEFAULT_CANDIDATE_COLOR;
    self->temporal_color = DEFAULT_TEMPORAL_COLOR;
    self->aged_color = DEFAULT_AGED_COLOR;
    self->dim = DEFAULT_DIM;
    self->line_width = DEFAULT_LINE_WIDTH;
}
