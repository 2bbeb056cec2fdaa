/* Random-weight vision transformers of the real shapes (CLIP ViT-B/16, ViT-L/14, LLaVA-1.5's
 * vision side), built in memory as a safetensors image (float16, through core's writer) plus a
 * config.json string, so that the real loader runs and no file of hundreds of MB is needed.
 * Weights are uniform in +-sqrt(3 / fan_in) (unit-variance activations), layer norms near 1,
 * small biases; the same seed every time. For the benchmarks only. */
#ifndef BENCH_VIT_MODEL_H
#define BENCH_VIT_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "scriptprune/encode.h"

typedef struct vit_dims {
    const char *name;
    uint32_t hidden, inter, heads, layers, image, patch, projection;
    uint32_t llava_hidden; /* > 0: a LLaVA folder with a projector to this width */
} vit_dims;

extern const vit_dims VIT_B16, VIT_L14, LLAVA_7B, LLAVA_13B;

typedef struct model_image {
    uint8_t *st; /* safetensors image (malloc) */
    size_t st_len;
    char config[1024]; /* config.json */
} model_image;

/* Builds d's weights into out (free out->st); 0 on success, 1 with a message on stderr. */
int vit_build_model(const vit_dims *d, model_image *out);
/* Writes d's weights as a model folder (model.safetensors, config.json) into the existing
 * directory dir, for scriptd and the elements; 0 on success, 1 with a message on stderr. */
int vit_write_folder(const vit_dims *d, const char *dir);
/* Builds d's weights and opens them as a clip encoder (no text tower). */
sp_status vit_open_encoder(const vit_dims *d, sp_encoder **out, sp_error *err);
/* A borrowed blobs view of mi for sp_encoder_open_blobs. */
void vit_model_blobs(const model_image *mi, sp_model_blobs *out);
/* FLOPs of one encode (matrix products), counted from the dimensions independently of the
 * library: patch embedding, per layer q/k/v + attention + output + MLP, the projection. */
double vit_model_flops(const vit_dims *d);
/* A w x h frame of bpp (3 or 4) bytes per pixel with gradients, a checkerboard and noise,
 * different for each seed; NULL when out of memory. */
uint8_t *vit_make_frame(uint32_t w, uint32_t h, size_t bpp, uint64_t seed);

#endif
