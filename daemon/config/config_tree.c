/* Builds a small node tree from libyaml's event API. Everything the config language forbids at
 * the YAML level is refused here, while the event still carries its position: aliases and
 * anchors (no billion-laughs expansion), explicit tags and %TAG directives, more than one
 * document, non-scalar or empty keys, duplicate keys (libyaml 0.2.5 accepts them silently) and
 * nesting deeper than SCD_CONFIG_MAX_DEPTH (libyaml 0.2.5 has no limit of its own). */
#include <stdarg.h>
#include <string.h>
#include <yaml.h>

#include "config/config_internal.h"

typedef struct open_node {
    ynode *node;
    GPtrArray *items; /* children collected so far */
    GHashTable *keys; /* MAP: key text -> key node, for duplicate detection */
} open_node;

typedef struct builder {
    open_node stack[SCD_CONFIG_MAX_DEPTH];
    int depth;
    ynode *root;
    cfg_pos_error *err;
} builder;

void ynode_free(ynode *node) {
    if (!node)
        return;
    for (size_t i = 0; i < node->n; i++)
        ynode_free(node->items[i]);
    g_free(node->items);
    g_free(node->text);
    g_free(node);
}

const ynode *ynode_map_get(const ynode *map, const char *key, const ynode **key_node) {
    if (key_node)
        *key_node = NULL;
    if (!map || map->type != YNODE_MAP)
        return NULL;
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        if (strcmp(map->items[i]->text, key) == 0) {
            if (key_node)
                *key_node = map->items[i];
            return map->items[i + 1];
        }
    }
    return NULL;
}

static ynode *node_new(ynode_type type, const yaml_event_t *ev) {
    ynode *n = g_new0(ynode, 1);
    n->type = type;
    n->line = (unsigned)ev->start_mark.line + 1;
    n->column = (unsigned)ev->start_mark.column + 1;
    return n;
}

/* Dotted path of the node being attached, for messages ("streams[2].fps"). */
static void current_path(const builder *b, GString *out) {
    for (int d = 0; d < b->depth; d++) {
        const open_node *o = &b->stack[d];
        if (o->node->type == YNODE_SEQ) {
            g_string_append_printf(out, "[%u]", o->items->len);
        } else if (o->items->len % 2 == 1) {
            const ynode *key = g_ptr_array_index(o->items, o->items->len - 1);
            if (out->len)
                g_string_append_c(out, '.');
            g_string_append(out, key->text);
        }
    }
}

static sp_status fail_at(builder *b, const ynode *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static sp_status fail_at(builder *b, const ynode *at, const char *fmt, ...) {
    char reason[400];
    va_list ap;
    va_start(ap, fmt);
    g_vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    GString *path = g_string_new(NULL);
    current_path(b, path);
    cfg_pos_fail(b->err, SP_ERR_INVALID, at, path->str, "%s", reason);
    g_string_free(path, TRUE);
    return SP_ERR_INVALID;
}

/* Adds a finished node to its parent (or makes it the root). Takes ownership of node. */
static sp_status attach(builder *b, ynode *node) {
    if (b->depth == 0) {
        b->root = node;
        return SP_OK;
    }
    open_node *top = &b->stack[b->depth - 1];
    bool is_key = top->node->type == YNODE_MAP && top->items->len % 2 == 0;
    if (is_key) {
        sp_status st = SP_OK;
        if (node->type != YNODE_SCALAR)
            st = fail_at(b, node, "keys must be plain words, not mappings or lists");
        else if (node->null)
            st = fail_at(b, node, "empty key");
        if (!st) {
            const ynode *first = g_hash_table_lookup(top->keys, node->text);
            if (first) {
                char where[64];
                g_snprintf(where, sizeof where, "%u:%u", first->line, first->column);
                GString *path = g_string_new(NULL);
                current_path(b, path);
                g_string_append_printf(path, "%s%s", path->len ? "." : "", node->text);
                cfg_pos_fail(b->err, SP_ERR_INVALID, node, path->str,
                             "duplicate key (first given at %s)", where);
                g_string_free(path, TRUE);
                st = SP_ERR_INVALID;
            }
        }
        if (st) {
            ynode_free(node);
            return st;
        }
        g_hash_table_insert(top->keys, node->text, node);
    }
    g_ptr_array_add(top->items, node);
    return SP_OK;
}

static sp_status open_container(builder *b, ynode *node) {
    if (b->depth >= SCD_CONFIG_MAX_DEPTH) {
        sp_status st = fail_at(b, node, "nesting deeper than %d levels", SCD_CONFIG_MAX_DEPTH);
        ynode_free(node);
        return st;
    }
    /* Attach first so that a duplicate-key check on a container key fails before we push. */
    open_node *o = &b->stack[b->depth];
    o->node = node;
    o->items = g_ptr_array_new();
    o->keys = node->type == YNODE_MAP ? g_hash_table_new(g_str_hash, g_str_equal) : NULL;
    b->depth++;
    return SP_OK;
}

static void drop_open(open_node *o) {
    /* Items are owned by the node once closed; on error they are freed here. */
    for (guint i = 0; i < o->items->len; i++)
        ynode_free(g_ptr_array_index(o->items, i));
    g_ptr_array_free(o->items, TRUE);
    if (o->keys)
        g_hash_table_destroy(o->keys);
    ynode_free(o->node);
}

static sp_status close_container(builder *b) {
    open_node *o = &b->stack[--b->depth];
    ynode *node = o->node;
    node->n = o->items->len;
    node->items = (ynode **)g_ptr_array_free(o->items, FALSE);
    if (o->keys)
        g_hash_table_destroy(o->keys);
    return attach(b, node);
}

static bool is_null_plain(const char *s, size_t len) {
    return len == 0 || (len == 1 && s[0] == '~') ||
           (len == 4 && (!memcmp(s, "null", 4) || !memcmp(s, "Null", 4) || !memcmp(s, "NULL", 4)));
}

/* Refuses anchors and explicit tags on any node event. */
static sp_status check_props(builder *b, const yaml_event_t *ev, const yaml_char_t *anchor,
                             const yaml_char_t *tag) {
    if (!anchor && !tag)
        return SP_OK;
    ynode at = {.line = (unsigned)ev->start_mark.line + 1,
                .column = (unsigned)ev->start_mark.column + 1};
    if (anchor)
        return fail_at(b, &at, "anchors (&%s) are not allowed in the config", (const char *)anchor);
    return fail_at(b, &at, "explicit tags (%s) are not allowed in the config", (const char *)tag);
}

static sp_status on_event(builder *b, const yaml_event_t *ev, int *documents) {
    ynode at = {.line = (unsigned)ev->start_mark.line + 1,
                .column = (unsigned)ev->start_mark.column + 1};
    switch (ev->type) {
        case YAML_DOCUMENT_START_EVENT:
            if (++*documents > 1)
                return fail_at(b, &at, "only one YAML document is allowed");
            if (ev->data.document_start.tag_directives.start !=
                ev->data.document_start.tag_directives.end)
                return fail_at(b, &at, "%%TAG directives are not allowed");
            return SP_OK;
        case YAML_ALIAS_EVENT:
            return fail_at(b, &at, "aliases (*%s) are not allowed in the config",
                           (const char *)ev->data.alias.anchor);
        case YAML_SCALAR_EVENT: {
            sp_status st = check_props(b, ev, ev->data.scalar.anchor, ev->data.scalar.tag);
            if (st)
                return st;
            const char *v = (const char *)ev->data.scalar.value;
            size_t len = ev->data.scalar.length;
            ynode *n = node_new(YNODE_SCALAR, ev);
            n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
            n->null = n->plain && is_null_plain(v, len);
            n->text = g_strndup(v, len);
            n->len = len;
            if (memchr(v, '\0', len)) {
                fail_at(b, n, "text contains a NUL character");
                ynode_free(n);
                return SP_ERR_INVALID;
            }
            return attach(b, n);
        }
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT: {
            bool map = ev->type == YAML_MAPPING_START_EVENT;
            const yaml_char_t *anchor =
                map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
            const yaml_char_t *tag = map ? ev->data.mapping_start.tag : ev->data.sequence_start.tag;
            sp_status st = check_props(b, ev, anchor, tag);
            if (st)
                return st;
            ynode *n = node_new(map ? YNODE_MAP : YNODE_SEQ, ev);
            /* A container used as a key is refused before it is opened. */
            if (b->depth > 0) {
                open_node *top = &b->stack[b->depth - 1];
                if (top->node->type == YNODE_MAP && top->items->len % 2 == 0) {
                    fail_at(b, n, "keys must be plain words, not mappings or lists");
                    ynode_free(n);
                    return SP_ERR_INVALID;
                }
            }
            return open_container(b, n);
        }
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            return close_container(b);
        default:
            return SP_OK;
    }
}

static void syntax_error(const yaml_parser_t *p, cfg_pos_error *err) {
    if (p->error == YAML_MEMORY_ERROR) {
        cfg_pos_fail(err, SP_ERR_NOMEM, NULL, "", "out of memory while reading YAML");
        return;
    }
    ynode at = {.line = (unsigned)p->problem_mark.line + 1,
                .column = (unsigned)p->problem_mark.column + 1};
    const char *problem = p->problem ? p->problem : "malformed YAML";
    if (p->context)
        cfg_pos_fail(err, SP_ERR_INVALID, &at, "", "invalid YAML: %s (%s at %zu:%zu)", problem,
                     p->context, p->context_mark.line + 1, p->context_mark.column + 1);
    else
        cfg_pos_fail(err, SP_ERR_INVALID, &at, "", "invalid YAML: %s", problem);
}

sp_status ytree_parse(const char *text, size_t len, ynode **root, cfg_pos_error *err) {
    *root = NULL;
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return cfg_pos_fail(err, SP_ERR_NOMEM, NULL, "", "out of memory starting the YAML parser");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    builder b = {.err = err};
    int documents = 0;
    sp_status st = SP_OK;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            syntax_error(&parser, err);
            st = err->status;
            break;
        }
        bool end = ev.type == YAML_STREAM_END_EVENT;
        st = on_event(&b, &ev, &documents);
        yaml_event_delete(&ev);
        if (st || end)
            break;
    }
    while (b.depth > 0)
        drop_open(&b.stack[--b.depth]);
    yaml_parser_delete(&parser);
    if (st) {
        ynode_free(b.root);
        return st;
    }
    *root = b.root;
    return SP_OK;
}
