/* Synthetic token videos with known truth for the stream tests. A frame is a grid of tokens:
 * a background of horizontal bands (each band one base vector plus a fixed per-position texture,
 * so that GSP finds spatial redundancy), per-frame sensor noise, and objects: rectangles of
 * patches whose tokens share the object's base vector plus a strong per-patch texture (so a query
 * for the base finds the whole object while its patches stay distinct), placed at a
 * position that can change from frame to frame. A scene id selects the band and object vectors, so
 * changing it is a scene cut. Deterministic for a seed. */
#ifndef SP_TEST_SCENE_H
#define SP_TEST_SCENE_H

#include <stddef.h>
#include <stdint.h>

enum { SCENE_MAX_OBJECTS = 8 };

typedef struct scene_object {
    uint32_t h, w; /* size in patches */
    int32_t y, x;  /* top-left patch in the current frame (may be partly off-grid) */
    uint32_t id;   /* selects its token vectors */
    int visible;
} scene_object;

typedef struct scene {
    uint32_t gh, gw;
    size_t d;
    uint32_t bands;
    float texture;     /* weight of the per-position texture on the band base */
    float noise;       /* per-frame noise weight */
    float obj_texture; /* weight of an object patch's own vector on the object's base vector */
    uint64_t seed;
    uint32_t scene_id;
    size_t nobj;
    scene_object obj[SCENE_MAX_OBJECTS];
} scene;

void scene_init(scene *s, uint32_t gh, uint32_t gw, size_t d, uint64_t seed);
/* Renders frame number t into tokens (gh*gw x d) and, when label is not NULL, writes for every
 * patch 0 for background or 1 + the index of the object covering it. */
void scene_render(const scene *s, uint64_t t, float *tokens, uint8_t *label);
/* The token vector of object `id` at its local patch (u, v) (noise-free). */
void scene_object_token(const scene *s, uint32_t id, uint32_t u, uint32_t v, float *out);
/* The base vector of object `id` (what a query for the object looks like). */
void scene_object_base(const scene *s, uint32_t id, float *out);

/* Unit rows of width d drawn from a seeded generator (random directions: any two are far apart,
 * cosine about 1 / sqrt(d)). */
void scene_random_units(float *x, size_t rows, size_t d, uint64_t seed);

#endif
