/* Random-weight ViT models of real shapes for the encoder benchmarks: a safetensors image
 * (float16, through the formats writer) plus a config.json string, opened with
 * sp_encoder_open_blobs, so the real loader runs and no file of hundreds of MB is needed. Weights
 * uniform in +-sqrt(3 / fan_in) (unit-variance activations), layer norms near 1, small biases.
 * Also a synthetic frame with gradients, a checkerboard and noise. */
#ifndef SP_BENCH_VIT_H
#define SP_BENCH_VIT_H

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
    uint8_t *st; /* the safetensors image (malloc'd: free it) */
    size_t st_len;
    char config[1024]; /* config.json */
} model_image;

/* Builds the model of d (CLIP vision tower + visual projection, or a LLaVA folder); 0 on
 * success, 1 with a message on stderr. */
int build_model(const vit_dims *d, model_image *out);
/* A borrowed blobs view of mi for sp_encoder_open_blobs. */
void model_blobs(const model_image *mi, sp_model_blobs *out);
/* FLOPs of one encode (matrix products), counted from the dimensions independently of the
 * library: patch embedding, per layer q/k/v + attention + output + MLP, the projection. */
double model_flops(const vit_dims *d);

/* A w x h frame of bpp (3 or 4) bytes per pixel, different for each seed; NULL when out of
 * memory. */
uint8_t *make_frame(uint32_t w, uint32_t h, size_t bpp, uint64_t seed);

#endif
