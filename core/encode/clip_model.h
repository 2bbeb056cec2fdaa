/* The loaded CLIP/SigLIP model (float32 weights) and the per-context scratch of the clip backend.
 */
#ifndef SP_ENCODE_CLIP_MODEL_H
#define SP_ENCODE_CLIP_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "bpe.h"
#include "clip.h"
#include "clip_config.h"
#include "vit.h"

struct clip_model {
    clip_config cfg;
    /* vision tower, at the run size S (position embeddings interpolated at load when S differs
     * from config.json's image_size) */
    vit_tower vis;
    uint32_t S, P, grid;        /* grid = floor(S / P) */
    size_t n;                   /* patch tokens, grid * grid */
    size_t T;                   /* sequence length: n plus the class token */
    int has_cls;                /* CLIP: row 0 is the class token */
    float *patch_w, *patch_b;   /* [H, 3 P P] (conv kernel flattened), [H] or NULL */
    float *cls;                 /* [H] or NULL */
    float *pos;                 /* [T, H] */
    float *pre_ln_w, *pre_ln_b; /* CLIP only */
    float *post_ln_w, *post_ln_b;
    float *proj;  /* CLIP visual_projection [E, H], or NULL (E = H) */
    int has_head; /* SigLIP attention-pooling head */
    float *probe, *head_qkv_w, *head_qkv_b, *head_o_w, *head_o_b, *head_ln_w, *head_ln_b;
    float *head_fc1_w, *head_fc1_b, *head_fc2_w, *head_fc2_b;
    uint32_t layer; /* hidden-state index of the returned tokens, 0..layers */
    size_t e;       /* joint-space width */
    /* LLaVA: only the layers up to `layer` are loaded and run (vis.layers == layer); tokens are
     * projected by linear_1 [D, H] -> GELU -> linear_2 [D, D] when `project` is set */
    int llava, keep_cls, project;
    size_t proj_d;                        /* D, the language model's hidden size */
    float *mm1_w, *mm1_b, *mm2_w, *mm2_b; /* biases NULL without multimodal_projector_bias */
    /* text tower */
    int has_text;
    vit_tower txt;
    float *tok_emb; /* [vocab, Ht] */
    float *txt_pos; /* [context, Ht] */
    float *final_ln_w, *final_ln_b;
    float *txt_proj, *txt_proj_b; /* [E, Ht], [E] (SigLIP) or NULL */
    bpe_tokenizer *tok;           /* NULL: no usable tokenizer files */
    char no_tok_reason[SP_ERROR_MAX];
    /* every weight block, freed together */
    void **blocks;
    size_t nblocks, blocks_cap;
};

/* Vision buffers hold `batch` images at once (their rows stacked: image b from row b T). */
struct clip_scratch {
    size_t batch;   /* images the vision buffers hold, >= 1 */
    float *x;       /* [batch T, H] residual stream */
    float *patches; /* [batch n, 3 P P] */
    float *post;    /* [batch T, H] after the final layer norm (also the patch embedding's
                       output before it is placed in x) */
    float *vblock;
    vit_scratch vs;
    vm_pair *pair; /* the second core of the vision tower's elementwise kernels (vs.pair) */
    float *head;   /* SigLIP head: 4 H + T + I floats after the tower's scratch in vblock */
    float *tx;     /* [context, Ht] */
    float *tblock;
    vit_scratch ts;
    int32_t *ids; /* [context] */
    float *mid;   /* LLaVA projector: [T, D] after linear_1 */
};

/* Loader internals shared with tests. */
sp_status clip_load(const sp_encoder_config *c, const sp_model_blobs *blobs, clip_model **out,
                    sp_error *err);

/* Bicubic resize (A = -0.75, align_corners = False, clamped borders:
 * torch.nn.functional.interpolate mode "bicubic" with an output size) of a gin x gin grid of
 * dim-vectors to gout x gout. */
void clip_resize_pos(const float *in, uint32_t gin, float *out, uint32_t gout, size_t dim);

/* Text tower from ids (n <= context, already padded where the model needs it). */
sp_status clip_text_forward(const clip_model *m, clip_scratch *s, const int32_t *ids, size_t n,
                            size_t pooled_at, float *out, sp_error *err);

/* Analytic FLOPs of one image encode (matrix products), for benchmarks. */
double clip_image_flops(const clip_model *m);

/* LLaVA: the vision features of the selected layer of B images (B <= s->batch; planes[b] the
 * image's 3 x S x S input) into s->x (image b: T x H rows from row b T, the class token first when
 * the model has one); then the projector on `rows` of them into out (rows x D). */
void clip_llava_features(const clip_model *m, clip_scratch *s, const float *const *planes,
                         size_t B);
void clip_llava_project(const clip_model *m, clip_scratch *s, const float *feats, size_t rows,
                        float *out);
/* FLOPs of the projector on the model's tokens (0 without one), for benchmarks. */
double clip_projector_flops(const clip_model *m);

#endif
