/* The clip backend: CLIP and SigLIP vision and text towers loaded from a Hugging Face folder. */
#ifndef SP_ENCODE_CLIP_H
#define SP_ENCODE_CLIP_H

#include <stddef.h>
#include <stdint.h>

#include "encode_internal.h"

/* Loads the model described by blobs (or, when blobs is NULL, the files of c->model_dir) and fills
 * enc->clip and the clip-specific fields of enc (info, normalisation, fit, padding colour). */
sp_status clip_open(const sp_encoder_config *c, const sp_model_blobs *blobs, sp_encoder *enc,
                    sp_error *err);
void clip_model_free(clip_model *m);

/* Scratch whose vision buffers hold `batch` (>= 1) images at once. */
sp_status clip_scratch_new(const clip_model *m, size_t batch, clip_scratch **out, sp_error *err);
void clip_scratch_free(clip_scratch *s);

/* Vision tower on B (1 <= B <= s->batch) preprocessed images, planes[b] its 3 x S x S normalised
 * input, in one forward pass: the transformer's linear layers are GEMMs over the B T stacked
 * tokens, attention stays within each image. Per image b: the selected layer's patch tokens
 * tokens[b] (n x d), per-patch joint-space embeddings embed[b] (n x e) and the pooled embedding
 * pooled[b] (e). Each image's result equals its encode alone up to float rounding. */
sp_status clip_encode_images(const clip_model *m, clip_scratch *s, size_t B,
                             const float *const *planes, float *const *tokens, float *const *embed,
                             float *const *pooled, sp_error *err);

/* Text tower. A text is tokenized whole (*ids: its tokens without start/end tokens, sp_free) and
 * encoded in segments of at most *room tokens, each with the model's start/end tokens (one
 * context: 77 for CLIP), as the published Script code splits long questions; each segment's
 * projected embedding (e floats) goes to out. */
sp_status clip_tokenize_text(const clip_model *m, const char *text, size_t len, int32_t **ids,
                             size_t *n, size_t *room, sp_error *err);
sp_status clip_encode_text_segment(const clip_model *m, clip_scratch *s, const int32_t *content,
                                   size_t n, float *out, sp_error *err);
sp_status clip_encode_text_ids(const clip_model *m, clip_scratch *s, const int32_t *ids, size_t n,
                               float *out, sp_error *err);

#endif
