#include "video.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* ---- noise ---- */

static uint64_t mix(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double lattice(int64_t x, int64_t y, uint64_t seed) {
    uint64_t h = mix(seed ^ mix((uint64_t)x * 0x632BE59BD9B4E019ull ^ (uint64_t)y));
    return (double)(h >> 11) * 0x1.0p-53;
}

static double smooth(double t) {
    return t * t * (3.0 - 2.0 * t);
}

/* Value noise in [0, 1) at (x, y) with unit lattice spacing. */
static double vnoise(double x, double y, uint64_t seed) {
    double fx = floor(x), fy = floor(y);
    int64_t ix = (int64_t)fx, iy = (int64_t)fy;
    double tx = smooth(x - fx), ty = smooth(y - fy);
    double a = lattice(ix, iy, seed), b = lattice(ix + 1, iy, seed);
    double c = lattice(ix, iy + 1, seed), d = lattice(ix + 1, iy + 1, seed);
    return (a + (b - a) * tx) + ((c + (d - c) * tx) - (a + (b - a) * tx)) * ty;
}

/* Fractal sum of octaves, roughly in [0, 1). */
static double fbm(double x, double y, uint64_t seed, int octaves) {
    double s = 0.0, amp = 0.5, norm = 0.0;
    for (int o = 0; o < octaves; o++) {
        s += amp * vnoise(x, y, seed + (uint64_t)o * 1013);
        norm += amp;
        amp *= 0.5;
        x *= 2.03;
        y *= 2.03;
    }
    return s / norm;
}

static double clampd(double v, double lo, double hi) {
    return v < lo ? lo : (v > hi ? hi : v);
}

static void lerp3(const double *a, const double *b, double t, double *out) {
    for (int i = 0; i < 3; i++)
        out[i] = a[i] + (b[i] - a[i]) * t;
}

/* ---- backgrounds ---- */

static void landscape(const video *v, uint64_t seed, uint8_t *bg) {
    uint32_t W = v->world_w, H = v->height;
    const double sky_top[3] = {58, 104, 190}, sky_low[3] = {168, 198, 232};
    const double hill_a[3] = {54, 92, 48}, hill_b[3] = {96, 120, 62};
    const double grass_a[3] = {70, 128, 52}, grass_b[3] = {128, 160, 70};
    const double road[3] = {92, 92, 96};
    for (uint32_t x = 0; x < W; x++) {
        double horizon = H * 0.36 + (fbm(x / 140.0, 0.5, seed + 1, 4) - 0.5) * 70.0;
        double ground = H * 0.58 + (fbm(x / 200.0, 3.5, seed + 2, 3) - 0.5) * 24.0;
        for (uint32_t y = 0; y < H; y++) {
            double c[3];
            if (y < horizon) {
                lerp3(sky_top, sky_low, (double)y / horizon, c);
                double cl = fbm(x / 70.0, y / 30.0, seed + 3, 5);
                double a = clampd((cl - 0.52) * 4.0, 0.0, 0.85);
                const double white[3] = {245, 245, 250};
                lerp3(c, white, a, c);
            } else if (y < ground) {
                double t = fbm(x / 18.0, y / 18.0, seed + 4, 5);
                lerp3(hill_a, hill_b, t, c);
                double tree = fbm(x / 9.0, y / 7.0, seed + 5, 3);
                if (tree > 0.6)
                    for (int i = 0; i < 3; i++)
                        c[i] *= 0.6;
            } else if (y > H * 0.78 && y < H * 0.9) {
                memcpy(c, road, sizeof c);
                double n = fbm(x / 3.0, y / 3.0, seed + 6, 2);
                for (int i = 0; i < 3; i++)
                    c[i] += (n - 0.5) * 30.0;
                if (fabs(y - H * 0.84) < 2.0 && (x / 24) % 2 == 0)
                    c[0] = c[1] = c[2] = 235; /* lane dashes */
            } else {
                double t = fbm(x / 6.0, y / 3.0, seed + 7, 4);
                lerp3(grass_a, grass_b, t, c);
                if ((int)((y - ground) / 9.0) % 2 == 0)
                    for (int i = 0; i < 3; i++)
                        c[i] *= 0.88; /* crop rows */
            }
            uint8_t *p = bg + ((size_t)y * W + x) * 3;
            for (int i = 0; i < 3; i++)
                p[i] = (uint8_t)clampd(c[i], 0, 255);
        }
    }
}

static void city(const video *v, uint64_t seed, uint8_t *bg) {
    uint32_t W = v->world_w, H = v->height;
    for (uint32_t x = 0; x < W; x++)
        for (uint32_t y = 0; y < H; y++) {
            double c[3];
            if (y < H * 0.62) {
                /* brick wall: rows of 12 px, bricks of 30 px, offset every other row */
                uint32_t row = y / 12, off = row % 2 ? 15 : 0;
                bool mortar = y % 12 < 2 || (x + off) % 30 < 2;
                double n = fbm(x / 5.0, y / 5.0, seed + 11, 3);
                double tone = lattice((int64_t)((x + off) / 30), (int64_t)row, seed + 12);
                if (mortar) {
                    c[0] = c[1] = c[2] = 190 + 20 * n;
                } else {
                    c[0] = 140 + 50 * tone + 20 * n;
                    c[1] = 62 + 20 * tone + 10 * n;
                    c[2] = 48 + 12 * tone;
                }
                if (x % 160 > 100 && x % 160 < 140 && y > H * 0.15 && y < H * 0.4) {
                    c[0] = 40 + 30 * n; /* windows */
                    c[1] = 60 + 30 * n;
                    c[2] = 90 + 40 * n;
                }
            } else {
                double n = fbm(x / 4.0, y / 4.0, seed + 13, 3);
                c[0] = c[1] = c[2] = 150 + 40 * n;
                if ((x % 48 < 2) || ((y - (uint32_t)(H * 0.62)) % 48 < 2))
                    c[0] = c[1] = c[2] = 110; /* paving joints */
            }
            uint8_t *p = bg + ((size_t)y * W + x) * 3;
            for (int i = 0; i < 3; i++)
                p[i] = (uint8_t)clampd(c[i], 0, 255);
        }
}

int video_prepare(video *v) {
    size_t bytes = (size_t)v->world_w * v->height * 3;
    v->bg[0] = malloc(bytes);
    v->bg[1] = v->cut_at ? malloc(bytes) : NULL;
    if (!v->bg[0] || (v->cut_at && !v->bg[1]))
        return -1;
    landscape(v, v->seed, v->bg[0]);
    if (v->cut_at)
        city(v, v->seed + 100, v->bg[1]);
    return 0;
}

void video_free(video *v) {
    free(v->bg[0]);
    free(v->bg[1]);
    v->bg[0] = v->bg[1] = NULL;
}

/* ---- objects ---- */

/* Position along a bouncing path between lo and hi. */
static double bounce(double x0, double vel, double t, double lo, double hi) {
    double span = hi - lo;
    if (span <= 0)
        return lo;
    double p = fmod(x0 - lo + vel * t, 2.0 * span);
    if (p < 0)
        p += 2.0 * span;
    return lo + (p <= span ? p : 2.0 * span - p);
}

static bool object_pixel(const video_object *o, double u, double w, uint64_t seed, uint8_t *out) {
    /* u, w: coordinates inside the object's box, in pixels */
    if (u < 0 || w < 0 || u >= o->w || w >= o->h)
        return false;
    if (o->shape == SHAPE_ELLIPSE) {
        double a = (u + 0.5) / o->w * 2.0 - 1.0, b = (w + 0.5) / o->h * 2.0 - 1.0;
        if (a * a + b * b > 1.0)
            return false;
    }
    bool second;
    switch (o->texture) {
        case TEX_STRIPES:
            second = ((int)floor((u + w) / 8.0)) % 2 != 0;
            break;
        case TEX_CHECKS:
            second = (((int)(u / 11.0)) + ((int)(w / 11.0))) % 2 != 0;
            break;
        case TEX_DOTS: {
            double du = fmod(u, 12.0) - 6.0, dw = fmod(w, 12.0) - 6.0;
            second = du * du + dw * dw < 12.0;
            break;
        }
        case TEX_RINGS: {
            double du = u - o->w / 2, dw = w - o->h / 2;
            second = ((int)(sqrt(du * du + dw * dw) / 5.0)) % 2 != 0;
            break;
        }
        default:
            second = fbm(u / 6.0, w / 6.0, seed, 3) > 0.5;
            break;
    }
    const uint8_t *c = second ? o->color2 : o->color;
    /* a little shading so that the object is not flat */
    double shade = 0.85 + 0.15 * (1.0 - w / o->h);
    for (int i = 0; i < 3; i++)
        out[i] = (uint8_t)clampd(c[i] * shade, 0, 255);
    return true;
}

static double camera_x(const video *v, uint32_t t) {
    return bounce(0, v->pan, t, 0, (double)(v->world_w - v->width));
}

void video_render(const video *v, uint32_t t, uint8_t *rgb, uint8_t *mask) {
    uint32_t W = v->width, H = v->height;
    const uint8_t *bg = v->bg[v->cut_at && t >= v->cut_at ? 1 : 0];
    double cx = camera_x(v, t);
    int icx = (int)floor(cx);
    for (uint32_t y = 0; y < H; y++)
        for (uint32_t x = 0; x < W; x++) {
            const uint8_t *s = bg + ((size_t)y * v->world_w + (size_t)(x + (uint32_t)icx)) * 3;
            uint8_t *d = rgb + ((size_t)y * W + x) * 3;
            memcpy(d, s, 3);
            if (mask)
                mask[(size_t)y * W + x] = 0;
        }
    for (size_t k = 0; k < v->nobj; k++) {
        const video_object *o = &v->obj[k];
        if (t < o->appear || (o->vanish && t >= o->vanish))
            continue;
        double ox = bounce(o->x, o->vx, t, 0, v->world_w - o->w) - cx;
        double oy = bounce(o->y, o->vy, t, v->height * 0.3, v->height - o->h);
        int x0 = (int)floor(ox), y0 = (int)floor(oy);
        for (int y = y0; y < y0 + (int)ceil(o->h) + 1; y++)
            for (int x = x0; x < x0 + (int)ceil(o->w) + 1; x++) {
                if (x < 0 || y < 0 || x >= (int)W || y >= (int)H)
                    continue;
                uint8_t px[3];
                if (!object_pixel(o, x - ox, y - oy, v->seed + 50 + k, px))
                    continue;
                memcpy(rgb + ((size_t)y * W + (size_t)x) * 3, px, 3);
                if (mask)
                    mask[(size_t)y * W + (size_t)x] = (uint8_t)(k + 1);
            }
    }
    if (v->noise > 0)
        for (size_t i = 0; i < (size_t)W * H * 3; i++) {
            double n = (lattice((int64_t)i, (int64_t)t, v->seed + 999) * 2.0 - 1.0) * v->noise;
            rgb[i] = (uint8_t)clampd(rgb[i] + n, 0, 255);
        }
}

void video_render_exemplar(const video *v, size_t k, uint8_t *rgb) {
    const video_object *o = &v->obj[k];
    memset(rgb, 128, (size_t)v->width * v->height * 3);
    double ox = (v->width - o->w) / 2, oy = (v->height - o->h) / 2;
    for (uint32_t y = 0; y < v->height; y++)
        for (uint32_t x = 0; x < v->width; x++) {
            uint8_t px[3];
            if (object_pixel(o, x - ox, y - oy, v->seed + 50 + k, px))
                memcpy(rgb + ((size_t)y * v->width + x) * 3, px, 3);
        }
}

/* ---- the scenes ---- */

static video_object obj(obj_shape s, obj_texture t, uint32_t c1, uint32_t c2, double w, double h,
                        double x, double y, double vx, double vy) {
    video_object o = {s,
                      t,
                      {(uint8_t)(c1 >> 16), (uint8_t)(c1 >> 8), (uint8_t)c1},
                      {(uint8_t)(c2 >> 16), (uint8_t)(c2 >> 8), (uint8_t)c2},
                      w,
                      h,
                      x,
                      y,
                      vx,
                      vy,
                      0,
                      0};
    return o;
}

static const char *const scene_names[] = {"still", "pan", "cut", "crowded"};

const char *video_scene_name(int which) {
    return which >= 0 && which < 4 ? scene_names[which] : "?";
}

int video_scene(video *v, int which, uint32_t frames) {
    memset(v, 0, sizeof *v);
    v->width = v->height = 336;
    v->world_w = 336;
    v->noise = 3.0f;
    v->seed = 1000 + (uint64_t)which;
    switch (which) {
        case 0: /* still camera, four objects at mixed speeds, one appearing then leaving */
            v->nobj = 4;
            v->obj[0] = obj(SHAPE_BOX, TEX_STRIPES, 0xD02020, 0xF0F0F0, 76, 42, 20, 250, 21, 0);
            v->obj[1] = obj(SHAPE_ELLIPSE, TEX_DOTS, 0xF0D020, 0x302010, 52, 52, 200, 140, -9, 6);
            v->obj[2] = obj(SHAPE_BOX, TEX_CHECKS, 0x2040D0, 0xE0E0FF, 58, 58, 90, 160, 4, -3);
            v->obj[3] = obj(SHAPE_ELLIPSE, TEX_RINGS, 0x9020B0, 0xF0C0FF, 44, 64, 250, 120, -14, 3);
            v->obj[3].appear = frames / 4;
            v->obj[3].vanish = 3 * frames / 4;
            break;
        case 1: /* panning camera over a wider world */
            v->world_w = 720;
            v->pan = 7.0;
            v->nobj = 3;
            v->obj[0] = obj(SHAPE_BOX, TEX_STRIPES, 0xD02020, 0xF0F0F0, 76, 42, 40, 250, 18, 0);
            v->obj[1] = obj(SHAPE_ELLIPSE, TEX_DOTS, 0xF0D020, 0x302010, 52, 52, 400, 140, -11, 5);
            v->obj[2] = obj(SHAPE_BOX, TEX_CHECKS, 0x2040D0, 0xE0E0FF, 58, 58, 260, 160, 5, -4);
            break;
        case 2: /* still, then a cut to another place with other objects */
            v->cut_at = frames / 2;
            v->nobj = 4;
            v->obj[0] = obj(SHAPE_BOX, TEX_STRIPES, 0xD02020, 0xF0F0F0, 76, 42, 20, 250, 17, 0);
            v->obj[1] = obj(SHAPE_ELLIPSE, TEX_DOTS, 0xF0D020, 0x302010, 52, 52, 200, 140, -9, 6);
            v->obj[2] = obj(SHAPE_ELLIPSE, TEX_NOISE, 0x20B060, 0xC0F0A0, 60, 46, 40, 220, 12, -5);
            v->obj[3] = obj(SHAPE_BOX, TEX_RINGS, 0xE07010, 0x401000, 50, 70, 250, 200, -8, -7);
            v->obj[0].vanish = v->obj[1].vanish = frames / 2;
            v->obj[2].appear = v->obj[3].appear = frames / 2;
            break;
        case 3: /* crowded: six smaller, faster objects */
            v->nobj = 6;
            v->obj[0] = obj(SHAPE_BOX, TEX_STRIPES, 0xD02020, 0xF0F0F0, 40, 30, 10, 260, 26, 0);
            v->obj[1] = obj(SHAPE_ELLIPSE, TEX_DOTS, 0xF0D020, 0x302010, 36, 36, 200, 140, -17, 9);
            v->obj[2] = obj(SHAPE_BOX, TEX_CHECKS, 0x2040D0, 0xE0E0FF, 40, 40, 90, 160, 11, -13);
            v->obj[3] = obj(SHAPE_ELLIPSE, TEX_RINGS, 0x9020B0, 0xF0C0FF, 34, 44, 250, 120, -23, 5);
            v->obj[4] = obj(SHAPE_ELLIPSE, TEX_NOISE, 0x20B060, 0xC0F0A0, 42, 32, 60, 220, 15, 8);
            v->obj[5] = obj(SHAPE_BOX, TEX_RINGS, 0xE07010, 0x401000, 30, 42, 300, 230, -12, -9);
            break;
        default:
            return -1;
    }
    return video_prepare(v);
}
