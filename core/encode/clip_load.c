/* Loading a CLIP/SigLIP/LLaVA folder: config files, every tensor checked against config.json and
 * converted to float32 once, position embeddings resized to the run size, the tokenizer. The
 * weights come from model.safetensors or from the shards model.safetensors.index.json names (only
 * those holding tensors other than a language model's are opened; all are memory-mapped and
 * only the tensors used are read). */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "clip_model.h"
#include "scriptprune/json.h"
#include "scriptprune/safetensors.h"
#include "textfile.h"

enum { MAX_CONFIG_BYTES = 1 << 20, MAX_TOKENIZER_BYTES = 64 << 20, MAX_INDEX_BYTES = 64 << 20 };

/* The open weight files: one model.safetensors or the shards of an index. */
typedef struct weights {
    sp_st_file **st;
    size_t n, cap;
} weights;

typedef struct loader {
    clip_model *m;
    const weights *w;
    const char *file;   /* name used in messages */
    const char *prefix; /* prepended to every tensor name: "" or LLaVA's "vision_tower." */
} loader;

/* The tensor prefix + name in any of the files, or NULL. */
static const sp_st_tensor *find(const loader *L, const char *name) {
    char full[512];
    int k = snprintf(full, sizeof full, "%s%s", L->prefix, name);
    if (k < 0 || (size_t)k >= sizeof full)
        return NULL;
    for (size_t i = 0; i < L->w->n; i++) {
        const sp_st_tensor *t = sp_st_find(L->w->st[i], full);
        if (t)
            return t;
    }
    return NULL;
}

/* A zeroed block owned by the model (freed with it). */
static void *alloc_block(clip_model *m, size_t bytes, sp_error *err) {
    if (m->nblocks == m->blocks_cap) {
        size_t cap = m->blocks_cap ? 2 * m->blocks_cap : 64;
        void **b = sp_realloc(m->blocks, cap * sizeof *b);
        if (!b) {
            sp_error_set(err, SP_ERR_NOMEM, "clip: out of memory");
            return NULL;
        }
        m->blocks = b;
        m->blocks_cap = cap;
    }
    void *p = sp_aligned_alloc(bytes);
    if (!p) {
        sp_error_set(err, SP_ERR_NOMEM, "clip: out of memory for %zu bytes of weights", bytes);
        return NULL;
    }
    memset(p, 0, bytes);
    m->blocks[m->nblocks++] = p;
    return p;
}

static float *alloc_floats(clip_model *m, size_t n, sp_error *err) {
    size_t bytes;
    if (!sp_mul_size(n, sizeof(float), &bytes)) {
        sp_error_set(err, SP_ERR_OVERFLOW, "clip: %zu weights overflow", n);
        return NULL;
    }
    return alloc_block(m, bytes, err);
}

static void shape_str(char *buf, size_t cap, size_t ndim, const size_t *shape) {
    size_t pos = (size_t)snprintf(buf, cap, "[");
    for (size_t i = 0; i < ndim && pos < cap; i++)
        pos += (size_t)snprintf(buf + pos, cap - pos, i ? ", %zu" : "%zu", shape[i]);
    if (pos < cap)
        snprintf(buf + pos, cap - pos, "]");
}

/* The tensor `name` with exactly `shape`; `why` says which config.json values imply the shape. */
static sp_status get_tensor(const loader *L, const char *name, size_t ndim, const size_t *shape,
                            const char *why, const sp_st_tensor **out, sp_error *err) {
    const sp_st_tensor *t = find(L, name);
    if (!t)
        return sp_error_set(err, SP_ERR_NOT_FOUND, "%s: missing tensor '%s%s' (%s)", L->file,
                            L->prefix, name, why);
    if (t->dtype != SP_DTYPE_F32 && t->dtype != SP_DTYPE_F16 && t->dtype != SP_DTYPE_BF16)
        return sp_error_set(err, SP_ERR_UNSUPPORTED,
                            "%s: tensor '%s%s' has dtype %s; weights must "
                            "be F32, F16 or BF16",
                            L->file, L->prefix, name, sp_dtype_name(t->dtype));
    int same = t->ndim == ndim;
    for (size_t i = 0; same && i < ndim; i++)
        same = t->shape[i] == shape[i];
    if (!same) {
        char have[96], want[96];
        shape_str(have, sizeof have, t->ndim, t->shape);
        shape_str(want, sizeof want, ndim, shape);
        return sp_error_set(err, SP_ERR_FORMAT,
                            "%s: tensor '%s%s' has shape %s but config.json "
                            "implies %s (%s)",
                            L->file, L->prefix, name, have, want, why);
    }
    *out = t;
    return SP_OK;
}

static sp_status load_into(const loader *L, const char *name, size_t ndim, const size_t *shape,
                           const char *why, float *dst, sp_error *err) {
    const sp_st_tensor *t = NULL;
    sp_status s = get_tensor(L, name, ndim, shape, why, &t, err);
    if (!s)
        sp_convert_to_f32(t->dtype, t->data, dst, t->elements);
    return s;
}

static sp_status load_new(const loader *L, const char *name, size_t ndim, const size_t *shape,
                          const char *why, float **dst, sp_error *err) {
    size_t n = 1;
    for (size_t i = 0; i < ndim; i++)
        n *= shape[i]; /* shapes come from config values <= 2^24 each, at most 2-D here */
    *dst = alloc_floats(L->m, n, err);
    if (!*dst)
        return SP_ERR_NOMEM;
    return load_into(L, name, ndim, shape, why, *dst, err);
}

#define SHAPE(...) ((const size_t[]){__VA_ARGS__})
#define NDIM(...) (sizeof((size_t[]){__VA_ARGS__}) / sizeof(size_t))
#define LOAD(L, name, dst, why, err, ...)                                                          \
    load_new(L, name, NDIM(__VA_ARGS__), SHAPE(__VA_ARGS__), why, dst, err)

static sp_status load_layer(const loader *L, const char *prefix, const vit_tower *t, uint32_t i,
                            const char *why, vit_layer *ly, sp_error *err) {
    size_t H = t->hidden, I = t->inter;
    char n[256];
#define NAME(suffix) (snprintf(n, sizeof n, "%s.encoder.layers.%u.%s", prefix, i, suffix), n)
    sp_status s = LOAD(L, NAME("layer_norm1.weight"), &ly->ln1_w, why, err, H);
    if (!s)
        s = LOAD(L, NAME("layer_norm1.bias"), &ly->ln1_b, why, err, H);
    if (!s)
        s = LOAD(L, NAME("layer_norm2.weight"), &ly->ln2_w, why, err, H);
    if (!s)
        s = LOAD(L, NAME("layer_norm2.bias"), &ly->ln2_b, why, err, H);
    /* q, k, v fused into one [3H, H] matrix and one [3H] bias */
    if (!s && !(ly->qkv_w = alloc_floats(L->m, 3 * H * H, err)))
        s = SP_ERR_NOMEM;
    if (!s && !(ly->qkv_b = alloc_floats(L->m, 3 * H, err)))
        s = SP_ERR_NOMEM;
    static const char *const qkv[3] = {"q_proj", "k_proj", "v_proj"};
    for (int k = 0; k < 3 && !s; k++) {
        char part[64];
        snprintf(part, sizeof part, "self_attn.%s.weight", qkv[k]);
        s = load_into(L, NAME(part), 2, SHAPE(H, H), why, ly->qkv_w + k * H * H, err);
        snprintf(part, sizeof part, "self_attn.%s.bias", qkv[k]);
        if (!s)
            s = load_into(L, NAME(part), 1, SHAPE(H), why, ly->qkv_b + k * H, err);
    }
    if (!s)
        s = LOAD(L, NAME("self_attn.out_proj.weight"), &ly->o_w, why, err, H, H);
    if (!s)
        s = LOAD(L, NAME("self_attn.out_proj.bias"), &ly->o_b, why, err, H);
    if (!s)
        s = LOAD(L, NAME("mlp.fc1.weight"), &ly->fc1_w, why, err, I, H);
    if (!s)
        s = LOAD(L, NAME("mlp.fc1.bias"), &ly->fc1_b, why, err, I);
    if (!s)
        s = LOAD(L, NAME("mlp.fc2.weight"), &ly->fc2_w, why, err, H, I);
    if (!s)
        s = LOAD(L, NAME("mlp.fc2.bias"), &ly->fc2_b, why, err, H);
#undef NAME
    return s;
}

/* Loads the first `count` layers of the tower (LLaVA needs none past its feature layer). */
static sp_status load_tower(const loader *L, const char *prefix, const clip_tower_config *c,
                            uint32_t count, const char *section, vit_tower *t, sp_error *err) {
    t->hidden = c->hidden;
    t->inter = c->inter;
    t->heads = c->heads;
    t->layers = count;
    t->eps = c->eps;
    t->act = c->act;
    t->layer = alloc_block(L->m, ((size_t)count + 1) * sizeof *t->layer, err);
    if (!t->layer)
        return SP_ERR_NOMEM;
    char why[160];
    snprintf(why, sizeof why, "%s: hidden_size %u, intermediate_size %u, num_hidden_layers %u",
             section, c->hidden, c->inter, c->layers);
    for (uint32_t i = 0; i < count; i++) {
        sp_status s = load_layer(L, prefix, t, i, why, &t->layer[i], err);
        if (s)
            return s;
    }
    return SP_OK;
}

static sp_status load_vision(const loader *L, sp_error *err) {
    clip_model *m = L->m;
    const clip_config *c = &m->cfg;
    int siglip = c->family == CLIP_FAMILY_SIGLIP;
    uint32_t count = m->llava ? m->layer : c->vis.layers;
    sp_status s = load_tower(L, "vision_model", &c->vis, count, "vision_config", &m->vis, err);
    if (s)
        return s;
    size_t H = c->vis.hidden, P = c->patch_size, g0 = c->image_size / P;
    char why[160];
    snprintf(why, sizeof why, "vision_config: hidden_size %zu, patch_size %zu, image_size %u", H, P,
             c->image_size);
    s = LOAD(L, "vision_model.embeddings.patch_embedding.weight", &m->patch_w, why, err, H, 3, P,
             P);
    if (!s && siglip)
        s = LOAD(L, "vision_model.embeddings.patch_embedding.bias", &m->patch_b, why, err, H);
    if (!s && !siglip)
        s = LOAD(L, "vision_model.embeddings.class_embedding", &m->cls, why, err, H);
    /* position embeddings at the native grid, resized to the run grid when they differ */
    size_t cls = m->has_cls ? 1 : 0;
    float *native = NULL;
    if (!s)
        s = LOAD(L, "vision_model.embeddings.position_embedding.weight", &native, why, err,
                 g0 * g0 + cls, H);
    if (!s && m->grid == g0) {
        m->pos = native;
    } else if (!s) {
        m->pos = alloc_floats(m, m->T * H, err);
        if (!m->pos)
            return SP_ERR_NOMEM;
        if (cls)
            memcpy(m->pos, native, H * sizeof(float));
        clip_resize_pos(native + cls * H, (uint32_t)g0, m->pos + cls * H, m->grid, H);
    }
    if (!s && !siglip)
        s = LOAD(L, "vision_model.pre_layrnorm.weight", &m->pre_ln_w, why, err, H);
    if (!s && !siglip)
        s = LOAD(L, "vision_model.pre_layrnorm.bias", &m->pre_ln_b, why, err, H);
    if (s || m->llava) /* LLaVA reads a hidden state: no post layer norm, projection or head */
        return s;
    if (!s)
        s = LOAD(L, "vision_model.post_layernorm.weight", &m->post_ln_w, why, err, H);
    if (!s)
        s = LOAD(L, "vision_model.post_layernorm.bias", &m->post_ln_b, why, err, H);
    if (s)
        return s;
    if (!siglip) {
        m->e = H;
        if (find(L, "visual_projection.weight")) {
            snprintf(why, sizeof why, "projection_dim %u, vision_config.hidden_size %zu",
                     c->projection, H);
            s = LOAD(L, "visual_projection.weight", &m->proj, why, err, c->projection, H);
            m->e = c->projection;
        }
        return s;
    }
    m->e = H;
    m->has_head = c->vision_head;
    if (!m->has_head)
        return SP_OK;
    size_t I = c->vis.inter;
    snprintf(why, sizeof why,
             "SigLIP pooling head, vision_config: hidden_size %zu, "
             "intermediate_size %zu",
             H, I);
    s = LOAD(L, "vision_model.head.probe", &m->probe, why, err, 1, 1, H);
    if (!s)
        s = LOAD(L, "vision_model.head.attention.in_proj_weight", &m->head_qkv_w, why, err, 3 * H,
                 H);
    if (!s)
        s = LOAD(L, "vision_model.head.attention.in_proj_bias", &m->head_qkv_b, why, err, 3 * H);
    if (!s)
        s = LOAD(L, "vision_model.head.attention.out_proj.weight", &m->head_o_w, why, err, H, H);
    if (!s)
        s = LOAD(L, "vision_model.head.attention.out_proj.bias", &m->head_o_b, why, err, H);
    if (!s)
        s = LOAD(L, "vision_model.head.layernorm.weight", &m->head_ln_w, why, err, H);
    if (!s)
        s = LOAD(L, "vision_model.head.layernorm.bias", &m->head_ln_b, why, err, H);
    if (!s)
        s = LOAD(L, "vision_model.head.mlp.fc1.weight", &m->head_fc1_w, why, err, I, H);
    if (!s)
        s = LOAD(L, "vision_model.head.mlp.fc1.bias", &m->head_fc1_b, why, err, I);
    if (!s)
        s = LOAD(L, "vision_model.head.mlp.fc2.weight", &m->head_fc2_w, why, err, H, I);
    if (!s)
        s = LOAD(L, "vision_model.head.mlp.fc2.bias", &m->head_fc2_b, why, err, H);
    return s;
}

static sp_status load_text(const loader *L, sp_error *err) {
    clip_model *m = L->m;
    const clip_config *c = &m->cfg;
    int siglip = c->family == CLIP_FAMILY_SIGLIP;
    sp_status s = load_tower(L, "text_model", &c->txt, c->txt.layers, "text_config", &m->txt, err);
    if (s)
        return s;
    size_t H = c->txt.hidden;
    char why[160];
    snprintf(why, sizeof why,
             "text_config: hidden_size %zu, vocab_size %u, "
             "max_position_embeddings %u",
             H, c->vocab, c->context);
    s = LOAD(L, "text_model.embeddings.token_embedding.weight", &m->tok_emb, why, err, c->vocab, H);
    if (!s)
        s = LOAD(L, "text_model.embeddings.position_embedding.weight", &m->txt_pos, why, err,
                 c->context, H);
    if (!s)
        s = LOAD(L, "text_model.final_layer_norm.weight", &m->final_ln_w, why, err, H);
    if (!s)
        s = LOAD(L, "text_model.final_layer_norm.bias", &m->final_ln_b, why, err, H);
    if (s)
        return s;
    if (c->projection != m->e)
        return sp_error_set(err, SP_ERR_FORMAT,
                            "config.json: the text projection width %u "
                            "differs from the image embedding width %zu: no common joint space",
                            c->projection, m->e);
    snprintf(why, sizeof why, "%s %u, text_config.hidden_size %zu",
             siglip ? "text_config.projection_size" : "projection_dim", c->projection, H);
    if (siglip) {
        s = LOAD(L, "text_model.head.weight", &m->txt_proj, why, err, c->projection, H);
        if (!s)
            s = LOAD(L, "text_model.head.bias", &m->txt_proj_b, why, err, c->projection);
    } else {
        s = LOAD(L, "text_projection.weight", &m->txt_proj, why, err, c->projection, H);
    }
    return s;
}

/* The folder's files, read or borrowed. */
typedef struct files {
    const char *config, *pre, *vocab, *merges, *tokenizer;
    size_t config_len, pre_len, vocab_len, merges_len, tokenizer_len;
    char *owned[5];
} files;

static void files_free(files *f) {
    for (int i = 0; i < 5; i++)
        sp_free(f->owned[i]);
}

/* Reads an optional file: absent is fine, anything else is an error. */
static sp_status read_optional(const char *dir, const char *name, size_t max, char **buf,
                               const char **text, size_t *len, sp_error *err) {
    sp_status s = enc_read_text(dir, name, max, buf, len, err);
    if (s == SP_ERR_NOT_FOUND) {
        sp_error_clear(err);
        return SP_OK;
    }
    *text = *buf;
    return s;
}

static sp_status read_files(const char *dir, int want_tokenizer, files *f, sp_error *err) {
    sp_status s =
        enc_read_text(dir, "config.json", MAX_CONFIG_BYTES, &f->owned[0], &f->config_len, err);
    f->config = f->owned[0];
    if (!s)
        s = read_optional(dir, "preprocessor_config.json", MAX_CONFIG_BYTES, &f->owned[1], &f->pre,
                          &f->pre_len, err);
    if (!s && want_tokenizer)
        s = read_optional(dir, "vocab.json", MAX_TOKENIZER_BYTES, &f->owned[2], &f->vocab,
                          &f->vocab_len, err);
    if (!s && want_tokenizer)
        s = read_optional(dir, "merges.txt", MAX_TOKENIZER_BYTES, &f->owned[3], &f->merges,
                          &f->merges_len, err);
    if (!s && want_tokenizer && !(f->vocab && f->merges))
        s = read_optional(dir, "tokenizer.json", MAX_TOKENIZER_BYTES, &f->owned[4], &f->tokenizer,
                          &f->tokenizer_len, err);
    return s;
}

static sp_status load_tokenizer(clip_model *m, const files *f, sp_error *err) {
    sp_status s = SP_OK;
    if (f->vocab && f->merges)
        s = bpe_load_vocab_merges(f->vocab, f->vocab_len, f->merges, f->merges_len, &m->tok, err);
    else if (f->tokenizer)
        s = bpe_load_tokenizer_json(f->tokenizer, f->tokenizer_len, &m->tok, err);
    else
        snprintf(m->no_tok_reason, sizeof m->no_tok_reason,
                 "the model has no vocab.json + merges.txt or tokenizer.json");
    if (s == SP_ERR_UNSUPPORTED) {
        /* the text tower stays usable through sp_encode_text_ids */
        size_t k = 0;
        const char *why = err ? err->message : "unsupported tokenizer";
        for (; why[k] && k + 1 < sizeof m->no_tok_reason; k++)
            m->no_tok_reason[k] = why[k];
        m->no_tok_reason[k] = '\0';
        sp_error_clear(err);
        return SP_OK;
    }
    if (!s && m->tok && (bpe_bos(m->tok) < 0 || bpe_eos(m->tok) < 0) &&
        m->cfg.family == CLIP_FAMILY_CLIP)
        return sp_error_set(err, SP_ERR_FORMAT,
                            "tokenizer: the vocabulary has no "
                            "<|startoftext|> / <|endoftext|> tokens");
    if (!s && m->tok && bpe_vocab_size(m->tok) > m->cfg.vocab)
        return sp_error_set(err, SP_ERR_FORMAT,
                            "tokenizer: %zu tokens but config.json "
                            "text_config.vocab_size is %u",
                            bpe_vocab_size(m->tok), m->cfg.vocab);
    return s;
}

static sp_status resolve_sizes(const sp_encoder_config *c, clip_model *m, sp_error *err) {
    const clip_config *cfg = &m->cfg;
    m->P = cfg->patch_size;
    m->S = c->image_size ? c->image_size : cfg->image_size;
    if (m->S < m->P)
        return sp_error_set(err, SP_ERR_INVALID,
                            "clip: image_size %u is smaller than the model's patch_size %u", m->S,
                            m->P);
    /* the patch embedding is a valid convolution: floor(S / P) patches a side, the last S mod P
     * pixels unseen (SigLIP so400m: 384 px, 14 px patches, 27 x 27) */
    m->grid = m->S / m->P;
    m->n = (size_t)m->grid * m->grid;
    m->has_cls = cfg->family == CLIP_FAMILY_CLIP;
    m->T = m->n + (m->has_cls ? 1 : 0);
    m->llava = cfg->llava.on;
    m->keep_cls = m->llava && cfg->llava.keep_cls && m->has_cls;
    m->project = m->llava && c->projector;
    m->proj_d = cfg->llava.text_hidden;
    int L = (int)cfg->vis.layers;
    int layer = c->layer != SP_LAYER_MODEL ? c->layer
                : m->llava                 ? (int)cfg->llava.feature_layer
                                           : -2;
    int k = layer < 0 ? L + 1 + layer : layer;
    if (k < 0 || k > L)
        return sp_error_set(err, SP_ERR_INVALID,
                            "clip: layer %d%s is outside the vision tower's "
                            "hidden states (-%d..%d)",
                            layer, c->layer == SP_LAYER_MODEL ? " (config.json)" : "", L + 1, L);
    m->layer = (uint32_t)k;
    return SP_OK;
}

/* model_dir names the folder, or a weights file whose folder holds the other files (the daemon's
 * `encoder.model` is a path to the safetensors file, or to model.safetensors.index.json). Fills
 * dir and weights; *index says weights is an index of shards. A folder without
 * model.safetensors but with model.safetensors.index.json is read through the index. */
static sp_status locate(const char *model_dir, char *dir, char *weights, size_t cap, int *index,
                        sp_error *err) {
    struct stat sb;
    size_t n = strlen(model_dir);
    *index = 0;
    if (n + 1 > cap)
        return sp_error_set(err, SP_ERR_INVALID, "clip: model path is longer than %zu bytes",
                            cap - 1);
    if (stat(model_dir, &sb) == 0 && S_ISREG(sb.st_mode)) {
        memcpy(weights, model_dir, n + 1);
        *index = n >= 5 && strcmp(model_dir + n - 5, ".json") == 0;
        const char *slash = strrchr(model_dir, '/');
        size_t k = slash ? (size_t)(slash - model_dir) : 0;
        if (!slash)
            memcpy(dir, ".", 2);
        else if (k == 0)
            memcpy(dir, "/", 2);
        else {
            memcpy(dir, model_dir, k);
            dir[k] = '\0';
        }
        return SP_OK;
    }
    memcpy(dir, model_dir, n + 1);
    sp_status s = enc_join_path(model_dir, "model.safetensors", weights, cap, err);
    if (s || stat(weights, &sb) == 0)
        return s;
    char idx[4096];
    if (enc_join_path(model_dir, "model.safetensors.index.json", idx, sizeof idx, err) ||
        stat(idx, &sb) != 0) {
        sp_error_clear(err);
        return SP_OK; /* opening model.safetensors reports the missing file */
    }
    memcpy(weights, idx, strlen(idx) + 1);
    *index = 1;
    return SP_OK;
}

static void weights_close(weights *w) {
    for (size_t i = 0; i < w->n; i++)
        sp_st_close(w->st[i]);
    sp_free(w->st);
    memset(w, 0, sizeof *w);
}

static sp_status weights_add(weights *w, sp_st_file *f, sp_error *err) {
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 4;
        sp_st_file **p = sp_realloc(w->st, cap * sizeof *p);
        if (!p) {
            sp_st_close(f);
            return sp_error_set(err, SP_ERR_NOMEM, "clip: out of memory");
        }
        w->st = p;
        w->cap = cap;
    }
    w->st[w->n++] = f;
    return SP_OK;
}

/* Tensors a vision encoder never reads: the language model of a LLaVA checkpoint. */
static int language_model_tensor(const char *name) {
    return strncmp(name, "language_model.", 15) == 0 ||
           strncmp(name, "model.language_model.", 21) == 0 || strncmp(name, "lm_head.", 8) == 0;
}

/* Opens (maps) each shard of the index at `path` that holds a tensor other than the language
 * model's, once. */
static sp_status open_shards(const char *dir, const char *path, weights *w, sp_error *err) {
    const char *slash = strrchr(path, '/');
    const char *iname = slash ? slash + 1 : path;
    char *text = NULL;
    size_t len = 0;
    sp_status s = enc_read_text(dir, iname, MAX_INDEX_BYTES, &text, &len, err);
    sp_json_doc *doc = NULL;
    if (!s)
        s = sp_json_parse(text, len, iname, &doc, err);
    const sp_json *map = NULL;
    if (!s) {
        map = sp_json_get(sp_json_root(doc), "weight_map");
        if (!map || sp_json_type_of(map) != SP_JSON_OBJECT)
            s = sp_error_set(err, SP_ERR_FORMAT, "%s: no \"weight_map\" object", path);
    }
    /* shard names already opened, in w's order */
    const char **opened = NULL;
    if (!s && !(opened = sp_alloc_array(sp_json_length(map) + 1, sizeof *opened)))
        s = sp_error_set(err, SP_ERR_NOMEM, "clip: out of memory");
    for (size_t i = 0; !s && i < sp_json_length(map); i++) {
        const char *tensor = sp_json_key_at(map, i);
        const sp_json *v = sp_json_value_at(map, i);
        const char *shard = sp_json_type_of(v) == SP_JSON_STRING ? sp_json_string(v, NULL) : NULL;
        if (!shard || !shard[0] || strchr(shard, '/') || strcmp(shard, "..") == 0) {
            s = sp_error_set(err, SP_ERR_FORMAT,
                             "%s: weight_map entry '%s' is not a file name in the folder", path,
                             tensor);
            break;
        }
        if (language_model_tensor(tensor))
            continue;
        int seen = 0;
        for (size_t k = 0; k < w->n && !seen; k++)
            seen = strcmp(opened[k], shard) == 0;
        if (seen)
            continue;
        char sp[4096];
        sp_st_file *f = NULL;
        s = enc_join_path(dir, shard, sp, sizeof sp, err);
        if (!s)
            s = sp_st_open(sp, &f, err);
        if (s) {
            sp_error_prefix(err, "%s names shard '%s' for tensor '%s'", path, shard, tensor);
            break;
        }
        opened[w->n] = shard;
        s = weights_add(w, f, err);
    }
    sp_free(opened);
    sp_json_free(doc);
    sp_free(text);
    return s;
}

/* LLaVA checkpoints name the tower vision_tower.vision_model.* (transformers before 4.52) or
 * model.vision_tower.vision_model.* (after); the projector likewise. */
static const char *llava_prefix(const weights *w, const char *part) {
    static const char *const lead[2] = {"", "model."};
    char name[160];
    for (int i = 0; i < 2; i++) {
        snprintf(name, sizeof name, "%s%s", lead[i], part);
        size_t k = strlen(name);
        for (size_t f = 0; f < w->n; f++)
            for (size_t t = 0; t < sp_st_count(w->st[f]); t++)
                if (strncmp(sp_st_at(w->st[f], t)->name, name, k) == 0)
                    return lead[i];
    }
    return NULL;
}

static sp_status load_projector(const loader *L, sp_error *err) {
    clip_model *m = L->m;
    size_t H = m->vis.hidden, D = m->proj_d;
    char why[160];
    snprintf(why, sizeof why, "vision_config.hidden_size %zu, text_config.hidden_size %zu", H, D);
    sp_status s = LOAD(L, "linear_1.weight", &m->mm1_w, why, err, D, H);
    if (!s && m->cfg.llava.bias)
        s = LOAD(L, "linear_1.bias", &m->mm1_b, why, err, D);
    if (!s)
        s = LOAD(L, "linear_2.weight", &m->mm2_w, why, err, D, D);
    if (!s && m->cfg.llava.bias)
        s = LOAD(L, "linear_2.bias", &m->mm2_b, why, err, D);
    return s;
}

/* LLaVA: the vision tower under its prefix, then the projector. */
static sp_status load_llava(loader *L, sp_error *err) {
    const char *lead = llava_prefix(L->w, "vision_tower.");
    if (!lead)
        return sp_error_set(err, SP_ERR_NOT_FOUND,
                            "%s: no vision_tower.* tensors (a LLaVA checkpoint keeps its vision "
                            "tower under vision_tower.vision_model.*)",
                            L->file);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "%svision_tower.", lead);
    L->prefix = prefix;
    sp_status s = load_vision(L, err);
    if (s || !L->m->project)
        return s;
    snprintf(prefix, sizeof prefix, "%smulti_modal_projector.", lead);
    return load_projector(L, err);
}

sp_status clip_load(const sp_encoder_config *c, const sp_model_blobs *blobs, clip_model **out,
                    sp_error *err) {
    *out = NULL;
    if (!blobs && !c->model_dir)
        return sp_error_set(err, SP_ERR_INVALID, "clip: model_dir is not set");
    if (blobs && (!blobs->safetensors || !blobs->config_json))
        return sp_error_set(err, SP_ERR_INVALID,
                            "clip: the safetensors and config.json blobs "
                            "are required");
    files f;
    memset(&f, 0, sizeof f);
    sp_status s = SP_OK;
    char dir[4096], path[4096];
    int index = 0;
    if (blobs) {
        f.config = blobs->config_json, f.config_len = blobs->config_json_len;
        f.pre = blobs->preprocessor_json, f.pre_len = blobs->preprocessor_json_len;
        f.vocab = blobs->vocab_json, f.vocab_len = blobs->vocab_json_len;
        f.merges = blobs->merges_txt, f.merges_len = blobs->merges_txt_len;
        f.tokenizer = blobs->tokenizer_json, f.tokenizer_len = blobs->tokenizer_json_len;
    } else {
        s = locate(c->model_dir, dir, path, sizeof path, &index, err);
        if (!s)
            s = read_files(dir, c->text, &f, err);
    }
    clip_model *m = NULL;
    if (!s && !(m = sp_calloc(1, sizeof *m)))
        s = sp_error_set(err, SP_ERR_NOMEM, "clip: out of memory");
    if (!s)
        s = clip_config_parse(f.config, f.config_len, &m->cfg, err);
    if (!s)
        s = clip_preprocessor_parse(f.pre, f.pre_len, &m->cfg, err);
    if (!s)
        s = resolve_sizes(c, m, err);
    weights w = {0};
    sp_st_file *st = NULL;
    if (!s && blobs)
        s = sp_st_open_buffer(blobs->safetensors, blobs->safetensors_len, "model.safetensors", &st,
                              err);
    else if (!s && !index)
        s = sp_st_open(path, &st, err);
    else if (!s)
        s = open_shards(dir, path, &w, err);
    if (!s && st)
        s = weights_add(&w, st, err);
    loader L = {m, &w, blobs ? "model.safetensors" : path, ""};
    if (!s && m->llava)
        s = load_llava(&L, err);
    else if (!s)
        s = load_vision(&L, err);
    if (!s && c->text && m->cfg.has_text &&
        find(&L, "text_model.embeddings.token_embedding.weight")) {
        m->has_text = 1;
        s = load_text(&L, err);
        if (!s)
            s = load_tokenizer(m, &f, err);
    }
    if (!s && m->has_text && m->cfg.family == CLIP_FAMILY_CLIP && !m->proj)
        s = sp_error_set(err, SP_ERR_FORMAT,
                         "%s: a text tower without visual_projection.weight "
                         "has no joint space with the images",
                         L.file);
    weights_close(&w);
    files_free(&f);
    if (s) {
        clip_model_free(m);
        return s;
    }
    *out = m;
    return SP_OK;
}

void clip_model_free(clip_model *m) {
    if (!m)
        return;
    for (size_t i = 0; i < m->nblocks; i++)
        sp_free(m->blocks[i]);
    sp_free(m->blocks);
    bpe_free(m->tok);
    sp_free(m);
}

sp_status clip_open(const sp_encoder_config *c, const sp_model_blobs *blobs, sp_encoder *enc,
                    sp_error *err) {
    clip_model *m;
    sp_status s = clip_load(c, blobs, &m, err);
    if (s)
        return s;
    enc->clip = m;
    sp_encoder_info *in = &enc->info;
    in->backend = m->llava ? "llava" : m->cfg.family == CLIP_FAMILY_SIGLIP ? "siglip" : "clip";
    in->grid_h = in->grid_w = m->grid;
    in->n = m->n;
    in->vision_d = m->vis.hidden;
    in->d = m->project ? m->proj_d : m->vis.hidden;
    /* LLaVA has no joint space of its own: relevance and exemplars use the tokens */
    in->embed_is_tokens = m->llava;
    in->e = m->llava ? in->d : m->e;
    in->projector = m->project;
    in->cls_token = m->keep_cls;
    in->image_size = m->S;
    in->model_image_size = m->cfg.image_size;
    in->patch_size = m->P;
    in->layer = (int)m->layer;
    in->layers = m->cfg.vis.layers;
    in->fit = c->fit == SP_FIT_AUTO ? m->cfg.fit : c->fit;
    in->resample = m->cfg.resample;
    in->has_text = m->has_text;
    in->has_tokenizer = m->has_text && m->tok;
    in->context_length = m->has_text ? m->cfg.context : 0;
    for (int k = 0; k < 3; k++) {
        in->mean[k] = m->cfg.mean[k];
        in->std[k] = m->cfg.std[k];
        enc->pad[k] = m->cfg.mean[k]; /* as LLaVA's pad-to-square: normalised padding is 0 */
    }
    return SP_OK;
}
