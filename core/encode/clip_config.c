/* config.json / preprocessor_config.json (see clip_config.h). Defaults are those of the
 * transformers configuration classes, so that minimal config files read as they do in Python. */
#include "clip_config.h"

#include <math.h>
#include <string.h>

#include "scriptprune/json.h"

static sp_status get_u32(const sp_json *obj, const char *section, const char *key, uint32_t dflt,
                         uint32_t *out, sp_error *err) {
    const sp_json *v = obj ? sp_json_get(obj, key) : NULL;
    if (!v || sp_json_type_of(v) == SP_JSON_NULL) {
        *out = dflt;
        return SP_OK;
    }
    int64_t i;
    if (!sp_json_int64(v, &i) || i < 1 || i > 1 << 24)
        return sp_error_set(err, SP_ERR_FORMAT,
                            "config.json: %s%s must be an integer in "
                            "[1, 2^24]",
                            section, key);
    *out = (uint32_t)i;
    return SP_OK;
}

static sp_status get_i32(const sp_json *obj, const char *section, const char *key, int32_t dflt,
                         int32_t *out, sp_error *err) {
    const sp_json *v = obj ? sp_json_get(obj, key) : NULL;
    if (!v || sp_json_type_of(v) == SP_JSON_NULL) {
        *out = dflt;
        return SP_OK;
    }
    int64_t i;
    if (!sp_json_int64(v, &i) || i < 0 || i > INT32_MAX)
        return sp_error_set(err, SP_ERR_FORMAT, "config.json: %s%s must be a token id", section,
                            key);
    *out = (int32_t)i;
    return SP_OK;
}

static sp_status get_float(const sp_json *obj, const char *section, const char *key, float dflt,
                           float *out, sp_error *err) {
    const sp_json *v = obj ? sp_json_get(obj, key) : NULL;
    if (!v || sp_json_type_of(v) == SP_JSON_NULL) {
        *out = dflt;
        return SP_OK;
    }
    /* Checked as the float it becomes: 1e-50 is above 0 as a double but 0 as a float. */
    double d = sp_json_type_of(v) == SP_JSON_NUMBER ? sp_json_number(v) : 0.0;
    float f = d > 0 && d < 1 ? (float)d : 0.0f; /* in range: the conversion is defined */
    if (!(f > 0) || !(f < 1))
        return sp_error_set(err, SP_ERR_FORMAT,
                            "config.json: %s%s must be a number in (0, 1) as a float32", section,
                            key);
    *out = f;
    return SP_OK;
}

static sp_status get_act(const sp_json *obj, const char *section, vm_act dflt, vm_act *out,
                         sp_error *err) {
    const sp_json *v = obj ? sp_json_get(obj, "hidden_act") : NULL;
    if (!v) {
        *out = dflt;
        return SP_OK;
    }
    const char *s = sp_json_type_of(v) == SP_JSON_STRING ? sp_json_string(v, NULL) : "";
    if (strcmp(s, "quick_gelu") == 0)
        *out = VM_ACT_QUICK_GELU;
    else if (strcmp(s, "gelu_pytorch_tanh") == 0 || strcmp(s, "gelu_new") == 0 ||
             strcmp(s, "gelu_fast") == 0)
        *out = VM_ACT_GELU_TANH;
    else if (strcmp(s, "gelu") == 0)
        *out = VM_ACT_GELU_ERF;
    else
        return sp_error_set(err, SP_ERR_UNSUPPORTED,
                            "config.json: %shidden_act '%s' is not "
                            "supported (quick_gelu, gelu, gelu_pytorch_tanh, gelu_new, gelu_fast)",
                            section, s);
    return SP_OK;
}

typedef struct tower_defaults {
    uint32_t hidden, inter, heads, layers;
    float eps;
    vm_act act;
} tower_defaults;

static sp_status parse_tower(const sp_json *obj, const char *section, const tower_defaults *d,
                             clip_tower_config *t, sp_error *err) {
    sp_status s = get_u32(obj, section, "hidden_size", d->hidden, &t->hidden, err);
    if (!s)
        s = get_u32(obj, section, "intermediate_size", d->inter, &t->inter, err);
    if (!s)
        s = get_u32(obj, section, "num_attention_heads", d->heads, &t->heads, err);
    if (!s)
        s = get_u32(obj, section, "num_hidden_layers", d->layers, &t->layers, err);
    if (!s)
        s = get_float(obj, section, "layer_norm_eps", d->eps, &t->eps, err);
    if (!s)
        s = get_act(obj, section, d->act, &t->act, err);
    if (!s && t->hidden % t->heads != 0)
        s = sp_error_set(err, SP_ERR_FORMAT,
                         "config.json: %shidden_size %u is not a multiple "
                         "of num_attention_heads %u",
                         section, t->hidden, t->heads);
    return s;
}

static const sp_json *sub(const sp_json *root, const char *key) {
    const sp_json *v = sp_json_get(root, key);
    return v && sp_json_type_of(v) == SP_JSON_OBJECT ? v : NULL;
}

/* The vision tower's fields (CLIPVisionConfig / SiglipVisionConfig); root carries CLIP's
 * projection_dim. */
static sp_status parse_vision(const sp_json *root, const sp_json *vision, clip_config *c,
                              sp_error *err) {
    int siglip = c->family == CLIP_FAMILY_SIGLIP;
    tower_defaults vd = {
        768, 3072, 12, 12, siglip ? 1e-6f : 1e-5f, siglip ? VM_ACT_GELU_TANH : VM_ACT_QUICK_GELU};
    sp_status s = parse_tower(vision, "vision_config.", &vd, &c->vis, err);
    if (!s)
        s = get_u32(vision, "vision_config.", "image_size", 224, &c->image_size, err);
    if (!s)
        s = get_u32(vision, "vision_config.", "patch_size", siglip ? 16 : 32, &c->patch_size, err);
    uint32_t channels = 3;
    if (!s)
        s = get_u32(vision, "vision_config.", "num_channels", 3, &channels, err);
    if (!s && channels != 3)
        s = sp_error_set(err, SP_ERR_UNSUPPORTED,
                         "config.json: vision_config.num_channels %u "
                         "(only RGB, 3)",
                         channels);
    if (!s && c->image_size < c->patch_size)
        s = sp_error_set(err, SP_ERR_FORMAT,
                         "config.json: vision_config.image_size %u is smaller than patch_size %u",
                         c->image_size, c->patch_size);
    if (!s && !siglip) /* CLIPConfig and CLIPVisionConfig both carry projection_dim */
        s = get_u32(root, "", "projection_dim", 512, &c->projection, err);
    c->vision_head = siglip;
    const sp_json *uh = vision ? sp_json_get(vision, "vision_use_head") : NULL;
    if (!s && uh && sp_json_type_of(uh) == SP_JSON_BOOL)
        c->vision_head = siglip && sp_json_bool(uh);
    return s;
}

static const char *string_of(const sp_json *obj, const char *key) {
    const sp_json *v = obj ? sp_json_get(obj, key) : NULL;
    return v && sp_json_type_of(v) == SP_JSON_STRING ? sp_json_string(v, NULL) : NULL;
}

/* architectures names LlavaForConditionalGeneration or LlavaNextForConditionalGeneration. */
static int is_llava(const sp_json *root) {
    const sp_json *a = sp_json_get(root, "architectures");
    if (!a || sp_json_type_of(a) != SP_JSON_ARRAY)
        return 0;
    for (size_t i = 0; i < sp_json_length(a); i++) {
        const sp_json *x = sp_json_at(a, i);
        const char *n = sp_json_type_of(x) == SP_JSON_STRING ? sp_json_string(x, NULL) : "";
        if (strcmp(n, "LlavaForConditionalGeneration") == 0 ||
            strcmp(n, "LlavaNextForConditionalGeneration") == 0)
            return 1;
    }
    return 0;
}

/* LlavaConfig / LlavaNextConfig: the vision tower's config (a CLIPVisionConfig of CLIP ViT-L/14 at
 * 336 px when absent), the projector and the features it reads. */
static sp_status parse_llava(const sp_json *root, clip_config *c, sp_error *err) {
    clip_llava *lv = &c->llava;
    lv->on = 1;
    c->has_text = 0;
    const sp_json *vision = sub(root, "vision_config");
    const char *vt = vision ? string_of(vision, "model_type") : NULL;
    if (!vt)
        vt = "clip_vision_model"; /* transformers' default for a vision_config dict */
    if (strcmp(vt, "clip_vision_model") == 0)
        c->family = CLIP_FAMILY_CLIP;
    else if (strcmp(vt, "siglip_vision_model") == 0)
        c->family = CLIP_FAMILY_SIGLIP;
    else
        return sp_error_set(err, SP_ERR_UNSUPPORTED,
                            "config.json: LLaVA vision_config.model_type '%s' is not supported "
                            "(clip_vision_model or siglip_vision_model)",
                            vt);
    sp_status s;
    if (vision) {
        s = parse_vision(vision, vision, c, err);
    } else {
        c->vis = (clip_tower_config){1024, 4096, 16, 24, 1e-5f, VM_ACT_QUICK_GELU};
        c->image_size = 336;
        c->patch_size = 14;
        c->projection = 768;
        s = SP_OK;
    }
    c->vision_head = 0; /* LLaVA reads hidden states; a pooling head is never used */
    const sp_json *text = sub(root, "text_config");
    if (!s)
        s = get_u32(text, "text_config.", "hidden_size", 4096, &lv->text_hidden, err);
    const char *act = string_of(root, "projector_hidden_act");
    if (!s && sp_json_get(root, "projector_hidden_act") && !act)
        s = sp_error_set(err, SP_ERR_FORMAT, "config.json: projector_hidden_act is not a string");
    if (!s && act && strcmp(act, "gelu") != 0)
        s = sp_error_set(err, SP_ERR_UNSUPPORTED,
                         "config.json: projector_hidden_act '%s' is not supported (only 'gelu', "
                         "the exact erf GELU of LLaVA's projector)",
                         act);
    const sp_json *fl = sp_json_get(root, "vision_feature_layer");
    int64_t layer = -2;
    if (!s && fl && sp_json_type_of(fl) == SP_JSON_ARRAY)
        s = sp_error_set(err, SP_ERR_UNSUPPORTED,
                         "config.json: vision_feature_layer is a list (features concatenated "
                         "from several layers); only one layer is supported");
    else if (!s && fl && (!sp_json_int64(fl, &layer) || layer < -4096 || layer > 4096))
        s = sp_error_set(err, SP_ERR_FORMAT,
                         "config.json: vision_feature_layer must be an integer layer index");
    lv->feature_layer = (int32_t)layer;
    const char *strategy = string_of(root, "vision_feature_select_strategy");
    if (!s && sp_json_get(root, "vision_feature_select_strategy") && !strategy)
        s = sp_error_set(err, SP_ERR_FORMAT,
                         "config.json: vision_feature_select_strategy is not a string");
    if (!s && strategy && strcmp(strategy, "default") != 0 && strcmp(strategy, "full") != 0)
        s = sp_error_set(err, SP_ERR_UNSUPPORTED,
                         "config.json: vision_feature_select_strategy '%s' is not 'default' or "
                         "'full'",
                         strategy);
    lv->keep_cls = strategy && strcmp(strategy, "full") == 0;
    /* "default" drops the first token: the class token of CLIP, but a real patch of SigLIP,
     * whose tokens would then not fill the grid */
    if (!s && c->family == CLIP_FAMILY_SIGLIP && !lv->keep_cls)
        s = sp_error_set(err, SP_ERR_UNSUPPORTED,
                         "config.json: vision_feature_select_strategy 'default' on a SigLIP "
                         "tower drops its first patch token, which leaves no token grid; only "
                         "'full' is supported with SigLIP");
    lv->bias = 1;
    const sp_json *b = sp_json_get(root, "multimodal_projector_bias");
    if (!s && b && sp_json_type_of(b) == SP_JSON_BOOL)
        lv->bias = sp_json_bool(b);
    return s;
}

static sp_status parse_root(const sp_json *root, clip_config *c, sp_error *err) {
    if (sp_json_type_of(root) != SP_JSON_OBJECT)
        return sp_error_set(err, SP_ERR_FORMAT, "config.json: not a JSON object");
    if (is_llava(root))
        return parse_llava(root, c, err);
    const char *type = string_of(root, "model_type");
    if (!type)
        return sp_error_set(err, SP_ERR_FORMAT,
                            "config.json: no model_type (expected clip, "
                            "siglip, clip_vision_model or siglip_vision_model, or architectures "
                            "LlavaForConditionalGeneration)");
    const sp_json *vision, *text;
    if (strcmp(type, "clip") == 0 || strcmp(type, "siglip") == 0) {
        vision = sub(root, "vision_config");
        text = sub(root, "text_config");
        c->has_text = 1;
    } else if (strcmp(type, "clip_vision_model") == 0 || strcmp(type, "siglip_vision_model") == 0) {
        vision = root;
        text = NULL;
        c->has_text = 0;
    } else {
        return sp_error_set(err, SP_ERR_UNSUPPORTED,
                            "config.json: model_type '%s' is not a "
                            "CLIP, SigLIP or LLaVA model",
                            type);
    }
    c->family = strncmp(type, "siglip", 6) == 0 ? CLIP_FAMILY_SIGLIP : CLIP_FAMILY_CLIP;
    int siglip = c->family == CLIP_FAMILY_SIGLIP;
    /* transformers' text config defaults */
    tower_defaults td = siglip ? (tower_defaults){768, 3072, 12, 12, 1e-6f, VM_ACT_GELU_TANH}
                               : (tower_defaults){512, 2048, 8, 12, 1e-5f, VM_ACT_QUICK_GELU};
    sp_status s = parse_vision(root, vision, c, err);
    if (s || !c->has_text)
        return s;
    s = parse_tower(text, "text_config.", &td, &c->txt, err);
    if (!s)
        s = get_u32(text, "text_config.", "vocab_size", siglip ? 32000 : 49408, &c->vocab, err);
    if (!s)
        s = get_u32(text, "text_config.", "max_position_embeddings", siglip ? 64 : 77, &c->context,
                    err);
    if (!s)
        s = get_i32(text, "text_config.", "bos_token_id", 49406, &c->bos_id, err);
    if (!s)
        s = get_i32(text, "text_config.", "eos_token_id", 49407, &c->eos_id, err);
    if (!s)
        s = get_i32(text, "text_config.", "pad_token_id", 1, &c->pad_id, err);
    if (!s && siglip)
        s = get_u32(text, "text_config.", "projection_size", c->txt.hidden, &c->projection, err);
    return s;
}

sp_status clip_config_parse(const char *json, size_t len, clip_config *out, sp_error *err) {
    memset(out, 0, sizeof *out);
    sp_json_doc *doc = NULL;
    sp_status s = sp_json_parse(json, len, "config.json", &doc, err);
    if (!s)
        s = parse_root(sp_json_root(doc), out, err);
    sp_json_free(doc);
    return s;
}

static sp_status get_triple(const sp_json *root, const char *key, float out[3], sp_error *err) {
    const sp_json *v = sp_json_get(root, key);
    if (!v || sp_json_type_of(v) == SP_JSON_NULL)
        return SP_OK;
    if (sp_json_type_of(v) == SP_JSON_NUMBER) {
        out[0] = out[1] = out[2] = (float)sp_json_number(v);
    } else if (sp_json_type_of(v) == SP_JSON_ARRAY && sp_json_length(v) == 3) {
        for (size_t i = 0; i < 3; i++) {
            const sp_json *x = sp_json_at(v, i);
            if (sp_json_type_of(x) != SP_JSON_NUMBER)
                return sp_error_set(err, SP_ERR_FORMAT,
                                    "preprocessor_config.json: %s[%zu] is "
                                    "not a number",
                                    key, i);
            out[i] = (float)sp_json_number(x);
        }
    } else {
        return sp_error_set(err, SP_ERR_FORMAT,
                            "preprocessor_config.json: %s must be three "
                            "numbers",
                            key);
    }
    return SP_OK;
}

static sp_status parse_pre(const sp_json *root, clip_config *c, sp_error *err) {
    if (sp_json_type_of(root) != SP_JSON_OBJECT)
        return sp_error_set(err, SP_ERR_FORMAT, "preprocessor_config.json: not a JSON object");
    sp_status s = get_triple(root, "image_mean", c->mean, err);
    if (!s)
        s = get_triple(root, "image_std", c->std, err);
    if (s)
        return s;
    const sp_json *r = sp_json_get(root, "resample");
    int64_t rv;
    if (r && sp_json_int64(r, &rv)) /* PIL codes: 2 bilinear, 3 bicubic, 4 box */
        c->resample = rv == 2   ? SP_RESAMPLE_BILINEAR
                      : rv == 4 ? SP_RESAMPLE_AREA
                                : SP_RESAMPLE_BICUBIC;
    const sp_json *crop = sp_json_get(root, "do_center_crop");
    const sp_json *size = sp_json_get(root, "size");
    if (crop && sp_json_type_of(crop) == SP_JSON_BOOL)
        c->fit = sp_json_bool(crop) ? SP_FIT_CROP : SP_FIT_STRETCH;
    else if (size && sp_json_type_of(size) == SP_JSON_OBJECT && sp_json_get(size, "height"))
        c->fit = SP_FIT_STRETCH;
    for (int k = 0; k < 3; k++)
        if (!(c->std[k] > 0) || !isfinite(c->mean[k]) || !isfinite(c->std[k]))
            return sp_error_set(err, SP_ERR_FORMAT,
                                "preprocessor_config.json: image_std must be "
                                "positive and image_mean finite");
    return SP_OK;
}

sp_status clip_preprocessor_parse(const char *json, size_t len, clip_config *c, sp_error *err) {
    static const float openai_mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
    static const float openai_std[3] = {0.26862954f, 0.26130258f, 0.27577711f};
    int siglip = c->family == CLIP_FAMILY_SIGLIP;
    for (int k = 0; k < 3; k++) {
        c->mean[k] = siglip ? 0.5f : openai_mean[k];
        c->std[k] = siglip ? 0.5f : openai_std[k];
    }
    /* CLIPImageProcessor: shortest edge + centre crop; SiglipImageProcessor: resize to S x S */
    c->fit = siglip ? SP_FIT_STRETCH : SP_FIT_CROP;
    c->resample = SP_RESAMPLE_BICUBIC;
    if (!json)
        return SP_OK;
    sp_json_doc *doc = NULL;
    sp_status s = sp_json_parse(json, len, "preprocessor_config.json", &doc, err);
    if (!s)
        s = parse_pre(sp_json_root(doc), c, err);
    sp_json_free(doc);
    return s;
}
