/* HTTP helpers (http_util.h). */
#include "http/http_util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Pretty JSON of the builder's root with a trailing newline (it keeps curl output tidy). */
static char *builder_text(JsonBuilder *b, gsize *len) {
    JsonNode *root = json_builder_get_root(b);
    JsonGenerator *gen = json_generator_new();
    json_generator_set_root(gen, root);
    json_generator_set_pretty(gen, TRUE);
    gsize n = 0;
    gchar *text = json_generator_to_data(gen, &n);
    gchar *with_nl = g_strconcat(text, "\n", NULL);
    g_free(text);
    g_object_unref(gen);
    json_node_unref(root);
    *len = n + 1;
    return with_nl;
}

void scd_http_reply_json(SoupServerMessage *msg, guint status, JsonBuilder *b) {
    gsize len = 0;
    char *text = builder_text(b, &len);
    soup_server_message_set_status(msg, status, NULL);
    soup_server_message_set_response(msg, "application/json", SOUP_MEMORY_TAKE, text, len);
}

char *scd_http_error_body(const char *code, const char *message, gsize *len) {
    JsonBuilder *b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "error");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "code");
    json_builder_add_string_value(b, code);
    json_builder_set_member_name(b, "message");
    json_builder_add_string_value(b, message);
    json_builder_end_object(b);
    json_builder_end_object(b);
    char *text = builder_text(b, len);
    g_object_unref(b);
    return text;
}

void scd_http_error(SoupServerMessage *msg, guint status, const char *code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    gsize len = 0;
    char *body = scd_http_error_body(code, text, &len);
    soup_server_message_set_status(msg, status, NULL);
    soup_server_message_set_response(msg, "application/json", SOUP_MEMORY_TAKE, body, len);
    g_free(text);
}

void scd_http_error_status(SoupServerMessage *msg, sp_status st, const char *code,
                           const char *message) {
    switch (st) {
        case SP_ERR_INVALID:
        case SP_ERR_FORMAT:
        case SP_ERR_UNSUPPORTED:
        case SP_ERR_NOT_FOUND:
        case SP_ERR_OVERFLOW:
            scd_http_error(msg, SOUP_STATUS_BAD_REQUEST, code, "%s", message);
            break;
        case SP_ERR_STATE:
            scd_http_error(msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "unavailable", "%s", message);
            break;
        default:
            scd_http_error(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "internal", "%s", message);
            break;
    }
}

void scd_http_reply_bytes(SoupServerMessage *msg, guint status, const char *content_type,
                          GBytes *bytes) {
    soup_server_message_set_status(msg, status, NULL);
    SoupMessageHeaders *h = soup_server_message_get_response_headers(msg);
    soup_message_headers_set_content_type(h, content_type, NULL);
    soup_message_body_append_bytes(soup_server_message_get_response_body(msg), bytes);
}

const char *scd_http_body(SoupServerMessage *msg, gsize *len) {
    SoupMessageBody *body = soup_server_message_get_request_body(msg);
    *len = body && body->length > 0 ? (gsize)body->length : 0;
    return *len ? body->data : "";
}

char *scd_http_content_type(SoupServerMessage *msg) {
    const char *ct =
        soup_message_headers_get_content_type(soup_server_message_get_request_headers(msg), NULL);
    return g_ascii_strdown(ct ? ct : "", -1);
}

bool scd_json_depth_ok(const char *text, gsize len, int max_depth) {
    int depth = 0;
    bool in_string = false, escaped = false;
    for (gsize i = 0; i < len; i++) {
        char c = text[i];
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"')
            in_string = true;
        else if (c == '[' || c == '{') {
            if (++depth > max_depth)
                return false;
        } else if ((c == ']' || c == '}') && depth > 0)
            depth--;
    }
    return true;
}

bool scd_json_has_nul(const char *text, gsize len) {
    bool in_string = false;
    for (gsize i = 0; i < len; i++) {
        char c = text[i];
        if (c == '\0')
            return true;
        if (!in_string) {
            in_string = c == '"';
        } else if (c == '"') {
            in_string = false;
        } else if (c == '\\' && i + 1 < len) {
            i++; /* the escaped character */
            if (text[i] == 'u' && i + 4 < len && g_ascii_strncasecmp(text + i + 1, "0000", 4) == 0)
                return true;
        }
    }
    return false;
}

/* Where the top-level object that starts the text ends (one past its closing brace), or 0 when
 * the text does not start with an object that closes. */
static gsize top_object_end(const char *text, gsize len) {
    gsize i = 0;
    while (i < len && g_ascii_isspace(text[i]))
        i++;
    if (i == len || text[i] != '{')
        return 0;
    int depth = 0;
    bool in_string = false, escaped = false;
    for (; i < len; i++) {
        char c = text[i];
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            depth++;
        } else if ((c == ']' || c == '}') && --depth == 0) {
            return i + 1;
        }
    }
    return 0;
}

scd_json_shape scd_json_top_shape(const char *text, gsize len, gsize *trailing_at) {
    *trailing_at = 0;
    gsize i = 0;
    while (i < len && g_ascii_isspace(text[i]))
        i++;
    if (i == len || text[i] != '{')
        return SCD_JSON_NOT_OBJECT;
    gsize end = top_object_end(text, len);
    if (end == 0)
        return SCD_JSON_OBJECT; /* unterminated: the parser says what is wrong */
    for (i = end; i < len; i++) {
        if (!g_ascii_isspace(text[i])) {
            *trailing_at = i;
            return SCD_JSON_TRAILING;
        }
    }
    return SCD_JSON_OBJECT;
}

bool scd_http_is_json(SoupServerMessage *msg, const char *ct) {
    if (ct[0] == '\0' || strcmp(ct, "application/json") == 0)
        return true;
    /* curl -d sends application/x-www-form-urlencoded; a body that is a JSON object is taken
     * as JSON, which is what such a client means. */
    gsize len;
    const char *body = scd_http_body(msg, &len);
    while (len > 0 && g_ascii_isspace(*body)) {
        body++;
        len--;
    }
    return strcmp(ct, "application/x-www-form-urlencoded") == 0 && len > 0 && body[0] == '{';
}

JsonObject *scd_http_json_body(SoupServerMessage *msg, JsonParser **parser) {
    *parser = NULL;
    char *ct = scd_http_content_type(msg);
    if (!scd_http_is_json(msg, ct)) {
        scd_http_error(msg, SOUP_STATUS_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
                       "expected a JSON body (Content-Type: application/json), got '%s'", ct);
        g_free(ct);
        return NULL;
    }
    g_free(ct);
    gsize len;
    const char *body = scd_http_body(msg, &len);
    if (len == 0) {
        scd_http_error(msg, SOUP_STATUS_BAD_REQUEST, "invalid_json", "the request body is empty");
        return NULL;
    }
    if (!scd_json_depth_ok(body, len, SCD_JSON_MAX_DEPTH)) {
        scd_http_error(msg, SOUP_STATUS_BAD_REQUEST, "invalid_json",
                       "the JSON body nests deeper than %d levels", SCD_JSON_MAX_DEPTH);
        return NULL;
    }
    /* Only one object goes to the parser: json-glib (1.6) reads every top-level value of the text
     * and leaks all but the last, so a client could grow the daemon's memory with each request. */
    gsize trailing_at;
    switch (scd_json_top_shape(body, len, &trailing_at)) {
        case SCD_JSON_NOT_OBJECT:
            scd_http_error(msg, SOUP_STATUS_BAD_REQUEST, "invalid_json",
                           "the body must be a JSON object");
            return NULL;
        case SCD_JSON_TRAILING:
            scd_http_error(msg, SOUP_STATUS_BAD_REQUEST, "invalid_json",
                           "the body holds more than one JSON value (more data at byte %zu)",
                           (size_t)trailing_at);
            return NULL;
        case SCD_JSON_OBJECT:
            break;
    }
    if (scd_json_has_nul(body, len)) {
        /* json-glib would cut the string there: "clip.mp4\u0000/../x" would read "clip.mp4". */
        scd_http_error(msg, SOUP_STATUS_BAD_REQUEST, "invalid_json",
                       "a string in the body holds a NUL character (\\u0000)");
        return NULL;
    }
    JsonParser *p = json_parser_new_immutable();
    GError *gerr = NULL;
    if (!json_parser_load_from_data(p, body, (gssize)len, &gerr)) {
        scd_http_error(msg, SOUP_STATUS_BAD_REQUEST, "invalid_json", "the body is not JSON: %s",
                       gerr ? gerr->message : "parse error");
        if (gerr)
            g_error_free(gerr);
        g_object_unref(p);
        return NULL;
    }
    JsonNode *root = json_parser_get_root(p);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
        scd_http_error(msg, SOUP_STATUS_BAD_REQUEST, "invalid_json",
                       "the body must be a JSON object");
        g_object_unref(p);
        return NULL;
    }
    *parser = p;
    return json_node_get_object(root);
}

const char *scd_json_string(JsonObject *o, const char *name) {
    JsonNode *n = o ? json_object_get_member(o, name) : NULL;
    return n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING
               ? json_node_get_string(n)
               : NULL;
}

gboolean scd_json_int(JsonObject *o, const char *name, gint64 *out) {
    JsonNode *n = o ? json_object_get_member(o, name) : NULL;
    if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_INT64)
        return FALSE;
    *out = json_node_get_int(n);
    return TRUE;
}

gboolean scd_json_number(JsonObject *o, const char *name, double *out) {
    JsonNode *n = o ? json_object_get_member(o, name) : NULL;
    if (!n || !JSON_NODE_HOLDS_VALUE(n))
        return FALSE;
    GType t = json_node_get_value_type(n);
    if (t != G_TYPE_INT64 && t != G_TYPE_DOUBLE)
        return FALSE;
    *out = json_node_get_double(n);
    return TRUE;
}

gboolean scd_http_param_uint(SoupServerMessage *msg, GHashTable *query, const char *name,
                             guint64 min, guint64 max, guint64 *out) {
    const char *v = query ? g_hash_table_lookup(query, name) : NULL;
    if (!v || !v[0])
        return TRUE;
    char *end = NULL;
    errno = 0;
    guint64 x = g_ascii_strtoull(v, &end, 10);
    if (errno || !end || *end || v[0] == '-' || x < min || x > max) {
        scd_http_error(msg, SOUP_STATUS_BAD_REQUEST, "invalid_parameter",
                       "%s must be an integer in [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT
                       "], got '%s'",
                       name, min, max, v);
        return FALSE;
    }
    *out = x;
    return TRUE;
}

gboolean scd_http_param_seconds(SoupServerMessage *msg, GHashTable *query, const char *name,
                                guint64 *out_ns) {
    const char *v = query ? g_hash_table_lookup(query, name) : NULL;
    if (!v || !v[0])
        return TRUE;
    char *end = NULL;
    errno = 0;
    double s = g_ascii_strtod(v, &end);
    /* 9.2e9 s is where nanoseconds leave int64. */
    if (errno || !end || *end || !isfinite(s) || s < 0 || s > 9.2e9) {
        scd_http_error(msg, SOUP_STATUS_BAD_REQUEST, "invalid_parameter",
                       "%s must be a time in seconds (>= 0), got '%s'", name, v);
        return FALSE;
    }
    *out_ns = (guint64)(s * 1e9 + 0.5);
    return TRUE;
}

bool scd_secure_equal(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    unsigned diff = (unsigned)(la ^ lb);
    for (size_t i = 0; i < lb; i++)
        diff |= (unsigned)((unsigned char)(i < la ? a[i] : 0) ^ (unsigned char)b[i]);
    return diff == 0;
}
