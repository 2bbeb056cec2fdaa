/* Scalar values of the config: strict parsers (one grammar per type, documented in
 * docs/config.md), the YAML writer of each type, and the section helpers that walk the table to
 * set defaults, copy and free strings. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"

#define FIELD(base, k, type) ((type *)((char *)(base) + (k)->offset))
#define CFIELD(base, k, type) ((const type *)((const char *)(base) + (k)->offset))

static bool is_string_type(cfg_type t) {
    return t == T_STRING || t == T_PATH || t == T_ID || t == T_LISTEN || t == T_URI ||
           t == T_SINK_URI;
}

/* Plain decimal integer: optional '-', no leading zeros (YAML 1.1 reads "010" as octal), no '+',
 * no separators, no hex. */
static bool parse_integer(const char *s, long long *out) {
    const char *p = s;
    if (*p == '-')
        p++;
    if (!g_ascii_isdigit(*p) || (p[0] == '0' && p[1] != '\0'))
        return false;
    for (const char *q = p; *q; q++)
        if (!g_ascii_isdigit(*q))
            return false;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno == ERANGE)
        return false;
    *out = v;
    return true;
}

static bool parse_unsigned(const char *s, size_t n, uint64_t *out) {
    if (n == 0 || (s[0] == '0' && n > 1))
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!g_ascii_isdigit(s[i]))
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* Decimal number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?  (no ".5", "1.", inf, nan, hex).
 */
static bool parse_number(const char *s, double *out) {
    const char *p = s;
    if (*p == '-')
        p++;
    if (!g_ascii_isdigit(*p))
        return false;
    if (*p == '0' && g_ascii_isdigit(p[1]))
        return false;
    while (g_ascii_isdigit(*p))
        p++;
    if (*p == '.') {
        p++;
        if (!g_ascii_isdigit(*p))
            return false;
        while (g_ascii_isdigit(*p))
            p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!g_ascii_isdigit(*p))
            return false;
        while (g_ascii_isdigit(*p))
            p++;
    }
    if (*p != '\0')
        return false;
    /* g_ascii_strtod ignores the locale: "0.5" means the same under LC_NUMERIC=de_DE. */
    double v = g_ascii_strtod(s, NULL);
    if (!isfinite(v))
        return false;
    *out = v;
    return true;
}

/* Bytes: an unsigned integer, optionally followed directly by KiB, MiB, GiB or TiB. */
static bool parse_size(const char *s, uint64_t *out) {
    static const struct {
        const char *suffix;
        int shift;
    } units[] = {{"KiB", 10}, {"MiB", 20}, {"GiB", 30}, {"TiB", 40}};
    size_t n = strlen(s);
    size_t digits = 0;
    while (digits < n && g_ascii_isdigit(s[digits]))
        digits++;
    uint64_t v;
    if (!parse_unsigned(s, digits, &v))
        return false;
    if (digits == n) {
        *out = v;
        return true;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(units); i++) {
        if (strcmp(s + digits, units[i].suffix) == 0) {
            if (v > (UINT64_MAX >> units[i].shift))
                return false;
            *out = v << units[i].shift;
            return true;
        }
    }
    return false;
}

static bool host_char(char c) {
    return g_ascii_isalnum(c) || c == '.' || c == '-';
}

/* host:port with host a name or IPv4 literal, or [IPv6]:port; port 0..65535. */
static bool split_host_port(const char *text, char **host, int *port, bool allow_port0,
                            const char **why) {
    *host = NULL;
    const char *colon;
    const char *h = text;
    size_t hlen;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || close[1] != ':') {
            *why = "expected [ipv6]:port";
            return false;
        }
        h = text + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
        for (size_t i = 0; i < hlen; i++) {
            if (!g_ascii_isxdigit(h[i]) && h[i] != ':' && h[i] != '.') {
                *why = "the IPv6 address has a character other than hex digits, ':' and '.'";
                return false;
            }
        }
    } else {
        colon = strrchr(text, ':');
        if (!colon) {
            *why = "expected host:port";
            return false;
        }
        hlen = (size_t)(colon - text);
        for (size_t i = 0; i < hlen; i++) {
            if (!host_char(text[i])) {
                *why = "the host may hold only letters, digits, '.' and '-' (write IPv6 "
                       "addresses as [addr]:port)";
                return false;
            }
        }
    }
    if (hlen == 0) {
        *why = "the host is empty";
        return false;
    }
    uint64_t p;
    const char *ps = colon + 1;
    if (!parse_unsigned(ps, strlen(ps), &p) || p > 65535 || (p == 0 && !allow_port0)) {
        *why = allow_port0 ? "the port must be a number from 0 to 65535"
                           : "the port must be a number from 1 to 65535";
        return false;
    }
    *host = g_strndup(h, hlen);
    *port = (int)p;
    return true;
}

bool cfg_split_listen(const char *text, char **host, int *port, const char **why) {
    return split_host_port(text, host, port, true, why);
}

static bool has_space_or_control(const char *s) {
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || *s == 0x7f)
            return true;
    return false;
}

static bool check_source_uri(const char *s, const char **why) {
    static const char *const schemes[] = {"rtsp://", "rtsps://", "http://", "https://", "file://"};
    if (has_space_or_control(s)) {
        *why = "URIs may not contain spaces or control characters (percent-encode them)";
        return false;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(schemes); i++) {
        size_t n = strlen(schemes[i]);
        if (g_ascii_strncasecmp(s, schemes[i], n) == 0) {
            if (s[n] == '\0') {
                *why = "the URI has nothing after its scheme";
                return false;
            }
            if (i == 4 && s[n] != '/') {
                *why = "file URIs need an absolute path (file:///...)";
                return false;
            }
            return true;
        }
    }
    *why = "expected an rtsp://, rtsps://, http://, https:// or file:// URI";
    return false;
}

static bool check_sink_uri(const char *s, const char **why) {
    if (has_space_or_control(s)) {
        *why = "URIs may not contain spaces or control characters";
        return false;
    }
    if (g_str_has_prefix(s, "file://") || g_str_has_prefix(s, "unix://")) {
        const char *path = s + 7;
        if (path[0] != '/' || path[1] == '\0') {
            *why = "file:// and unix:// sinks need an absolute path (file:///dir/name)";
            return false;
        }
        if (g_str_has_prefix(s, "unix://") && strlen(path) > 107) {
            *why = "a UNIX socket path is limited to 107 bytes";
            return false;
        }
        return true;
    }
    if (g_str_has_prefix(s, "tcp://")) {
        char *host;
        int port;
        if (!split_host_port(s + 6, &host, &port, false, why))
            return false;
        g_free(host);
        return true;
    }
    *why = "expected a file:///path, unix:///path or tcp://host:port URI";
    return false;
}

static const char *type_word(cfg_type t) {
    switch (t) {
        case T_INT:
        case T_UINT64:
            return "an integer";
        case T_SIZE:
            return "a size";
        case T_FLOAT:
            return "a number";
        case T_BOOL:
            return "true or false";
        case T_SECTION:
            return "a mapping";
        case T_LIST:
            return "a list";
        default:
            return "text";
    }
}

static const char *node_kind(const ynode *n) {
    return n->type == YNODE_MAP ? "a mapping" : n->type == YNODE_SEQ ? "a list" : "text";
}

static sp_status range_error(const cfg_key *k, const ynode *at, const char *path,
                             cfg_pos_error *err, const char *got) {
    char lo[32], hi[32];
    g_snprintf(lo, sizeof lo, "%.17g", k->min);
    g_snprintf(hi, sizeof hi, "%.17g", k->max);
    return cfg_pos_fail(err, SP_ERR_INVALID, at, path,
                        "%s is out of range: must be %s %s and <= %s", got,
                        (k->flags & KEY_MIN_EXCLUSIVE) ? ">" : ">=", lo, hi);
}

static sp_status parse_string_value(const cfg_key *k, const char *s, const ynode *at, void *base,
                                    const char *path, const char *base_dir, cfg_pos_error *err) {
    size_t len = strlen(s);
    const char *why = NULL;
    bool ok = true;
    bool non_empty = (k->flags & (KEY_NON_EMPTY | KEY_ONE_OF)) != 0 || k->type == T_ID;
    if (non_empty && len == 0)
        return cfg_pos_fail(err, SP_ERR_INVALID, at, path, "must not be empty");
    /* Relative paths are resolved first: the limit applies to the path that will be used (and
     * printed by --print-config), not to what was written. */
    bool resolve = k->type == T_PATH && len > 0 && base_dir && !g_path_is_absolute(s);
    char *value = resolve ? g_canonicalize_filename(s, base_dir) : g_strdup(s);
    if (k->max > 0 && (double)strlen(value) > k->max) {
        g_free(value);
        return cfg_pos_fail(err, SP_ERR_INVALID, at, path, "is longer than %.0f bytes%s", k->max,
                            resolve ? " once resolved against the config's directory" : "");
    }
    switch (k->type) {
        case T_ID:
            for (size_t i = 0; i < len && ok; i++)
                ok = g_ascii_isalnum(s[i]) || s[i] == '_' || s[i] == '-';
            if (!ok || len > SCD_STREAM_ID_MAX)
                why = "ids are 1 to 64 characters from A-Z, a-z, 0-9, '_' and '-'";
            ok = why == NULL;
            break;
        case T_LISTEN:
            if (len > 0) {
                char *host;
                int port;
                ok = cfg_split_listen(s, &host, &port, &why);
                g_free(host);
            }
            break;
        case T_URI:
            ok = check_source_uri(s, &why);
            break;
        case T_SINK_URI:
            ok = check_sink_uri(s, &why);
            break;
        default:
            break;
    }
    if (!ok) {
        g_free(value);
        return cfg_pos_fail(err, SP_ERR_INVALID, at, path, "'%s': %s", s, why);
    }
    char **field = FIELD(base, k, char *);
    g_free(*field);
    *field = value;
    return SP_OK;
}

static sp_status parse_enum_value(const cfg_key *k, const char *s, const ynode *at, void *base,
                                  const char *path, cfg_pos_error *err) {
    for (int i = 0; k->choices[i]; i++) {
        if (strcmp(s, k->choices[i]) == 0) {
            *FIELD(base, k, int) = k->choice_values ? k->choice_values[i] : i;
            return SP_OK;
        }
    }
    GString *list = g_string_new(NULL);
    for (int i = 0; k->choices[i]; i++)
        g_string_append_printf(list, "%s%s", i ? ", " : "", k->choices[i]);
    cfg_pos_fail(err, SP_ERR_INVALID, at, path, "'%s' is not one of: %s", s, list->str);
    g_string_free(list, TRUE);
    return SP_ERR_INVALID;
}

sp_status cfg_parse_value(const cfg_key *k, const ynode *node, void *base, const char *path,
                          const char *base_dir, cfg_pos_error *err) {
    const char *s = node ? node->text : k->def;
    if (node) {
        if (node->type != YNODE_SCALAR)
            return cfg_pos_fail(err, SP_ERR_INVALID, node, path, "expected %s, got %s",
                                type_word(k->type), node_kind(node));
        if (node->null)
            return cfg_pos_fail(err, SP_ERR_INVALID, node, path,
                                "has no value (omit the key for the default; write \"\" for "
                                "empty text)");
        bool needs_plain = k->type == T_INT || k->type == T_UINT64 || k->type == T_SIZE ||
                           k->type == T_FLOAT || k->type == T_BOOL;
        if (needs_plain && !node->plain)
            return cfg_pos_fail(err, SP_ERR_INVALID, node, path,
                                "expected %s, got quoted text \"%s\" (remove the quotes)",
                                type_word(k->type), s);
    }
    if (is_string_type(k->type))
        return parse_string_value(k, s, node, base, path, base_dir, err);

    switch (k->type) {
        case T_INT:
        case T_UINT64: {
            long long v = 0;
            uint64_t u = 0;
            bool ok = k->type == T_INT ? parse_integer(s, &v) : parse_unsigned(s, strlen(s), &u);
            if (!ok)
                return cfg_pos_fail(err, SP_ERR_INVALID, node, path,
                                    "expected a decimal integer, got '%s'", s);
            double d = k->type == T_INT ? (double)v : (double)u;
            if (d < k->min || d > k->max)
                return range_error(k, node, path, err, s);
            if (k->type == T_INT)
                *FIELD(base, k, int) = (int)v;
            else
                *FIELD(base, k, uint64_t) = u;
            return SP_OK;
        }
        case T_SIZE: {
            uint64_t v;
            if (!parse_size(s, &v))
                return cfg_pos_fail(err, SP_ERR_INVALID, node, path,
                                    "expected a size in bytes (e.g. 1048576 or 1MiB; suffixes "
                                    "KiB, MiB, GiB, TiB), got '%s'",
                                    s);
            if ((double)v < k->min || (double)v > k->max)
                return range_error(k, node, path, err, s);
            *FIELD(base, k, uint64_t) = v;
            return SP_OK;
        }
        case T_FLOAT: {
            double v;
            if (!parse_number(s, &v))
                return cfg_pos_fail(err, SP_ERR_INVALID, node, path,
                                    "expected a decimal number, got '%s'", s);
            bool low = (k->flags & KEY_MIN_EXCLUSIVE) ? v <= k->min : v < k->min;
            if (low || v > k->max)
                return range_error(k, node, path, err, s);
            *FIELD(base, k, double) = v;
            return SP_OK;
        }
        case T_BOOL:
            if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0) {
                *FIELD(base, k, bool) = s[0] == 't';
                return SP_OK;
            }
            return cfg_pos_fail(err, SP_ERR_INVALID, node, path,
                                "expected true or false, got '%s' (YAML 1.1 spellings such as "
                                "yes/no/on/off are not accepted)",
                                s);
        case T_ENUM:
            return parse_enum_value(k, s, node, base, path, err);
        case T_METHOD: {
            sp_method m;
            sp_error e;
            if (sp_method_from_name(s, &m, &e) != SP_OK)
                return cfg_pos_fail(err, SP_ERR_INVALID, node, path, "%s", e.message);
            *FIELD(base, k, sp_method) = m;
            return SP_OK;
        }
        default:
            return cfg_pos_fail(err, SP_ERR_INVALID, node, path, "internal: not a scalar key");
    }
}

void cfg_yaml_quote(GString *out, const char *s) {
    g_string_append_c(out, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
            case '"':
                g_string_append(out, "\\\"");
                break;
            case '\\':
                g_string_append(out, "\\\\");
                break;
            case '\n':
                g_string_append(out, "\\n");
                break;
            case '\t':
                g_string_append(out, "\\t");
                break;
            default:
                if (*p < 0x20 || *p == 0x7f)
                    g_string_append_printf(out, "\\x%02x", *p);
                else
                    g_string_append_c(out, (char)*p);
        }
    }
    g_string_append_c(out, '"');
}

/* The shortest %g form that reads back to the same double, in the C locale. */
static void format_double(GString *out, double v) {
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    /* Whole numbers print as integers ("3600", not "3.6e+03"). */
    if (v == floor(v) && fabs(v) < 1e15) {
        g_string_append_printf(out, "%.0f", v);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        char fmt[8];
        g_snprintf(fmt, sizeof fmt, "%%.%dg", prec);
        g_ascii_formatd(buf, sizeof buf, fmt, v);
        if (g_ascii_strtod(buf, NULL) == v)
            break;
    }
    g_string_append(out, buf);
}

static void format_size(GString *out, uint64_t v) {
    static const char *const suffix[] = {"TiB", "GiB", "MiB", "KiB"};
    static const int shift[] = {40, 30, 20, 10};
    for (size_t i = 0; i < 4 && v > 0; i++) {
        uint64_t unit = (uint64_t)1 << shift[i];
        if (v % unit == 0) {
            g_string_append_printf(out, "%" G_GUINT64_FORMAT "%s", v / unit, suffix[i]);
            return;
        }
    }
    g_string_append_printf(out, "%" G_GUINT64_FORMAT, v);
}

void cfg_format_value(GString *out, const cfg_key *k, const void *base) {
    if (is_string_type(k->type)) {
        const char *s = *CFIELD(base, k, char *);
        cfg_yaml_quote(out, s ? s : "");
        return;
    }
    switch (k->type) {
        case T_INT:
            g_string_append_printf(out, "%d", *CFIELD(base, k, int));
            break;
        case T_UINT64:
            g_string_append_printf(out, "%" G_GUINT64_FORMAT, *CFIELD(base, k, uint64_t));
            break;
        case T_SIZE:
            format_size(out, *CFIELD(base, k, uint64_t));
            break;
        case T_FLOAT:
            format_double(out, *CFIELD(base, k, double));
            break;
        case T_BOOL:
            g_string_append(out, *CFIELD(base, k, bool) ? "true" : "false");
            break;
        case T_ENUM: {
            int v = *CFIELD(base, k, int);
            for (int i = 0; k->choices[i]; i++) {
                if ((k->choice_values ? k->choice_values[i] : i) == v) {
                    g_string_append(out, k->choices[i]);
                    return;
                }
            }
            g_string_append(out, "\"?\"");
            break;
        }
        case T_METHOD:
            g_string_append(out, sp_method_info_of(*CFIELD(base, k, sp_method))->name);
            break;
        default:
            break;
    }
}

void cfg_free_section(cfg_section s, void *base) {
    size_t n;
    const cfg_key *keys = cfg_keys(&n);
    for (size_t i = 0; i < n; i++) {
        if (keys[i].section == s && is_string_type(keys[i].type)) {
            char **f = FIELD(base, &keys[i], char *);
            g_free(*f);
            *f = NULL;
        }
    }
}

void cfg_copy_section(cfg_section s, void *dst, const void *src) {
    size_t n;
    const cfg_key *keys = cfg_keys(&n);
    for (size_t i = 0; i < n; i++) {
        if (keys[i].section == s && is_string_type(keys[i].type)) {
            /* dst is a struct copy of src: its pointers are src's, so they are replaced, not
             * freed. */
            char **d = FIELD(dst, &keys[i], char *);
            *d = g_strdup(*CFIELD(src, &keys[i], char *));
        }
    }
}

void cfg_apply_defaults(cfg_section s, void *base) {
    size_t n;
    const cfg_key *keys = cfg_keys(&n);
    for (size_t i = 0; i < n; i++) {
        const cfg_key *k = &keys[i];
        if (k->section != s || k->type == T_SECTION || k->type == T_LIST || !k->def)
            continue;
        /* Defaults are checked by the unit tests; a failure here would be a table bug. */
        cfg_pos_error ignored;
        if (cfg_parse_value(k, NULL, base, "", NULL, &ignored) != SP_OK)
            g_error("config table: default of '%s' does not parse: %s", k->name, ignored.reason);
    }
}

bool scd_pruning_param(const scd_pruning_cfg *p, sp_param_id id, double *out) {
    size_t n;
    const cfg_key *keys = cfg_keys(&n);
    for (size_t i = 0; i < n; i++) {
        const cfg_key *k = &keys[i];
        if (k->section != SEC_PRUNING || k->param != (int)id + 1 || (k->flags & KEY_DEPRECATED))
            continue;
        double v;
        switch (k->type) {
            case T_INT:
            case T_ENUM:
                v = (double)*CFIELD(p, k, int);
                break;
            case T_METHOD:
                v = (double)*CFIELD(p, k, sp_method);
                break;
            case T_UINT64:
            case T_SIZE:
                v = (double)*CFIELD(p, k, uint64_t);
                break;
            case T_FLOAT:
                v = *CFIELD(p, k, double);
                break;
            case T_BOOL:
                v = *CFIELD(p, k, bool) ? 1.0 : 0.0;
                break;
            default:
                return false;
        }
        *out = v * (k->param_scale > 0 ? k->param_scale : 1.0);
        return true;
    }
    return false;
}
