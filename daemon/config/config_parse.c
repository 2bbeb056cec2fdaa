/* The table walker: reads the YAML tree section by section with the rows of config_schema.c,
 * merges per-stream overrides over defaults, and checks the rules that span keys (hop <= window,
 * image_size a multiple of patch_size, unique stream ids, ...), always pointing at a position. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config/config_internal.h"
#include "redis_url.h"

#define AT(base, off, type) ((type *)((char *)(base) + (off)))

typedef struct parse_ctx {
    const char *base_dir;
    cfg_pos_error *err;
    scd_config *cfg;
    GPtrArray *id_nodes; /* the id value node of each stream read so far */
    GHashTable *warned;  /* deprecated key names already reported by this load */
} parse_ctx;

static const cfg_key *find_key(cfg_section s, const char *name) {
    size_t n;
    const cfg_key *keys = cfg_keys(&n);
    for (size_t i = 0; i < n; i++)
        if (keys[i].section == s && strcmp(keys[i].name, name) == 0)
            return &keys[i];
    return NULL;
}

static char *join_path(const char *path, const char *key) {
    return path[0] ? g_strdup_printf("%s.%s", path, key) : g_strdup(key);
}

/* Edit distance, for "did you mean" hints on misspelt keys. */
static size_t edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return 99;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static sp_status unknown_key(parse_ctx *c, cfg_section s, const ynode *key, const char *path) {
    size_t n;
    const cfg_key *keys = cfg_keys(&n);
    const char *best = NULL;
    size_t best_d = 3;
    GString *known = g_string_new(NULL);
    for (size_t i = 0; i < n; i++) {
        if (keys[i].section != s)
            continue;
        g_string_append_printf(known, "%s%s", known->len ? ", " : "", keys[i].name);
        size_t d = edit_distance(key->text, keys[i].name);
        if (d < best_d) {
            best_d = d;
            best = keys[i].name;
        }
    }
    char *full = join_path(path, key->text);
    if (best)
        cfg_pos_fail(c->err, SP_ERR_INVALID, key, full, "unknown key (did you mean '%s'?)", best);
    else
        cfg_pos_fail(c->err, SP_ERR_INVALID, key, full, "unknown key (known here: %s)", known->str);
    g_free(full);
    g_string_free(known, TRUE);
    return SP_ERR_INVALID;
}

static sp_status expect_mapping(parse_ctx *c, const ynode *node, const char *path) {
    if (node->type == YNODE_MAP)
        return SP_OK;
    if (node->type == YNODE_SCALAR && node->null)
        return cfg_pos_fail(c->err, SP_ERR_INVALID, node, path,
                            "expected a mapping, got no value (check indentation; write {} for "
                            "an empty mapping)");
    return cfg_pos_fail(c->err, SP_ERR_INVALID, node, path,
                        "expected a mapping of keys, got %s (check indentation)",
                        node->type == YNODE_SEQ ? "a list" : "text");
}

static void stream_init(parse_ctx *c, scd_stream_cfg *st) {
    cfg_apply_defaults(SEC_STREAM, st);
    st->encoder = c->cfg->encoder;
    cfg_copy_section(SEC_ENCODER, &st->encoder, &c->cfg->encoder);
    st->pruning = c->cfg->pruning;
    cfg_copy_section(SEC_PRUNING, &st->pruning, &c->cfg->pruning);
}

/* The name of the one-of key that sets kind value v in section s. */
static const char *one_of_name(cfg_section s, int v) {
    size_t n;
    const cfg_key *keys = cfg_keys(&n);
    for (size_t i = 0; i < n; i++)
        if (keys[i].section == s && (keys[i].flags & KEY_ONE_OF) && keys[i].one_of_value == v)
            return keys[i].name;
    return "?";
}

static sp_status parse_section(parse_ctx *c, cfg_section s, const ynode *map, void *base,
                               const char *path);

/* An old key name: refused next to its new name, else read with a warning (once per load). */
static sp_status deprecated_key(parse_ctx *c, const cfg_key *k, const ynode *map,
                                const char *path) {
    const cfg_key *now = cfg_key_renamed_to(k);
    const ynode *old_key = NULL, *new_key = NULL;
    ynode_map_get(map, k->name, &old_key);
    char *full = join_path(path, k->name);
    sp_status st = SP_OK;
    if (now && ynode_map_get(map, now->name, &new_key))
        st = cfg_pos_fail(c->err, SP_ERR_INVALID, old_key, full,
                          "'%s' is the old name of '%s' (given at %u:%u): keep only '%s'", k->name,
                          now->name, new_key->line, new_key->column, now->name);
    else if (!g_hash_table_contains(c->warned, k->name)) {
        g_hash_table_add(c->warned, (gpointer)k->name);
        scd_log(SCD_LOG_WARNING, "config", "%s:%u:%u: key '%s' is deprecated: use '%s'",
                c->cfg->source_name, old_key->line, old_key->column, full, now ? now->name : "?");
    }
    g_free(full);
    return st;
}

static sp_status parse_list(parse_ctx *c, const cfg_key *k, const ynode *seq, void *base,
                            const char *path) {
    if (seq->type != YNODE_SEQ)
        return cfg_pos_fail(c->err, SP_ERR_INVALID, seq, path,
                            "expected a list (items start with '- '), got %s",
                            seq->type == YNODE_MAP ? "a mapping" : "text");
    if (seq->n > k->max_items)
        return cfg_pos_fail(c->err, SP_ERR_INVALID, seq, path, "more than %zu items", k->max_items);
    void **array = AT(base, k->offset, void *);
    size_t *count = AT(base, k->count_offset, size_t);
    /* The array and its count are set before the items are read, so that freeing a config that
     * failed half-way frees exactly the items that were started. */
    *array = seq->n ? g_malloc0_n(seq->n, k->elem_size) : NULL;
    *count = 0;
    for (size_t i = 0; i < seq->n; i++) {
        void *elem = (char *)*array + i * k->elem_size;
        *count = i + 1;
        if (k->child == SEC_STREAM)
            stream_init(c, elem);
        else
            cfg_apply_defaults(k->child, elem);
        char *ipath = g_strdup_printf("%s[%zu]", path, i);
        sp_status st = parse_section(c, k->child, seq->items[i], elem, ipath);
        g_free(ipath);
        if (st)
            return st;
    }
    return SP_OK;
}

/* Position to blame for a merged value: the key in this section's mapping when given there,
 * else the section's own key, else the enclosing mapping. */
static const ynode *blame(const ynode *map, const char *key, const ynode *fallback) {
    const ynode *key_node;
    if (map && ynode_map_get(map, key, &key_node))
        return key_node;
    return fallback;
}

static sp_status validate_encoder(parse_ctx *c, const scd_encoder_cfg *e, const ynode *map,
                                  const ynode *fallback, const char *path) {
    /* 0 is the backend's own size: for patch that is 336, which the patch side must divide too
     * (a clip model's own size is checked against its own patch size when it opens). */
    int size = e->image_size ? e->image_size : e->backend == SCD_ENCODER_PATCH ? 336 : 0;
    if (size % e->patch_size != 0) {
        const char *key = ynode_map_get(map, "image_size", NULL) ? "image_size" : "patch_size";
        char *full = join_path(path, key);
        cfg_pos_fail(c->err, SP_ERR_INVALID, blame(map, key, fallback), full,
                     "image_size %d%s is not a multiple of patch_size %d", size,
                     e->image_size ? "" : " (the patch backend's own)", e->patch_size);
        g_free(full);
        return SP_ERR_INVALID;
    }
    if (e->backend == SCD_ENCODER_CLIP && e->model[0] == '\0') {
        char *full = join_path(path, "model");
        cfg_pos_fail(c->err, SP_ERR_INVALID, blame(map, "backend", fallback), full,
                     "the clip backend needs a model (a safetensors file)");
        g_free(full);
        return SP_ERR_INVALID;
    }
    return SP_OK;
}

static sp_status validate_pruning(parse_ctx *c, const scd_pruning_cfg *p, const ynode *map,
                                  const ynode *fallback, const char *path) {
    /* scriptprune (the element every stream and job runs) has a streaming form of these two
     * methods only; catching the others here gives the position instead of a failed start. */
    if (p->method != SP_METHOD_SCRIPT && p->method != SP_METHOD_QCSP) {
        const sp_method_info *mi = sp_method_info_of(p->method);
        char *full = join_path(path, "method");
        cfg_pos_fail(c->err, SP_ERR_INVALID, blame(map, "method", fallback), full,
                     "method '%s' has no streaming form: streams and jobs run 'script' or 'qcsp'",
                     mi ? mi->name : "?");
        g_free(full);
        return SP_ERR_INVALID;
    }
    if (p->hop > p->window) {
        const char *key = ynode_map_get(map, "hop", NULL) ? "hop" : "window";
        char *full = join_path(path, key);
        cfg_pos_fail(c->err, SP_ERR_INVALID, blame(map, key, fallback), full,
                     "hop %d is larger than window %d (frames would be skipped)", p->hop,
                     p->window);
        g_free(full);
        return SP_ERR_INVALID;
    }
    return SP_OK;
}

/* Standing questions need someone to ask (mllm.url, read before the streams) and a text tower
 * to encode the question with. The patch encoder has none; whether a clip model has one is
 * known only from its files, which --check opens (config_check.c). */
static sp_status validate_watch(parse_ctx *c, const scd_stream_cfg *st, const ynode *map,
                                const char *path) {
    if (st->n_watch == 0)
        return SP_OK;
    const char *why = NULL;
    if (!c->cfg->mllm.url[0])
        why = "standing questions need an MLLM to ask: set mllm.url (an OpenAI-compatible chat "
              "completions URL)";
    else if (st->encoder.backend == SCD_ENCODER_PATCH)
        why = "standing questions need an encoder with a text tower: the patch encoder has none "
              "(use encoder.backend clip with a CLIP/SigLIP model, or a LLaVA model with "
              "encoder.text_model)";
    if (!why)
        return SP_OK;
    char *full = join_path(path, "watch");
    cfg_pos_fail(c->err, SP_ERR_INVALID, blame(map, "watch", map), full, "%s", why);
    g_free(full);
    return SP_ERR_INVALID;
}

static sp_status validate_section(parse_ctx *c, cfg_section s, const ynode *map, void *base,
                                  const char *path) {
    switch (s) {
        case SEC_SERVER: {
            scd_server_cfg *srv = base;
            if (srv->listen[0] == '\0' && srv->unix_socket[0] == '\0') {
                char *full = join_path(path, "listen");
                cfg_pos_fail(c->err, SP_ERR_INVALID, blame(map, "listen", map), full,
                             "no listener: set listen or unix_socket");
                g_free(full);
                return SP_ERR_INVALID;
            }
            if (srv->restart_min_s > srv->restart_max_s) {
                char *full = join_path(path, "restart_max_s");
                cfg_pos_fail(c->err, SP_ERR_INVALID,
                             blame(map, "restart_max_s", blame(map, "restart_min_s", map)), full,
                             "restart_max_s %g is smaller than restart_min_s %g",
                             srv->restart_max_s, srv->restart_min_s);
                g_free(full);
                return SP_ERR_INVALID;
            }
            return SP_OK;
        }
        case SEC_DEFAULTS: {
            scd_config *cfg = base;
            const ynode *enc = ynode_map_get(map, "encoder", NULL);
            const ynode *pru = ynode_map_get(map, "pruning", NULL);
            sp_status st = validate_encoder(c, &cfg->encoder, enc, blame(map, "encoder", map),
                                            "defaults.encoder");
            if (!st)
                st = validate_pruning(c, &cfg->pruning, pru, blame(map, "pruning", map),
                                      "defaults.pruning");
            return st;
        }
        case SEC_STREAM: {
            scd_stream_cfg *st = base;
            const ynode *id_node = ynode_map_get(map, "id", NULL);
            for (guint i = 0; i < c->id_nodes->len; i++) {
                const ynode *other = g_ptr_array_index(c->id_nodes, i);
                if (strcmp(other->text, st->id) == 0) {
                    char *full = join_path(path, "id");
                    cfg_pos_fail(c->err, SP_ERR_INVALID, id_node, full,
                                 "duplicate stream id '%s' (first used at %u:%u)", st->id,
                                 other->line, other->column);
                    g_free(full);
                    return SP_ERR_INVALID;
                }
            }
            g_ptr_array_add(c->id_nodes, (gpointer)id_node);
            char *epath = join_path(path, "encoder");
            char *ppath = join_path(path, "pruning");
            const ynode *enc = ynode_map_get(map, "encoder", NULL);
            const ynode *pru = ynode_map_get(map, "pruning", NULL);
            sp_status rc =
                validate_encoder(c, &st->encoder, enc, blame(map, "encoder", map), epath);
            if (!rc)
                rc = validate_pruning(c, &st->pruning, pru, blame(map, "pruning", map), ppath);
            if (!rc)
                rc = validate_watch(c, st, map, path);
            g_free(epath);
            g_free(ppath);
            return rc;
        }
        case SEC_QUERY: {
            scd_query_cfg *q = base;
            if (q->kind == SCD_QUERY_EMBEDDING && !g_str_has_suffix(q->embedding, ".npy")) {
                char *full = join_path(path, "embedding");
                cfg_pos_fail(c->err, SP_ERR_INVALID, blame(map, "embedding", map), full,
                             "query embeddings are read from .npy files");
                g_free(full);
                return SP_ERR_INVALID;
            }
            return SP_OK;
        }
        case SEC_MLLM: {
            const scd_mllm_cfg *k = base;
            if (k->url[0] && !g_str_has_prefix(k->url, "http://") &&
                !g_str_has_prefix(k->url, "https://")) {
                char *full = join_path(path, "url");
                cfg_pos_fail(c->err, SP_ERR_INVALID, blame(map, "url", map), full,
                             "'%s' is not an http:// or https:// URL", k->url);
                g_free(full);
                return SP_ERR_INVALID;
            }
            return SP_OK;
        }
        case SEC_CLUSTER: {
            const scd_cluster_cfg *k = base;
            scd_redis_url u;
            const char *why = NULL;
            const char *bad = NULL;
            if (k->redis[0] && !scd_redis_url_parse(k->redis, &u, &why))
                bad = "redis";
            else if (k->redis[0])
                scd_redis_url_clear(&u);
            else if (k->cameras == SCD_CAMERAS_REDIS)
                bad = "cameras", why = "cameras from Redis need cluster.redis";
            if (!bad)
                return SP_OK;
            char *full = join_path(path, bad);
            cfg_pos_fail(c->err, SP_ERR_INVALID, blame(map, bad, map), full, "%s", why);
            g_free(full);
            return SP_ERR_INVALID;
        }
        case SEC_SINK: {
            const scd_sink_cfg *k = base;
            scd_redis_url u;
            const char *why = NULL;
            if (k->kind != SCD_SINK_REDIS)
                return SP_OK;
            if (!scd_redis_url_parse(k->redis, &u, &why)) {
                char *full = join_path(path, "redis");
                cfg_pos_fail(c->err, SP_ERR_INVALID, blame(map, "redis", map), full, "%s", why);
                g_free(full);
                return SP_ERR_INVALID;
            }
            scd_redis_url_clear(&u);
            return SP_OK;
        }
        default:
            return SP_OK;
    }
}

static sp_status parse_section(parse_ctx *c, cfg_section s, const ynode *map, void *base,
                               const char *path) {
    sp_status st = expect_mapping(c, map, path);
    if (st)
        return st;
    const cfg_section_info *info = cfg_section_of(s);
    const ynode *one_of_first = NULL;
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        const ynode *key = map->items[i];
        const cfg_key *k = find_key(s, key->text);
        if (!k)
            return unknown_key(c, s, key, path);
        if (k->flags & KEY_ONE_OF) {
            if (one_of_first) {
                char *full = join_path(path, key->text);
                cfg_pos_fail(c->err, SP_ERR_INVALID, key, full,
                             "only one %s may be given ('%s' already at %u:%u)", info->one_of_what,
                             one_of_first->text, one_of_first->line, one_of_first->column);
                g_free(full);
                return SP_ERR_INVALID;
            }
            one_of_first = key;
        }
    }

    size_t n;
    const cfg_key *keys = cfg_keys(&n);
    GString *group = g_string_new(NULL);
    for (size_t i = 0; i < n && !st; i++) {
        const cfg_key *k = &keys[i];
        if (k->section != s)
            continue;
        if (k->flags & KEY_ONE_OF)
            g_string_append_printf(group, "%s%s", group->len ? ", " : "", k->name);
        const ynode *value = ynode_map_get(map, k->name, NULL);
        char *full = join_path(path, k->name);
        if (!value) {
            bool required = !k->def && !(k->flags & (KEY_ONE_OF | KEY_DEPRECATED)) &&
                            k->type != T_SECTION && k->type != T_LIST;
            if (required)
                st = cfg_pos_fail(c->err, SP_ERR_INVALID, map, full, "required key missing");
        } else if (k->type == T_SECTION) {
            void *child = AT(base, k->offset, char);
            st = parse_section(c, k->child, value, child, full);
        } else if (k->type == T_LIST) {
            st = parse_list(c, k, value, base, full);
        } else if ((k->flags & KEY_DEPRECATED) && (st = deprecated_key(c, k, map, path))) {
            /* st says why */
        } else {
            st = cfg_parse_value(k, value, base, full, c->base_dir, c->err);
            if (!st && (k->flags & KEY_ONE_OF))
                *AT(base, info->kind_offset, int) = k->one_of_value;
        }
        g_free(full);
    }
    for (size_t i = 0; i < n && !st; i++) {
        const cfg_key *k = &keys[i];
        const ynode *key = NULL;
        if (k->section != s || !(k->flags & KEY_WITH_KIND) || !ynode_map_get(map, k->name, &key) ||
            *AT(base, info->kind_offset, int) == k->one_of_value)
            continue;
        char *full = join_path(path, k->name);
        st = cfg_pos_fail(c->err, SP_ERR_INVALID, key, full, "'%s' applies only to a %s with '%s'",
                          k->name, info->one_of_what, one_of_name(s, k->one_of_value));
        g_free(full);
    }
    if (!st && info->one_of_what && !one_of_first)
        st = cfg_pos_fail(c->err, SP_ERR_INVALID, map, path, "needs exactly one %s: %s",
                          info->one_of_what, group->str);
    g_string_free(group, TRUE);
    if (!st)
        st = validate_section(c, s, map, base, path);
    return st;
}

static void finish_listen(scd_server_cfg *srv) {
    g_free(srv->listen_host);
    srv->listen_host = NULL;
    srv->listen_port = 0;
    const char *why;
    if (srv->listen[0] &&
        !cfg_split_listen(srv->listen, &srv->listen_host, &srv->listen_port, &why))
        g_error("config: listen '%s' passed its check but does not split: %s", srv->listen, why);
}

scd_config *scd_config_new_default(void) {
    scd_config *cfg = g_new0(scd_config, 1);
    cfg->source_name = g_strdup("<defaults>");
    cfg_apply_defaults(SEC_SERVER, &cfg->server);
    cfg_apply_defaults(SEC_CLUSTER, &cfg->cluster);
    cfg_apply_defaults(SEC_MLLM, &cfg->mllm);
    cfg_apply_defaults(SEC_ENCODER, &cfg->encoder);
    cfg_apply_defaults(SEC_PRUNING, &cfg->pruning);
    finish_listen(&cfg->server);
    return cfg;
}

void scd_config_free(scd_config *cfg) {
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->n_streams; i++) {
        scd_stream_cfg *st = &cfg->streams[i];
        cfg_free_section(SEC_STREAM, st);
        cfg_free_section(SEC_ENCODER, &st->encoder);
        cfg_free_section(SEC_PRUNING, &st->pruning);
        cfg_free_section(SEC_QUERY, &st->query);
        for (size_t j = 0; j < st->n_sinks; j++)
            cfg_free_section(SEC_SINK, &st->sinks[j]);
        g_free(st->sinks);
        for (size_t j = 0; j < st->n_watch; j++)
            cfg_free_section(SEC_WATCH, &st->watch[j]);
        g_free(st->watch);
    }
    g_free(cfg->streams);
    cfg_free_section(SEC_SERVER, &cfg->server);
    cfg_free_section(SEC_CLUSTER, &cfg->cluster);
    cfg_free_section(SEC_MLLM, &cfg->mllm);
    g_free(cfg->server.listen_host);
    cfg_free_section(SEC_ENCODER, &cfg->encoder);
    cfg_free_section(SEC_PRUNING, &cfg->pruning);
    g_free(cfg->source_name);
    g_free(cfg);
}

const scd_stream_cfg *scd_config_find_stream(const scd_config *cfg, const char *id) {
    for (size_t i = 0; cfg && id && i < cfg->n_streams; i++)
        if (strcmp(cfg->streams[i].id, id) == 0)
            return &cfg->streams[i];
    return NULL;
}

static void clear_error(scd_config_error *err) {
    if (err)
        memset(err, 0, sizeof *err);
}

sp_status scd_config_load_string(const char *text, size_t len, const char *name,
                                 const char *base_dir, scd_config **out, scd_config_error *err) {
    scd_config_error scratch;
    if (!err)
        err = &scratch;
    clear_error(err);
    *out = NULL;
    cfg_pos_error perr = {0};
    if (len > SCD_CONFIG_MAX_BYTES) {
        cfg_pos_fail(&perr, SP_ERR_INVALID, NULL, "", "larger than %d bytes", SCD_CONFIG_MAX_BYTES);
        cfg_render_error(&perr, name, NULL, 0, err);
        return perr.status;
    }
    ynode *root = NULL;
    sp_status st = ytree_parse(text, len, &root, &perr);
    scd_config *cfg = scd_config_new_default();
    g_free(cfg->source_name);
    cfg->source_name = g_strdup(name ? name : "<string>");
    /* "---" alone, or a document holding only a null, is an empty config. */
    if (!st && root && root->type == YNODE_SCALAR && root->null) {
        ynode_free(root);
        root = NULL;
    }
    if (!st && root) {
        parse_ctx c = {.base_dir = base_dir,
                       .err = &perr,
                       .cfg = cfg,
                       .id_nodes = g_ptr_array_new(),
                       .warned = g_hash_table_new(g_str_hash, g_str_equal)};
        st = parse_section(&c, SEC_ROOT, root, cfg, "");
        g_ptr_array_free(c.id_nodes, TRUE);
        g_hash_table_unref(c.warned);
        if (!st)
            finish_listen(&cfg->server);
    }
    ynode_free(root);
    if (st) {
        cfg_render_error(&perr, cfg->source_name, text, len, err);
        scd_config_free(cfg);
        return st;
    }
    *out = cfg;
    return SP_OK;
}

sp_status scd_config_load_file(const char *path, scd_config **out, scd_config_error *err) {
    scd_config_error scratch;
    if (!err)
        err = &scratch;
    clear_error(err);
    *out = NULL;
    cfg_pos_error perr = {0};
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        cfg_pos_fail(&perr, e == ENOENT ? SP_ERR_NOT_FOUND : SP_ERR_IO, NULL, "", "cannot open: %s",
                     g_strerror(e));
        cfg_render_error(&perr, path, NULL, 0, err);
        return perr.status;
    }
    /* Read one byte past the limit to tell "exactly at the limit" from "too large" without
     * trusting st_size (the path may be a pipe such as /dev/stdin). */
    char *text = g_malloc(SCD_CONFIG_MAX_BYTES + 1);
    size_t len = fread(text, 1, SCD_CONFIG_MAX_BYTES + 1, f);
    bool failed = ferror(f) != 0;
    int e = errno;
    fclose(f);
    if (failed || len > SCD_CONFIG_MAX_BYTES) {
        if (failed)
            cfg_pos_fail(&perr, SP_ERR_IO, NULL, "", "cannot read: %s", g_strerror(e));
        else
            cfg_pos_fail(&perr, SP_ERR_INVALID, NULL, "", "larger than %d bytes",
                         SCD_CONFIG_MAX_BYTES);
        cfg_render_error(&perr, path, NULL, 0, err);
        g_free(text);
        return perr.status;
    }
    char *dir = g_path_get_dirname(path);
    char *base_dir = g_canonicalize_filename(dir, NULL);
    sp_status st = scd_config_load_string(text, len, path, base_dir, out, err);
    g_free(base_dir);
    g_free(dir);
    g_free(text);
    return st;
}
