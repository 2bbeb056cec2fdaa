/* The built-in patch encoder: per P x P patch, 81 hand-made features that behave like a
 * similarity (colour, contrast, a shift-invariant texture signature, low-frequency layout inside
 * the patch, and the colour layout of its neighbourhood), mapped to D dimensions by a seeded
 * orthogonal projection and L2-normalised. Plain C throughout, no libm
 * beyond sqrt, fixed summation order: the same bytes on every IEEE-754 machine and compiler that
 * does not contract a*b+c into FMA (GCC does not in -std=c11 mode; clang is told so per file). */
#ifndef SP_ENCODE_PATCH_H
#define SP_ENCODE_PATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scriptprune/error.h"

/* Features: 33 of the patch itself, then the neighbourhood's colour layout, a 4 x 4 grid of
 * patch-sized cells centred on the patch (48 = 16 cells x 3 colour axes). */
enum {
    PATCH_LOCAL_FEATURES = 33,
    PATCH_LAYOUT_CELLS = 4, /* a side of the neighbourhood grid (cells of P) */
    PATCH_FEATURES = PATCH_LOCAL_FEATURES + 3 * PATCH_LAYOUT_CELLS * PATCH_LAYOUT_CELLS,
    PATCH_LAYOUT_FEATURES = PATCH_FEATURES - PATCH_LOCAL_FEATURES,
    /* the smallest D with room for each part in its own half */
    PATCH_SPLIT_MIN_D = 2 * PATCH_LAYOUT_FEATURES,
    PATCH_MIN_P = 8,
    PATCH_MAX_P = 64
};

/* Immutable after creation; shared by all contexts. */
typedef struct patch_model {
    uint32_t S, P, D, grid;
    bool local_only; /* the 33 local features only, chroma weighted as luma (the older encoder) */
    /* D >= PATCH_SPLIT_MIN_D: the local features map into the first own_d = D / 2 dimensions and
     * the neighbourhood's into the rest (two orthogonal blocks), so a consumer can compare the
     * patch and its surroundings apart (the stream's temporal graph does); 0 otherwise. */
    uint32_t own_d;
    float *proj;      /* PATCH_FEATURES x D: the image of each feature axis */
    float *proj_flat; /* PATCH_FEATURES x D: one orthonormal set over all D dimensions, the older
                         encoder's projection, used by local_only (its golden bytes) */
    float *basis;     /* 4 x P: orthonormal DCT-II basis rows u = 0..3 */
} patch_model;

/* The own dimensions of D-wide tokens (patch_model.own_d): D / 2 when D >= PATCH_SPLIT_MIN_D. */
static inline uint32_t patch_own_dims(size_t D) {
    return D >= PATCH_SPLIT_MIN_D ? (uint32_t)(D / 2) : 0;
}

/* S % P == 0 and P in [PATCH_MIN_P, PATCH_MAX_P] are checked by the caller. */
sp_status patch_model_new(uint32_t S, uint32_t P, uint32_t D, uint64_t seed, patch_model **out,
                          sp_error *err);
void patch_model_free(patch_model *m);

/* Floats of per-context scratch patch_encode needs. */
size_t patch_scratch_floats(const patch_model *m);

/* The patches that show the picture (the rest is letterbox padding), in grid cells. */
typedef struct patch_region {
    uint32_t x, y, w, h;
} patch_region;

/* Encodes all grid x grid patches: tokens (n x D, unit rows) and pooled (D, the normalised mean).
 * image: the picture's patches (NULL, empty or out of range: the whole grid); neighbourhoods stop
 * at its edge and patches outside it (padding) get no neighbourhood features. */
void patch_encode(const patch_model *m, const float *planes, const patch_region *image,
                  float *scratch, float *tokens, float *pooled);

/* cos(pi * k / m) for integers k >= 0, m >= 1, from +, *, / only (libm's cos may differ by an ulp
 * between C libraries, which would break golden bytes). Exposed for tests. */
double patch_cos_pi(uint64_t k, uint64_t m);

#endif
