/* The vision tower of the clip backend: patch embedding as one GEMM, class token and position
 * embeddings, the transformer, then the joint-space embeddings (CLIP: post layer norm + visual
 * projection; SigLIP: post layer norm + the attention-pooling head). */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "clip_model.h"

/* Cubic convolution weights with A = -0.75 (PyTorch's bicubic) for the 4 taps around t in [0, 1).
 */
static void cubic_weights(double t, double w[4]) {
    const double A = -0.75;
    double x0 = t + 1.0, x2 = 1.0 - t, x3 = 2.0 - t;
    w[0] = ((A * x0 - 5.0 * A) * x0 + 8.0 * A) * x0 - 4.0 * A;
    w[1] = ((A + 2.0) * t - (A + 3.0)) * t * t + 1.0;
    w[2] = ((A + 2.0) * x2 - (A + 3.0)) * x2 * x2 + 1.0;
    w[3] = ((A * x3 - 5.0 * A) * x3 + 8.0 * A) * x3 - 4.0 * A;
}

static uint32_t clampi(int64_t i, uint32_t n) {
    return i < 0 ? 0 : i >= (int64_t)n ? n - 1 : (uint32_t)i;
}

void clip_resize_pos(const float *in, uint32_t gin, float *out, uint32_t gout, size_t dim) {
    double scale = (double)gin / (double)gout;
    for (uint32_t oy = 0; oy < gout; oy++) {
        double sy = (oy + 0.5) * scale - 0.5, fy = floor(sy), wy[4];
        cubic_weights(sy - fy, wy);
        for (uint32_t ox = 0; ox < gout; ox++) {
            double sx = (ox + 0.5) * scale - 0.5, fx = floor(sx), wx[4];
            cubic_weights(sx - fx, wx);
            float *o = out + ((size_t)oy * gout + ox) * dim;
            for (size_t d = 0; d < dim; d++) {
                double acc = 0;
                for (int a = 0; a < 4; a++) {
                    uint32_t iy = clampi((int64_t)fy - 1 + a, gin);
                    double row = 0;
                    for (int b = 0; b < 4; b++) {
                        uint32_t ix = clampi((int64_t)fx - 1 + b, gin);
                        row += wx[b] * in[((size_t)iy * gin + ix) * dim + d];
                    }
                    acc += wy[a] * row;
                }
                o[d] = (float)acc;
            }
        }
    }
}

static size_t head_floats(const clip_model *m) {
    return m->has_head ? 4 * (size_t)m->vis.hidden + m->T + m->vis.inter : 0;
}

sp_status clip_scratch_new(const clip_model *m, size_t batch, clip_scratch **out, sp_error *err) {
    *out = NULL;
    if (batch < 1)
        batch = 1;
    clip_scratch *s = sp_calloc(1, sizeof *s);
    if (!s)
        return sp_error_set(err, SP_ERR_NOMEM, "clip: out of memory for a context");
    size_t H = m->vis.hidden, K = 3 * (size_t)m->P * m->P, R = batch * m->T;
    size_t tower = vit_scratch_floats(&m->vis, m->T, batch);
    s->batch = batch;
    s->x = sp_aligned_alloc(R * H * sizeof(float));
    s->post = sp_aligned_alloc(R * H * sizeof(float));
    s->patches = sp_aligned_alloc(batch * m->n * K * sizeof(float));
    s->vblock = sp_aligned_alloc((tower + head_floats(m)) * sizeof(float));
    int ok = s->x && s->post && s->patches && s->vblock;
    if (ok && m->project)
        ok = (s->mid = sp_aligned_alloc(m->T * m->proj_d * sizeof(float))) != NULL;
    if (ok && m->has_text) {
        size_t C = m->cfg.context, Ht = m->txt.hidden;
        s->tx = sp_aligned_alloc(C * Ht * sizeof(float));
        s->tblock = sp_aligned_alloc(vit_scratch_floats(&m->txt, C, 1) * sizeof(float));
        s->ids = sp_alloc_array(C, sizeof *s->ids);
        ok = s->tx && s->tblock && s->ids;
        if (ok)
            vit_scratch_bind(&m->txt, C, 1, s->tblock, &s->ts);
    }
    if (!ok) {
        clip_scratch_free(s);
        return sp_error_set(err, SP_ERR_NOMEM,
                            "clip: out of memory for a context's buffers (%zu images)", batch);
    }
    sp_status st = vm_pair_new(&s->pair, err);
    if (st != SP_OK) {
        clip_scratch_free(s);
        return st;
    }
    vit_scratch_bind(&m->vis, m->T, batch, s->vblock, &s->vs);
    s->vs.pair = s->pair;
    s->head = s->vblock + tower;
    *out = s;
    return SP_OK;
}

void clip_scratch_free(clip_scratch *s) {
    if (!s)
        return;
    sp_free(s->x);
    sp_free(s->post);
    sp_free(s->patches);
    sp_free(s->vblock);
    sp_free(s->tx);
    sp_free(s->tblock);
    sp_free(s->ids);
    sp_free(s->mid);
    vm_pair_free(s->pair);
    sp_free(s);
}

/* One P x P x 3 patch per row, in the conv kernel's (channel, row, column) order, so that the
 * patch embedding is the product patches x W^T. */
static void im2col(const clip_model *m, const float *planes, float *patches) {
    const size_t P = m->P, S = m->S, K = 3 * P * P;
    for (uint32_t gy = 0; gy < m->grid; gy++)
        for (uint32_t gx = 0; gx < m->grid; gx++) {
            float *row = patches + ((size_t)gy * m->grid + gx) * K;
            for (size_t c = 0; c < 3; c++)
                for (size_t ky = 0; ky < P; ky++)
                    memcpy(row + (c * P + ky) * P, planes + c * S * S + (gy * P + ky) * S + gx * P,
                           P * sizeof(float));
        }
}

/* y = x + MLP(LN(x)) for the rows of x (SigLIP head's residual block); h and mlp are scratch. */
static void head_mlp(const clip_model *m, float *x, size_t rows, float *h, float *mlp) {
    const size_t H = m->vis.hidden, F = m->vis.inter;
    vm_layernorm(x, h, rows, H, m->head_ln_w, m->head_ln_b, m->vis.eps);
    vit_linear(h, rows, H, m->head_fc1_w, m->head_fc1_b, F, mlp, 0.0f);
    vm_activate(m->vis.act, mlp, rows * F);
    vit_linear(mlp, rows, F, m->head_fc2_w, m->head_fc2_b, H, x, 1.0f);
}

/* SigLIP: pooled = head(post) with the probe attending over all tokens; per-patch embeddings =
 * the head applied as if each patch were attended alone (value and output projections, then the
 * residual MLP), the same per-token reading of a pooling layer as CLIP's projected patches.
 * post: one image's T rows. */
static void siglip_head(const clip_model *m, clip_scratch *s, const float *post, float *embed,
                        float *pooled) {
    const size_t H = m->vis.hidden, T = m->T, heads = m->vis.heads, dh = H / heads;
    float *K = s->vs.qkv, *V = s->vs.attn, *h = s->vs.h, *mlp = s->vs.mlp;
    float *q = s->head, *att = q + H, *o = att + H, *tmp = o + H, *p = tmp + H;
    vit_linear(post, T, H, m->head_qkv_w + H * H, m->head_qkv_b + H, H, K, 0.0f);
    vit_linear(post, T, H, m->head_qkv_w + 2 * H * H, m->head_qkv_b + 2 * H, H, V, 0.0f);
    vit_linear(m->probe, 1, H, m->head_qkv_w, m->head_qkv_b, H, q, 0.0f);
    const float scale = (float)(1.0 / sqrt((double)dh));
    for (size_t hd = 0; hd < heads; hd++) {
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)T, (int)dh, scale, K + hd * dh, (int)H,
                    q + hd * dh, 1, 0.0f, p, 1);
        vm_softmax_rows(p, 1, T, T, 0);
        cblas_sgemv(CblasRowMajor, CblasTrans, (int)T, (int)dh, 1.0f, V + hd * dh, (int)H, p, 1,
                    0.0f, att + hd * dh, 1);
    }
    vit_linear(att, 1, H, m->head_o_w, m->head_o_b, H, pooled, 0.0f);
    head_mlp(m, pooled, 1, tmp, mlp);
    vit_linear(V, T, H, m->head_o_w, m->head_o_b, H, embed, 0.0f);
    head_mlp(m, embed, T, h, mlp);
}

/* x = the embeddings of B images, image b from row b T (class token, patches, positions, CLIP's
 * pre layer norm). The patch embedding is one GEMM over the B n patches, into s->post first since
 * each image's patch rows follow its class token in x. */
static void embed_patches(const clip_model *m, clip_scratch *s, const float *const *planes,
                          size_t B, float *x) {
    const size_t H = m->vis.hidden, K = 3 * (size_t)m->P * m->P, T = m->T, n = m->n;
    const size_t off = m->has_cls ? 1 : 0;
    for (size_t b = 0; b < B; b++)
        im2col(m, planes[b], s->patches + b * n * K);
    vit_linear(s->patches, B * n, K, m->patch_w, m->patch_b, H, s->post, 0.0f);
    for (size_t b = 0; b < B; b++) {
        float *xb = x + b * T * H;
        memcpy(xb + off * H, s->post + b * n * H, n * H * sizeof(float));
        if (m->has_cls)
            memcpy(xb, m->cls, H * sizeof(float));
        for (size_t i = 0; i < T * H; i++)
            xb[i] += m->pos[i];
    }
    if (m->pre_ln_w)
        vm_layernorm(x, x, B * T, H, m->pre_ln_w, m->pre_ln_b, m->vis.eps);
}

void clip_llava_features(const clip_model *m, clip_scratch *s, const float *const *planes,
                         size_t B) {
    /* only the layers up to the feature layer were loaded: the last of them leaves the features
     * in place */
    embed_patches(m, s, planes, B, s->x);
    for (uint32_t l = 0; l < m->vis.layers; l++)
        vit_layer_forward_batch(&m->vis, &m->vis.layer[l], s->x, m->T, B, 0, &s->vs);
}

void clip_llava_project(const clip_model *m, clip_scratch *s, const float *feats, size_t rows,
                        float *out) {
    const size_t H = m->vis.hidden, D = m->proj_d;
    vit_linear_act(s->pair, feats, rows, H, m->mm1_w, m->mm1_b, D, s->mid, 0.0f, 1,
                   VM_ACT_GELU_ERF);
    vit_linear_act(s->pair, s->mid, rows, D, m->mm2_w, m->mm2_b, D, out, 0.0f, 0, VM_ACT_GELU_ERF);
}

double clip_projector_flops(const clip_model *m) {
    if (!m->project)
        return 0;
    double rows = (double)(m->keep_cls ? m->T : m->n), H = m->vis.hidden, D = (double)m->proj_d;
    return 2.0 * rows * H * D + 2.0 * rows * D * D;
}

/* The selected layer's patch tokens of each image of the batch in x. */
static void copy_tokens(const clip_model *m, const float *x, size_t B, float *const *tokens) {
    const size_t H = m->vis.hidden, T = m->T, off = m->has_cls ? 1 : 0;
    for (size_t b = 0; b < B; b++)
        memcpy(tokens[b], x + (b * T + off) * H, m->n * H * sizeof(float));
}

/* Joint-space outputs of one image from its post-norm rows. */
static void joint_outputs(const clip_model *m, clip_scratch *s, const float *post, float *embed,
                          float *pooled) {
    const size_t H = m->vis.hidden, n = m->n, off = m->has_cls ? 1 : 0;
    if (m->has_head) {
        siglip_head(m, s, post, embed, pooled);
    } else if (m->proj) {
        vit_linear(post + off * H, n, H, m->proj, NULL, m->e, embed, 0.0f);
        vit_linear(post, 1, H, m->proj, NULL, m->e, pooled, 0.0f);
    } else {
        /* no projection (vision-only checkpoints): the post-norm tokens; pooled is the class
         * token, or the mean token without one */
        memcpy(embed, post + off * H, n * H * sizeof(float));
        if (m->has_cls) {
            memcpy(pooled, post, H * sizeof(float));
        } else {
            for (size_t j = 0; j < H; j++)
                pooled[j] = 0;
            for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < H; j++)
                    pooled[j] += post[i * H + j] / (float)n;
        }
    }
}

sp_status clip_encode_images(const clip_model *m, clip_scratch *s, size_t B,
                             const float *const *planes, float *const *tokens, float *const *embed,
                             float *const *pooled, sp_error *err) {
    if (B < 1 || B > s->batch)
        return sp_error_set(err, SP_ERR_INVALID,
                            "clip: a batch of %zu images does not fit a context for %zu", B,
                            s->batch);
    const size_t H = m->vis.hidden, T = m->T;
    float *x = s->x;
    embed_patches(m, s, planes, B, x);
    for (uint32_t l = 0; l < m->vis.layers; l++) {
        if (l == m->layer)
            copy_tokens(m, x, B, tokens);
        vit_layer_forward_batch(&m->vis, &m->vis.layer[l], x, T, B, 0, &s->vs);
    }
    if (m->layer == m->vis.layers)
        copy_tokens(m, x, B, tokens);
    vm_layernorm(x, s->post, B * T, H, m->post_ln_w, m->post_ln_b, m->vis.eps);
    /* The projection is small next to the tower (CLIP: under 1 % of the FLOPs) and the SigLIP head
     * reads one image at a time: both run per image. */
    for (size_t b = 0; b < B; b++)
        joint_outputs(m, s, s->post + b * T * H, embed[b], pooled[b]);
    return SP_OK;
}

double clip_image_flops(const clip_model *m) {
    double H = m->vis.hidden, n = (double)m->n, K = 3.0 * m->P * m->P;
    double f = 2.0 * n * K * H + m->vis.layers * vit_layer_flops(&m->vis, m->T);
    if (m->llava)
        return f; /* the projector: clip_projector_flops */
    if (m->has_head)
        f += 2.0 * n * H * H * 3 + 2.0 * n * H * m->vis.inter * 2;
    else if (m->proj)
        f += 2.0 * n * H * (double)m->e;
    return f;
}
