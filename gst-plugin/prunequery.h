/* scriptprune's query: what the application asked for (a spec: text, exemplar image, embedding
 * rows from a .npy file or from an event), the queue of requests waiting for their running time,
 * and the encoder that turns text and images into query rows. */
#ifndef GST_SCRIPT_PRUNEQUERY_H
#define GST_SCRIPT_PRUNEQUERY_H

#include <gst/gst.h>

#include "enums.h"
#include "scriptprune/encode.h"

G_BEGIN_DECLS

typedef struct {
    gchar *text;           /* query-text / event "text" */
    gchar *image;          /* query-image / event "image-path" */
    gchar *embedding_path; /* query-embedding (.npy) */
    GBytes *embedding;     /* event "embedding" (rows x width float32) */
    guint rows, width;
} PruneQuerySpec;

void prune_query_spec_clear(PruneQuerySpec *s);
/* dst (cleared or holding a spec that is released) becomes a deep copy of src. */
void prune_query_spec_copy(PruneQuerySpec *dst, const PruneQuerySpec *src);
gboolean prune_query_spec_is_empty(const PruneQuerySpec *s);
/* Short description for logs and messages ("text \"...\" + image ..."); g_free. */
gchar *prune_query_spec_describe(const PruneQuerySpec *s);
/* Fills s from a ScriptQuery event; FALSE when the event is malformed. */
gboolean prune_query_spec_from_event(PruneQuerySpec *s, GstEvent *event,
                                     GstClockTime *running_time);

/* A request waiting for a buffer whose running time reaches `running_time`. */
typedef struct {
    GstClockTime running_time; /* GST_CLOCK_TIME_NONE: the next buffer */
    PruneQuerySpec spec;
} PrunePending;

/* Inserts a copy of spec into q (a GQueue of PrunePending*), ordered by running time (NONE
 * first, equal times in arrival order). */
void prune_pending_push(GQueue *q, GstClockTime running_time, const PruneQuerySpec *spec);
/* Removes the requests due at running time rt; returns the last of them (the one that wins,
 * since each replaces the query) or NULL. rt NONE takes only the NONE requests. */
PrunePending *prune_pending_take_due(GQueue *q, GstClockTime rt);
void prune_pending_free(PrunePending *p);
void prune_pending_clear(GQueue *q);

/* Settings of the query encoder (must match scriptencode's for image and text queries). */
typedef struct {
    GstScriptBackend backend;
    gchar *model;
    guint image_size;
    guint patch_size;
    GstScriptExemplar exemplar;
} PruneEncoderSettings;

void prune_encoder_settings_clear(PruneEncoderSettings *s);
void prune_encoder_settings_copy(PruneEncoderSettings *dst, const PruneEncoderSettings *src);

/* The query encoder, opened on first use (text or image), closed by prune_query_encoder_close. */
typedef struct {
    sp_encoder *enc;
    sp_encode_ctx *ctx;
    PruneEncoderSettings settings;
} PruneQueryEncoder;

void prune_query_encoder_close(PruneQueryEncoder *qe);
/* Opens qe with settings unless it is already open with them. FALSE with *msg (g_free). */
gboolean prune_query_encoder_open(PruneQueryEncoder *qe, const PruneEncoderSettings *settings,
                                  gchar **msg);

/* The size of the frames the tokens come from (the tokens meta's preprocess.frame_width and
 * frame_height); 0 x 0 while no frame has been seen. */
typedef struct {
    guint width, height;
} PruneFrameSize;

/* The query rows of a spec: rows (m x width float32, g_free) built from, in order, the text, the
 * exemplar image and the embeddings. An empty spec gives m = 0. The exemplar is encoded at the
 * scale it has in frames of *frame (sp_encode_exemplar_at), or fitted to the encoder's input
 * while the frame size is 0 x 0. expect_width: the stream's relevance width when known (0: not
 * yet). FALSE with *msg (g_free) naming what failed. */
gboolean prune_query_build(PruneQueryEncoder *qe, const PruneEncoderSettings *settings,
                           const PruneQuerySpec *spec, const PruneFrameSize *frame,
                           gsize expect_width, float **rows, gsize *m, gsize *width, gchar **msg);

/* Decodes an image file with GStreamer (filesrc ! decodebin ! videoconvert ! appsink) into
 * packed RGB. FALSE with *msg. */
gboolean prune_decode_image(const gchar *path, GstSample **sample, gchar **msg);

G_END_DECLS

#endif
