/* The text tower of the clip backend: token + position embeddings, the transformer (causal for
 * CLIP, bidirectional for SigLIP), the final layer norm at the pooled position, the projection. */
#include <stdio.h>
#include <string.h>

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

sp_status clip_encode_text(const clip_model *m, clip_scratch *s, const char *text, size_t len,
                           float *out, int *warned, char *warning, size_t warning_size,
                           sp_error *err) {
    if (!m->tok)
        return sp_error_set(err, SP_ERR_UNSUPPORTED,
                            "text query: no tokenizer (%s); tokenize "
                            "elsewhere and use sp_encode_text_ids",
                            m->no_tok_reason);
    const size_t C = m->cfg.context;
    int clip = m->cfg.family == CLIP_FAMILY_CLIP;
    /* CLIP: <|startoftext|> text <|endoftext|>; SigLIP: text </s> (no start token) */
    size_t head = clip ? 1 : 0, room = C - head - 1, total, n;
    int32_t eos = clip ? bpe_eos(m->tok) : m->cfg.eos_id;
    if (C < head + 2)
        return sp_error_set(err, SP_ERR_FORMAT, "text: context length %zu is too short", C);
    if (clip)
        s->ids[0] = bpe_bos(m->tok);
    sp_status st = bpe_encode(m->tok, text, len, s->ids + head, room, &total, err);
    if (st)
        return sp_error_prefix(err, "text query");
    n = head + (total < room ? total : room);
    s->ids[n++] = eos;
    if (total > room) {
        *warned = 1;
        snprintf(warning, warning_size,
                 "text query truncated to the context length of %zu "
                 "tokens (its text needs more)",
                 C);
    }
    return run_ids(m, s, s->ids, n, out, err);
}
