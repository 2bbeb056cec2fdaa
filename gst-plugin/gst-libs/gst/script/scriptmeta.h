/* GstScriptTokensMeta: a video frame's visual tokens, and what scriptprune decided about them.
 *
 * scriptencode adds the meta (tokens N x D, optional joint-space embeddings N x E, the h x w token
 * grid, the frame's PTS and index, and where the frame landed in the encoder's input so that
 * tokens map back to pixels). scriptprune then fills the per-token fates and, when that frame
 * completed an emission, the emitted packet. Applications read it from an appsink or a pad probe.
 *
 * Ownership and threads: the meta belongs to its buffer and lives as long as the buffer. Read it
 * while holding the buffer; change it only on a writable buffer (the setters check). The tensors'
 * data buffers are immutable once attached, so a copied meta (gst_buffer_copy, a tee, a queue,
 * videoconvert) shares them by reference and both copies can be read from different threads.
 *
 * Transform policy (what happens when an element copies or transforms the buffer):
 *   - copies (GST_META_TRANSFORM_IS_COPY) of the whole buffer keep the meta; copies of a part of
 *     the buffer (a byte region) drop it, since tokens describe the whole picture;
 *   - video scaling/conversion (gst_video_meta_transform_scale, which videoconvert, videoscale and
 *     videoconvertscale call for metas tagged "video" and "size") keeps the meta and rescales the
 *     preprocess rectangle to the new frame size: tokens still describe the same picture;
 *   - every other transform drops it (the picture changed in a way tokens cannot follow).
 * Times are nanoseconds. */
#ifndef GST_SCRIPT_META_H
#define GST_SCRIPT_META_H

#include <gst/script/script-prelude.h>
#include <gst/script/scriptpacket.h>
#include <gst/script/scripttensor.h>

G_BEGIN_DECLS

/* Per-token decisions of scriptprune (values of the fates tensor); the first four equal core's
 * sp_token_fate. */
typedef enum {
    GST_SCRIPT_FATE_CANDIDATE = 0, /* survived the temporal and spatial graphs */
    GST_SCRIPT_FATE_TEMPORAL = 1,  /* dropped: a kept token of an earlier frame represents it */
    GST_SCRIPT_FATE_SPATIAL = 2,   /* dropped by GSP (redundant within the frame) */
    GST_SCRIPT_FATE_PADDING = 3,   /* the encoder's letterbox padding: never a candidate */
    GST_SCRIPT_FATE_UNKNOWN = 255, /* not reported (core without per-token fates) */
} GstScriptTokenFate;

/* Where the frame landed in the encoder's S x S input (core's sp_preprocess, plus the frame size
 * it refers to). Token (y, x) covers input pixels [x * P, (x + 1) * P) x [y * P, (y + 1) * P);
 * input pixel u maps to frame x = src_x + (u - dst_x) * src_w / dst_w (same for rows). Input
 * pixels outside [dst_x, dst_x + dst_w) are padding. */
typedef struct {
    guint frame_width, frame_height;    /* the frame size the rectangles refer to */
    gdouble src_x, src_y, src_w, src_h; /* region of the frame used, frame pixels */
    guint dst_x, dst_y, dst_w, dst_h;   /* where it landed in the input, input pixels */
    guint image_size;                   /* S */
    guint patch_size;                   /* P */
} GstScriptPreprocess;

typedef struct {
    GstMeta meta;

    /* Set by scriptencode. */
    GstScriptTensor tokens;     /* FLOAT32 [N, D], token i at grid row i / grid_w, col i % grid_w */
    GstScriptTensor embeddings; /* FLOAT32 [N, E]; absent when the tokens are the embeddings */
    guint grid_h, grid_w;       /* N = grid_h * grid_w */
    GstClockTime pts;           /* ns: the buffer PTS when encoded */
    guint64 frame_index;        /* index among the frames scriptencode saw (skipped ones count) */
    GstScriptPreprocess preprocess;
    const gchar *backend; /* interned encoder name: "patch", "clip", "siglip" */
    /* Pixel evidence (core's scriptprune/pixel_match.h), when scriptencode computed it: FLOAT32
     * [N, 3], per token (dy, dx, verdict): verdict 0 unknown, 1 its pixels were at grid row
     * y + dy, column x + dx (cells) of the frame evidence_ref, 2 they were nowhere near. A frame
     * the change gate skipped carries every picture cell seen in place. Absent on the first frame
     * and from producers that do not compute it; a consumer uses it only when the previous frame
     * it took carried the tokens of evidence_ref. */
    GstScriptTensor evidence;
    guint64 evidence_ref; /* frame_index of the encoded frame the evidence compares with */
    guint64 tokens_of;    /* frame_index of the encoded frame whose tokens these are (a skipped
                             frame carries the last encoded one's) */

    /* Set by scriptprune. */
    gboolean pruned;        /* TRUE once scriptprune processed the frame */
    guint64 stream_frame;   /* the frame's index in scriptprune's stream (packet provenance) */
    GstScriptTensor fates;  /* UINT8 [N]: GstScriptTokenFate per token, raster order */
    gboolean has_packet;    /* this frame completed an emission */
    GstScriptPacket packet; /* the emission (valid when has_packet) */
} GstScriptTokensMeta;

GST_SCRIPT_API GType gst_script_tokens_meta_api_get_type(void);
#define GST_SCRIPT_TOKENS_META_API_TYPE (gst_script_tokens_meta_api_get_type())

GST_SCRIPT_API const GstMetaInfo *gst_script_tokens_meta_get_info(void);
#define GST_SCRIPT_TOKENS_META_INFO (gst_script_tokens_meta_get_info())

/* The meta of buffer, or NULL. */
GST_SCRIPT_API GstScriptTokensMeta *gst_buffer_get_script_tokens_meta(GstBuffer *buffer);

/* Adds a meta to a writable buffer: tokens (n * d float32, a new reference is taken),
 * embeddings (n * e float32 or NULL), grid_h * grid_w == n. NULL when the sizes disagree. */
GST_SCRIPT_API GstScriptTokensMeta *
gst_buffer_add_script_tokens_meta(GstBuffer *buffer, GstBuffer *tokens, gsize n, gsize d,
                                  GstBuffer *embeddings, gsize e, guint grid_h, guint grid_w);

/* Token count N and width D (0 when the tokens are missing). */
GST_SCRIPT_API gsize gst_script_tokens_meta_n_tokens(const GstScriptTokensMeta *meta);
GST_SCRIPT_API gsize gst_script_tokens_meta_width(const GstScriptTokensMeta *meta);

/* scriptprune's setters (buffer must be writable). fates: N bytes (a new reference is taken).
 * The packet is copied (data shared); NULL removes it. */
GST_SCRIPT_API gboolean gst_script_tokens_meta_set_fates(GstScriptTokensMeta *meta,
                                                         GstBuffer *fates);
GST_SCRIPT_API void gst_script_tokens_meta_set_packet(GstScriptTokensMeta *meta,
                                                      const GstScriptPacket *packet);

/* scriptencode's setter: evidence is N * 3 float32 (a new reference is taken); FALSE when the
 * size disagrees with the tokens. */
GST_SCRIPT_API gboolean gst_script_tokens_meta_set_evidence(GstScriptTokensMeta *meta,
                                                            GstBuffer *evidence,
                                                            guint64 evidence_ref);

/* The frame rectangle (in pixels of a frame_width x frame_height picture, which may differ from
 * the size recorded in the meta: it is rescaled) covered by token (y, x). FALSE when the token
 * lies in the encoder's padding or outside the frame. Rectangles are half-open: [x0, x1). */
GST_SCRIPT_API gboolean gst_script_tokens_meta_token_rect(const GstScriptTokensMeta *meta, guint y,
                                                          guint x, guint frame_width,
                                                          guint frame_height, gint *x0, gint *y0,
                                                          gint *x1, gint *y1);

/* The grid cells that show the picture: rows [*y, *y + *h), columns [*x, *x + *w); the other
 * cells are the encoder's letterbox padding (scriptprune never emits them). FALSE, with the whole
 * grid, when the meta carries no preprocess rectangle. */
GST_SCRIPT_API gboolean gst_script_tokens_meta_image_cells(const GstScriptTokensMeta *meta,
                                                           guint *y, guint *x, guint *h, guint *w);

G_END_DECLS

#endif
