/* Queries as the daemon holds them: the query rows in the encoder's joint space, built once from
 * whatever the user gave (text, an exemplar image, a .npy file, JSON or base64 floats).
 *
 * The daemon turns every query into rows itself, with core's encoder configured like the
 * stream's scriptencode, and hands scriptprune the rows (a ScriptQuery embedding event, or a .npy
 * file for the element's query-embedding property at start). The same rows then serve
 * /v1/streams/{id}/tokens reselections, so the element's emissions and the reselections answer
 * exactly the same query.
 *
 * scd_query is immutable and reference-counted: share it between threads freely.
 * scd_encoders caches opened encoders by configuration (a CLIP model is loaded once); it is
 * thread-safe, and the encoders it hands out are immutable (core's rule) and live as long as it. */
#ifndef SCRIPTD_QUERY_H
#define SCRIPTD_QUERY_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "scriptprune/encode.h"
#include "scriptprune/error.h"

/* The size of the frames a stream's tokens come from (the tokens meta's frame size); 0 x 0 while
 * it is not known. */
typedef struct scd_frame_size {
    unsigned width, height;
} scd_frame_size;

typedef struct scd_query {
    float *rows; /* m x e float32, row-major */
    size_t m, e;
    uint64_t hash;  /* core's sp_query_hash of the rows (what packets carry) */
    char *kind;     /* "text", "image", "embedding" */
    char *describe; /* short human description for logs and JSON */
    /* An exemplar ("image"): its bytes, name and mode, to encode it again at another frame
     * scale, and the frame size it was encoded at (0 x 0: fitted to the encoder's input). */
    GBytes *image;
    char *label;
    sp_exemplar mode;
    scd_frame_size frame;
} scd_query;

scd_query *scd_query_ref(scd_query *q);
void scd_query_unref(scd_query *q);
/* The rows as bytes (for events and the reselect signal); a new reference. */
GBytes *scd_query_bytes(const scd_query *q);
/* Writes the rows as a 2-D float32 .npy file. */
sp_status scd_query_write_npy(const scd_query *q, const char *path, sp_error *err);

typedef struct scd_encoders scd_encoders;
scd_encoders *scd_encoders_new(void);
void scd_encoders_free(scd_encoders *c);
/* The encoder for cfg, opened on first use. Errors name the model path. */
sp_status scd_encoders_get(scd_encoders *c, const scd_encoder_cfg *cfg, const sp_encoder **out,
                           sp_error *err);

/* Builders. `label` (may be NULL) names the source in the description (a file name, "upload").
 * Errors say what is wrong with the input (SP_ERR_INVALID / SP_ERR_FORMAT / SP_ERR_UNSUPPORTED:
 * the user's fault; SP_ERR_IO / SP_ERR_NOMEM: ours). */
sp_status scd_query_from_text(scd_encoders *c, const scd_encoder_cfg *cfg, const char *text,
                              scd_query **out, sp_error *err);
/* Exemplar images are PNG or JPEG, decoded by an image decoder only (image_decode.h). An
 * exemplar is a crop of the footage: with the frame size known (frame not NULL nor 0 x 0) it is
 * encoded at the scale it has in those frames (sp_encode_exemplar_at), else fitted to the
 * encoder's input; the description says which ("at 854x480 frame scale", "fitted: ..."). From
 * a file (a configured query; clients' paths are opened under the media root and sent as
 * data): */
sp_status scd_query_from_image(scd_encoders *c, const scd_encoder_cfg *cfg, const char *path,
                               sp_exemplar mode, const scd_frame_size *frame, const char *label,
                               scd_query **out, sp_error *err);
/* From the image's bytes; label (not NULL here) names it. */
sp_status scd_query_from_image_data(scd_encoders *c, const scd_encoder_cfg *cfg,
                                    const uint8_t *data, size_t len, sp_exemplar mode,
                                    const scd_frame_size *frame, const char *label, scd_query **out,
                                    sp_error *err);
/* q's exemplar encoded again at the scale of frames of *frame: *out = NULL (and SP_OK) when q is
 * no exemplar, the frame size is 0 x 0 or q was already encoded for it. */
sp_status scd_query_at_frame(scd_encoders *c, const scd_encoder_cfg *cfg, const scd_query *q,
                             const scd_frame_size *frame, scd_query **out, sp_error *err);
sp_status scd_query_from_floats(scd_encoders *c, const scd_encoder_cfg *cfg, const float *rows,
                                size_t m, size_t e, scd_query **out, sp_error *err);
sp_status scd_query_from_npy(scd_encoders *c, const scd_encoder_cfg *cfg, const char *path,
                             scd_query **out, sp_error *err);
/* A stream's configured query (an exemplar at the scale of frames of *frame, fitted when NULL);
 * *out = NULL when it has none. */
sp_status scd_query_from_config(scd_encoders *c, const scd_encoder_cfg *enc, const scd_query_cfg *q,
                                const scd_frame_size *frame, scd_query **out, sp_error *err);

/* Exemplar modes by name: "pooled", "mean", "all". */
gboolean scd_exemplar_from_name(const char *name, sp_exemplar *out);

#endif
