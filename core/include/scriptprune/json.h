/* A strict JSON (RFC 8259) reader for headers and configs that core reads (safetensors headers,
 * config.json, tokenizer files), and an escaper for writers. The reader rejects trailing commas,
 * comments, invalid UTF-8, lone surrogates, duplicate object keys, nesting deeper than
 * SP_JSON_MAX_DEPTH and trailing garbage; errors give the byte offset, line and column.
 * A parsed document is immutable: concurrent reads are safe. */
#ifndef SCRIPTPRUNE_JSON_H
#define SCRIPTPRUNE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scriptprune/error.h"

#include "scriptprune/api.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { SP_JSON_MAX_DEPTH = 64 };

typedef enum sp_json_type {
    SP_JSON_NULL,
    SP_JSON_BOOL,
    SP_JSON_NUMBER,
    SP_JSON_STRING,
    SP_JSON_ARRAY,
    SP_JSON_OBJECT
} sp_json_type;

typedef struct sp_json sp_json; /* a node; owned by its document */
typedef struct sp_json_doc sp_json_doc;

/* Parses text[0..len). `name` (a file name or "safetensors header") prefixes error messages. */
SP_API sp_status sp_json_parse(const char *text, size_t len, const char *name, sp_json_doc **out,
                               sp_error *err);
/* Frees the document and every value and string it holds (NULL is a no-op). */
SP_API void sp_json_free(sp_json_doc *doc);
/* The top-level value; valid until sp_json_free. Reading a document is thread-safe. */
SP_API const sp_json *sp_json_root(const sp_json_doc *doc);

/* The type of v, its name ("object", ...; static), and the value of a bool or number (false or 0
 * for another type). */
SP_API sp_json_type sp_json_type_of(const sp_json *v);
SP_API const char *sp_json_type_name(sp_json_type t);
SP_API bool sp_json_bool(const sp_json *v);
SP_API double sp_json_number(const sp_json *v);
/* Exact integer value of a number written without fraction or exponent that fits int64; returns
 * false otherwise (so 1e3, 1.5 and 2^70 are not integers here). */
SP_API bool sp_json_int64(const sp_json *v, int64_t *out);
/* Decoded UTF-8 string (NUL-terminated; may contain embedded NULs, see len). */
SP_API const char *sp_json_string(const sp_json *v, size_t *len);
/* Arrays and objects: number of elements / members. */
SP_API size_t sp_json_length(const sp_json *v);
SP_API const sp_json *sp_json_at(const sp_json *v, size_t i);  /* array element */
SP_API const char *sp_json_key_at(const sp_json *v, size_t i); /* object member key, in order */
SP_API const sp_json *sp_json_value_at(const sp_json *v, size_t i);     /* object member value */
SP_API const sp_json *sp_json_get(const sp_json *obj, const char *key); /* NULL when absent */

/* Appends the JSON string literal for s[0..len) (quotes included) to a growable buffer.
 * sp_strbuf_init leaves data pointing at an empty string (never NULL). On failure the buffer is
 * unchanged; sp_json_append_string returns SP_ERR_INVALID when s is not valid UTF-8, since the
 * result would not be valid JSON. */
typedef struct sp_strbuf {
    char *data; /* NUL-terminated; owned */
    size_t len;
    size_t cap;
} sp_strbuf;

SP_API void sp_strbuf_init(sp_strbuf *b);
SP_API void sp_strbuf_free(sp_strbuf *b);
SP_API sp_status sp_strbuf_append(sp_strbuf *b, const char *s, size_t len);
SP_API sp_status sp_strbuf_printf(sp_strbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
SP_API sp_status sp_json_append_string(sp_strbuf *b, const char *s, size_t len);

#ifdef __cplusplus
}
#endif
#endif
