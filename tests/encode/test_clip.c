/* The clip backend against PyTorch: fixtures from gen_clip.py (argv[1]) hold small random-weight
 * CLIP and SigLIP models in Hugging Face form and their float64 outputs; every output (selected
 * hidden layer, per-patch and pooled joint-space embeddings, text embeddings) must match to a
 * relative error below 1e-4 (max abs difference / max abs reference value). Also the tokenizer
 * against a regex-based reference, the resampler against torch's antialiased interpolation,
 * broken model folders, threads and out-of-memory injection. LLaVA folders (single file, sharded)
 * against the reference of transformers' get_image_features, with and without the projector, and
 * with a separate CLIP folder as the text model. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"
#include "bpe.h"
#include "resize.h"
#include "scriptprune/encode.h"
#include "scriptprune/json.h"
#include "scriptprune/npy.h"

static const char *fixtures;
static sp_json_doc *manifest;

static const double TOLERANCE = 1e-4;
static double worst_seen; /* largest relative error of the PyTorch comparisons, reported */

/* ---- helpers ---- */

static char *path_of(const char *name) {
    static _Thread_local char buf[8192];
    int n = snprintf(buf, sizeof buf, "%s/%s", fixtures, name);
    if (n < 0 || (size_t)n >= sizeof buf)
        fail_msg("path too long: %s/%s", fixtures, name);
    return buf;
}

static uint8_t *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    buf[n] = 0;
    *len = (size_t)n;
    return buf;
}

static const sp_json *mget(const sp_json *o, const char *key) {
    const sp_json *v = sp_json_get(o, key);
    if (!v)
        fail_msg("manifest: no key %s", key);
    return v;
}

static const char *mstr(const sp_json *o, const char *key) {
    return sp_json_string(mget(o, key), NULL);
}

static int64_t mint(const sp_json *o, const char *key) {
    int64_t v = 0;
    assert_true(sp_json_int64(mget(o, key), &v));
    return v;
}

static double rel_error(const float *got, const float *want, size_t n) {
    double diff = 0, scale = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        diff = d > diff ? d : diff;
        scale = fabs(want[i]) > scale ? fabs(want[i]) : scale;
    }
    return diff / (scale > 0 ? scale : 1);
}

static void expect_close(const float *got, size_t n, const char *npy, const char *what) {
    sp_matrix m;
    sp_error err;
    if (sp_npy_read(path_of(npy), &m, &err))
        fail_msg("%s", err.message);
    if (m.rows * m.cols != n)
        fail_msg("%s: %zu values, reference %s has %zu x %zu", what, n, npy, m.rows, m.cols);
    double e = rel_error(got, m.data, n);
    if (!(e < TOLERANCE))
        fail_msg("%s: relative error %.3g against %s (tolerance %.0e)", what, e, npy, TOLERANCE);
    worst_seen = e > worst_seen ? e : worst_seen;
    sp_matrix_free(&m);
}

static void assert_message_contains(const sp_error *err, const char *needle) {
    if (!strstr(err->message, needle))
        fail_msg("message '%s' does not contain '%s'", err->message, needle);
}

static sp_fit fit_of(const char *s) {
    return strcmp(s, "letterbox") == 0 ? SP_FIT_LETTERBOX
           : strcmp(s, "crop") == 0    ? SP_FIT_CROP
           : strcmp(s, "stretch") == 0 ? SP_FIT_STRETCH
                                       : SP_FIT_AUTO;
}

static sp_encoder *open_model(const char *dir, uint32_t image_size, int layer, sp_fit fit) {
    sp_encoder_config c;
    sp_encoder_config_init(&c);
    c.kind = SP_ENCODER_CLIP;
    c.model_dir = path_of(dir);
    c.image_size = image_size;
    c.layer = layer;
    c.fit = fit;
    sp_encoder *enc = NULL;
    sp_error err;
    if (sp_encoder_open(&c, &enc, &err))
        fail_msg("open %s: %s", dir, err.message);
    return enc;
}

static uint8_t *load_rgb(const sp_json *cs, sp_image *img) {
    size_t len;
    uint8_t *px = read_file(path_of(mstr(cs, "image")), &len);
    img->data = px;
    img->width = (uint32_t)mint(cs, "width");
    img->height = (uint32_t)mint(cs, "height");
    img->stride = img->width * 3;
    img->format = SP_PIXFMT_RGB;
    assert_int_equal(len, img->stride * img->height);
    return px;
}

static const sp_json *models(void) {
    return mget(sp_json_root(manifest), "models");
}

/* ---- the tokenizer ---- */

static bpe_tokenizer *load_tokenizer(int as_json) {
    const char *dir = mstr(mget(sp_json_root(manifest), "tokenizer"), "dir");
    char p[512];
    bpe_tokenizer *t = NULL;
    sp_error err;
    size_t a, b;
    if (as_json) {
        snprintf(p, sizeof p, "%s/tokenizer.json", dir);
        uint8_t *j = read_file(path_of(p), &a);
        if (bpe_load_tokenizer_json((const char *)j, a, &t, &err))
            fail_msg("%s", err.message);
        free(j);
    } else {
        snprintf(p, sizeof p, "%s/vocab.json", dir);
        uint8_t *v = read_file(path_of(p), &a);
        snprintf(p, sizeof p, "%s/merges.txt", dir);
        uint8_t *m = read_file(path_of(p), &b);
        if (bpe_load_vocab_merges((const char *)v, a, (const char *)m, b, &t, &err))
            fail_msg("%s", err.message);
        free(v);
        free(m);
    }
    return t;
}

static void test_tokenizer_matches_regex_reference_on_tricky_strings(void **state) {
    (void)state;
    const sp_json *tk = mget(sp_json_root(manifest), "tokenizer");
    const sp_json *cases = mget(tk, "cases");
    for (int as_json = 0; as_json < 2; as_json++) {
        bpe_tokenizer *t = load_tokenizer(as_json);
        assert_int_equal(bpe_bos(t), mint(tk, "bos"));
        assert_int_equal(bpe_eos(t), mint(tk, "eos"));
        for (size_t i = 0; i < sp_json_length(cases); i++) {
            const sp_json *c = sp_json_at(cases, i);
            size_t len;
            const char *text = sp_json_string(mget(c, "text"), &len);
            const sp_json *want = mget(c, "ids");
            int32_t ids[512];
            size_t total;
            sp_error err;
            assert_int_equal(bpe_encode(t, text, len, ids, 512, &total, &err), SP_OK);
            if (total != sp_json_length(want))
                fail_msg("'%s' (%s): %zu tokens, reference %zu", text,
                         as_json ? "tokenizer.json" : "vocab.json", total, sp_json_length(want));
            for (size_t k = 0; k < total; k++) {
                int64_t w;
                sp_json_int64(sp_json_at(want, k), &w);
                if (ids[k] != w)
                    fail_msg("'%s' token %zu: %d, reference %lld", text, k, ids[k], (long long)w);
            }
        }
        bpe_free(t);
    }
}

static void test_tokenizer_stops_one_past_the_cap_and_keeps_the_prefix(void **state) {
    (void)state;
    bpe_tokenizer *t = load_tokenizer(0);
    const char *text = "the quick brown fox jumps over the lazy dog the quick brown fox";
    int32_t all[64], cut[5];
    size_t n_all, n_cut;
    sp_error err;
    assert_int_equal(bpe_encode(t, text, strlen(text), all, 64, &n_all, &err), SP_OK);
    assert_true(n_all > 5);
    assert_int_equal(bpe_encode(t, text, strlen(text), cut, 5, &n_cut, &err), SP_OK);
    assert_int_equal(n_cut, 6);
    assert_memory_equal(all, cut, sizeof cut);
    /* a single word longer than the BPE limit: bounded work, still "longer than the cap" */
    size_t big = 100000;
    char *word = malloc(big);
    memset(word, 'a', big);
    assert_int_equal(bpe_encode(t, word, big, cut, 5, &n_cut, &err), SP_OK);
    assert_int_equal(n_cut, 6);
    free(word);
    bpe_free(t);
}

static void test_tokenizer_rejects_invalid_utf8_and_bad_files(void **state) {
    (void)state;
    bpe_tokenizer *t = load_tokenizer(0);
    int32_t ids[8];
    size_t n;
    sp_error err;
    static const char *const bad[] = {"ok \xff", "\xc0\xaf", "\xed\xa0\x80", "ab\xe2\x82",
                                      "\xf4\x90\x80\x80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(bpe_encode(t, bad[i], strlen(bad[i]), ids, 8, &n, &err), SP_ERR_INVALID);
        assert_message_contains(&err, "invalid UTF-8 at byte");
    }
    bpe_free(t);
    const char *vocab = "{\"a\": 0, \"b\": 1, \"ab\": 2}";
    assert_int_equal(
        bpe_load_vocab_merges(vocab, strlen(vocab), "#version: 0.2\na c\n", 18, &t, &err),
        SP_ERR_FORMAT);
    assert_message_contains(&err, "merges.txt line 2");
    assert_message_contains(&err, "lacks ('c')");
    assert_int_equal(bpe_load_vocab_merges(vocab, strlen(vocab), "a  b\n", 5, &t, &err),
                     SP_ERR_FORMAT);
    assert_message_contains(&err, "two tokens separated by one space");
    const char *bad_id = "{\"a\": -1}";
    assert_int_equal(bpe_load_vocab_merges(bad_id, strlen(bad_id), "", 0, &t, &err), SP_ERR_FORMAT);
    assert_message_contains(&err, "token 'a' has no valid id");
    const char *unigram = "{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}";
    assert_int_equal(bpe_load_tokenizer_json(unigram, strlen(unigram), &t, &err),
                     SP_ERR_UNSUPPORTED);
    assert_message_contains(&err, "model type Unigram is not supported");
    const char *spm = "{\"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": []}, "
                      "\"pre_tokenizer\": {\"type\": \"Metaspace\"}}";
    assert_int_equal(bpe_load_tokenizer_json(spm, strlen(spm), &t, &err), SP_ERR_UNSUPPORTED);
    assert_message_contains(&err, "without a ByteLevel pre-tokenizer");
}

static const sp_json *first_case(const char *model, sp_image *img, uint8_t **px);

/* ---- the towers against PyTorch ---- */

static void check_texts(sp_encoder *enc, const sp_json *model) {
    sp_encode_ctx *ctx;
    sp_error err;
    assert_int_equal(sp_encode_ctx_new(enc, &ctx, &err), SP_OK);
    const char *name = mstr(model, "name");
    const sp_json *texts = mget(model, "texts");
    for (size_t i = 0; i < sp_json_length(texts); i++) {
        const sp_json *t = sp_json_at(texts, i);
        size_t len;
        const char *text = sp_json_string(mget(t, "text"), &len);
        sp_query_rows q;
        sp_query_rows_init(&q);
        if (sp_encode_text(ctx, text, len, &q, &err))
            fail_msg("%s: text '%s': %s", name, text, err.message);
        int64_t segments = 0;
        assert_true(sp_json_int64(mget(t, "segments"), &segments));
        /* A text longer than the context gives one row per segment, none of it is cut. */
        assert_int_equal(q.m, (size_t)segments);
        assert_int_equal(q.warnings, 0);
        char what[256];
        snprintf(what, sizeof what, "%s text '%.40s'", name, text);
        expect_close(q.rows, q.m * q.e, mstr(t, "embedding"), what);
        sp_query_rows_free(&q);
    }
    const sp_json *idsl = mget(model, "ids");
    for (size_t i = 0; i < sp_json_length(idsl); i++) {
        const sp_json *c = sp_json_at(idsl, i);
        const sp_json *ja = mget(c, "ids");
        int32_t ids[64];
        size_t n = sp_json_length(ja);
        for (size_t k = 0; k < n; k++) {
            int64_t v;
            sp_json_int64(sp_json_at(ja, k), &v);
            ids[k] = (int32_t)v;
        }
        sp_query_rows q;
        sp_query_rows_init(&q);
        if (sp_encode_text_ids(ctx, ids, n, &q, &err))
            fail_msg("%s: ids: %s", name, err.message);
        char what[128];
        snprintf(what, sizeof what, "%s text ids", name);
        expect_close(q.rows, q.e, mstr(c, "embedding"), what);
        sp_query_rows_free(&q);
    }
    sp_encode_ctx_free(ctx);
}

static void test_clip_and_siglip_outputs_match_pytorch(void **state) {
    (void)state;
    const sp_json *ms = models();
    size_t compared = 0, expected = 0;
    for (size_t mi = 0; mi < sp_json_length(ms); mi++) {
        const sp_json *model = sp_json_at(ms, mi);
        const char *name = mstr(model, "name");
        const sp_json *runs = mget(model, "runs");
        for (size_t ri = 0; ri < sp_json_length(runs); ri++) {
            const sp_json *run = sp_json_at(runs, ri);
            sp_encoder *enc = open_model(mstr(model, "dir"), (uint32_t)mint(run, "image_size"),
                                         (int)mint(run, "layer"), fit_of(mstr(run, "fit")));
            sp_encode_ctx *ctx;
            sp_error err;
            assert_int_equal(sp_encode_ctx_new(enc, &ctx, &err), SP_OK);
            const sp_json *cases = mget(run, "cases");
            expected += 3 * sp_json_length(cases);
            for (size_t ci = 0; ci < sp_json_length(cases); ci++) {
                const sp_json *cs = sp_json_at(cases, ci);
                sp_image img;
                uint8_t *px = load_rgb(cs, &img);
                sp_encoding r;
                sp_encoding_init(&r);
                if (sp_encode(ctx, &img, &r, &err))
                    fail_msg("%s: %s", name, err.message);
                char what[256];
                snprintf(what, sizeof what, "%s run %zu image %zu tokens (layer %lld)", name, ri,
                         ci, (long long)mint(run, "layer"));
                expect_close(r.tokens, r.n * r.d, mstr(cs, "tokens"), what);
                snprintf(what, sizeof what, "%s run %zu image %zu patch embeddings", name, ri, ci);
                expect_close(r.embed, r.n * r.e, mstr(cs, "embed"), what);
                snprintf(what, sizeof what, "%s run %zu image %zu pooled embedding", name, ri, ci);
                expect_close(r.pooled, r.e, mstr(cs, "pooled"), what);
                compared += 3;
                sp_frame f;
                sp_encoding_frame(&r, 0, &f);
                assert_int_equal(sp_frame_validate(&f, &err), SP_OK);
                assert_non_null(f.embed);
                sp_encoding_free(&r);
                free(px);
            }
            sp_encode_ctx_free(ctx);
            if (ri == 0 && sp_json_bool(mget(model, "has_text")))
                check_texts(enc, model);
            sp_encoder_free(enc);
        }
    }
    assert_int_equal(compared, expected);
    assert_true(compared >= 27);
    printf("compared %zu image outputs and the text embeddings with PyTorch: worst relative "
           "error %.2e\n",
           compared, worst_seen);
}

static void test_clip_info_reports_shapes_layer_and_preprocessing(void **state) {
    (void)state;
    sp_encoder_info in;
    sp_encoder *enc = open_model("clip_f32", 0, -2, SP_FIT_AUTO);
    sp_encoder_get_info(enc, &in);
    assert_string_equal(in.backend, "clip");
    assert_int_equal(in.n, 16);
    assert_int_equal(in.d, 32);
    assert_int_equal(in.e, 20);
    assert_int_equal(in.grid_w, 4);
    assert_int_equal(in.layer, 2);
    assert_int_equal(in.layers, 3);
    assert_int_equal(in.fit, SP_FIT_CROP);
    assert_int_equal(in.resample, SP_RESAMPLE_BICUBIC);
    assert_float_equal(in.mean[0], 0.48145466f, 1e-7f);
    assert_float_equal(in.std[2], 0.27577711f, 1e-7f);
    assert_true(in.has_text);
    assert_true(in.has_tokenizer);
    assert_int_equal(in.context_length, 16);
    sp_preprocess p;
    sp_encoder_plan(enc, 64, 32, &p);
    assert_float_equal(p.src_x, 16.0, 0);
    assert_float_equal(p.src_w, 32.0, 0);
    assert_float_equal(p.pad[1], 0.4578275f, 1e-7f);
    sp_encoder_free(enc);
    enc = open_model("siglip_bf16", 0, -1, SP_FIT_AUTO);
    sp_encoder_get_info(enc, &in);
    assert_int_equal(in.image_size, 36); /* not a multiple of the patch: floor, as the conv */
    assert_int_equal(in.n, 16);
    sp_encoder_free(enc);
    enc = open_model("siglip_bf16", 48, -1, SP_FIT_AUTO);
    sp_encoder_get_info(enc, &in);
    assert_string_equal(in.backend, "siglip");
    assert_int_equal(in.n, 36);
    assert_int_equal(in.e, 32);
    assert_int_equal(in.fit, SP_FIT_STRETCH);
    assert_int_equal(in.layer, 2);
    assert_float_equal(in.mean[0], 0.5f, 0);
    sp_encoder_free(enc);
}

static void test_clip_model_path_may_name_the_weights_file(void **state) {
    (void)state;
    sp_encoder *dir = open_model("clip_f32", 0, -2, SP_FIT_AUTO);
    sp_encoder *file = open_model("clip_f32/model.safetensors", 0, -2, SP_FIT_AUTO);
    sp_image img;
    uint8_t *px;
    first_case("clip_f32", &img, &px);
    sp_encoding a, b;
    sp_encoding_init(&a);
    sp_encoding_init(&b);
    sp_encode_ctx *ca, *cb;
    sp_error err;
    assert_int_equal(sp_encode_ctx_new(dir, &ca, &err), SP_OK);
    assert_int_equal(sp_encode_ctx_new(file, &cb, &err), SP_OK);
    assert_int_equal(sp_encode(ca, &img, &a, &err), SP_OK);
    assert_int_equal(sp_encode(cb, &img, &b, &err), SP_OK);
    assert_memory_equal(a.embed, b.embed, a.n * a.e * sizeof(float));
    sp_encoder_info in;
    sp_encoder_get_info(file, &in);
    assert_true(in.has_tokenizer); /* vocab.json and merges.txt found beside the weights */
    sp_encoding_free(&a);
    sp_encoding_free(&b);
    sp_encode_ctx_free(ca);
    sp_encode_ctx_free(cb);
    sp_encoder_free(dir);
    sp_encoder_free(file);
    free(px);
}

static void test_clip_vision_only_model_has_no_text_tower(void **state) {
    (void)state;
    sp_encoder *enc = open_model("clip_vision_only", 0, -2, SP_FIT_AUTO);
    sp_encoder_info in;
    sp_encoder_get_info(enc, &in);
    assert_false(in.has_text);
    assert_int_equal(in.e, in.d);
    sp_encode_ctx *ctx;
    sp_error err;
    assert_int_equal(sp_encode_ctx_new(enc, &ctx, &err), SP_OK);
    sp_query_rows q;
    sp_query_rows_init(&q);
    assert_int_equal(sp_encode_text(ctx, "cat", 3, &q, &err), SP_ERR_UNSUPPORTED);
    assert_message_contains(&err, "clip encoder has no text tower");
    sp_query_rows_free(&q);
    sp_encode_ctx_free(ctx);
    sp_encoder_free(enc);
}

static void test_clip_text_off_skips_the_text_tower(void **state) {
    (void)state;
    sp_encoder_config c;
    sp_encoder_config_init(&c);
    c.kind = SP_ENCODER_CLIP;
    c.model_dir = path_of("clip_f32");
    c.text = false;
    sp_encoder *enc;
    sp_error err;
    assert_int_equal(sp_encoder_open(&c, &enc, &err), SP_OK);
    sp_encoder_info in;
    sp_encoder_get_info(enc, &in);
    assert_false(in.has_text);
    assert_int_equal(in.context_length, 0);
    sp_encoder_free(enc);
}

static void test_clip_text_ids_are_checked(void **state) {
    (void)state;
    sp_encoder *enc = open_model("clip_f32", 0, -2, SP_FIT_AUTO);
    sp_encode_ctx *ctx;
    sp_error err;
    assert_int_equal(sp_encode_ctx_new(enc, &ctx, &err), SP_OK);
    sp_query_rows q;
    sp_query_rows_init(&q);
    int64_t eos = mint(mget(sp_json_root(manifest), "tokenizer"), "eos");
    int32_t ids[20] = {1, 2, 100000};
    assert_int_equal(sp_encode_text_ids(ctx, ids, 3, &q, &err), SP_ERR_INVALID);
    assert_message_contains(&err, "no end token");
    ids[3] = (int32_t)eos;
    assert_int_equal(sp_encode_text_ids(ctx, ids, 4, &q, &err), SP_ERR_INVALID);
    assert_message_contains(&err, "token id 100000 at position 2 is outside the vocabulary");
    assert_int_equal(sp_encode_text_ids(ctx, ids, 17, &q, &err), SP_ERR_INVALID);
    assert_message_contains(&err, "17 token ids; the model takes 1 to 16");
    assert_int_equal(sp_encode_text_ids(ctx, ids, 0, &q, &err), SP_ERR_INVALID);
    assert_int_equal(sp_encode_text(ctx, "bad \xff", 5, &q, &err), SP_ERR_INVALID);
    assert_message_contains(&err, "text query: text: invalid UTF-8 at byte 4");
    assert_int_equal(q.m, 0);
    sp_query_rows_free(&q);
    sp_encode_ctx_free(ctx);
    sp_encoder_free(enc);
}

static void test_broken_model_folders_fail_with_clear_errors(void **state) {
    (void)state;
    const sp_json *broken = mget(sp_json_root(manifest), "broken");
    assert_true(sp_json_length(broken) >= 6);
    for (size_t i = 0; i < sp_json_length(broken); i++) {
        const sp_json *b = sp_json_at(broken, i);
        sp_encoder_config c;
        sp_encoder_config_init(&c);
        c.kind = SP_ENCODER_CLIP;
        c.model_dir = path_of(mstr(b, "dir"));
        sp_encoder *enc = (sp_encoder *)1;
        sp_error err;
        sp_status s = sp_encoder_open(&c, &enc, &err);
        assert_null(enc);
        if (strcmp(sp_status_name(s), mstr(b, "status")) != 0)
            fail_msg("%s: status %s (%s), expected %s", mstr(b, "dir"), sp_status_name(s),
                     err.message, mstr(b, "status"));
        assert_message_contains(&err, mstr(b, "message"));
    }
    sp_encoder_config c;
    sp_encoder_config_init(&c);
    c.kind = SP_ENCODER_CLIP;
    sp_encoder *enc;
    sp_error err;
    assert_int_equal(sp_encoder_open(&c, &enc, &err), SP_ERR_INVALID);
    assert_message_contains(&err, "model_dir is not set");
    c.model_dir = path_of("no_such_model");
    assert_int_equal(sp_encoder_open(&c, &enc, &err), SP_ERR_NOT_FOUND);
    assert_message_contains(&err, "no_such_model/config.json");
    c.model_dir = path_of("clip_f32");
    c.image_size = 4;
    assert_int_equal(sp_encoder_open(&c, &enc, &err), SP_ERR_INVALID);
    assert_message_contains(&err, "image_size 4 is smaller than the model's patch_size 8");
    c.image_size = 0;
    c.layer = -5;
    assert_int_equal(sp_encoder_open(&c, &enc, &err), SP_ERR_INVALID);
    assert_message_contains(&err, "layer -5 is outside");
    c.layer = 4;
    assert_int_equal(sp_encoder_open(&c, &enc, &err), SP_ERR_INVALID);
}

/* ---- in-memory models, threads, out of memory ---- */

typedef struct blobs_store {
    uint8_t *st, *config, *pre, *vocab, *merges;
    sp_model_blobs b;
} blobs_store;

static void load_blobs(const char *dir, blobs_store *s) {
    memset(s, 0, sizeof *s);
    char p[256];
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    s->st = read_file(path_of(p), &s->b.safetensors_len);
    snprintf(p, sizeof p, "%s/config.json", dir);
    s->config = read_file(path_of(p), &s->b.config_json_len);
    snprintf(p, sizeof p, "%s/preprocessor_config.json", dir);
    s->pre = read_file(path_of(p), &s->b.preprocessor_json_len);
    snprintf(p, sizeof p, "%s/vocab.json", dir);
    s->vocab = read_file(path_of(p), &s->b.vocab_json_len);
    snprintf(p, sizeof p, "%s/merges.txt", dir);
    s->merges = read_file(path_of(p), &s->b.merges_txt_len);
    s->b.safetensors = s->st;
    s->b.config_json = (const char *)s->config;
    s->b.preprocessor_json = (const char *)s->pre;
    s->b.vocab_json = (const char *)s->vocab;
    s->b.merges_txt = (const char *)s->merges;
}

static void free_blobs(blobs_store *s) {
    free(s->st);
    free(s->config);
    free(s->pre);
    free(s->vocab);
    free(s->merges);
}

static const sp_json *first_case(const char *model, sp_image *img, uint8_t **px) {
    const sp_json *ms = models();
    for (size_t i = 0; i < sp_json_length(ms); i++) {
        const sp_json *m = sp_json_at(ms, i);
        if (strcmp(mstr(m, "name"), model) == 0) {
            const sp_json *cs = sp_json_at(mget(sp_json_at(mget(m, "runs"), 0), "cases"), 0);
            *px = load_rgb(cs, img);
            return cs;
        }
    }
    fail_msg("no model %s", model);
    return NULL;
}

static void test_clip_open_from_memory_equals_open_from_folder(void **state) {
    (void)state;
    blobs_store s;
    load_blobs("siglip_bf16", &s);
    sp_encoder_config c;
    sp_encoder_config_init(&c);
    c.layer = -1;
    sp_encoder *a, *b;
    sp_error err;
    if (sp_encoder_open_blobs(&c, &s.b, &a, &err))
        fail_msg("%s", err.message);
    free_blobs(&s); /* borrowed for the open only */
    b = open_model("siglip_bf16", 0, -1, SP_FIT_AUTO);
    sp_image img;
    uint8_t *px;
    first_case("siglip_bf16", &img, &px);
    sp_encoding ra, rb;
    sp_encoding_init(&ra);
    sp_encoding_init(&rb);
    sp_encode_ctx *ca, *cb;
    assert_int_equal(sp_encode_ctx_new(a, &ca, &err), SP_OK);
    assert_int_equal(sp_encode_ctx_new(b, &cb, &err), SP_OK);
    assert_int_equal(sp_encode(ca, &img, &ra, &err), SP_OK);
    assert_int_equal(sp_encode(cb, &img, &rb, &err), SP_OK);
    assert_memory_equal(ra.tokens, rb.tokens, ra.n * ra.d * sizeof(float));
    assert_memory_equal(ra.embed, rb.embed, ra.n * ra.e * sizeof(float));
    sp_model_blobs none = {0};
    sp_encoder *z;
    assert_int_equal(sp_encoder_open_blobs(&c, &none, &z, &err), SP_ERR_INVALID);
    assert_message_contains(&err, "blobs are required");
    sp_encoding_free(&ra);
    sp_encoding_free(&rb);
    sp_encode_ctx_free(ca);
    sp_encode_ctx_free(cb);
    sp_encoder_free(a);
    sp_encoder_free(b);
    free(px);
}

static void test_clip_without_tokenizer_files_keeps_text_ids_working(void **state) {
    (void)state;
    blobs_store s;
    load_blobs("clip_f32", &s);
    s.b.vocab_json = NULL;
    s.b.merges_txt = NULL;
    sp_encoder_config c;
    sp_encoder_config_init(&c);
    sp_encoder *enc;
    sp_error err;
    if (sp_encoder_open_blobs(&c, &s.b, &enc, &err))
        fail_msg("%s", err.message);
    free_blobs(&s);
    sp_encoder_info in;
    sp_encoder_get_info(enc, &in);
    assert_true(in.has_text);
    assert_false(in.has_tokenizer);
    sp_encode_ctx *ctx;
    assert_int_equal(sp_encode_ctx_new(enc, &ctx, &err), SP_OK);
    sp_query_rows q;
    sp_query_rows_init(&q);
    assert_int_equal(sp_encode_text(ctx, "a cat", 5, &q, &err), SP_ERR_UNSUPPORTED);
    assert_message_contains(&err, "no vocab.json + merges.txt or tokenizer.json");
    assert_message_contains(&err, "sp_encode_text_ids");
    const sp_json *model = sp_json_at(models(), 0);
    const sp_json *c0 = sp_json_at(mget(model, "ids"), 0);
    const sp_json *ja = mget(c0, "ids");
    int32_t ids[16];
    for (size_t k = 0; k < sp_json_length(ja); k++) {
        int64_t v;
        sp_json_int64(sp_json_at(ja, k), &v);
        ids[k] = (int32_t)v;
    }
    assert_int_equal(sp_encode_text_ids(ctx, ids, sp_json_length(ja), &q, &err), SP_OK);
    expect_close(q.rows, q.e, mstr(c0, "embedding"), "clip_f32 ids without tokenizer");
    sp_query_rows_free(&q);
    sp_encode_ctx_free(ctx);
    sp_encoder_free(enc);
}

typedef struct job {
    sp_encoder *enc;
    const sp_image *img;
    sp_encoding out;
    sp_query_rows q;
    int failed;
} job;

static void *encode_job(void *arg) {
    job *j = arg;
    sp_encode_ctx *ctx;
    sp_error err;
    if (sp_encode_ctx_new(j->enc, &ctx, &err)) {
        j->failed = 1;
        return NULL;
    }
    for (int k = 0; k < 10 && !j->failed; k++) {
        sp_query_rows_clear(&j->q);
        j->failed = sp_encode(ctx, j->img, &j->out, &err) ||
                    sp_encode_text(ctx, "a photo of a dog", 16, &j->q, &err);
    }
    sp_encode_ctx_free(ctx);
    return NULL;
}

static void test_clip_contexts_on_two_threads_match_sequential_results(void **state) {
    (void)state;
    sp_encoder *enc = open_model("clip_f32", 0, -2, SP_FIT_AUTO);
    sp_image img;
    uint8_t *px;
    first_case("clip_f32", &img, &px);
    job ref = {enc, &img, {0}, {0}, 0};
    sp_encoding_init(&ref.out);
    sp_query_rows_init(&ref.q);
    encode_job(&ref);
    assert_false(ref.failed);
    job jobs[2] = {{enc, &img, {0}, {0}, 0}, {enc, &img, {0}, {0}, 0}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        sp_encoding_init(&jobs[i].out);
        sp_query_rows_init(&jobs[i].q);
        assert_int_equal(pthread_create(&t[i], NULL, encode_job, &jobs[i]), 0);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
        assert_false(jobs[i].failed);
        /* same BLAS, same shapes: the same bytes */
        assert_memory_equal(jobs[i].out.tokens, ref.out.tokens, ref.out.n * ref.out.d * 4);
        assert_memory_equal(jobs[i].q.rows, ref.q.rows, ref.q.e * 4);
        sp_encoding_free(&jobs[i].out);
        sp_query_rows_free(&jobs[i].q);
    }
    sp_encoding_free(&ref.out);
    sp_query_rows_free(&ref.q);
    sp_encoder_free(enc);
    free(px);
}

static void test_clip_every_allocation_failure_is_reported_and_leaks_nothing(void **state) {
    (void)state;
    blobs_store s;
    load_blobs("clip_f32", &s);
    sp_image img;
    uint8_t *px;
    first_case("clip_f32", &img, &px);
    int succeeded = 0;
    long n;
    for (n = 0; n < 2000 && !succeeded; n++) {
        sp_encoder_config c;
        sp_encoder_config_init(&c);
        sp_encoder *enc = NULL;
        sp_encode_ctx *ctx = NULL;
        sp_encoding r;
        sp_encoding_init(&r);
        sp_query_rows q;
        sp_query_rows_init(&q);
        sp_error err;
        sp_fault_fail_after(n);
        sp_status st = sp_encoder_open_blobs(&c, &s.b, &enc, &err);
        if (!st)
            st = sp_encode_ctx_new(enc, &ctx, &err);
        if (!st)
            st = sp_encode(ctx, &img, &r, &err);
        if (!st)
            st = sp_encode_text(ctx, "a photo of a cat", 16, &q, &err);
        long injected = sp_fault_injected();
        sp_fault_fail_after(-1);
        if (st) {
            if (st != SP_ERR_NOMEM)
                fail_msg("allocation %ld: %s (%s)", n, sp_status_name(st), err.message);
            assert_true(injected > 0);
        } else {
            assert_int_equal(injected, 0);
            succeeded = 1;
        }
        sp_query_rows_free(&q);
        sp_encoding_free(&r);
        sp_encode_ctx_free(ctx);
        sp_encoder_free(enc);
    }
    assert_true(succeeded);
    assert_true(n > 50); /* the walk covered the loader's many allocations */
    free_blobs(&s);
    free(px);
}

/* ---- LLaVA folders ---- */

/* got (rows x cols) against rows row0.. of the reference matrix in npy. */
static void expect_close_rows(const float *got, size_t row0, size_t rows, size_t cols,
                              const char *npy, const char *what) {
    sp_matrix m;
    sp_error err;
    if (sp_npy_read(path_of(npy), &m, &err))
        fail_msg("%s", err.message);
    if (m.cols != cols || m.rows < row0 + rows)
        fail_msg("%s: %zu x %zu from row %zu, reference %s has %zu x %zu", what, rows, cols, row0,
                 npy, m.rows, m.cols);
    double e = rel_error(got, m.data + row0 * cols, rows * cols);
    if (!(e < TOLERANCE))
        fail_msg("%s: relative error %.3g against %s (tolerance %.0e)", what, e, npy, TOLERANCE);
    worst_seen = e > worst_seen ? e : worst_seen;
    sp_matrix_free(&m);
}

static sp_status open_llava(const char *dir, bool projector, const char *text_model,
                            sp_encoder **enc, sp_error *err) {
    sp_encoder_config c;
    sp_encoder_config_init(&c);
    c.kind = SP_ENCODER_CLIP;
    char md[8192], tm[8192]; /* path_of's buffer is reused by the next call */
    snprintf(md, sizeof md, "%s", path_of(dir));
    c.model_dir = md;
    c.projector = projector;
    if (text_model) {
        snprintf(tm, sizeof tm, "%s", path_of(text_model));
        c.text_model_dir = tm;
    }
    return sp_encoder_open(&c, enc, err);
}

static void test_llava_tokens_match_pytorch_projector_reference(void **state) {
    (void)state;
    const sp_json *ls = mget(sp_json_root(manifest), "llava");
    size_t compared = 0;
    for (size_t li = 0; li < sp_json_length(ls); li++) {
        const sp_json *lv = sp_json_at(ls, li);
        const char *name = mstr(lv, "name");
        bool cls = sp_json_bool(mget(lv, "cls"));
        for (int projector = 1; projector >= 0; projector--) {
            sp_encoder *enc = NULL;
            sp_error err;
            if (open_llava(mstr(lv, "dir"), projector, NULL, &enc, &err))
                fail_msg("open %s: %s", name, err.message);
            sp_encoder_info in;
            sp_encoder_get_info(enc, &in);
            size_t width = (size_t)mint(lv, projector ? "d" : "h");
            assert_string_equal(in.backend, "llava");
            assert_int_equal(in.layer, mint(lv, "layer"));
            assert_int_equal(in.d, width);
            assert_int_equal(in.e, width);
            assert_int_equal(in.vision_d, mint(lv, "h"));
            assert_int_equal(in.projector, projector);
            assert_int_equal(in.cls_token, cls);
            assert_true(in.embed_is_tokens);
            assert_false(in.has_text);
            assert_int_equal(in.image_size, mint(lv, "image_size"));
            assert_int_equal(in.model_image_size, mint(lv, "image_size"));
            sp_encode_ctx *ctx;
            assert_int_equal(sp_encode_ctx_new(enc, &ctx, &err), SP_OK);
            const sp_json *cases = mget(lv, "cases");
            for (size_t ci = 0; ci < sp_json_length(cases); ci++) {
                const sp_json *cs = sp_json_at(cases, ci);
                sp_image img;
                uint8_t *px = load_rgb(cs, &img);
                sp_encoding r;
                sp_encoding_init(&r);
                if (sp_encode(ctx, &img, &r, &err))
                    fail_msg("%s: %s", name, err.message);
                const char *ref = mstr(cs, projector ? "tokens" : "features");
                char what[256];
                snprintf(what, sizeof what, "%s image %zu %s", name, ci,
                         projector ? "projected tokens" : "vision features");
                assert_int_equal(r.d, width);
                expect_close_rows(r.tokens, cls ? 1 : 0, r.n, r.d, ref, what);
                compared++;
                if (cls) {
                    assert_non_null(r.cls);
                    snprintf(what, sizeof what, "%s image %zu class token", name, ci);
                    expect_close_rows(r.cls, 0, 1, r.d, ref, what);
                } else {
                    assert_null(r.cls);
                }
                /* the joint space is the token space: embed aliases the tokens, pooled is their
                 * mean */
                assert_ptr_equal(r.embed, r.tokens);
                for (size_t j = 0; j < r.d; j++) {
                    double mean = 0;
                    for (size_t i = 0; i < r.n; i++)
                        mean += r.tokens[i * r.d + j];
                    assert_true(fabs(mean / (double)r.n - r.pooled[j]) < 1e-4);
                }
                sp_frame f;
                sp_encoding_frame(&r, 0, &f);
                assert_int_equal(sp_frame_validate(&f, &err), SP_OK);
                assert_null(f.embed);
                sp_encoding_free(&r);
                free(px);
            }
            sp_query_rows q;
            sp_query_rows_init(&q);
            assert_int_equal(sp_encode_text(ctx, "a cat", 5, &q, &err), SP_ERR_UNSUPPORTED);
            assert_message_contains(&err, "a LLaVA folder has no text tower; set text_model");
            sp_query_rows_free(&q);
            sp_encode_ctx_free(ctx);
            sp_encoder_free(enc);
        }
    }
    assert_int_equal(compared, 16);
    printf("compared %zu LLaVA outputs with PyTorch: worst relative error %.2e\n", compared,
           worst_seen);
}

static const sp_json *model_entry(const char *name) {
    const sp_json *ms = models();
    for (size_t i = 0; i < sp_json_length(ms); i++)
        if (strcmp(mstr(sp_json_at(ms, i), "name"), name) == 0)
            return sp_json_at(ms, i);
    fail_msg("no model %s", name);
    return NULL;
}

static void test_llava_with_text_model_takes_embeddings_and_text_from_it(void **state) {
    (void)state;
    const sp_json *lv = sp_json_at(mget(sp_json_root(manifest), "llava"), 0);
    const sp_json *joint = mget(lv, "joint");
    sp_encoder *enc = NULL;
    sp_error err;
    if (open_llava(mstr(lv, "dir"), true, mstr(joint, "text_model"), &enc, &err))
        fail_msg("open: %s", err.message);
    sp_encoder_info in;
    sp_encoder_get_info(enc, &in);
    assert_int_equal(in.d, mint(lv, "d"));
    assert_int_equal(in.e, 20); /* clip_f32's projection_dim */
    assert_false(in.embed_is_tokens);
    assert_true(in.has_text);
    assert_true(in.has_tokenizer);
    sp_encode_ctx *ctx;
    assert_int_equal(sp_encode_ctx_new(enc, &ctx, &err), SP_OK);
    sp_image img;
    uint8_t *px = load_rgb(joint, &img);
    sp_encoding r;
    sp_encoding_init(&r);
    if (sp_encode(ctx, &img, &r, &err))
        fail_msg("%s", err.message);
    expect_close(r.tokens, r.n * r.d, mstr(joint, "tokens"), "LLaVA tokens with a text model");
    expect_close(r.embed, r.n * r.e, mstr(joint, "embed"), "text model's patch embeddings");
    expect_close(r.pooled, r.e, mstr(joint, "pooled"), "text model's pooled embedding");
    sp_frame f;
    sp_encoding_frame(&r, 0, &f);
    assert_int_equal(sp_frame_validate(&f, &err), SP_OK);
    assert_non_null(f.embed);
    assert_int_equal(f.e, 20);
    /* text queries go through the text model's tower */
    const sp_json *t0 = sp_json_at(mget(model_entry("clip_f32"), "texts"), 0);
    sp_query_rows q;
    sp_query_rows_init(&q);
    const char *text = mstr(t0, "text");
    assert_int_equal(sp_encode_text(ctx, text, strlen(text), &q, &err), SP_OK);
    expect_close(q.rows, q.e, mstr(t0, "embedding"), "text through the text model");
    sp_query_rows_free(&q);
    sp_encoding_free(&r);
    free(px);
    sp_encode_ctx_free(ctx);
    sp_encoder_free(enc);

    /* refusals: a LLaVA folder as the text model, a text model for a CLIP model */
    enc = (sp_encoder *)1;
    assert_int_equal(open_llava(mstr(lv, "dir"), true, "llava_f16_sharded", &enc, &err),
                     SP_ERR_INVALID);
    assert_null(enc);
    assert_message_contains(&err, "a LLaVA folder has no joint image-text space");
    assert_int_equal(open_llava("clip_vision_only", true, "clip_f32", &enc, &err), SP_ERR_INVALID);
    assert_message_contains(&err, "only a LLaVA model takes a separate text model");
    assert_int_equal(open_llava(mstr(lv, "dir"), true, "no_such_text_model", &enc, &err),
                     SP_ERR_NOT_FOUND);
    assert_message_contains(&err, "text_model");
}

static void test_llava_layer_and_image_size_follow_the_caller_when_set(void **state) {
    (void)state;
    sp_encoder_config c;
    sp_encoder_config_init(&c);
    assert_int_equal(c.layer, SP_LAYER_MODEL);
    c.kind = SP_ENCODER_CLIP;
    c.model_dir = path_of("llava_f32");
    c.layer = -1;
    c.image_size = 48;
    sp_encoder *enc;
    sp_error err;
    assert_int_equal(sp_encoder_open(&c, &enc, &err), SP_OK);
    sp_encoder_info in;
    sp_encoder_get_info(enc, &in);
    assert_int_equal(in.layer, 3);
    assert_int_equal(in.layers, 3);
    assert_int_equal(in.image_size, 48);
    assert_int_equal(in.model_image_size, 32);
    assert_int_equal(in.grid_h, 6);
    sp_encoder_free(enc);
    c.layer = 7;
    assert_int_equal(sp_encoder_open(&c, &enc, &err), SP_ERR_INVALID);
    assert_message_contains(&err, "layer 7 is outside");
}

static void test_llava_sharded_every_allocation_failure_is_reported(void **state) {
    (void)state;
    const sp_json *lv = sp_json_at(mget(sp_json_root(manifest), "llava"), 1);
    sp_image img;
    uint8_t *px = load_rgb(sp_json_at(mget(lv, "cases"), 0), &img);
    int succeeded = 0;
    long n;
    for (n = 0; n < 4000 && !succeeded; n++) {
        sp_encoder *enc = NULL;
        sp_encode_ctx *ctx = NULL;
        sp_encoding r;
        sp_encoding_init(&r);
        sp_error err;
        sp_fault_fail_after(n);
        sp_status st = open_llava(mstr(lv, "dir"), true, "clip_f32", &enc, &err);
        if (!st)
            st = sp_encode_ctx_new(enc, &ctx, &err);
        if (!st)
            st = sp_encode(ctx, &img, &r, &err);
        long injected = sp_fault_injected();
        sp_fault_fail_after(-1);
        if (st) {
            if (st != SP_ERR_NOMEM)
                fail_msg("allocation %ld: %s (%s)", n, sp_status_name(st), err.message);
            assert_true(injected > 0);
        } else {
            assert_int_equal(injected, 0);
            succeeded = 1;
        }
        sp_encoding_free(&r);
        sp_encode_ctx_free(ctx);
        sp_encoder_free(enc);
    }
    assert_true(succeeded);
    assert_true(n > 50);
    free(px);
}

/* ---- the resampler against torch ---- */

static void test_resize_matches_torch_antialiased_interpolation(void **state) {
    (void)state;
    const sp_json *src = mget(sp_json_root(manifest), "resize_src");
    sp_image img;
    uint8_t *px = load_rgb(src, &img);
    const sp_json *cases = mget(sp_json_root(manifest), "resize");
    for (size_t i = 0; i < sp_json_length(cases); i++) {
        const sp_json *c = sp_json_at(cases, i);
        uint32_t S = (uint32_t)mint(c, "size");
        sp_resample k =
            strcmp(mstr(c, "mode"), "bilinear") == 0 ? SP_RESAMPLE_BILINEAR : SP_RESAMPLE_BICUBIC;
        float pad[3] = {0, 0, 0}, scale[3] = {1, 1, 1}, bias[3] = {0, 0, 0};
        sp_preprocess pre;
        rs_plan(img.width, img.height, S, S / 10, SP_FIT_STRETCH, k, pad, &pre);
        rs_state st;
        memset(&st, 0, sizeof st);
        float *planes = malloc(3 * (size_t)S * S * sizeof(float));
        sp_error err;
        assert_int_equal(rs_run(&st, &img, &pre, S, scale, bias, pad, planes, &err), SP_OK);
        sp_matrix m;
        assert_int_equal(sp_npy_read(path_of(mstr(c, "expected")), &m, &err), SP_OK);
        double worst = 0;
        for (size_t j = 0; j < 3 * (size_t)S * S; j++) {
            double d = fabs((double)planes[j] - m.data[j]);
            worst = d > worst ? d : worst;
        }
        /* on the 0..255 scale: the vertical pass's Q14 weights allow about 0.03 */
        if (!(worst < 0.1))
            fail_msg("%s to %u: max difference %.4f from torch", mstr(c, "mode"), S, worst);
        sp_matrix_free(&m);
        free(planes);
        rs_state_free(&st);
    }
    free(px);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: test-encode-clip FIXTURE_DIR (made by gen_clip.py)\n");
        return 2;
    }
    fixtures = argv[1];
    size_t len;
    uint8_t *text = read_file(path_of("manifest.json"), &len);
    sp_error err;
    if (sp_json_parse((const char *)text, len, "manifest.json", &manifest, &err)) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    free(text);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokenizer_matches_regex_reference_on_tricky_strings),
        cmocka_unit_test(test_tokenizer_stops_one_past_the_cap_and_keeps_the_prefix),
        cmocka_unit_test(test_tokenizer_rejects_invalid_utf8_and_bad_files),
        cmocka_unit_test(test_clip_and_siglip_outputs_match_pytorch),
        cmocka_unit_test(test_clip_info_reports_shapes_layer_and_preprocessing),
        cmocka_unit_test(test_clip_model_path_may_name_the_weights_file),
        cmocka_unit_test(test_clip_vision_only_model_has_no_text_tower),
        cmocka_unit_test(test_clip_text_off_skips_the_text_tower),
        cmocka_unit_test(test_clip_text_ids_are_checked),
        cmocka_unit_test(test_broken_model_folders_fail_with_clear_errors),
        cmocka_unit_test(test_clip_open_from_memory_equals_open_from_folder),
        cmocka_unit_test(test_clip_without_tokenizer_files_keeps_text_ids_working),
        cmocka_unit_test(test_clip_contexts_on_two_threads_match_sequential_results),
        cmocka_unit_test(test_clip_every_allocation_failure_is_reported_and_leaks_nothing),
        cmocka_unit_test(test_resize_matches_torch_antialiased_interpolation),
        cmocka_unit_test(test_llava_tokens_match_pytorch_projector_reference),
        cmocka_unit_test(test_llava_with_text_model_takes_embeddings_and_text_from_it),
        cmocka_unit_test(test_llava_layer_and_image_size_follow_the_caller_when_set),
        cmocka_unit_test(test_llava_sharded_every_allocation_failure_is_reported),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    sp_json_free(manifest);
    return rc;
}
