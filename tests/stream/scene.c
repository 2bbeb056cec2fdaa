#include "scene.h"

#include <math.h>
#include <string.h>

#include "rng.h"

void scene_init(scene *s, uint32_t gh, uint32_t gw, size_t d, uint64_t seed) {
    memset(s, 0, sizeof *s);
    s->gh = gh;
    s->gw = gw;
    s->d = d;
    s->bands = 4;
    s->texture = 0.3f;
    s->noise = 0.02f;
    s->obj_texture = 1.0f;
    s->seed = seed;
}

/* A reproducible vector for a (kind, a, b, c) key: uniform in [-1, 1), then unit length. */
static void keyed_vector(uint64_t seed, uint64_t kind, uint64_t a, uint64_t b, uint64_t c, size_t d,
                         float *out) {
    sp_rng r;
    sp_rng_seed(&r, seed ^ (kind * 0x9E3779B97F4A7C15ull) ^ (a * 0xC2B2AE3D27D4EB4Full) ^
                        (b * 0x165667B19E3779F9ull) ^ (c * 0x27D4EB2F165667C5ull));
    double n = 0.0;
    for (size_t i = 0; i < d; i++) {
        out[i] = (float)(sp_rng_unit(&r) * 2.0 - 1.0);
        n += (double)out[i] * out[i];
    }
    float inv = (float)(1.0 / sqrt(n));
    for (size_t i = 0; i < d; i++)
        out[i] *= inv;
}

void scene_object_base(const scene *s, uint32_t id, float *out) {
    keyed_vector(s->seed, 5, s->scene_id * 1000u + id, 0, 0, s->d, out);
}

void scene_object_token(const scene *s, uint32_t id, uint32_t u, uint32_t v, float *out) {
    float base[1024];
    scene_object_base(s, id, base);
    keyed_vector(s->seed, 3, s->scene_id * 1000u + id, u, v, s->d, out);
    double n = 0.0;
    for (size_t i = 0; i < s->d; i++) {
        out[i] = base[i] + s->obj_texture * out[i];
        n += (double)out[i] * out[i];
    }
    float inv = (float)(1.0 / sqrt(n));
    for (size_t i = 0; i < s->d; i++)
        out[i] *= inv;
}

void scene_render(const scene *s, uint64_t t, float *tokens, uint8_t *label) {
    size_t d = s->d;
    float base[1024], tex[1024], noise[1024];
    for (uint32_t y = 0; y < s->gh; y++) {
        uint32_t band = y * s->bands / s->gh;
        keyed_vector(s->seed, 1, s->scene_id, band, 0, d, base);
        for (uint32_t x = 0; x < s->gw; x++) {
            size_t p = (size_t)y * s->gw + x;
            float *o = tokens + p * d;
            keyed_vector(s->seed, 2, s->scene_id, y, x, d, tex);
            for (size_t i = 0; i < d; i++)
                o[i] = base[i] + s->texture * tex[i];
            if (label)
                label[p] = 0;
            for (size_t k = 0; k < s->nobj; k++) {
                const scene_object *ob = &s->obj[k];
                int32_t u = (int32_t)y - ob->y, v = (int32_t)x - ob->x;
                if (!ob->visible || u < 0 || v < 0 || u >= (int32_t)ob->h || v >= (int32_t)ob->w)
                    continue;
                scene_object_token(s, ob->id, (uint32_t)u, (uint32_t)v, o);
                if (label)
                    label[p] = (uint8_t)(1 + k);
            }
            keyed_vector(s->seed, 4, t, p, 0, d, noise);
            for (size_t i = 0; i < d; i++)
                o[i] += s->noise * noise[i];
        }
    }
}

void scene_random_units(float *x, size_t rows, size_t d, uint64_t seed) {
    sp_rng r;
    sp_rng_seed(&r, seed);
    for (size_t i = 0; i < rows; i++) {
        double nrm = 0;
        for (size_t k = 0; k < d; k++) {
            x[i * d + k] = (float)(sp_rng_unit(&r) * 2 - 1);
            nrm += (double)x[i * d + k] * x[i * d + k];
        }
        for (size_t k = 0; k < d; k++)
            x[i * d + k] /= (float)sqrt(nrm);
    }
}
