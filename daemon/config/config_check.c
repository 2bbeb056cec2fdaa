/* --check's look at the files a config names (config.h: scd_config_check_files). The reader
 * validates the text; whether the files exist is only known on this machine, at this moment,
 * which is what --check is run for (before a deploy, in CI). Positions come from the YAML tree
 * read again, so each problem points at the key that names the file. */
#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config_internal.h"
#include "scriptprune/encode.h"

/* The node of root.a.b.c... (NULL-terminated keys), or NULL. */
static const ynode *lookup(const ynode *map, const char *const *keys, const ynode **key_node) {
    const ynode *at = map;
    for (; at && *keys; keys++) {
        if (at->type != YNODE_MAP)
            return NULL;
        at = ynode_map_get(at, *keys, key_node);
    }
    return at;
}

static const ynode *stream_node(const ynode *root, size_t i) {
    const ynode *list = root ? ynode_map_get(root, "streams", NULL) : NULL;
    if (!list || list->type != YNODE_SEQ || i >= list->n)
        return NULL;
    return list->items[i];
}

/* What a path must be: a file, or either (an encoder model: a weights file or its folder). */
typedef enum want { WANT_FILE, WANT_FILE_OR_DIR } want;

/* Why path cannot be used, or NULL when it can (g_free); *st says how it failed. */
static char *unusable(const char *path, want w, sp_status *st) {
    GStatBuf sb;
    *st = SP_ERR_IO;
    if (g_stat(path, &sb) != 0) {
        int e = errno;
        if (e == ENOENT)
            *st = SP_ERR_NOT_FOUND;
        return g_strdup_printf("%s: %s", path, g_strerror(e));
    }
    bool is_dir = S_ISDIR(sb.st_mode);
    if (w == WANT_FILE && is_dir)
        return g_strdup_printf("%s: is a directory, not a file", path);
    if (access(path, is_dir ? R_OK | X_OK : R_OK) != 0)
        return g_strdup_printf("%s: not readable: %s", path, g_strerror(errno));
    return NULL;
}

typedef struct checker {
    const char *name, *text;
    size_t len;
    GString *out;
    unsigned problems;
} checker;

static void check_one(checker *c, const char *path, want w, const ynode *at, const char *key,
                      const char *what) {
    if (!path || !path[0])
        return;
    sp_status st;
    char *why = unusable(path, w, &st);
    if (!why)
        return;
    cfg_pos_error perr = {0};
    cfg_pos_fail(&perr, st, at, key, "%s %s", what, why);
    scd_config_error rendered;
    cfg_render_error(&perr, c->name, c->text, c->len, &rendered);
    g_string_append_printf(c->out, "%s\n", rendered.message);
    c->problems++;
    g_free(why);
}

/* A stream with standing questions needs a text tower. The reader refused the patch encoder;
 * whether a clip model has one (a CLIP/SigLIP folder with its tokenizer, or a LLaVA folder with
 * text_model) is only known from its files: open it as the daemon will. A model that cannot be
 * opened because a file is missing was reported above. */
static void check_text_tower(checker *c, const scd_stream_cfg *sc, size_t i, const ynode *at) {
    const scd_encoder_cfg *e = &sc->encoder;
    if (sc->n_watch == 0 || e->backend != SCD_ENCODER_CLIP || !e->model[0])
        return;
    sp_status st;
    char *missing = unusable(e->model, WANT_FILE_OR_DIR, &st);
    if (!missing && e->text_model && e->text_model[0])
        missing = unusable(e->text_model, WANT_FILE_OR_DIR, &st);
    if (missing) {
        g_free(missing);
        return;
    }
    sp_encoder_config ec;
    sp_encoder_config_init(&ec);
    ec.kind = SP_ENCODER_CLIP;
    ec.image_size = (uint32_t)e->image_size;
    ec.patch_size = (uint32_t)e->patch_size;
    ec.layer = e->output_layer;
    ec.model_dir = e->model;
    ec.text_model_dir = e->text_model && e->text_model[0] ? e->text_model : NULL;
    sp_encoder *enc = NULL;
    sp_error err;
    sp_error_clear(&err);
    char *why = NULL;
    st = sp_encoder_open(&ec, &enc, &err);
    if (st != SP_OK) {
        why = g_strdup_printf("the encoder cannot be opened to encode the questions: %s",
                              err.message);
    } else {
        sp_encoder_info info;
        sp_encoder_get_info(enc, &info);
        if (!info.has_text || !info.has_tokenizer)
            why = g_strdup_printf(
                "standing questions need a text tower: the encoder model %s has %s (a LLaVA "
                "model needs encoder.text_model, a CLIP/SigLIP folder with text tower and "
                "tokenizer)",
                e->model, info.has_text ? "no tokenizer files" : "no text tower");
        sp_encoder_free(enc);
    }
    if (!why)
        return;
    char key[128];
    g_snprintf(key, sizeof key, "streams[%zu].watch", i);
    cfg_pos_error perr = {0};
    cfg_pos_fail(&perr, st != SP_OK ? st : SP_ERR_UNSUPPORTED, at, key, "%s", why);
    scd_config_error rendered;
    cfg_render_error(&perr, c->name, c->text, c->len, &rendered);
    g_string_append_printf(c->out, "%s\n", rendered.message);
    c->problems++;
    g_free(why);
}

unsigned scd_config_check_files(const scd_config *cfg, const char *text, size_t len, GString *out) {
    checker c = {.name = cfg->source_name, .text = text, .len = len, .out = out};
    ynode *root = NULL;
    cfg_pos_error perr = {0};
    if (ytree_parse(text, len, &root, &perr) != SP_OK)
        root = NULL; /* the reader accepted this text; without a tree, report without positions */

    const char *tk[] = {"server", "token_file", NULL};
    check_one(&c, cfg->server.token_file, WANT_FILE, lookup(root, tk, NULL), "server.token_file",
              "token file");
    const char *dm[] = {"defaults", "encoder", "model", NULL};
    const ynode *default_model = lookup(root, dm, NULL);
    check_one(&c, cfg->encoder.model, WANT_FILE_OR_DIR, default_model, "defaults.encoder.model",
              "encoder model");
    for (size_t i = 0; i < cfg->n_streams; i++) {
        const scd_stream_cfg *sc = &cfg->streams[i];
        const ynode *sn = stream_node(root, i);
        char key[128];
        const char *fk[] = {"file", NULL};
        g_snprintf(key, sizeof key, "streams[%zu].file", i);
        if (sc->source_kind == SCD_SOURCE_FILE)
            check_one(&c, sc->file, WANT_FILE, lookup(sn, fk, NULL), key, "video file");
        const char *mk[] = {"encoder", "model", NULL};
        const ynode *model = lookup(sn, mk, NULL);
        /* A model inherited from defaults was checked (and reported) once above. */
        if (model) {
            g_snprintf(key, sizeof key, "streams[%zu].encoder.model", i);
            check_one(&c, sc->encoder.model, WANT_FILE_OR_DIR, model, key, "encoder model");
        }
        const char *ik[] = {"query", "image", NULL};
        const char *ek[] = {"query", "embedding", NULL};
        if (sc->query.kind == SCD_QUERY_IMAGE) {
            g_snprintf(key, sizeof key, "streams[%zu].query.image", i);
            check_one(&c, sc->query.image, WANT_FILE, lookup(sn, ik, NULL), key, "query image");
        } else if (sc->query.kind == SCD_QUERY_EMBEDDING) {
            g_snprintf(key, sizeof key, "streams[%zu].query.embedding", i);
            check_one(&c, sc->query.embedding, WANT_FILE, lookup(sn, ek, NULL), key,
                      "query embedding");
        }
    }
    for (size_t i = 0; i < cfg->n_streams; i++) {
        const char *wk[] = {"watch", NULL};
        const ynode *wkey = NULL;
        lookup(stream_node(root, i), wk, &wkey);
        check_text_tower(&c, &cfg->streams[i], i, wkey);
    }
    ynode_free(root);
    return c.problems;
}
