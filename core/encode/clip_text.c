/* The text tower of the clip backend: token + position embeddings, the transformer (causal for
 * CLIP, bidirectional for SigLIP), the final layer norm at the pooled position, the projection. */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "clip_model.h"

sp_status clip_text_forward(const clip_model *m, clip_scratch *s, const int32_t *ids, size_t n,
                            size_t pooled_at, float *out, sp_error *err) {
    const size_t H = m->txt.hidden;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || (uint32_t)ids[i] >= m->cfg.vocab)
            return sp_error_set(err, SP_ERR_INVALID,
                                "text: token id %d at position %zu is "
                                "outside the vocabulary (0..%u)",
                                (int)ids[i], i, m->cfg.vocab - 1);
        const float *te = m->tok_emb + (size_t)ids[i] * H, *pe = m->txt_pos + i * H;
        float *x = s->tx + i * H;
        for (size_t j = 0; j < H; j++)
            x[j] = te[j] + pe[j];
    }
    int causal = m->cfg.family == CLIP_FAMILY_CLIP;
    for (uint32_t l = 0; l < m->txt.layers; l++)
        vit_layer_forward(&m->txt, &m->txt.layer[l], s->tx, n, causal, &s->ts);
    /* layer norm is per token: only the pooled one is needed */
    vm_layernorm(s->tx + pooled_at * H, s->ts.h, 1, H, m->final_ln_w, m->final_ln_b, m->txt.eps);
    vit_linear(s->ts.h, 1, H, m->txt_proj, m->txt_proj_b, m->e, out, 0.0f);
    return SP_OK;
}

/* Where transformers' CLIPTextTransformer pools: the first end token, or the largest id for
 * configs from before eos_token_id was set (their eos_token_id is 2). */
static sp_status clip_pool_index(const clip_model *m, const int32_t *ids, size_t n, size_t *at,
                                 sp_error *err) {
    if (m->cfg.eos_id == 2) {
        size_t best = 0;
        for (size_t i = 1; i < n; i++)
            if (ids[i] > ids[best])
                best = i;
        *at = best;
        return SP_OK;
    }
    for (size_t i = 0; i < n; i++)
        if (ids[i] == m->cfg.eos_id) {
            *at = i;
            return SP_OK;
        }
    return sp_error_set(err, SP_ERR_INVALID,
                        "text: the ids have no end token (eos_token_id %d "
                        "in config.json)",
                        (int)m->cfg.eos_id);
}

/* Runs ids (n <= context): CLIP stops at the pooled position (causal attention makes later tokens
 * irrelevant, so no padding is needed); SigLIP pads to the context with pad_token_id and pools at
 * the last position, as its processor (padding="max_length") and model do. */
static sp_status run_ids(const clip_model *m, clip_scratch *s, const int32_t *ids, size_t n,
                         float *out, sp_error *err) {
    size_t C = m->cfg.context;
    if (n == 0 || n > C)
        return sp_error_set(err, SP_ERR_INVALID, "text: %zu token ids; the model takes 1 to %zu", n,
                            C);
    if (m->cfg.family == CLIP_FAMILY_CLIP) {
        size_t at = 0;
        sp_status st = clip_pool_index(m, ids, n, &at, err);
        if (st)
            return st;
        return clip_text_forward(m, s, ids, at + 1, at, out, err);
    }
    if (ids != s->ids)
        memcpy(s->ids, ids, n * sizeof *ids);
    for (size_t i = n; i < C; i++)
        s->ids[i] = m->cfg.pad_id;
    return clip_text_forward(m, s, s->ids, C, C - 1, out, err);
}

sp_status clip_encode_text_ids(const clip_model *m, clip_scratch *s, const int32_t *ids, size_t n,
                               float *out, sp_error *err) {
    return run_ids(m, s, ids, n, out, err);
}

/* Content tokens a segment holds: the context less the start (CLIP) and end tokens. */
static size_t segment_room(const clip_model *m) {
    size_t head = m->cfg.family == CLIP_FAMILY_CLIP ? 1 : 0;
    return m->cfg.context >= head + 2 ? m->cfg.context - head - 1 : 0;
}

sp_status clip_tokenize_text(const clip_model *m, const char *text, size_t len, int32_t **ids,
                             size_t *n, size_t *room, sp_error *err) {
    *ids = NULL;
    *n = 0;
    *room = segment_room(m);
    if (!m->tok)
        return sp_error_set(err, SP_ERR_UNSUPPORTED,
                            "text query: no tokenizer (%s); tokenize "
                            "elsewhere and use sp_encode_text_ids",
                            m->no_tok_reason);
    if (*room == 0)
        return sp_error_set(err, SP_ERR_FORMAT, "text: context length %zu is too short",
                            (size_t)m->cfg.context);
    /* Byte-level BPE: every token covers at least one byte of the text, so len tokens hold it. */
    size_t cap = len > *room ? len : *room, total = 0;
    int32_t *buf = sp_malloc(cap * sizeof *buf);
    if (!buf)
        return sp_error_set(err, SP_ERR_NOMEM, "text query: out of memory for %zu tokens", cap);
    sp_status st = bpe_encode(m->tok, text, len, buf, cap, &total, err);
    if (st == SP_OK && total > cap)
        st = sp_error_set(err, SP_ERR_STATE, "text query: %zu tokens from %zu bytes", total, len);
    if (st) {
        sp_free(buf);
        return sp_error_prefix(err, "text query");
    }
    *ids = buf;
    *n = total;
    return SP_OK;
}

sp_status clip_encode_text_segment(const clip_model *m, clip_scratch *s, const int32_t *content,
                                   size_t n, float *out, sp_error *err) {
    int clip = m->cfg.family == CLIP_FAMILY_CLIP;
    size_t head = clip ? 1 : 0;
    if (n > segment_room(m))
        return sp_error_set(err, SP_ERR_INVALID, "text: a segment of %zu tokens; at most %zu", n,
                            segment_room(m));
    /* CLIP: <|startoftext|> text <|endoftext|>; SigLIP: text </s> (no start token) */
    if (clip)
        s->ids[0] = bpe_bos(m->tok);
    memcpy(s->ids + head, content, n * sizeof *content);
    s->ids[head + n] = clip ? bpe_eos(m->tok) : m->cfg.eos_id;
    return run_ids(m, s, s->ids, head + n + 1, out, err);
}
