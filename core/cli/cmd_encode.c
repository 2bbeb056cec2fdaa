/* scriptprune encode: one image through a clip-backend model (CLIP, SigLIP or LLaVA folder) into a
 * safetensors file of its tokens, joint-space embeddings and grid positions. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "image_file.h"
#include "scriptprune/encode.h"
#include "scriptprune/safetensors.h"

static void encode_usage(FILE *to) {
    fprintf(to,
            "usage: scriptprune encode --model DIR --image IMG --out OUT.safetensors\n"
            "         [--layer L] [--no-projector] [--text-model DIR] [--image-size S]\n"
            "Encodes one image (a PNG, a JPEG, or a .npy uint8 array of shape (H, W, 3) RGB or\n"
            "(H, W, 4) RGBA; told apart by their first bytes; PNG and JPEG convert to 8-bit RGB)\n"
            "with a Hugging Face CLIP, SigLIP or LLaVA folder and writes:\n"
            "  tokens F32 [N, D]  LLaVA: after the multimodal projector (the language model's\n"
            "                     input) unless --no-projector; CLIP/SigLIP: the hidden state\n"
            "  embed  F32 [N, E]  joint-space embeddings, when there is a joint space (CLIP,\n"
            "                     SigLIP, or LLaVA with --text-model)\n"
            "  yx     I16 [N, 2]  grid row and column of each token (-1, -1: the class token)\n"
            "--layer L: hidden state (< 0 from the end); default the model's (LLaVA's\n"
            "vision_feature_layer, else -2). --image-size: default the model's own input size.\n"
            "--text-model DIR: a CLIP or SigLIP folder giving a LLaVA model its joint space.\n");
}

typedef struct encode_args {
    const char *model, *image, *out, *text_model;
    int layer;
    bool no_projector;
    uint32_t image_size;
} encode_args;

static sp_status parse_layer(const char *s, int *out, sp_error *err) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < -4096 || v > 4096)
        return sp_error_set(err, SP_ERR_INVALID, "--layer: expected an integer, got '%s'", s);
    *out = (int)v;
    return SP_OK;
}

static sp_status apply_option(void *args, int c, const char *arg, sp_error *err) {
    encode_args *a = args;
    size_t v;
    sp_status st = SP_OK;
    switch (c) {
        case 'm':
            a->model = arg;
            break;
        case 'i':
            a->image = arg;
            break;
        case 'o':
            a->out = arg;
            break;
        case 't':
            a->text_model = arg;
            break;
        case 'l':
            st = parse_layer(arg, &a->layer, err);
            break;
        case 'P':
            a->no_projector = true;
            break;
        case 's':
            st = cli_parse_size(arg, "--image-size", 1, 4096, &v, err);
            a->image_size = (uint32_t)v;
            break;
        default: /* an entry of the table below without a case here */
            st = sp_error_set(err, SP_ERR_STATE, "option %d has no handler", c);
    }
    return st;
}

static sp_status finish_args(void *args, sp_error *err) {
    const encode_args *a = args;
    sp_status st = cli_require(a->model != NULL, "--model", err);
    if (!st)
        st = cli_require(a->image != NULL, "--image", err);
    if (!st)
        st = cli_require(a->out != NULL, "--out", err);
    return st;
}

static const struct option encode_table[] = {
    {"model", required_argument, 0, 'm'},
    {"image", required_argument, 0, 'i'},
    {"out", required_argument, 0, 'o'},
    {"layer", required_argument, 0, 'l'},
    {"no-projector", no_argument, 0, 'P'},
    {"text-model", required_argument, 0, 't'},
    {"image-size", required_argument, 0, 's'},
    {"help", no_argument, 0, CLI_OPT_HELP},
    {0, 0, 0, 0},
};

static const cli_options encode_options = {
    .command = "encode",
    .table = encode_table,
    .apply = apply_option,
    .finish = finish_args,
    .usage = encode_usage,
};

static sp_status meta(sp_st_writer *w, const char *key, const char *value, sp_status st,
                      sp_error *err) {
    return st ? st : sp_st_writer_metadata(w, key, value, err);
}

/* The N rows written: the class token first when the model keeps it (LLaVA "full"), then the
 * grid. Embeddings of the class token row: the pooled embedding. */
static sp_status write_out(const encode_args *a, const sp_encoder_info *in, const sp_encoding *r,
                           sp_error *err) {
    const size_t c = r->cls ? 1 : 0, N = r->n + c;
    const bool embed = !in->embed_is_tokens;
    float *tokens = malloc(N * r->d * sizeof *tokens);
    float *emb = embed ? malloc(N * r->e * sizeof *emb) : NULL;
    int16_t *yx = malloc(N * 2 * sizeof *yx);
    sp_st_writer *w = sp_st_writer_new();
    sp_status st = SP_OK;
    if (!tokens || !yx || !w || (embed && !emb))
        st = sp_error_set(err, SP_ERR_NOMEM, "out of memory preparing %s", a->out);
    if (!st) {
        if (c)
            memcpy(tokens, r->cls, r->d * sizeof *tokens);
        memcpy(tokens + c * r->d, r->tokens, r->n * r->d * sizeof *tokens);
        if (embed && c)
            memcpy(emb, r->pooled, r->e * sizeof *emb);
        if (embed)
            memcpy(emb + c * r->e, r->embed, r->n * r->e * sizeof *emb);
        if (c)
            yx[0] = yx[1] = -1;
        for (size_t i = 0; i < r->n; i++) {
            yx[2 * (c + i)] = (int16_t)(i / r->grid_w); /* grids are at most 4096 / 1 a side */
            yx[2 * (c + i) + 1] = (int16_t)(i % r->grid_w);
        }
    }
    size_t ts[2] = {N, r->d}, es[2] = {N, r->e}, ys[2] = {N, 2};
    if (!st)
        st = sp_st_writer_add(w, "tokens", SP_DTYPE_F32, 2, ts, tokens, err);
    if (!st && embed)
        st = sp_st_writer_add(w, "embed", SP_DTYPE_F32, 2, es, emb, err);
    if (!st)
        st = sp_st_writer_add(w, "yx", SP_DTYPE_I16, 2, ys, yx, err);
    char buf[64];
    st = meta(w, "model", a->model, st, err);
    st = meta(w, "backend", in->backend, st, err);
    snprintf(buf, sizeof buf, "%d", in->layer);
    st = meta(w, "layer", buf, st, err);
    st = meta(w, "projector", in->projector ? "linear_1-gelu-linear_2" : "none", st, err);
    st = meta(w, "class_token", c ? "first row" : "none", st, err);
    snprintf(buf, sizeof buf, "%u", in->image_size);
    st = meta(w, "image_size", buf, st, err);
    snprintf(buf, sizeof buf, "%ux%u", r->grid_h, r->grid_w);
    st = meta(w, "grid", buf, st, err);
    if (a->text_model)
        st = meta(w, "text_model", a->text_model, st, err);
    if (!st)
        st = sp_st_writer_write_file(w, a->out, err);
    sp_st_writer_free(w);
    free(tokens);
    free(emb);
    free(yx);
    return st;
}

int cli_cmd_encode(int argc, char **argv) {
    encode_args a = {0};
    a.layer = SP_LAYER_MODEL;
    int rc;
    if (!cli_parse_command_line(argc, argv, &encode_options, &a, &rc))
        return rc;
    sp_error err;
    sp_error_clear(&err);
    cli_image im = {0};
    sp_encoder *enc = NULL;
    sp_encode_ctx *ctx = NULL;
    sp_encoding r;
    sp_encoding_init(&r);
    sp_status st = cli_image_read(a.image, &im, &err);
    if (st)
        sp_error_prefix(&err, "--image");
    sp_encoder_config c;
    sp_encoder_config_init(&c);
    c.kind = SP_ENCODER_CLIP;
    c.model_dir = a.model;
    c.layer = a.layer;
    c.projector = !a.no_projector;
    c.text_model_dir = a.text_model;
    c.image_size = a.image_size;
    if (!st && (st = sp_encoder_open(&c, &enc, &err)))
        sp_error_prefix(&err, "--model %s", a.model);
    if (!st)
        st = sp_encode_ctx_new(enc, &ctx, &err);
    if (!st)
        st = sp_encode(ctx, &im.img, &r, &err);
    sp_encoder_info in;
    if (!st) {
        sp_encoder_get_info(enc, &in);
        if ((st = write_out(&a, &in, &r, &err)))
            sp_error_prefix(&err, "--out %s", a.out);
    }
    rc = st ? cli_fail(cli_status_exit(st), "encode: %s", err.message) : CLI_OK;
    sp_encoding_free(&r);
    sp_encode_ctx_free(ctx);
    sp_encoder_free(enc);
    cli_image_free(&im);
    return rc;
}
