/* The encoder front end: configuration, preprocessing, dispatch to the backends, results and
 * query rows. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "clip.h"
#include "clip_model.h"
#include "encode_internal.h"
#include "patch.h"
#include "scriptprune/frame.h"
#include "scriptprune/npy.h"

enum { PATCH_DEFAULT_S = 336, PATCH_DEFAULT_P = 14, PATCH_DEFAULT_D = 256 };
enum { MAX_IMAGE_SIZE = 4096, MAX_PATCH_DIM = 65536 };

void sp_encoder_config_init(sp_encoder_config *c) {
    memset(c, 0, sizeof *c);
    c->kind = SP_ENCODER_PATCH;
    c->fit = SP_FIT_AUTO;
    c->image_size = 0;
    c->patch_size = PATCH_DEFAULT_P;
    c->dim = PATCH_DEFAULT_D;
    c->seed = SP_PATCH_DEFAULT_SEED;
    c->model_dir = NULL;
    c->layer = SP_LAYER_MODEL;
    c->text = true;
    c->projector = true;
    c->text_model_dir = NULL;
}

sp_status enc_reserve(float **p, size_t *cap, size_t n, const char *what, sp_error *err) {
    if (n <= *cap && *p)
        return SP_OK;
    sp_free(*p);
    *cap = 0;
    *p = sp_alloc_array(n ? n : 1, sizeof **p);
    if (!*p)
        return sp_error_set(err, SP_ERR_NOMEM, "encoder: out of memory for %s (%zu floats)", what,
                            n);
    *cap = n;
    return SP_OK;
}

static sp_status check_common(const sp_encoder_config *c, sp_error *err) {
    if ((int)c->kind < 0 || c->kind > SP_ENCODER_CLIP)
        return sp_error_set(err, SP_ERR_INVALID,
                            "encoder config: kind %d is not patch (0) or "
                            "clip (1)",
                            (int)c->kind);
    if ((int)c->fit < 0 || c->fit > SP_FIT_STRETCH)
        return sp_error_set(err, SP_ERR_INVALID,
                            "encoder config: fit %d is not auto, letterbox, "
                            "crop or stretch (0..3)",
                            (int)c->fit);
    if (c->image_size > MAX_IMAGE_SIZE)
        return sp_error_set(err, SP_ERR_INVALID, "encoder config: image_size %u is above %u",
                            c->image_size, (unsigned)MAX_IMAGE_SIZE);
    return SP_OK;
}

static void set_normalisation(sp_encoder *enc) {
    for (int c = 0; c < 3; c++) {
        enc->scale[c] = 1.0f / (255.0f * enc->info.std[c]);
        enc->bias[c] = -enc->info.mean[c] / enc->info.std[c];
        enc->pad_value[c] = (enc->pad[c] - enc->info.mean[c]) / enc->info.std[c];
    }
}

static sp_status open_patch(const sp_encoder_config *c, sp_encoder *enc, sp_error *err) {
    uint32_t S = c->image_size ? c->image_size : PATCH_DEFAULT_S, P = c->patch_size;
    if (P < PATCH_MIN_P || P > PATCH_MAX_P)
        return sp_error_set(err, SP_ERR_INVALID,
                            "patch encoder: patch_size %u is outside "
                            "[%d, %d]",
                            P, PATCH_MIN_P, PATCH_MAX_P);
    if (S < P || S % P != 0)
        return sp_error_set(err, SP_ERR_INVALID,
                            "patch encoder: image_size %u is not a positive "
                            "multiple of patch_size %u",
                            S, P);
    if (c->dim < 1 || c->dim > MAX_PATCH_DIM)
        return sp_error_set(err, SP_ERR_INVALID, "patch encoder: dim %u is outside [1, %u]", c->dim,
                            (unsigned)MAX_PATCH_DIM);
    sp_status s = patch_model_new(S, P, c->dim, c->seed, &enc->patch, err);
    if (s)
        return s;
    enc->patch->local_only = c->patch_local;
    sp_encoder_info *in = &enc->info;
    in->backend = "patch";
    in->grid_h = in->grid_w = S / P;
    in->n = (size_t)in->grid_h * in->grid_w;
    in->d = in->e = in->vision_d = c->dim;
    in->embed_is_tokens = true;
    in->own_d = c->patch_local ? 0 : enc->patch->own_d;
    in->image_size = S;
    in->model_image_size = PATCH_DEFAULT_S;
    in->patch_size = P;
    in->fit = c->fit == SP_FIT_AUTO ? SP_FIT_LETTERBOX : c->fit;
    in->resample = SP_RESAMPLE_AREA;
    for (int k = 0; k < 3; k++) {
        in->mean[k] = 0.0f;
        in->std[k] = 1.0f;
        enc->pad[k] = 0.5f; /* mid-grey: padding tokens are flat and alike, so GSP drops them */
    }
    return SP_OK;
}

/* The joint space from a separate CLIP/SigLIP folder: its vision tower runs on the same S x S
 * input (its patches must make the same grid) for embed and pooled; its text tower encodes text
 * queries. */
static sp_status open_joint(const sp_encoder_config *c, sp_encoder *enc, sp_error *err) {
    if (!enc->clip->llava)
        return sp_error_set(err, SP_ERR_INVALID,
                            "text_model %s: only a LLaVA model takes a separate text model; "
                            "this %s model has its own joint space",
                            c->text_model_dir, enc->info.backend);
    sp_encoder_config jc = *c;
    jc.model_dir = c->text_model_dir;
    jc.image_size = enc->info.image_size;
    jc.layer = -1;
    jc.text_model_dir = NULL;
    clip_model *j = NULL;
    sp_status s = clip_load(&jc, NULL, &j, err);
    if (s)
        return sp_error_prefix(err, "text_model %s", c->text_model_dir);
    enc->joint = j;
    if (j->llava)
        return sp_error_set(err, SP_ERR_INVALID,
                            "text_model %s: a LLaVA folder has no joint image-text space; give "
                            "a CLIP or SigLIP folder with its text tower",
                            c->text_model_dir);
    sp_encoder_info *in = &enc->info;
    if (j->grid != in->grid_h)
        return sp_error_set(err, SP_ERR_INVALID,
                            "text_model %s: its %u px patches make a %ux%u grid at image_size "
                            "%u but the model's tokens are %ux%u; the embeddings would not "
                            "match the tokens",
                            c->text_model_dir, j->P, j->grid, j->grid, in->image_size, in->grid_h,
                            in->grid_w);
    in->e = j->e;
    in->embed_is_tokens = false;
    in->has_text = j->has_text;
    in->has_tokenizer = j->has_text && j->tok;
    in->context_length = j->has_text ? j->cfg.context : 0;
    for (int k = 0; k < 3; k++) {
        enc->jscale[k] = in->std[k] / j->cfg.std[k];
        enc->jbias[k] = (in->mean[k] - j->cfg.mean[k]) / j->cfg.std[k];
    }
    return SP_OK;
}

static sp_status open_any(const sp_encoder_config *c, const sp_model_blobs *blobs, sp_encoder **out,
                          sp_error *err) {
    if (!out)
        return sp_error_set(err, SP_ERR_INVALID, "encoder: NULL output pointer");
    *out = NULL;
    if (!c)
        return sp_error_set(err, SP_ERR_INVALID, "encoder: NULL config");
    sp_status s = check_common(c, err);
    if (s)
        return s;
    sp_encoder *enc = sp_calloc(1, sizeof *enc);
    if (!enc)
        return sp_error_set(err, SP_ERR_NOMEM, "encoder: out of memory");
    enc->kind = blobs ? SP_ENCODER_CLIP : c->kind;
    if (enc->kind == SP_ENCODER_PATCH)
        s = open_patch(c, enc, err);
    else
        s = clip_open(c, blobs, enc, err);
    if (!s && enc->kind == SP_ENCODER_CLIP && c->text_model_dir)
        s = open_joint(c, enc, err);
    if (s) {
        sp_encoder_free(enc);
        return s;
    }
    set_normalisation(enc);
    *out = enc;
    return SP_OK;
}

sp_status sp_encoder_open(const sp_encoder_config *c, sp_encoder **out, sp_error *err) {
    return open_any(c, NULL, out, err);
}

sp_status sp_encoder_open_blobs(const sp_encoder_config *c, const sp_model_blobs *blobs,
                                sp_encoder **out, sp_error *err) {
    if (!blobs) {
        if (out)
            *out = NULL;
        return sp_error_set(err, SP_ERR_INVALID, "encoder: NULL model blobs");
    }
    return open_any(c, blobs, out, err);
}

void sp_encoder_free(sp_encoder *enc) {
    if (!enc)
        return;
    patch_model_free(enc->patch);
    clip_model_free(enc->clip);
    clip_model_free(enc->joint);
    sp_free(enc);
}

void sp_encoder_get_info(const sp_encoder *enc, sp_encoder_info *info) {
    *info = enc->info;
}

void sp_encoder_plan(const sp_encoder *enc, uint32_t width, uint32_t height, sp_preprocess *out) {
    rs_plan(width ? width : 1, height ? height : 1, enc->info.image_size, enc->info.patch_size,
            enc->info.fit, enc->info.resample, enc->pad, out);
}

/* New buffers for `batch` frames, swapped into ctx only when all of them were allocated, so a
 * failed growth leaves the context as it was. */
typedef struct ctx_buffers {
    rs_state *rs;
    float *input, *jinput, *jtokens;
    clip_scratch *clip, *joint;
} ctx_buffers;

static void buffers_free(ctx_buffers *b, size_t slots) {
    for (size_t i = 0; b->rs && i < slots; i++)
        rs_state_free(&b->rs[i]);
    sp_free(b->rs);
    sp_free(b->input);
    sp_free(b->jinput);
    sp_free(b->jtokens);
    clip_scratch_free(b->clip);
    clip_scratch_free(b->joint);
    memset(b, 0, sizeof *b);
}

static sp_status buffers_new(const sp_encoder *enc, size_t batch, ctx_buffers *b, sp_error *err) {
    memset(b, 0, sizeof *b);
    const size_t S = enc->info.image_size, planes = 3 * S * S;
    b->rs = sp_calloc(batch, sizeof *b->rs);
    b->input = sp_alloc_array(batch * planes, sizeof *b->input);
    sp_status s = b->rs && b->input ? SP_OK
                                    : sp_error_set(err, SP_ERR_NOMEM,
                                                   "encode context: out of memory for %zu "
                                                   "%zux%zu inputs",
                                                   batch, S, S);
    if (!s && enc->clip)
        s = clip_scratch_new(enc->clip, batch, &b->clip, err);
    if (!s && enc->joint) {
        const clip_model *j = enc->joint;
        s = clip_scratch_new(j, batch, &b->joint, err);
        b->jinput = s ? NULL : sp_alloc_array(batch * planes, sizeof *b->jinput);
        b->jtokens = s ? NULL : sp_alloc_array(batch * j->n * j->vis.hidden, sizeof *b->jtokens);
        if (!s && (!b->jinput || !b->jtokens))
            s = sp_error_set(err, SP_ERR_NOMEM, "encode context: out of memory");
    }
    if (s)
        buffers_free(b, 0);
    return s;
}

/* Grows ctx's per-frame buffers to hold `batch` frames; the resamplers of the slots it had keep
 * their cached taps. */
static sp_status ctx_reserve(sp_encode_ctx *ctx, size_t batch, sp_error *err) {
    if (batch <= ctx->batch)
        return SP_OK;
    ctx_buffers b;
    sp_status s = buffers_new(ctx->enc, batch, &b, err);
    if (s)
        return s;
    if (ctx->rs)
        memcpy(b.rs, ctx->rs, ctx->batch * sizeof *b.rs);
    ctx_buffers old = {ctx->rs, ctx->input, ctx->jinput, ctx->jtokens, ctx->clip, ctx->joint};
    sp_free(old.rs); /* its states moved to b.rs */
    old.rs = NULL;
    buffers_free(&old, 0);
    ctx->rs = b.rs;
    ctx->input = b.input;
    ctx->jinput = b.jinput;
    ctx->jtokens = b.jtokens;
    ctx->clip = b.clip;
    ctx->joint = b.joint;
    ctx->batch = batch;
    return SP_OK;
}

sp_status sp_encode_ctx_new(const sp_encoder *enc, sp_encode_ctx **out, sp_error *err) {
    if (!out)
        return sp_error_set(err, SP_ERR_INVALID, "encode context: NULL output pointer");
    *out = NULL;
    if (!enc)
        return sp_error_set(err, SP_ERR_INVALID, "encode context: NULL encoder");
    sp_encode_ctx *ctx = sp_calloc(1, sizeof *ctx);
    if (!ctx)
        return sp_error_set(err, SP_ERR_NOMEM, "encode context: out of memory");
    ctx->enc = enc;
    sp_status s = SP_OK;
    if (enc->patch) {
        ctx->scratch = sp_alloc_array(patch_scratch_floats(enc->patch), sizeof *ctx->scratch);
        if (!ctx->scratch)
            s = sp_error_set(err, SP_ERR_NOMEM, "encode context: out of memory");
    }
    if (!s)
        s = ctx_reserve(ctx, 1, err);
    if (s) {
        sp_encode_ctx_free(ctx);
        return s;
    }
    *out = ctx;
    return SP_OK;
}

void sp_encode_ctx_free(sp_encode_ctx *ctx) {
    if (!ctx)
        return;
    ctx_buffers b = {ctx->rs, ctx->input, ctx->jinput, ctx->jtokens, ctx->clip, ctx->joint};
    buffers_free(&b, ctx->batch);
    sp_free(ctx->scratch);
    sp_free(ctx);
}

void sp_encoding_init(sp_encoding *r) {
    memset(r, 0, sizeof *r);
}

void sp_encoding_free(sp_encoding *r) {
    if (!r)
        return;
    if (r->embed != r->tokens)
        sp_free(r->embed);
    sp_free(r->tokens);
    sp_free(r->pooled);
    sp_free(r->cls);
    sp_free(r->evidence);
    sp_encoding_init(r);
}

size_t sp_encoder_own_dims(const char *backend, size_t d) {
    return backend && strcmp(backend, "patch") == 0 ? patch_own_dims(d) : 0;
}

void sp_encoding_frame(const sp_encoding *r, int64_t pts, sp_frame *out) {
    memset(out, 0, sizeof *out);
    out->tokens = r->tokens;
    out->n = r->n;
    out->d = r->d;
    out->embed = r->embed == r->tokens ? NULL : r->embed;
    out->e = r->embed == r->tokens ? 0 : r->e;
    out->grid_h = r->grid_h;
    out->grid_w = r->grid_w;
    out->pts = pts;
    out->own_d = r->own_d;
    out->evidence = r->has_evidence ? r->evidence : NULL;
    /* Letterbox fits pad around the picture; those tokens show no picture. */
    if (r->pre.grid_h && r->pre.grid_w &&
        (r->pre.grid_h != r->grid_h || r->pre.grid_w != r->grid_w)) {
        out->image_y = r->pre.grid_y;
        out->image_x = r->pre.grid_x;
        out->image_h = r->pre.grid_h;
        out->image_w = r->pre.grid_w;
    }
}

static sp_status reserve_result(const sp_encoder *enc, sp_encoding *out, sp_error *err) {
    const sp_encoder_info *in = &enc->info;
    size_t nd, ne;
    if (!sp_mul_size(in->n, in->d, &nd) || !sp_mul_size(in->n, in->e, &ne))
        return sp_error_set(err, SP_ERR_OVERFLOW, "encoder: result size overflows");
    if (out->embed == out->tokens) { /* a previous patch result aliased them */
        out->embed = NULL;
        out->embed_cap = 0;
    }
    sp_status s = enc_reserve(&out->tokens, &out->tokens_cap, nd, "tokens", err);
    if (!s && !in->embed_is_tokens)
        s = enc_reserve(&out->embed, &out->embed_cap, ne, "embeddings", err);
    if (!s)
        s = enc_reserve(&out->pooled, &out->pooled_cap, in->e, "pooled embedding", err);
    if (!s && in->cls_token) {
        s = enc_reserve(&out->cls, &out->cls_cap, in->d, "class token", err);
    } else if (!s) {
        sp_free(out->cls);
        out->cls = NULL;
        out->cls_cap = 0;
    }
    if (!s && in->embed_is_tokens) {
        /* the joint space is the token space (patch encoder; LLaVA without a text model) */
        sp_free(out->embed);
        out->embed = out->tokens;
        out->embed_cap = 0;
    }
    return s;
}

sp_status enc_reserve_evidence(sp_encoding *r, sp_error *err) {
    if (r->n <= r->evidence_cap)
        return SP_OK;
    sp_pixel_evidence *e = sp_alloc_array(r->n, sizeof *e);
    if (!e)
        return sp_error_set(err, SP_ERR_NOMEM, "encoder: out of memory for %zu evidence entries",
                            r->n);
    sp_free(r->evidence);
    r->evidence = e;
    r->evidence_cap = r->n;
    return SP_OK;
}

/* LLaVA: the selected layer's features of the batch (class token dropped for "default", kept
 * apart in out->cls for "full"), through the projector unless it is off; the projector runs per
 * frame. */
static void encode_llava(sp_encode_ctx *ctx, const float *const *planes, size_t B,
                         sp_encoding *const *outs) {
    const clip_model *m = ctx->enc->clip;
    clip_scratch *cs = ctx->clip;
    const size_t H = m->vis.hidden, off = m->has_cls ? 1 : 0;
    clip_llava_features(m, cs, planes, B);
    for (size_t b = 0; b < B; b++) {
        const float *feats = cs->x + b * m->T * H, *patches = feats + off * H;
        sp_encoding *out = outs[b];
        if (m->project) {
            clip_llava_project(m, cs, patches, m->n, out->tokens);
            if (m->keep_cls)
                clip_llava_project(m, cs, feats, 1, out->cls);
        } else {
            memcpy(out->tokens, patches, m->n * H * sizeof(float));
            if (m->keep_cls)
                memcpy(out->cls, feats, H * sizeof(float));
        }
    }
}

/* The mean token: the pooled embedding where the joint space is the token space. */
static void mean_token(const float *tokens, size_t n, size_t d, float *out) {
    for (size_t j = 0; j < d; j++)
        out[j] = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++)
            out[j] += tokens[i * d + j];
    for (size_t j = 0; j < d; j++)
        out[j] /= (float)n;
}

/* embed and pooled of the batch from the joint model on the renormalised inputs. */
static sp_status encode_joint(sp_encode_ctx *ctx, size_t B, sp_encoding *const *outs,
                              sp_error *err) {
    const sp_encoder *enc = ctx->enc;
    const clip_model *j = enc->joint;
    const size_t plane = (size_t)enc->info.image_size * enc->info.image_size;
    const float *planes[SP_ENCODE_MAX_BATCH] = {0};
    float *tokens[SP_ENCODE_MAX_BATCH] = {0}, *embed[SP_ENCODE_MAX_BATCH] = {0};
    float *pooled[SP_ENCODE_MAX_BATCH] = {0};
    for (size_t b = 0; b < B; b++) {
        const float *in = ctx->input + b * 3 * plane;
        float *jin = ctx->jinput + b * 3 * plane;
        for (size_t k = 0; k < 3; k++)
            for (size_t i = 0; i < plane; i++)
                jin[k * plane + i] = in[k * plane + i] * enc->jscale[k] + enc->jbias[k];
        planes[b] = jin;
        tokens[b] = ctx->jtokens + b * j->n * j->vis.hidden;
        embed[b] = outs[b]->embed;
        pooled[b] = outs[b]->pooled;
    }
    return clip_encode_images(j, ctx->joint, B, planes, tokens, embed, pooled, err);
}

/* The frames' checks that need no work: valid images, distinct results. */
static sp_status check_batch(const sp_image *imgs, size_t count, sp_encoding *const *outs,
                             sp_error *err) {
    for (size_t b = 0; b < count; b++) {
        sp_status s = sp_image_validate(&imgs[b], err);
        if (s)
            return count > 1 ? sp_error_prefix(err, "encode batch: frame %zu of %zu", b, count) : s;
    }
    for (size_t b = 0; b < count; b++)
        for (size_t c = b + 1; c < count; c++)
            if (outs[b] == outs[c])
                return sp_error_set(err, SP_ERR_INVALID,
                                    "encode batch: frames %zu and %zu share one result; each "
                                    "frame needs its own sp_encoding",
                                    b, c);
    return SP_OK;
}

/* Preprocesses frame b into input slot b and sizes its result. */
static sp_status prepare_frame(sp_encode_ctx *ctx, size_t b, const sp_image *img, sp_encoding *out,
                               sp_error *err) {
    const sp_encoder *enc = ctx->enc;
    const size_t S = enc->info.image_size;
    sp_encoder_plan(enc, img->width, img->height, &out->pre);
    sp_status s = rs_run(&ctx->rs[b], img, &out->pre, enc->info.image_size, enc->scale, enc->bias,
                         enc->pad_value, ctx->input + b * 3 * S * S, err);
    if (!s)
        s = reserve_result(enc, out, err);
    return s;
}

/* The backend on the prepared inputs of the batch. */
static sp_status run_backend(sp_encode_ctx *ctx, size_t B, sp_encoding *const *outs,
                             sp_error *err) {
    const sp_encoder *enc = ctx->enc;
    const size_t S = enc->info.image_size;
    const float *planes[SP_ENCODE_MAX_BATCH] = {0};
    float *tokens[SP_ENCODE_MAX_BATCH] = {0}, *embed[SP_ENCODE_MAX_BATCH] = {0};
    float *pooled[SP_ENCODE_MAX_BATCH] = {0};
    for (size_t b = 0; b < B; b++) {
        planes[b] = ctx->input + b * 3 * S * S;
        tokens[b] = outs[b]->tokens;
        embed[b] = outs[b]->embed;
        pooled[b] = outs[b]->pooled;
    }
    sp_status s = SP_OK;
    if (enc->kind == SP_ENCODER_PATCH) {
        for (size_t b = 0; b < B; b++) {
            const sp_preprocess *pre = &outs[b]->pre;
            patch_region image = {pre->grid_x, pre->grid_y, pre->grid_w, pre->grid_h};
            patch_encode(enc->patch, planes[b], &image, ctx->scratch, tokens[b], pooled[b]);
        }
    } else if (enc->clip->llava) {
        encode_llava(ctx, planes, B, outs);
    } else {
        s = clip_encode_images(enc->clip, ctx->clip, B, planes, tokens, embed, pooled, err);
    }
    if (!s && enc->joint)
        s = encode_joint(ctx, B, outs, err);
    else if (!s && enc->kind == SP_ENCODER_CLIP && enc->info.embed_is_tokens)
        for (size_t b = 0; b < B; b++)
            mean_token(tokens[b], enc->info.n, enc->info.d, pooled[b]);
    return s;
}

sp_status sp_encode_batch(sp_encode_ctx *ctx, const sp_image *imgs, size_t count,
                          sp_encoding *const *outs, sp_error *err) {
    if (!ctx || !imgs || !outs)
        return sp_error_set(err, SP_ERR_INVALID, "encode batch: NULL %s",
                            !ctx    ? "context"
                            : !imgs ? "frames"
                                    : "results");
    for (size_t b = 0; b < count && b < SP_ENCODE_MAX_BATCH; b++) {
        if (!outs[b])
            return sp_error_set(err, SP_ERR_INVALID, "encode batch: NULL result for frame %zu", b);
        outs[b]->n = 0;
        outs[b]->has_evidence = false;
    }
    if (count < 1 || count > SP_ENCODE_MAX_BATCH)
        return sp_error_set(err, SP_ERR_INVALID,
                            "encode batch: %zu frames; a batch holds 1 to %d frames", count,
                            SP_ENCODE_MAX_BATCH);
    sp_status s = check_batch(imgs, count, outs, err);
    if (!s)
        s = ctx_reserve(ctx, count, err);
    for (size_t b = 0; b < count && !s; b++)
        s = prepare_frame(ctx, b, &imgs[b], outs[b], err);
    if (!s)
        s = run_backend(ctx, count, outs, err);
    if (s)
        return s;
    const sp_encoder_info *in = &ctx->enc->info;
    for (size_t b = 0; b < count; b++) {
        sp_encoding *out = outs[b];
        out->n = in->n;
        out->d = in->d;
        out->e = in->e;
        out->grid_h = in->grid_h;
        out->grid_w = in->grid_w;
        out->own_d = in->own_d;
    }
    return SP_OK;
}

sp_status sp_encode(sp_encode_ctx *ctx, const sp_image *img, sp_encoding *out, sp_error *err) {
    if (!ctx || !out)
        return sp_error_set(err, SP_ERR_INVALID, "encode: NULL %s", ctx ? "result" : "context");
    out->n = 0;
    if (!img)
        return sp_image_validate(img, err);
    return sp_encode_batch(ctx, img, 1, &out, err);
}

/* ---- query rows ---- */

void sp_query_rows_init(sp_query_rows *q) {
    memset(q, 0, sizeof *q);
}

void sp_query_rows_clear(sp_query_rows *q) {
    q->m = 0;
    q->e = 0;
    q->warnings = 0;
    q->warning[0] = '\0';
}

void sp_query_rows_free(sp_query_rows *q) {
    if (!q)
        return;
    sp_free(q->rows);
    sp_query_rows_init(q);
}

sp_query sp_query_rows_view(const sp_query_rows *q) {
    sp_query v = {q->rows, q->m, q->e};
    return v;
}

float *enc_rows_append(sp_query_rows *q, size_t k, size_t e, sp_error *err) {
    if (q->m > 0 && q->e != e) {
        sp_error_set(err, SP_ERR_INVALID,
                     "query: cannot append rows of width %zu to rows of "
                     "width %zu",
                     e, q->e);
        return NULL;
    }
    size_t rows = q->m + k, need;
    if (rows < q->m || !sp_mul_size(rows, e, &need)) {
        sp_error_set(err, SP_ERR_OVERFLOW, "query: %zu rows of %zu overflow", rows, e);
        return NULL;
    }
    if (need > q->cap) {
        size_t cap = q->cap * 2 > need ? q->cap * 2 : need;
        float *p = sp_realloc(q->rows, cap * sizeof *p);
        if (!p || cap > SIZE_MAX / sizeof *p) {
            if (p)
                q->rows = p;
            sp_error_set(err, SP_ERR_NOMEM, "query: out of memory for %zu rows", rows);
            return NULL;
        }
        q->rows = p;
        q->cap = cap;
    }
    return q->rows + q->m * e;
}

void enc_rows_commit(sp_query_rows *q, size_t k, size_t e) {
    q->e = e;
    q->m += k;
}

sp_status sp_query_rows_append(const sp_encoder *enc, const float *rows, size_t m, size_t e,
                               sp_query_rows *out, sp_error *err) {
    if (!enc || !out || (m && !rows))
        return sp_error_set(err, SP_ERR_INVALID, "query: NULL argument");
    if (e != enc->info.e)
        return sp_error_set(err, SP_ERR_INVALID,
                            "query: rows have width %zu but the %s "
                            "encoder's joint space has %zu",
                            e, enc->info.backend, enc->info.e);
    sp_status s = sp_check_finite(rows, 0, m, e, "query rows", err);
    if (s)
        return s;
    float *dst = enc_rows_append(out, m, e, err);
    if (!dst)
        return err ? err->status : SP_ERR_NOMEM;
    memcpy(dst, rows, m * e * sizeof *dst);
    enc_rows_commit(out, m, e);
    return SP_OK;
}

sp_status sp_query_rows_append_npy(const sp_encoder *enc, const char *path, sp_query_rows *out,
                                   sp_error *err) {
    if (!enc || !path || !out)
        return sp_error_set(err, SP_ERR_INVALID, "query: NULL argument");
    sp_matrix m = {0};
    sp_status s = sp_npy_read(path, &m, err);
    if (!s) {
        s = sp_query_rows_append(enc, m.data, m.rows, m.cols, out, err);
        if (s)
            sp_error_prefix(err, "%s", path);
    }
    sp_matrix_free(&m);
    return s;
}

sp_status enc_exemplar_args(const sp_encode_ctx *ctx, const sp_query_rows *out, sp_exemplar mode,
                            sp_error *err) {
    if (!ctx || !out)
        return sp_error_set(err, SP_ERR_INVALID, "exemplar: NULL argument");
    if ((int)mode < 0 || mode > SP_EXEMPLAR_ALL)
        return sp_error_set(err, SP_ERR_INVALID,
                            "exemplar: mode %d is not pooled, mean or all "
                            "(0..2)",
                            (int)mode);
    return SP_OK;
}

sp_status sp_encode_exemplar(sp_encode_ctx *ctx, const sp_image *img, sp_exemplar mode,
                             sp_query_rows *out, sp_error *err) {
    sp_status args = enc_exemplar_args(ctx, out, mode, err);
    if (args)
        return args;
    sp_encoding r;
    sp_encoding_init(&r);
    sp_status s = sp_encode(ctx, img, &r, err);
    if (s) {
        sp_encoding_free(&r);
        return sp_error_prefix(err, "exemplar");
    }
    /* the picture's cells: letterbox padding says nothing about the exemplar */
    uint32_t y0 = 0, x0 = 0, h = r.grid_h, w = r.grid_w;
    if (r.pre.fit == SP_FIT_LETTERBOX && r.pre.grid_w > 0 && r.pre.grid_h > 0) {
        y0 = r.pre.grid_y, x0 = r.pre.grid_x, h = r.pre.grid_h, w = r.pre.grid_w;
    }
    size_t k = mode == SP_EXEMPLAR_ALL ? (size_t)h * w : 1;
    float *dst = enc_rows_append(out, k, r.e, err);
    if (!dst) {
        sp_encoding_free(&r);
        return err ? err->status : SP_ERR_NOMEM;
    }
    if (mode == SP_EXEMPLAR_POOLED) {
        memcpy(dst, r.pooled, r.e * sizeof *dst);
    } else if (mode == SP_EXEMPLAR_ALL) {
        for (uint32_t gy = y0; gy < y0 + h; gy++)
            memcpy(dst + (size_t)(gy - y0) * w * r.e, r.embed + ((size_t)gy * r.grid_w + x0) * r.e,
                   (size_t)w * r.e * sizeof *dst);
    } else {
        for (size_t j = 0; j < r.e; j++)
            dst[j] = 0;
        for (uint32_t gy = y0; gy < y0 + h; gy++)
            for (uint32_t gx = x0; gx < x0 + w; gx++)
                for (size_t j = 0; j < r.e; j++)
                    dst[j] += r.embed[((size_t)gy * r.grid_w + gx) * r.e + j];
        for (size_t j = 0; j < r.e; j++)
            dst[j] /= (float)((size_t)h * w);
    }
    enc_rows_commit(out, k, r.e);
    sp_encoding_free(&r);
    return SP_OK;
}

/* The model and scratch whose text tower encodes queries. */
static const clip_model *text_model(const sp_encoder *enc) {
    return enc->joint ? enc->joint : enc->clip;
}

static clip_scratch *text_scratch(sp_encode_ctx *ctx) {
    return ctx->joint ? ctx->joint : ctx->clip;
}

static sp_status need_text(const sp_encode_ctx *ctx, sp_error *err) {
    const sp_encoder *enc = ctx->enc;
    if (!enc->info.has_text && enc->clip && enc->clip->llava && !enc->joint)
        return sp_error_set(err, SP_ERR_UNSUPPORTED,
                            "text query: a LLaVA folder has no text tower; set text_model to a "
                            "CLIP or SigLIP folder (its joint space), or use an exemplar image "
                            "or an embedding file");
    if (!enc->info.has_text)
        return sp_error_set(err, SP_ERR_UNSUPPORTED,
                            "text query: the %s encoder has no text tower%s; use an exemplar "
                            "image or an embedding file instead",
                            enc->info.backend,
                            enc->kind == SP_ENCODER_CLIP ? " (absent from the model or not "
                                                           "loaded)"
                                                         : "");
    return SP_OK;
}

sp_status sp_encode_text(sp_encode_ctx *ctx, const char *text, size_t len, sp_query_rows *out,
                         sp_error *err) {
    if (!ctx || !out || (!text && len))
        return sp_error_set(err, SP_ERR_INVALID, "text query: NULL argument");
    sp_status s = need_text(ctx, err);
    if (s)
        return s;
    const clip_model *m = text_model(ctx->enc);
    int32_t *ids = NULL;
    size_t n = 0, room = 0;
    s = clip_tokenize_text(m, text ? text : "", len, &ids, &n, &room, err);
    if (s)
        return s;
    /* One row per segment of a context's length: a long question becomes M rows, and relevance
     * keeps the best half of them (docs/algorithm.md). */
    size_t segments = n == 0 ? 1 : (n + room - 1) / room;
    size_t e = ctx->enc->info.e;
    float *dst = enc_rows_append(out, segments, e, err);
    if (!dst) {
        sp_free(ids);
        return err ? err->status : SP_ERR_NOMEM;
    }
    for (size_t i = 0; i < segments && !s; i++) {
        size_t at = i * room, k = n - at < room ? n - at : room;
        s = clip_encode_text_segment(m, text_scratch(ctx), ids + at, n ? k : 0, dst + i * e, err);
    }
    sp_free(ids);
    if (s)
        return s;
    enc_rows_commit(out, segments, e);
    return SP_OK;
}

sp_status sp_encode_text_ids(sp_encode_ctx *ctx, const int32_t *ids, size_t n, sp_query_rows *out,
                             sp_error *err) {
    if (!ctx || !out || (!ids && n))
        return sp_error_set(err, SP_ERR_INVALID, "text query: NULL argument");
    sp_status s = need_text(ctx, err);
    if (s)
        return s;
    size_t e = ctx->enc->info.e;
    float *dst = enc_rows_append(out, 1, e, err);
    if (!dst)
        return err ? err->status : SP_ERR_NOMEM;
    s = clip_encode_text_ids(text_model(ctx->enc), text_scratch(ctx), ids, n, dst, err);
    if (s)
        return s;
    enc_rows_commit(out, 1, e);
    return SP_OK;
}
