/* Query rows: building them from user input, and the encoder cache. */
#include "runtime/query.h"

#include <math.h>
#include <string.h>

#include "media/image_decode.h"
#include "scriptprune/npy.h"
#include "scriptprune/wire.h"

/* ---- scd_query ------------------------------------------------------------------------------ */

static void query_clear(gpointer data) {
    scd_query *q = data;
    g_free(q->rows);
    g_free(q->kind);
    g_free(q->describe);
    if (q->image)
        g_bytes_unref(q->image);
    g_free(q->label);
}

scd_query *scd_query_ref(scd_query *q) {
    return g_atomic_rc_box_acquire(q);
}

void scd_query_unref(scd_query *q) {
    if (q)
        g_atomic_rc_box_release_full(q, query_clear);
}

GBytes *scd_query_bytes(const scd_query *q) {
    return g_bytes_new(q->rows, q->m * q->e * sizeof(float));
}

sp_status scd_query_write_npy(const scd_query *q, const char *path, sp_error *err) {
    return sp_npy_write(path, q->rows, q->m, q->e, 2, SP_DTYPE_F32, err);
}

/* Takes ownership of rows (g_malloc'd). */
static scd_query *query_new(float *rows, size_t m, size_t e, const char *kind, char *describe) {
    scd_query *q = g_atomic_rc_box_new0(scd_query);
    q->rows = rows;
    q->m = m;
    q->e = e;
    sp_query view = {.rows = rows, .m = m, .e = e};
    q->hash = sp_query_hash(&view);
    q->kind = g_strdup(kind);
    q->describe = describe;
    return q;
}

static scd_query *query_from_rows(const sp_query_rows *r, const char *kind, char *describe) {
    float *rows = g_memdup2(r->rows, r->m * r->e * sizeof(float));
    return query_new(rows, r->m, r->e, kind, describe);
}

/* ---- encoder cache -------------------------------------------------------------------------- */

typedef struct cached_encoder {
    char *key;
    sp_encoder *enc;
} cached_encoder;

struct scd_encoders {
    GMutex lock;
    GPtrArray *items; /* cached_encoder* */
};

static void cached_free(gpointer p) {
    cached_encoder *c = p;
    sp_encoder_free(c->enc);
    g_free(c->key);
    g_free(c);
}

scd_encoders *scd_encoders_new(void) {
    scd_encoders *c = g_new0(scd_encoders, 1);
    g_mutex_init(&c->lock);
    c->items = g_ptr_array_new_with_free_func(cached_free);
    return c;
}

void scd_encoders_free(scd_encoders *c) {
    if (!c)
        return;
    g_ptr_array_unref(c->items);
    g_mutex_clear(&c->lock);
    g_free(c);
}

/* Only the settings that change the encoder's output identify it (threads do not). */
static char *encoder_key(const scd_encoder_cfg *cfg) {
    return g_strdup_printf("%d|%d|%d|%d|%s|%s", (int)cfg->backend, cfg->image_size, cfg->patch_size,
                           cfg->output_layer, cfg->model ? cfg->model : "",
                           cfg->text_model ? cfg->text_model : "");
}

sp_status scd_encoders_get(scd_encoders *c, const scd_encoder_cfg *cfg, const sp_encoder **out,
                           sp_error *err) {
    *out = NULL;
    char *key = encoder_key(cfg);
    sp_status st = SP_OK;
    g_mutex_lock(&c->lock);
    for (guint i = 0; i < c->items->len; i++) {
        cached_encoder *ce = g_ptr_array_index(c->items, i);
        if (strcmp(ce->key, key) == 0) {
            *out = ce->enc;
            goto done;
        }
    }
    sp_encoder_config ec;
    sp_encoder_config_init(&ec);
    ec.kind = cfg->backend == SCD_ENCODER_CLIP ? SP_ENCODER_CLIP : SP_ENCODER_PATCH;
    ec.image_size = (uint32_t)cfg->image_size;
    ec.patch_size = (uint32_t)cfg->patch_size;
    ec.layer = cfg->output_layer;
    ec.model_dir = cfg->model && cfg->model[0] ? cfg->model : NULL;
    ec.text_model_dir = cfg->text_model && cfg->text_model[0] ? cfg->text_model : NULL;
    /* Opening a CLIP model reads hundreds of MB; it happens once per configuration, under the
     * lock so that two first users do not both load it. */
    sp_encoder *enc = NULL;
    st = sp_encoder_open(&ec, &enc, err);
    if (st != SP_OK) {
        sp_error_prefix(err, "query encoder");
        goto done;
    }
    cached_encoder *ce = g_new0(cached_encoder, 1);
    ce->key = key;
    key = NULL;
    ce->enc = enc;
    g_ptr_array_add(c->items, ce);
    *out = enc;
done:
    g_mutex_unlock(&c->lock);
    g_free(key);
    return st;
}

/* ---- builders ------------------------------------------------------------------------------- */

typedef struct enc_session {
    const sp_encoder *enc;
    sp_encode_ctx *ctx;
    sp_query_rows rows;
} enc_session;

static sp_status session_open(enc_session *s, scd_encoders *c, const scd_encoder_cfg *cfg,
                              bool need_ctx, sp_error *err) {
    memset(s, 0, sizeof *s);
    sp_query_rows_init(&s->rows);
    sp_status st = scd_encoders_get(c, cfg, &s->enc, err);
    if (st == SP_OK && need_ctx)
        st = sp_encode_ctx_new(s->enc, &s->ctx, err);
    return st;
}

static void session_close(enc_session *s) {
    sp_encode_ctx_free(s->ctx);
    sp_query_rows_free(&s->rows);
}

static char *shorten(const char *text, size_t max) {
    if (g_utf8_strlen(text, -1) <= (glong)max)
        return g_strdup(text);
    char *cut = g_utf8_substring(text, 0, (glong)max);
    char *r = g_strconcat(cut, "...", NULL);
    g_free(cut);
    return r;
}

sp_status scd_query_from_text(scd_encoders *c, const scd_encoder_cfg *cfg, const char *text,
                              scd_query **out, sp_error *err) {
    *out = NULL;
    if (!text || !text[0])
        return sp_error_set(err, SP_ERR_INVALID, "the query text is empty");
    if (!g_utf8_validate(text, -1, NULL))
        return sp_error_set(err, SP_ERR_INVALID, "the query text is not valid UTF-8");
    if (cfg->backend == SCD_ENCODER_PATCH)
        return sp_error_set(err, SP_ERR_UNSUPPORTED,
                            "the patch encoder has no text tower: send an exemplar image or an "
                            "embedding, or configure encoder.backend: clip with a model");
    enc_session s;
    sp_status st = session_open(&s, c, cfg, true, err);
    if (st == SP_OK)
        st = sp_encode_text(s.ctx, text, strlen(text), &s.rows, err);
    if (st == SP_OK) {
        char *shown = shorten(text, 60);
        *out = query_from_rows(&s.rows, "text", g_strdup_printf("text \"%s\"", shown));
        g_free(shown);
    }
    session_close(&s);
    return st;
}

static const char *exemplar_name(sp_exemplar mode) {
    switch (mode) {
        case SP_EXEMPLAR_MEAN:
            return "mean";
        case SP_EXEMPLAR_ALL:
            return "all";
        default:
            return "pooled";
    }
}

gboolean scd_exemplar_from_name(const char *name, sp_exemplar *out) {
    static const sp_exemplar modes[] = {SP_EXEMPLAR_POOLED, SP_EXEMPLAR_MEAN, SP_EXEMPLAR_ALL};
    for (size_t i = 0; i < G_N_ELEMENTS(modes); i++)
        if (strcmp(name, exemplar_name(modes[i])) == 0) {
            *out = modes[i];
            return TRUE;
        }
    return FALSE;
}

/* The frame size an exemplar of width x height is encoded at (0 x 0: fitted) and why, for the
 * description: sp_encode_exemplar_at fits pooled exemplars and those larger than the frame. */
static scd_frame_size exemplar_scale(int width, int height, sp_exemplar mode,
                                     const scd_frame_size *frame, char **how) {
    scd_frame_size none = {0, 0};
    if (!frame || frame->width == 0 || frame->height == 0) {
        *how = g_strdup("fitted: frame size not known yet");
        return none;
    }
    if (mode == SP_EXEMPLAR_POOLED) {
        *how = g_strdup("fitted: pooled");
        return none;
    }
    if ((unsigned)width > frame->width || (unsigned)height > frame->height) {
        *how = g_strdup_printf("fitted: larger than the %ux%u frame", frame->width, frame->height);
        return none;
    }
    *how = g_strdup_printf("at %ux%u frame scale", frame->width, frame->height);
    return *frame;
}

sp_status scd_query_from_image_data(scd_encoders *c, const scd_encoder_cfg *cfg,
                                    const uint8_t *data, size_t len, sp_exemplar mode,
                                    const scd_frame_size *frame, const char *label, scd_query **out,
                                    sp_error *err) {
    *out = NULL;
    scd_image img;
    sp_status st = scd_image_decode(data, len, label, &img, err);
    if (st != SP_OK) {
        scd_image_clear(&img);
        sp_error_prefix(err, "exemplar image");
        return st;
    }
    enc_session s;
    st = session_open(&s, c, cfg, true, err);
    sp_image view = {.data = img.rgb,
                     .width = (uint32_t)img.width,
                     .height = (uint32_t)img.height,
                     .stride = img.stride,
                     .format = SP_PIXFMT_RGB};
    char *how = NULL;
    scd_frame_size at = exemplar_scale(img.width, img.height, mode, frame, &how);
    if (st == SP_OK)
        st = sp_encode_exemplar_at(s.ctx, &view, mode, at.width, at.height, &s.rows, err);
    if (st == SP_OK) {
        scd_query *q = query_from_rows(&s.rows, "image",
                                       g_strdup_printf("image %s (%dx%d, %s, %s)", label, img.width,
                                                       img.height, exemplar_name(mode), how));
        q->image = g_bytes_new(data, len);
        q->label = g_strdup(label);
        q->mode = mode;
        q->frame = at;
        *out = q;
    }
    g_free(how);
    session_close(&s);
    scd_image_clear(&img);
    return st;
}

sp_status scd_query_at_frame(scd_encoders *c, const scd_encoder_cfg *cfg, const scd_query *q,
                             const scd_frame_size *frame, scd_query **out, sp_error *err) {
    *out = NULL;
    if (!q || !q->image || frame->width == 0 || frame->height == 0 ||
        (q->frame.width == frame->width && q->frame.height == frame->height))
        return SP_OK;
    gsize len = 0;
    const uint8_t *data = g_bytes_get_data(q->image, &len);
    return scd_query_from_image_data(c, cfg, data, len, q->mode, frame, q->label, out, err);
}

sp_status scd_query_from_image(scd_encoders *c, const scd_encoder_cfg *cfg, const char *path,
                               sp_exemplar mode, const scd_frame_size *frame, const char *label,
                               scd_query **out, sp_error *err) {
    *out = NULL;
    gchar *data = NULL;
    gsize len = 0;
    GError *gerr = NULL;
    if (!g_file_get_contents(path, &data, &len, &gerr)) {
        sp_status st = sp_error_set(
            err,
            g_error_matches(gerr, G_FILE_ERROR, G_FILE_ERROR_NOENT) ? SP_ERR_NOT_FOUND : SP_ERR_IO,
            "exemplar image: %s", gerr->message);
        g_error_free(gerr);
        return st;
    }
    sp_status st = scd_query_from_image_data(c, cfg, (const uint8_t *)data, len, mode, frame,
                                             label ? label : path, out, err);
    g_free(data);
    return st;
}

sp_status scd_query_from_floats(scd_encoders *c, const scd_encoder_cfg *cfg, const float *rows,
                                size_t m, size_t e, scd_query **out, sp_error *err) {
    *out = NULL;
    if (m == 0 || e == 0)
        return sp_error_set(err, SP_ERR_INVALID, "the embedding has no rows");
    enc_session s;
    sp_status st = session_open(&s, c, cfg, false, err);
    if (st == SP_OK)
        st = sp_query_rows_append(s.enc, rows, m, e, &s.rows, err);
    if (st == SP_OK)
        *out = query_from_rows(&s.rows, "embedding",
                               g_strdup_printf("embedding %zu x %zu", s.rows.m, s.rows.e));
    session_close(&s);
    return st;
}

sp_status scd_query_from_npy(scd_encoders *c, const scd_encoder_cfg *cfg, const char *path,
                             scd_query **out, sp_error *err) {
    *out = NULL;
    enc_session s;
    sp_status st = session_open(&s, c, cfg, false, err);
    if (st == SP_OK)
        st = sp_query_rows_append_npy(s.enc, path, &s.rows, err);
    if (st == SP_OK) {
        char *base = g_path_get_basename(path);
        *out =
            query_from_rows(&s.rows, "embedding",
                            g_strdup_printf("embedding %s (%zu x %zu)", base, s.rows.m, s.rows.e));
        g_free(base);
    }
    session_close(&s);
    return st;
}

sp_status scd_query_from_config(scd_encoders *c, const scd_encoder_cfg *enc, const scd_query_cfg *q,
                                const scd_frame_size *frame, scd_query **out, sp_error *err) {
    *out = NULL;
    switch (q->kind) {
        case SCD_QUERY_TEXT:
            return scd_query_from_text(c, enc, q->text, out, err);
        case SCD_QUERY_EMBEDDING:
            return scd_query_from_npy(c, enc, q->embedding, out, err);
        case SCD_QUERY_IMAGE: {
            char *base = g_path_get_basename(q->image);
            sp_status st =
                scd_query_from_image(c, enc, q->image, SP_EXEMPLAR_ALL, frame, base, out, err);
            g_free(base);
            return st;
        }
        default:
            return SP_OK;
    }
}
