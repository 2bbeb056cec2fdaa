/* Chat request bodies with image embeddings (vllm_chat.h). */
#include "http/vllm_chat.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "scriptprune/embeds.h"
#include "scriptprune/safetensors.h"

/* The tensors of a token set, as float32 / int64 arrays (g_free / free). */
typedef struct token_set {
    size_t k, d;
    float *tokens;    /* k x d (free) */
    gint64 *pts;      /* k */
    gint64 *last_pts; /* k: pts when the input has no last_pts */
    gint64 *frame;    /* k */
    gint64 *yx;       /* k x 2, or NULL */
} token_set;

static void token_set_clear(token_set *t) {
    free(t->tokens);
    g_free(t->pts);
    g_free(t->last_pts);
    g_free(t->frame);
    g_free(t->yx);
}

/* An integer tensor of k elements (I64, I32 or I16) into a new gint64 array. */
static gint64 *read_ints(const sp_st_tensor *t, size_t k, const char *what, sp_error *err) {
    size_t size = t->dtype == SP_DTYPE_I64   ? 8
                  : t->dtype == SP_DTYPE_I32 ? 4
                  : t->dtype == SP_DTYPE_I16 ? 2
                                             : 0;
    if (!size || t->elements != k) {
        sp_error_set(err, SP_ERR_FORMAT, "tokens: `%s` must be an integer tensor of %zu elements",
                     what, k);
        return NULL;
    }
    gint64 *out = g_new(gint64, k ? k : 1);
    for (size_t i = 0; i < k; i++) {
        const guint8 *p = t->data + i * size;
        guint64 v = 0;
        for (size_t b = 0; b < size; b++)
            v |= (guint64)p[b] << (8 * b);
        if (size == 4)
            v = (guint64)(gint64)(gint32)(guint32)v;
        else if (size == 2)
            v = (guint64)(gint64)(gint16)(guint16)v;
        out[i] = (gint64)v;
    }
    return out;
}

static sp_status read_tokens(GBytes *bytes, token_set *t, sp_error *err) {
    memset(t, 0, sizeof *t);
    gsize len = 0;
    const guint8 *buf = g_bytes_get_data(bytes, &len);
    sp_st_file *f = NULL;
    sp_status st = sp_st_open_buffer(buf, len, "tokens", &f, err);
    if (st != SP_OK)
        return st;
    const sp_st_tensor *tok = NULL, *pts = NULL, *frame = NULL;
    if ((st = sp_st_get(f, "tokens", &tok, err)) || (st = sp_st_get(f, "pts", &pts, err)) ||
        (st = sp_st_get(f, "frame", &frame, err)))
        goto done;
    if (tok->ndim != 2) {
        st = sp_error_set(err, SP_ERR_FORMAT, "tokens: `tokens` must be [k, D]");
        goto done;
    }
    t->k = tok->shape[0];
    t->d = tok->shape[1];
    size_t n = 0;
    if ((st = sp_st_read_f32(tok, &t->tokens, &n, err)))
        goto done;
    const sp_st_tensor *last = sp_st_find(f, "last_pts"), *yx = sp_st_find(f, "yx");
    if (!(t->pts = read_ints(pts, t->k, "pts", err)) ||
        !(t->frame = read_ints(frame, t->k, "frame", err)) ||
        !(t->last_pts = last ? read_ints(last, t->k, "last_pts", err)
                             : g_memdup2(t->pts, t->k * sizeof *t->pts)) ||
        (yx && !(t->yx = read_ints(yx, 2 * t->k, "yx", err)))) {
        st = SP_ERR_FORMAT;
        goto done;
    }
done:
    sp_st_close(f);
    if (st != SP_OK)
        token_set_clear(t);
    return st;
}

static void add_text_part(JsonBuilder *b, const char *text) {
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "type");
    json_builder_add_string_value(b, "text");
    json_builder_set_member_name(b, "text");
    json_builder_add_string_value(b, text);
    json_builder_end_object(b);
}

/* One image_embeds part of rows [from, to) of t. */
static sp_status add_embeds_part(JsonBuilder *b, const token_set *t, size_t from, size_t to,
                                 const scd_mllm_cfg *m, sp_error *err) {
    uint8_t *bytes = NULL;
    size_t len = 0;
    sp_dtype dtype = m->embeds_dtype == SCD_WIRE_F16 ? SP_DTYPE_F16 : SP_DTYPE_F32;
    sp_status st = sp_embeds_encode((sp_embeds_format)m->embeds_format, t->tokens + from * t->d,
                                    to - from, t->d, dtype, &bytes, &len, err);
    if (st != SP_OK)
        return st;
    gchar *b64 = g_base64_encode(bytes, len);
    sp_embeds_free(bytes);
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "type");
    json_builder_add_string_value(b, "image_embeds");
    json_builder_set_member_name(b, "image_embeds");
    json_builder_add_string_value(b, b64);
    json_builder_end_object(b);
    g_free(b64);
    return SP_OK;
}

void scd_chat_summary_clear(scd_chat_summary *s) {
    if (s->windows)
        g_array_unref(s->windows);
    if (s->evidence)
        g_array_unref(s->evidence);
    s->windows = s->evidence = NULL;
}

GBytes *scd_vllm_chat_body(GBytes *safetensors, guint hop, const scd_mllm_cfg *m,
                           const char *question, sp_error *err) {
    return scd_vllm_chat_request(safetensors, hop, m, question, 0, NULL, err);
}

GBytes *scd_vllm_chat_request(GBytes *safetensors, guint hop, const scd_mllm_cfg *m,
                              const char *question, int max_tokens, scd_chat_summary *summary,
                              sp_error *err) {
    if (summary) {
        summary->windows = g_array_new(FALSE, FALSE, sizeof(scd_chat_window));
        summary->evidence = g_array_new(FALSE, FALSE, sizeof(scd_chat_evidence));
    }
    token_set t;
    if (read_tokens(safetensors, &t, err) != SP_OK)
        return NULL;
    if (hop == 0)
        hop = 1;
    JsonBuilder *b = json_builder_new();
    json_builder_begin_object(b);
    if (m->model && m->model[0]) {
        json_builder_set_member_name(b, "model");
        json_builder_add_string_value(b, m->model);
    }
    json_builder_set_member_name(b, "messages");
    json_builder_begin_array(b);
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "role");
    json_builder_add_string_value(b, "user");
    json_builder_set_member_name(b, "content");
    json_builder_begin_array(b);
    sp_status st = SP_OK;
    /* Tokens come in time then raster order: a group is a run of equal frame / hop. */
    for (size_t from = 0; from < t.k && st == SP_OK;) {
        gint64 group = t.frame[from] / hop;
        size_t to = from;
        gint64 first = t.pts[from], last = t.last_pts[from];
        while (to < t.k && t.frame[to] / hop == group) {
            first = MIN(first, t.pts[to]);
            last = MAX(last, t.last_pts[to]);
            to++;
        }
        if (summary) {
            scd_chat_window w = {first, last, (guint)(to - from)};
            g_array_append_val(summary->windows, w);
            for (size_t i = from; i < to; i++) {
                scd_chat_evidence e = {t.pts[i], t.last_pts[i], t.yx ? (gint)t.yx[2 * i] : -1,
                                       t.yx ? (gint)t.yx[2 * i + 1] : -1};
                g_array_append_val(summary->evidence, e);
            }
        }
        char span[64];
        g_snprintf(span, sizeof span, "<t=%.1f-%.1fs>", (double)first / 1e9, (double)last / 1e9);
        add_text_part(b, span);
        st = add_embeds_part(b, &t, from, to, m, err);
        from = to;
    }
    if (question && question[0])
        add_text_part(b, question);
    json_builder_end_array(b);
    json_builder_end_object(b);
    json_builder_end_array(b);
    if (max_tokens > 0) {
        json_builder_set_member_name(b, "max_tokens");
        json_builder_add_int_value(b, max_tokens);
    }
    json_builder_end_object(b);
    GBytes *out = NULL;
    if (st == SP_OK) {
        JsonGenerator *g = json_generator_new();
        JsonNode *root = json_builder_get_root(b);
        json_generator_set_root(g, root);
        gsize len = 0;
        gchar *text = json_generator_to_data(g, &len);
        out = g_bytes_new_take(text, len);
        json_node_unref(root);
        g_object_unref(g);
    }
    g_object_unref(b);
    token_set_clear(&t);
    if (!out && summary)
        scd_chat_summary_clear(summary);
    return out;
}
