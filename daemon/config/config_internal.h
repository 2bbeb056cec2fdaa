/* Internals of the config reader shared by its files: the YAML node tree (config_tree.c), the key
 * table (config_schema.c), error reports with positions (config_error.c), value parsers
 * (config_value.c), the table walker (config_parse.c) and the writers (config_emit.c). */
#ifndef SCRIPTD_CONFIG_INTERNAL_H
#define SCRIPTD_CONFIG_INTERNAL_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"

/* ---- YAML tree (config_tree.c) ----------------------------------------------------------------
 */

typedef enum ynode_type { YNODE_SCALAR, YNODE_MAP, YNODE_SEQ } ynode_type;

/* One node of the single document, built from libyaml events with anchors, aliases, tags,
 * duplicate keys and excess depth already refused. */
typedef struct ynode {
    ynode_type type;
    unsigned line, column; /* 1-based start of the node */
    char *text;            /* scalar value, NUL-free, length len */
    size_t len;
    bool plain;           /* unquoted scalar (only plain scalars can be numbers or booleans) */
    bool null;            /* plain "", "~" or "null": no value */
    struct ynode **items; /* SEQ: the items; MAP: key0, value0, key1, value1, ... */
    size_t n;             /* number of entries in items */
} ynode;

/* Where and why something failed, before it is rendered with the source line. */
typedef struct cfg_pos_error {
    sp_status status;
    unsigned line, column; /* 1-based; 0 = no position */
    char key[256];
    char reason[512];
} cfg_pos_error;

/* Parses one YAML document of len bytes. *root is NULL for an empty document. */
sp_status ytree_parse(const char *text, size_t len, ynode **root, cfg_pos_error *err);
void ynode_free(ynode *node);
/* The value for key in a mapping, or NULL; *key_node (optional) receives the key's node. */
const ynode *ynode_map_get(const ynode *map, const char *key, const ynode **key_node);

/* ---- errors (config_error.c) ------------------------------------------------------------------
 */

sp_status cfg_pos_fail(cfg_pos_error *err, sp_status status, const ynode *at, const char *key,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Renders err into out: "NAME:L:C: key 'K': REASON" plus the source line and a caret. */
void cfg_render_error(const cfg_pos_error *err, const char *name, const char *text, size_t len,
                      scd_config_error *out);

/* ---- the key table (config_schema.c) ----------------------------------------------------------
 */

typedef enum cfg_section {
    SEC_ROOT,
    SEC_SERVER,
    SEC_DEFAULTS,
    SEC_ENCODER,
    SEC_PRUNING,
    SEC_STREAM,
    SEC_QUERY,
    SEC_SINK,
    SEC_CLUSTER,
    SEC_MLLM,
    SEC_WATCH,
    SEC_COUNT
} cfg_section;

typedef enum cfg_type {
    T_SECTION,  /* a mapping read with the child section's keys */
    T_LIST,     /* a sequence of mappings, each read with the child section's keys */
    T_STRING,   /* any text (min/max: length bounds) */
    T_PATH,     /* a filesystem path, relative ones resolved against the config's directory */
    T_ID,       /* [A-Za-z0-9_-]{1,64} */
    T_LISTEN,   /* host:port, [ipv6]:port, or "" */
    T_URI,      /* rtsp://, rtsps://, http://, https:// or file:// source URI */
    T_SINK_URI, /* file:///path, unix:///path or tcp://host:port */
    T_INT,      /* decimal integer, stored as int */
    T_UINT64,   /* decimal integer, stored as uint64_t */
    T_SIZE,     /* bytes: integer with optional KiB/MiB/GiB/TiB suffix, stored as uint64_t */
    T_FLOAT,    /* decimal number, stored as double */
    T_BOOL,     /* true or false */
    T_ENUM,     /* one of choices, stored as int (choice_values[i], or i) */
    T_METHOD,   /* a selection method name from core's method table, stored as sp_method */
} cfg_type;

enum {
    KEY_ONE_OF = 1u << 0,        /* exactly one key with this flag must be present in the mapping */
    KEY_MIN_EXCLUSIVE = 1u << 1, /* numeric lower bound excluded */
    KEY_NON_EMPTY = 1u << 2,     /* strings: "" refused */
    KEY_WITH_KIND = 1u << 3,     /* only allowed (and printed) when the section's kind field is
                                    one_of_value: options of one member of a one-of group */
    KEY_DEPRECATED = 1u << 4,    /* an old name of the parameter `param`: read into the same
                                    field with a warning, refused next to the new name, never
                                    printed by --print-config */
};

typedef struct cfg_key {
    cfg_section section; /* the mapping the key lives in */
    const char *name;    /* the key as written */
    cfg_type type;
    size_t offset;              /* of the field in the section's struct */
    const char *def;            /* default value as text; NULL = unset (NULL string / zero) */
    double min, max;            /* numeric range, or string length range */
    const char *const *choices; /* T_ENUM: NULL-terminated names */
    const int *choice_values;   /* T_ENUM: stored values (NULL: the index) */
    cfg_section child;          /* T_SECTION, T_LIST */
    size_t count_offset;        /* T_LIST: size_t count field; offset is the array pointer */
    size_t elem_size;           /* T_LIST */
    size_t max_items;           /* T_LIST */
    unsigned flags;
    int one_of_value; /* KEY_ONE_OF: stored in the section's kind field */
    const char *doc;
    /* 1 + sp_param_id for a parameter of core's table (scriptprune/params.h): its name (unless
     * given), default, range, choices and doc (unless given) come from the table. */
    int param;
    double param_scale; /* table value = config value x param_scale (0: 1), e.g. 1e9 for _s keys */
} cfg_key;

typedef struct cfg_section_info {
    const char *path;        /* as shown in docs: "server", "streams[]", "streams[].sinks[]" */
    size_t kind_offset;      /* KEY_ONE_OF sections: offset of the int kind field */
    const char *one_of_what; /* "source" etc., for "exactly one of" messages */
    bool one_of_optional;    /* true: the group may be absent (never true today) */
} cfg_section_info;

/* The keys, parameter rows completed from core's table (built once, static afterwards). */
const cfg_key *cfg_keys(size_t *count);
/* The key of section s that is the current name of parameter k->param (k deprecated). */
const cfg_key *cfg_key_renamed_to(const cfg_key *k);
const cfg_section_info *cfg_section_of(cfg_section s);

/* ---- value parsers (config_value.c) -----------------------------------------------------------
 */

/* Parses node (or, when node is NULL, the default text of k) into base + k->offset. path is the
 * dotted key for messages; base_dir resolves relative T_PATH values (NULL: keep them). */
sp_status cfg_parse_value(const cfg_key *k, const ynode *node, void *base, const char *path,
                          const char *base_dir, cfg_pos_error *err);
/* Splits "host:port" / "[v6]:port"; returns false with a reason when malformed. *host is
 * g_malloc'd. */
bool cfg_split_listen(const char *text, char **host, int *port, const char **why);
/* Writes a field's value in YAML form (strings double-quoted and escaped). */
void cfg_format_value(GString *out, const cfg_key *k, const void *base);
/* Appends s as a YAML double-quoted scalar. */
void cfg_yaml_quote(GString *out, const char *s);

/* Frees the strings of one section struct (T_STRING/T_PATH/... fields) and zeroes them. */
void cfg_free_section(cfg_section s, void *base);
/* Turns dst, a struct copy of src, into a deep copy by duplicating its strings. */
void cfg_copy_section(cfg_section s, void *dst, const void *src);
/* Fills a section struct with the table's defaults (strings become "" or NULL). */
void cfg_apply_defaults(cfg_section s, void *base);

#endif
