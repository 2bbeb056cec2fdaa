/* Random-weight ViTs of the real shapes, for the benchmarks (vit_model.h). */
#include "vit_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "scriptprune/safetensors.h"

const vit_dims VIT_B16 = {"ViT-B/16", 768, 3072, 12, 12, 224, 16, 512, 0};
const vit_dims VIT_L14 = {"ViT-L/14", 1024, 4096, 16, 24, 336, 14, 768, 0};
const vit_dims LLAVA_7B = {"LLaVA-1.5-7B", 1024, 4096, 16, 24, 336, 14, 768, 4096};
const vit_dims LLAVA_13B = {"LLaVA-1.5-13B", 1024, 4096, 16, 24, 336, 14, 768, 5120};

static int add_random(sp_st_writer *w, const char *name, size_t ndim, const size_t *shape,
                      float scale, float offset, sp_rng *r, float *buf) {
    size_t n = 1;
    for (size_t i = 0; i < ndim; i++)
        n *= shape[i];
    for (size_t i = 0; i < n; i++)
        buf[i] = offset + scale * (float)(2.0 * sp_rng_unit(r) - 1.0);
    sp_error err;
    if (sp_st_writer_add_f32_as_f16(w, name, ndim, shape, buf, &err)) {
        fprintf(stderr, "vit_model: %s\n", err.message);
        return 1;
    }
    return 0;
}

int vit_build_model(const vit_dims *d, model_image *out) {
    size_t H = d->hidden, F = d->inter, P = d->patch, g = d->image / d->patch;
    size_t most = F * H > 3 * P * P * H ? F * H : 3 * P * P * H;
    if ((size_t)d->llava_hidden * d->llava_hidden > most)
        most = (size_t)d->llava_hidden * d->llava_hidden;
    float *buf = malloc(most * sizeof(float));
    sp_st_writer *w = sp_st_writer_new();
    if (!buf || !w)
        return 1;
    sp_rng r;
    sp_rng_seed(&r, 11);
    float sh = 1.7320508f / sqrtf((float)H), sf = 1.7320508f / sqrtf((float)F);
    int bad = 0;
    const char *lead = d->llava_hidden ? "vision_tower." : "";
    char full[160];
#define ADD(name, scale, offset, ...)                                                              \
    bad |= add_random(w, (snprintf(full, sizeof full, "%s%s", lead, name), full),                  \
                      sizeof((size_t[]){__VA_ARGS__}) / sizeof(size_t),                            \
                      (const size_t[]){__VA_ARGS__}, scale, offset, &r, buf)
    ADD("vision_model.embeddings.class_embedding", 0.5f, 0, H);
    ADD("vision_model.embeddings.patch_embedding.weight", 1.7320508f / sqrtf(3.0f * P * P), 0, H, 3,
        P, P);
    ADD("vision_model.embeddings.position_embedding.weight", 0.5f, 0, g * g + 1, H);
    ADD("vision_model.pre_layrnorm.weight", 0.1f, 1, H);
    ADD("vision_model.pre_layrnorm.bias", 0.1f, 0, H);
    for (uint32_t l = 0; l < d->layers && !bad; l++) {
        char n[128];
#define LN(suffix) (snprintf(n, sizeof n, "vision_model.encoder.layers.%u.%s", l, suffix), n)
        ADD(LN("layer_norm1.weight"), 0.1f, 1, H);
        ADD(LN("layer_norm1.bias"), 0.1f, 0, H);
        ADD(LN("layer_norm2.weight"), 0.1f, 1, H);
        ADD(LN("layer_norm2.bias"), 0.1f, 0, H);
        ADD(LN("self_attn.q_proj.weight"), sh, 0, H, H);
        ADD(LN("self_attn.q_proj.bias"), 0.1f, 0, H);
        ADD(LN("self_attn.k_proj.weight"), sh, 0, H, H);
        ADD(LN("self_attn.k_proj.bias"), 0.1f, 0, H);
        ADD(LN("self_attn.v_proj.weight"), sh, 0, H, H);
        ADD(LN("self_attn.v_proj.bias"), 0.1f, 0, H);
        ADD(LN("self_attn.out_proj.weight"), sh, 0, H, H);
        ADD(LN("self_attn.out_proj.bias"), 0.1f, 0, H);
        ADD(LN("mlp.fc1.weight"), sh, 0, F, H);
        ADD(LN("mlp.fc1.bias"), 0.1f, 0, F);
        ADD(LN("mlp.fc2.weight"), sf, 0, H, F);
        ADD(LN("mlp.fc2.bias"), 0.1f, 0, H);
#undef LN
    }
    ADD("vision_model.post_layernorm.weight", 0.1f, 1, H);
    ADD("vision_model.post_layernorm.bias", 0.1f, 0, H);
    if (!d->llava_hidden) {
        ADD("visual_projection.weight", sh, 0, d->projection, H);
    } else {
        size_t D = d->llava_hidden;
        float sd = 1.7320508f / sqrtf((float)D);
        lead = "";
        ADD("multi_modal_projector.linear_1.weight", sh, 0, D, H);
        ADD("multi_modal_projector.linear_1.bias", 0.1f, 0, D);
        ADD("multi_modal_projector.linear_2.weight", sd, 0, D, D);
        ADD("multi_modal_projector.linear_2.bias", 0.1f, 0, D);
    }
#undef ADD
    sp_error err;
    if (bad || sp_st_writer_to_buffer(w, &out->st, &out->st_len, &err)) {
        fprintf(stderr, "vit_model: cannot build the %s image\n", d->name);
        return 1;
    }
    sp_st_writer_free(w);
    free(buf);
    if (d->llava_hidden) {
        snprintf(out->config, sizeof out->config,
                 "{\"architectures\": [\"LlavaForConditionalGeneration\"], \"vision_config\": "
                 "{\"model_type\": \"clip_vision_model\", \"hidden_size\": %u, "
                 "\"intermediate_size\": %u, \"num_attention_heads\": %u, "
                 "\"num_hidden_layers\": %u, \"image_size\": %u, \"patch_size\": %u, "
                 "\"hidden_act\": \"quick_gelu\"}, \"text_config\": {\"hidden_size\": %u}, "
                 "\"projector_hidden_act\": \"gelu\", \"vision_feature_layer\": -2, "
                 "\"vision_feature_select_strategy\": \"default\"}",
                 d->hidden, d->inter, d->heads, d->layers, d->image, d->patch, d->llava_hidden);
        return 0;
    }
    snprintf(out->config, sizeof out->config,
             "{\"model_type\": \"clip_vision_model\", \"hidden_size\": %u, "
             "\"intermediate_size\": %u, \"num_attention_heads\": %u, \"num_hidden_layers\": %u, "
             "\"image_size\": %u, \"patch_size\": %u, \"hidden_act\": \"quick_gelu\", "
             "\"projection_dim\": %u}",
             d->hidden, d->inter, d->heads, d->layers, d->image, d->patch, d->projection);
    return 0;
}

uint8_t *vit_make_frame(uint32_t w, uint32_t h, size_t bpp, uint64_t seed) {
    uint8_t *px = malloc((size_t)w * h * bpp);
    if (!px)
        return NULL;
    sp_rng r;
    sp_rng_seed(&r, seed);
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++) {
            uint8_t *p = px + ((size_t)y * w + x) * bpp;
            uint64_t n = sp_rng_next(&r);
            p[0] = (uint8_t)((x * 255) / w + (n & 31));
            p[1] = (uint8_t)((y * 255) / h + ((n >> 8) & 31));
            p[2] = (uint8_t)(((x / 40 + y / 40) % 2) * 160 + ((n >> 16) & 31));
            if (bpp == 4)
                p[3] = 255;
        }
    return px;
}

/* FLOPs of one encode (matrix products), counted from the dimensions independently of the
 * library: patch embedding, per layer q/k/v + attention + output + MLP, the projection. */
double vit_model_flops(const vit_dims *d) {
    double H = d->hidden, F = d->inter, g = d->image / d->patch, n = g * g, T = n + 1;
    double K = 3.0 * d->patch * d->patch;
    double layer = 2 * T * H * 3 * H + 2 * 2 * T * T * H + 2 * T * H * H + 2 * 2 * T * H * F;
    return 2 * n * K * H + d->layers * layer + 2 * n * H * d->projection;
}

void vit_model_blobs(const model_image *mi, sp_model_blobs *out) {
    memset(out, 0, sizeof *out);
    out->safetensors = mi->st;
    out->safetensors_len = mi->st_len;
    out->config_json = mi->config;
    out->config_json_len = strlen(mi->config);
}

sp_status vit_open_encoder(const vit_dims *d, sp_encoder **out, sp_error *err) {
    model_image mi;
    if (vit_build_model(d, &mi))
        return sp_error_set(err, SP_ERR_NOMEM, "cannot build the %s weights", d->name);
    sp_encoder_config cfg;
    sp_encoder_config_init(&cfg);
    cfg.kind = SP_ENCODER_CLIP;
    cfg.text = false;
    sp_model_blobs blobs;
    vit_model_blobs(&mi, &blobs);
    sp_status s = sp_encoder_open_blobs(&cfg, &blobs, out, err);
    free(mi.st);
    return s;
}

/* Writes len bytes to dir/name; 0 on success. */
static int write_file(const char *dir, const char *name, const void *data, size_t len) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "vit_model: cannot create %s\n", path);
        return 1;
    }
    int bad = fwrite(data, 1, len, f) != len;
    bad |= fclose(f) != 0;
    if (bad)
        fprintf(stderr, "vit_model: cannot write %s\n", path);
    return bad;
}

int vit_write_folder(const vit_dims *d, const char *dir) {
    model_image mi;
    if (vit_build_model(d, &mi))
        return 1;
    int bad = write_file(dir, "model.safetensors", mi.st, mi.st_len) ||
              write_file(dir, "config.json", mi.config, strlen(mi.config));
    free(mi.st);
    return bad;
}
