/* Small helpers shared by the HTTP routes: JSON replies, JSON errors, request bodies and
 * parameters. Main thread (libsoup). */
#ifndef SCRIPTD_HTTP_UTIL_H
#define SCRIPTD_HTTP_UTIL_H

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <stdbool.h>

#include "scriptprune/error.h"

/* JSON nested deeper than this is refused before parsing (json-glib parses recursively). */
enum { SCD_JSON_MAX_DEPTH = 32 };

/* Sets status and a JSON body (the builder's root). */
void scd_http_reply_json(SoupServerMessage *msg, guint status, JsonBuilder *b);
/* {"error": {"code": CODE, "message": MESSAGE}} with status. */
void scd_http_error(SoupServerMessage *msg, guint status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The body of such an error, for replies written outside libsoup (http_listen.c). g_free. */
char *scd_http_error_body(const char *code, const char *message, gsize *len);
/* Maps a core status of user input to an HTTP error: INVALID/FORMAT/UNSUPPORTED/NOT_FOUND -> 400
 * with `code`, STATE -> 503, the rest -> 500. */
void scd_http_error_status(SoupServerMessage *msg, sp_status st, const char *code,
                           const char *message);
/* Sets status and a binary body (the bytes are referenced). */
void scd_http_reply_bytes(SoupServerMessage *msg, guint status, const char *content_type,
                          GBytes *bytes);

/* The request body (may be empty). */
const char *scd_http_body(SoupServerMessage *msg, gsize *len);
/* The request's media type, lower case without parameters ("" when absent). g_free. */
char *scd_http_content_type(SoupServerMessage *msg);

/* True when text (len bytes) nests arrays/objects at most max_depth deep (strings skipped). */
bool scd_json_depth_ok(const char *text, gsize len, int max_depth);
/* True when the JSON text holds a NUL: a \u0000 escape in a string, or a raw NUL byte. json-glib
 * keeps strings NUL-terminated and would silently cut them there. */
bool scd_json_has_nul(const char *text, gsize len);
/* What the top level of a JSON text is: one object (possibly unterminated: the parser reports
 * that), not an object (the first non-space byte is not '{'), or an object followed by more than
 * white space (then *trailing_at is the offset of that data). */
typedef enum scd_json_shape {
    SCD_JSON_OBJECT,
    SCD_JSON_NOT_OBJECT,
    SCD_JSON_TRAILING,
} scd_json_shape;
scd_json_shape scd_json_top_shape(const char *text, gsize len, gsize *trailing_at);
/* True when the body is meant as JSON: Content-Type application/json or none, or a body that
 * starts with '{' sent as application/x-www-form-urlencoded (curl -d). ct: the media type. */
bool scd_http_is_json(SoupServerMessage *msg, const char *ct);
/* Parses the body as a JSON object. On failure replies 400/415 itself and returns NULL.
 * The caller unrefs the parser (which owns the returned object). */
JsonObject *scd_http_json_body(SoupServerMessage *msg, JsonParser **parser);

/* Typed members of a JSON object; absent or of another type: NULL / FALSE (no warnings). */
const char *scd_json_string(JsonObject *o, const char *name);
gboolean scd_json_int(JsonObject *o, const char *name, gint64 *out);
gboolean scd_json_number(JsonObject *o, const char *name, double *out);

/* Query-string parameters. Absent: *out keeps its default and TRUE. Malformed or out of range:
 * replies 400 and returns FALSE. */
gboolean scd_http_param_uint(SoupServerMessage *msg, GHashTable *query, const char *name,
                             guint64 min, guint64 max, guint64 *out);
/* A time in seconds (decimal), returned in ns; "" or absent keeps the default. */
gboolean scd_http_param_seconds(SoupServerMessage *msg, GHashTable *query, const char *name,
                                guint64 *out_ns);

/* Constant-time comparison of two strings (the time depends on b's length only). */
bool scd_secure_equal(const char *a, const char *b);

#endif
