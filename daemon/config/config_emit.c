/* Writers driven by the key table: the effective config as YAML (--print-config) and the
 * Markdown reference (docs/config.md and the README section). */
#include <string.h>

#include "config/config_internal.h"

#define CAT(base, off) ((const char *)(base) + (off))

static void indent(GString *out, int n) {
    for (int i = 0; i < n; i++)
        g_string_append_c(out, ' ');
}

static void emit_section(GString *out, cfg_section s, const void *base, int ind);

static void emit_list(GString *out, const cfg_key *k, const void *base, int ind) {
    const char *array = *(const char *const *)CAT(base, k->offset);
    size_t count = *(const size_t *)CAT(base, k->count_offset);
    if (count == 0) {
        g_string_append(out, " []\n");
        return;
    }
    g_string_append_c(out, '\n');
    for (size_t i = 0; i < count; i++) {
        /* Items are written four columns deeper, then the first line's indent ends in "- ". */
        size_t start = out->len;
        emit_section(out, k->child, array + i * k->elem_size, ind + 4);
        out->str[start + (size_t)ind + 2] = '-';
    }
}

static void emit_section(GString *out, cfg_section s, const void *base, int ind) {
    const cfg_section_info *info = cfg_section_of(s);
    size_t n;
    const cfg_key *keys = cfg_keys(&n);
    for (size_t i = 0; i < n; i++) {
        const cfg_key *k = &keys[i];
        if (k->section != s || (k->flags & KEY_DEPRECATED))
            continue;
        /* Of an exactly-one-of group only the chosen key exists. */
        if ((k->flags & (KEY_ONE_OF | KEY_WITH_KIND)) &&
            *(const int *)CAT(base, info->kind_offset) != k->one_of_value)
            continue;
        if (k->child == SEC_QUERY && k->type == T_SECTION &&
            ((const scd_query_cfg *)CAT(base, k->offset))->kind == SCD_QUERY_NONE) {
            indent(out, ind);
            g_string_append_printf(out, "# %s: none\n", k->name);
            continue;
        }
        indent(out, ind);
        g_string_append_printf(out, "%s:", k->name);
        if (k->type == T_SECTION) {
            g_string_append_c(out, '\n');
            emit_section(out, k->child, CAT(base, k->offset), ind + 2);
        } else if (k->type == T_LIST) {
            emit_list(out, k, base, ind);
        } else {
            g_string_append_c(out, ' ');
            cfg_format_value(out, k, base);
            g_string_append_c(out, '\n');
        }
    }
}

char *scd_config_to_yaml(const scd_config *cfg) {
    GString *out = g_string_new("# effective configuration of scriptd, read from ");
    g_string_append(out, cfg->source_name);
    g_string_append(out, "\n# per-stream encoder and pruning are shown merged over defaults\n");
    emit_section(out, SEC_ROOT, cfg, 0);
    return g_string_free(out, FALSE);
}

/* ---- reference ---------------------------------------------------------------------------- */

static const char *type_name(const cfg_key *k) {
    switch (k->type) {
        case T_SECTION:
            return "mapping";
        case T_LIST:
            return "list";
        case T_STRING:
            return "string";
        case T_PATH:
            return "path";
        case T_ID:
            return "id";
        case T_LISTEN:
            return "host:port";
        case T_URI:
        case T_SINK_URI:
            return "URI";
        case T_INT:
        case T_UINT64:
            return "integer";
        case T_SIZE:
            return "size";
        case T_FLOAT:
            return "number";
        case T_BOOL:
            return "boolean";
        case T_ENUM:
        case T_METHOD:
            return "enum";
    }
    return "?";
}

/* Pipes would end a Markdown table cell. */
static void cell(GString *out, const char *s) {
    for (; *s; s++) {
        if (*s == '|')
            g_string_append(out, "\\|");
        else
            g_string_append_c(out, *s);
    }
}

/* Shortest decimal that reads back to v ("0.2", "9007199254740991"). */
static void number(GString *out, double v) {
    if (v >= (double)UINT64_MAX) { /* 2^64 as a double: the largest uint64 it stands for */
        g_string_append_printf(out, "%" G_GUINT64_FORMAT, G_MAXUINT64);
        return;
    }
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    for (int prec = 1; prec <= 17; prec++) {
        char fmt[8];
        g_snprintf(fmt, sizeof fmt, "%%.%dg", prec);
        g_ascii_formatd(buf, sizeof buf, fmt, v);
        if (g_ascii_strtod(buf, NULL) == v && !strchr(buf, 'e'))
            break;
    }
    g_string_append(out, buf);
}

static void allowed(GString *out, const cfg_key *k) {
    switch (k->type) {
        case T_INT:
        case T_UINT64:
        case T_SIZE:
        case T_FLOAT:
            g_string_append(out, (k->flags & KEY_MIN_EXCLUSIVE) ? "> " : "");
            number(out, k->min);
            g_string_append(out, (k->flags & KEY_MIN_EXCLUSIVE) ? ", ≤ " : " … ");
            number(out, k->max);
            if (k->type == T_SIZE)
                g_string_append(out, " bytes");
            break;
        case T_ENUM:
            for (int i = 0; k->choices[i]; i++)
                g_string_append_printf(out, "%s`%s`", i ? ", " : "", k->choices[i]);
            break;
        case T_METHOD: {
            const sp_method_info *m = sp_method_table();
            for (int i = 0; i < SP_METHOD_COUNT; i++)
                g_string_append_printf(out, "%s`%s`", i ? ", " : "", m[i].name);
            break;
        }
        case T_BOOL:
            g_string_append(out, "`true`, `false`");
            break;
        case T_ID:
            g_string_append(out, "`[A-Za-z0-9_-]{1,64}`");
            break;
        case T_STRING:
        case T_PATH:
        case T_URI:
        case T_SINK_URI:
            if (k->max > 0) {
                g_string_append(out, "≤ ");
                number(out, k->max);
                g_string_append(out, " bytes");
            }
            break;
        default:
            break;
    }
}

static void default_cell(GString *out, const cfg_key *k) {
    if (k->type == T_SECTION || k->type == T_LIST)
        g_string_append(out, "");
    else if (!k->def)
        g_string_append(out, (k->flags & (KEY_ONE_OF | KEY_DEPRECATED)) ? "—" : "required");
    else if (k->def[0] == '\0')
        g_string_append(out, "`\"\"` (none)");
    else
        g_string_append_printf(out, "`%s`", k->def);
}

static void table_rows(GString *out, cfg_section s, const char *prefix) {
    size_t n;
    const cfg_key *keys = cfg_keys(&n);
    for (size_t i = 0; i < n; i++) {
        const cfg_key *k = &keys[i];
        if (k->section != s)
            continue;
        char *path = prefix[0] ? g_strdup_printf("%s.%s", prefix, k->name) : g_strdup(k->name);
        bool override = s == SEC_STREAM && (k->child == SEC_ENCODER || k->child == SEC_PRUNING) &&
                        k->type == T_SECTION;
        g_string_append_printf(out, "| `%s%s` | %s | ", path, k->type == T_LIST ? "[]" : "",
                               type_name(k));
        default_cell(out, k);
        g_string_append(out, " | ");
        allowed(out, k);
        g_string_append(out, " | ");
        cell(out, k->doc);
        g_string_append(out, " |\n");
        if ((k->type == T_SECTION || k->type == T_LIST) && !override) {
            char *child = k->type == T_LIST ? g_strdup_printf("%s[]", path) : g_strdup(path);
            table_rows(out, k->child, child);
            g_free(child);
        }
        g_free(path);
    }
}

char *scd_config_reference_table(void) {
    GString *out = g_string_new("| Key | Type | Default | Allowed | Description |\n"
                                "|---|---|---|---|---|\n");
    table_rows(out, SEC_ROOT, "");
    return g_string_free(out, FALSE);
}

char *scd_config_reference_markdown(void) {
    GString *out = g_string_new(NULL);
    g_string_append(
        out,
        "# scriptd configuration reference\n"
        "\n"
        "<!-- Generated from the key table in daemon/config/config_schema.c by "
        "`scriptd-config-doc`;\n"
        "     do not edit by hand: run tools/gen-config-docs.sh. A test fails when this file\n"
        "     differs from the generated text. -->\n"
        "\n"
        "scriptd reads one YAML file (`scriptd --config FILE`; `scriptd --check -c FILE` only\n"
        "validates it). `configs/scriptd.yaml` sets every key; `--print-config` prints the\n"
        "effective configuration with every key, per-stream settings merged over `defaults`.\n"
        "\n"
        "## Rules\n"
        "\n"
        "- **Strict keys.** Unknown keys, duplicate keys, a stream without exactly one source,\n"
        "  and keys outside their section are errors. Errors name the file, line, column\n"
        "  (1-based) and key, and show the line with a caret under the column.\n"
        "- **Plain YAML only.** Anchors (`&a`), aliases (`*a`), merge keys, explicit tags\n"
        "  (`!!str`, `!x`), `%TAG` directives and more than one document are refused; mappings\n"
        "  and lists may nest at most 8 levels; the file may hold at most 1 MiB.\n"
        "- **Booleans** are exactly `true` or `false`. YAML 1.1 spellings (`yes`, `no`, `on`,\n"
        "  `off`, `y`, `n`, `True`, ...) are refused rather than guessed.\n"
        "- **Integers** are decimal: an optional `-`, digits, no leading zeros (`010` would be\n"
        "  octal in YAML 1.1), no `+`, `_`, hex or exponent. **Numbers** are decimal with an\n"
        "  optional fraction and exponent (`0.25`, `2`, `1e-3`); `.5`, `1.`, `inf` and `nan`\n"
        "  are refused. **Sizes** are bytes, optionally with a binary suffix written directly\n"
        "  after the digits: `KiB`, `MiB`, `GiB`, `TiB` (`256MiB`). Numbers, sizes and booleans\n"
        "  must not be quoted. Every numeric key has the range shown below.\n"
        "- **Text** may be plain or quoted. A key with no value (`key:`, `~`, `null`) is an\n"
        "  error: omit the key to get its default, write `\"\"` for empty text.\n"
        "- **Paths** that are relative are resolved against the directory of the config file.\n"
        "  Files are not opened while reading the config; sources report missing files when\n"
        "  they start.\n"
        "- **Streams** start from `defaults.encoder` and `defaults.pruning`; the keys a stream\n"
        "  gives under its own `encoder:` / `pruning:` replace those defaults for that stream.\n"
        "  Checks that span keys run on the merged result: `hop` ≤ `window`, `image_size` a\n"
        "  multiple of `patch_size`, `clip` needs `model`, stream ids unique, at least one\n"
        "  listener (`listen` or `unix_socket`), query embeddings end in `.npy`.\n"
        "\n"
        "## Keys\n"
        "\n");
    char *table = scd_config_reference_table();
    g_string_append(out, table);
    g_free(table);
    return g_string_free(out, FALSE);
}
