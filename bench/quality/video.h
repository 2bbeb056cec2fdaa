/* Procedural test videos with known object masks for bench/quality: a landscape background
 * (sky with clouds, hills, a field with grass, a road or a brick wall: fractal value noise through
 * colour ramps) wider than the frame so that the camera can pan, and objects of distinct colour
 * and texture (stripes, checks, dots, rings) moving along bouncing paths. Every pixel knows which
 * object covers it. Deterministic for a seed; RGB, 8 bits. */
#ifndef SP_BENCH_VIDEO_H
#define SP_BENCH_VIDEO_H

#include <stddef.h>
#include <stdint.h>

enum { VIDEO_MAX_OBJECTS = 8 };

typedef enum obj_texture { TEX_STRIPES, TEX_CHECKS, TEX_DOTS, TEX_RINGS, TEX_NOISE } obj_texture;
typedef enum obj_shape { SHAPE_BOX, SHAPE_ELLIPSE } obj_shape;

typedef struct video_object {
    obj_shape shape;
    obj_texture texture;
    uint8_t color[3], color2[3];
    double w, h;     /* size in pixels */
    double x, y;     /* world position of the top-left corner at frame 0 */
    double vx, vy;   /* pixels per frame, bouncing off the world's edges */
    uint32_t appear; /* first frame it is visible */
    uint32_t vanish; /* first frame it is gone (0 = never) */
} video_object;

typedef struct video {
    uint32_t width, height; /* frame size */
    uint32_t world_w;       /* background width (>= width; panning moves over it) */
    double pan;             /* camera pixels per frame (bounces between the world's ends) */
    uint64_t seed;
    uint32_t cut_at; /* frame where the scene changes (new background seed), 0 = none */
    float noise;     /* sensor noise amplitude in levels (uniform +-noise) */
    size_t nobj;
    video_object obj[VIDEO_MAX_OBJECTS];
    uint8_t *bg[2]; /* rendered backgrounds (world_w x height x 3), before and after cut */
} video;

/* Renders the backgrounds; returns 0, or -1 when out of memory. */
int video_prepare(video *v);
void video_free(video *v);
/* Renders frame t into rgb (width x height x 3) and, when mask is not NULL, the object index + 1
 * covering each pixel (0: background). */
void video_render(const video *v, uint32_t t, uint8_t *rgb, uint8_t *mask);
/* Renders object k alone, centred on a neutral grey frame of the same size (a query exemplar). */
void video_render_exemplar(const video *v, size_t k, uint8_t *rgb);

/* The bench's scenes: 0 still camera, 1 panning camera, 2 still with a scene cut, 3 crowded. */
int video_scene(video *v, int which, uint32_t frames);
const char *video_scene_name(int which);

#endif
