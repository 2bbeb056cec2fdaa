/* libFuzzer target: core's strict JSON reader (safetensors headers, config.json, tokenizers).
 * Property: an input is either refused with a message, or accepted, and then the document printed
 * back as JSON (strings through the escaper, numbers with 17 digits) parses again to an equal
 * document: the reader and the escaper agree on every string the reader accepts. */
#include <math.h>
#include <string.h>

#include "fuzz_check.h"
#include "scriptprune/json.h"

static void print(const sp_json *v, sp_strbuf *b) {
    switch (sp_json_type_of(v)) {
        case SP_JSON_NULL:
            FUZZ_REQUIRE(sp_strbuf_append(b, "null", 4) == SP_OK);
            break;
        case SP_JSON_BOOL:
            FUZZ_REQUIRE(sp_strbuf_printf(b, "%s", sp_json_bool(v) ? "true" : "false") == SP_OK);
            break;
        case SP_JSON_NUMBER: {
            int64_t i;
            if (sp_json_int64(v, &i))
                FUZZ_REQUIRE(sp_strbuf_printf(b, "%lld", (long long)i) == SP_OK);
            else
                FUZZ_REQUIRE(sp_strbuf_printf(b, "%.17g", sp_json_number(v)) == SP_OK);
            break;
        }
        case SP_JSON_STRING: {
            size_t len = 0;
            const char *s = sp_json_string(v, &len);
            FUZZ_REQUIRE(sp_json_append_string(b, s, len) == SP_OK);
            break;
        }
        case SP_JSON_ARRAY:
            FUZZ_REQUIRE(sp_strbuf_append(b, "[", 1) == SP_OK);
            for (size_t i = 0; i < sp_json_length(v); i++) {
                if (i)
                    FUZZ_REQUIRE(sp_strbuf_append(b, ",", 1) == SP_OK);
                print(sp_json_at(v, i), b);
            }
            FUZZ_REQUIRE(sp_strbuf_append(b, "]", 1) == SP_OK);
            break;
        case SP_JSON_OBJECT:
            FUZZ_REQUIRE(sp_strbuf_append(b, "{", 1) == SP_OK);
            for (size_t i = 0; i < sp_json_length(v); i++) {
                if (i)
                    FUZZ_REQUIRE(sp_strbuf_append(b, ",", 1) == SP_OK);
                const char *k = sp_json_key_at(v, i);
                FUZZ_REQUIRE(sp_json_append_string(b, k, strlen(k)) == SP_OK);
                FUZZ_REQUIRE(sp_strbuf_append(b, ":", 1) == SP_OK);
                print(sp_json_value_at(v, i), b);
            }
            FUZZ_REQUIRE(sp_strbuf_append(b, "}", 1) == SP_OK);
            break;
    }
}

/* True when the printed form denotes the same document: every number is finite, and every key
 * finds its own member by name (keys are handed out NUL-terminated, so one with an embedded NUL
 * would print shorter, and could then collide with another key). */
static int printable(const sp_json *v) {
    sp_json_type t = sp_json_type_of(v);
    if (t == SP_JSON_NUMBER)
        return isfinite(sp_json_number(v));
    if (t == SP_JSON_ARRAY) {
        for (size_t i = 0; i < sp_json_length(v); i++)
            if (!printable(sp_json_at(v, i)))
                return 0;
    }
    if (t == SP_JSON_OBJECT) {
        for (size_t i = 0; i < sp_json_length(v); i++) {
            if (sp_json_get(v, sp_json_key_at(v, i)) != sp_json_value_at(v, i) ||
                !printable(sp_json_value_at(v, i)))
                return 0;
        }
    }
    return 1;
}

static int equal(const sp_json *a, const sp_json *b) {
    sp_json_type t = sp_json_type_of(a);
    if (t != sp_json_type_of(b))
        return 0;
    switch (t) {
        case SP_JSON_NULL:
            return 1;
        case SP_JSON_BOOL:
            return sp_json_bool(a) == sp_json_bool(b);
        case SP_JSON_NUMBER:
            return sp_json_number(a) == sp_json_number(b);
        case SP_JSON_STRING: {
            size_t la, lb;
            const char *sa = sp_json_string(a, &la), *sb = sp_json_string(b, &lb);
            return la == lb && memcmp(sa, sb, la) == 0;
        }
        case SP_JSON_ARRAY:
        case SP_JSON_OBJECT:
            if (sp_json_length(a) != sp_json_length(b))
                return 0;
            for (size_t i = 0; i < sp_json_length(a); i++) {
                if (t == SP_JSON_OBJECT &&
                    (strcmp(sp_json_key_at(a, i), sp_json_key_at(b, i)) != 0 ||
                     !equal(sp_json_value_at(a, i), sp_json_value_at(b, i))))
                    return 0;
                if (t == SP_JSON_ARRAY && !equal(sp_json_at(a, i), sp_json_at(b, i)))
                    return 0;
            }
            return 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sp_json_doc *doc = NULL;
    sp_error err;
    sp_error_clear(&err);
    sp_status st = sp_json_parse((const char *)data, size, "fuzz.json", &doc, &err);
    if (st != SP_OK) {
        fuzz_require_error(st, &err);
        FUZZ_REQUIRE(doc == NULL);
        return 0;
    }
    const sp_json *root = sp_json_root(doc);
    if (printable(root)) {
        sp_strbuf b;
        sp_strbuf_init(&b);
        print(root, &b);
        sp_json_doc *again = NULL;
        sp_error e2;
        if (sp_json_parse(b.data, b.len, "printed", &again, &e2) != SP_OK) {
            fprintf(stderr, "printed document does not parse: %s\n%s\n", e2.message, b.data);
            abort();
        }
        FUZZ_REQUIRE(equal(root, sp_json_root(again)));
        sp_json_free(again);
        sp_strbuf_free(&b);
    }
    sp_json_free(doc);
    return 0;
}
