/* config.json and preprocessor_config.json of a Hugging Face CLIP, SigLIP or LLaVA folder, with
 * the transformers defaults for absent fields. */
#ifndef SP_ENCODE_CLIP_CONFIG_H
#define SP_ENCODE_CLIP_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "scriptprune/encode.h"
#include "vmath.h"

typedef enum clip_family {
    CLIP_FAMILY_CLIP = 0, /* class token, pre-LN, visual/text projections, causal text */
    CLIP_FAMILY_SIGLIP,   /* no class token, attention-pooling head, bidirectional text */
} clip_family;

typedef struct clip_tower_config {
    uint32_t hidden, inter, heads, layers;
    float eps;
    vm_act act;
} clip_tower_config;

/* A LLaVA (or LLaVA-NeXT) folder: a CLIP/SigLIP vision tower under vision_tower.* and the
 * multimodal projector linear_1 -> GELU -> linear_2 into the language model's hidden size. */
typedef struct clip_llava {
    int on;
    uint32_t text_hidden;  /* text_config.hidden_size: the projector's output width */
    int32_t feature_layer; /* vision_feature_layer (hidden-state index, < 0 from the end) */
    int keep_cls;          /* vision_feature_select_strategy "full" (1) or "default" (0) */
    int bias;              /* multimodal_projector_bias */
} clip_llava;

typedef struct clip_config {
    clip_family family;
    int has_text; /* the config describes a text tower (not a *_vision_model config) */
    clip_tower_config vis, txt;
    uint32_t image_size, patch_size;
    uint32_t vocab, context;        /* text vocab_size, max_position_embeddings */
    int32_t bos_id, eos_id, pad_id; /* text_config token ids */
    uint32_t projection;            /* CLIP projection_dim / SigLIP text projection_size */
    int vision_head;                /* SigLIP vision_use_head */
    clip_llava llava;
    /* preprocessor_config.json */
    float mean[3], std[3];
    sp_fit fit;
    sp_resample resample;
} clip_config;

sp_status clip_config_parse(const char *json, size_t len, clip_config *out, sp_error *err);
/* json == NULL: the model type's defaults. Call after clip_config_parse. */
sp_status clip_preprocessor_parse(const char *json, size_t len, clip_config *cfg, sp_error *err);

#endif
