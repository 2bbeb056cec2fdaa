/* The strict JSON reader. A recursive descent parser (depth is capped, so recursion is bounded)
 * that builds an immutable tree in one arena. Children are collected on a shared scratch stack and
 * copied into an exact-size array when their container closes, so every array and object is one
 * contiguous block. Objects with more than a handful of members also get an index sorted by key:
 * it finds duplicate keys in O(n log n) while parsing and makes sp_json_get a binary search, so
 * 50k-key tokenizer vocabularies parse and look up quickly whatever their content. */
#include "scriptprune/json.h"

#include <langinfo.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "arena.h"
#include "json_node.h"
#include "quote.h"
#include "sort.h"
#include "utf8.h"

/* Objects up to this size are checked for duplicates pairwise and searched linearly. */
enum { SMALL_OBJECT = 8 };

/* A pending array element or object member; key_off locates the key for duplicate messages. */
typedef struct pending {
    jmember m;
    size_t key_off;
} pending;

typedef struct parser {
    const unsigned char *s;
    size_t len;
    size_t pos;
    const char *name;
    sp_error *err;
    sp_arena *arena;
    pending *stack;
    size_t top;
    size_t cap;
} parser;

/* ---- errors ---- */

/* Line and column (1-based; the column counts UTF-8 characters) of byte offset off. Computed only
 * when reporting an error, so parsing does not track positions. */
static void line_col(const parser *p, size_t off, size_t *line, size_t *col) {
    size_t l = 1, c = 1;
    for (size_t i = 0; i < off && i < p->len; i++) {
        if (p->s[i] == '\n') {
            l++;
            c = 1;
        } else if ((p->s[i] & 0xc0) != 0x80) {
            c++;
        }
    }
    *line = l;
    *col = c;
}

__attribute__((format(printf, 4, 5))) static sp_status fail(parser *p, size_t off, sp_status st,
                                                            const char *fmt, ...) {
    char what[SP_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    size_t line, col;
    line_col(p, off, &line, &col);
    return sp_error_set(p->err, st, "%s: line %zu column %zu (byte %zu): %s", p->name, line, col,
                        off, what);
}

static sp_status fail_nomem(parser *p) {
    return fail(p, p->pos, SP_ERR_NOMEM, "out of memory while parsing JSON of %zu bytes", p->len);
}

/* Describes the byte at off for "found ..." messages. */
static const char *describe(const parser *p, size_t off, char *buf, size_t cap) {
    if (off >= p->len)
        return "end of input";
    return sp_describe_byte(buf, cap, (unsigned char)p->s[off]);
}

static sp_status fail_expected(parser *p, const char *what) {
    char buf[16];
    return fail(p, p->pos, SP_ERR_FORMAT, "expected %s, found %s", what,
                describe(p, p->pos, buf, sizeof buf));
}

/* ---- scanning helpers ---- */

static void skip_ws(parser *p) {
    while (p->pos < p->len) {
        unsigned char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        p->pos++;
    }
}

static bool at(const parser *p, unsigned char c) {
    return p->pos < p->len && p->s[p->pos] == c;
}

static bool is_digit(const parser *p, size_t i) {
    return i < p->len && p->s[i] >= '0' && p->s[i] <= '9';
}

static sp_status push(parser *p, const jmember *m, size_t key_off) {
    if (p->top == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        size_t bytes;
        pending *ns = NULL;
        if (sp_mul_size(cap, sizeof *ns, &bytes))
            ns = sp_realloc(p->stack, bytes);
        if (!ns)
            return fail_nomem(p);
        p->stack = ns;
        p->cap = cap;
    }
    p->stack[p->top].m = *m;
    p->stack[p->top].key_off = key_off;
    p->top++;
    return SP_OK;
}

/* n elements of size bytes from the arena; NULL when out of memory or when n * size overflows
 * (possible with 32-bit size_t and a very large input). */
static void *arena_array(parser *p, size_t n, size_t size) {
    size_t bytes;
    return sp_mul_size(n, size, &bytes) ? sp_arena_alloc(p->arena, bytes) : NULL;
}

/* ---- strings ---- */

static int hex4(const unsigned char *s, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = s[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10u;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10u;
        else
            return 0;
        v = v * 16 + d;
    }
    *out = v;
    return 1;
}

static size_t put_utf8(char *d, unsigned cp) {
    if (cp < 0x80) {
        d[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        d[0] = (char)(0xc0 | (cp >> 6));
        d[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (char)(0xe0 | (cp >> 12));
        d[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        d[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    d[0] = (char)(0xf0 | (cp >> 18));
    d[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    d[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    d[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Decodes the escape starting at s[i] == '\\' (body ends at end); appends to d. */
static sp_status decode_escape(parser *p, size_t *i, size_t end, char *d, size_t *o) {
    const unsigned char *s = p->s;
    size_t at_esc = *i;
    unsigned char c = s[at_esc + 1]; /* the scan guaranteed a byte after '\\' inside the body */
    static const char simple_in[] = "\"\\/bfnrt";
    static const char simple_out[] = "\"\\/\b\f\n\r\t";
    const char *hit = c ? strchr(simple_in, c) : NULL;
    if (hit) {
        d[(*o)++] = simple_out[hit - simple_in];
        *i = at_esc + 2;
        return SP_OK;
    }
    if (c != 'u') {
        char buf[16];
        return fail(p, at_esc, SP_ERR_FORMAT, "invalid escape sequence '\\' followed by %s",
                    describe(p, at_esc + 1, buf, sizeof buf));
    }
    unsigned cp;
    if (end - at_esc < 6 || !hex4(s + at_esc + 2, &cp))
        return fail(p, at_esc, SP_ERR_FORMAT, "\\u must be followed by four hex digits");
    size_t next = at_esc + 6;
    if (cp >= 0xdc00 && cp <= 0xdfff)
        return fail(p, at_esc, SP_ERR_FORMAT,
                    "lone low surrogate \\u%04X (not preceded by a high surrogate)", cp);
    if (cp >= 0xd800 && cp <= 0xdbff) {
        unsigned lo;
        if (end - next < 6 || s[next] != '\\' || s[next + 1] != 'u' || !hex4(s + next + 2, &lo) ||
            lo < 0xdc00 || lo > 0xdfff)
            return fail(p, at_esc, SP_ERR_FORMAT,
                        "high surrogate \\u%04X is not followed by a \\u low surrogate", cp);
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        next += 6;
    }
    *o += put_utf8(d + *o, cp);
    *i = next;
    return SP_OK;
}

/* Parses the string literal at p->pos (which is '"') into a new NUL-terminated arena copy. */
static sp_status parse_string(parser *p, const char **out, size_t *out_len) {
    const unsigned char *s = p->s;
    size_t open = p->pos;
    size_t i = open + 1;
    bool escapes = false;
    while (i < p->len && s[i] != '"') {
        if (s[i] == '\\') {
            escapes = true;
            i += 2;
        } else if (s[i] < 0x20) {
            return fail(p, i, SP_ERR_FORMAT, "control character U+%04X in a string must be escaped",
                        s[i]);
        } else {
            i++;
        }
    }
    if (i >= p->len)
        return fail(p, open, SP_ERR_FORMAT, "string is not terminated before the end of input");
    size_t end = i;
    size_t raw = end - (open + 1);
    /* Escapes only shrink: the decoded text fits in the raw length. */
    char *d = sp_arena_alloc(p->arena, raw + 1);
    if (!d)
        return fail_nomem(p);
    size_t o = 0;
    i = open + 1;
    while (i < end) {
        unsigned char c = s[i];
        if (c == '\\' && escapes) {
            sp_status st = decode_escape(p, &i, end, d, &o);
            if (st)
                return st;
        } else if (c < 0x80) {
            d[o++] = (char)c;
            i++;
        } else {
            size_t k = sp_utf8_seq(s + i, end - i);
            if (!k)
                return fail(p, i, SP_ERR_FORMAT, "invalid UTF-8 byte 0x%02x in a string", c);
            memcpy(d + o, s + i, k);
            o += k;
            i += k;
        }
    }
    d[o] = '\0';
    *out = d;
    *out_len = o;
    p->pos = end + 1;
    return SP_OK;
}

/* ---- numbers ---- */

/* Converts the validated number text s[start..end) with strtod, which expects the radix character
 * of the current C locale (a GStreamer application may well have called setlocale). */
static sp_status number_strtod(parser *p, size_t start, size_t end, double *out) {
    const char *radix = nl_langinfo(RADIXCHAR);
    if (!radix || !*radix)
        radix = ".";
    size_t rlen = strlen(radix);
    size_t n = end - start;
    char small[128];
    char *buf = small;
    size_t need = n + rlen + 1;
    if (need > sizeof small) {
        buf = sp_malloc(need);
        if (!buf)
            return fail_nomem(p);
    }
    size_t o = 0;
    for (size_t i = start; i < end; i++) {
        if (p->s[i] == '.') {
            memcpy(buf + o, radix, rlen);
            o += rlen;
        } else {
            buf[o++] = (char)p->s[i];
        }
    }
    buf[o] = '\0';
    char *stop;
    double d = strtod(buf, &stop);
    bool whole = stop == buf + o;
    if (buf != small)
        sp_free(buf);
    if (!whole)
        return fail(p, start, SP_ERR_FORMAT, "number could not be converted");
    if (isinf(d))
        return fail(p, start, SP_ERR_FORMAT, "number is out of the range of a double");
    *out = d;
    return SP_OK;
}

static sp_status parse_number(parser *p, sp_json *out) {
    size_t start = p->pos;
    size_t i = start;
    bool neg = false;
    if (p->s[i] == '-') {
        neg = true;
        i++;
    }
    if (!is_digit(p, i)) {
        p->pos = i;
        return fail_expected(p, "a digit after '-'");
    }
    size_t int_start = i;
    if (p->s[i] == '0') {
        i++;
        if (is_digit(p, i))
            return fail(p, int_start, SP_ERR_FORMAT, "numbers must not have leading zeros");
    } else {
        while (is_digit(p, i))
            i++;
    }
    size_t int_end = i;
    bool plain = true;
    if (i < p->len && p->s[i] == '.') {
        plain = false;
        i++;
        if (!is_digit(p, i)) {
            p->pos = i;
            return fail_expected(p, "a digit after the decimal point");
        }
        while (is_digit(p, i))
            i++;
    }
    if (i < p->len && (p->s[i] == 'e' || p->s[i] == 'E')) {
        plain = false;
        i++;
        if (i < p->len && (p->s[i] == '+' || p->s[i] == '-'))
            i++;
        if (!is_digit(p, i)) {
            p->pos = i;
            return fail_expected(p, "a digit in the exponent");
        }
        while (is_digit(p, i))
            i++;
    }
    out->type = SP_JSON_NUMBER;
    out->is_int = false;
    if (plain) {
        /* Integers are accumulated exactly; int64 -> double is correctly rounded like strtod. */
        uint64_t mag = 0;
        bool fits = true;
        for (size_t k = int_start; k < int_end && fits; k++) {
            unsigned d = p->s[k] - '0';
            fits = !__builtin_mul_overflow(mag, 10, &mag) && !__builtin_add_overflow(mag, d, &mag);
        }
        if (fits && mag <= (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX)) {
            int64_t v;
            if (!neg)
                v = (int64_t)mag;
            else if (mag == (uint64_t)INT64_MAX + 1)
                v = INT64_MIN;
            else
                v = -(int64_t)mag;
            out->is_int = true;
            out->u.num.i = v;
            out->u.num.d = (neg && mag == 0) ? -0.0 : (double)v;
            p->pos = i;
            return SP_OK;
        }
    }
    out->u.num.i = 0;
    sp_status st = number_strtod(p, start, i, &out->u.num.d);
    if (st)
        return st;
    p->pos = i;
    return SP_OK;
}

/* ---- containers ---- */

static int member_cmp(const void *a, const void *b) {
    const jmember *x = a, *y = b;
    return sp_json_key_cmp(x->key, x->klen, y->key, y->klen);
}

static sp_status duplicate_key(parser *p, const pending *base, size_t first, size_t second) {
    char q[SP_QUOTE_MAX];
    size_t line, col;
    line_col(p, base[first].key_off, &line, &col);
    return fail(p, base[second].key_off, SP_ERR_FORMAT,
                "duplicate object key \"%s\" (first at line %zu column %zu)",
                sp_quote(q, sizeof q, base[second].m.key, base[second].m.klen), line, col);
}

/* Rejects duplicate keys among m[0..n) and, for larger objects, builds the sorted index. The
 * pending entries base[0..n) still hold the key offsets for messages. */
static sp_status index_object(parser *p, sp_json *obj, const pending *base) {
    jmember *m = obj->u.obj.m;
    size_t n = obj->n;
    obj->u.obj.sorted = NULL;
    if (n <= SMALL_OBJECT) {
        for (size_t j = 1; j < n; j++) {
            for (size_t i = 0; i < j; i++) {
                if (!sp_json_key_cmp(m[i].key, m[i].klen, m[j].key, m[j].klen))
                    return duplicate_key(p, base, i, j);
            }
        }
        return SP_OK;
    }
    const jmember **sorted = arena_array(p, n, sizeof *sorted);
    const void **tmp = sp_alloc_array(n, sizeof *tmp);
    if (!sorted || !tmp) {
        sp_free(tmp);
        return fail_nomem(p);
    }
    for (size_t i = 0; i < n; i++)
        sorted[i] = &m[i];
    sp_sort_ptrs((const void **)sorted, tmp, n, member_cmp);
    sp_free(tmp);
    for (size_t i = 1; i < n; i++) {
        /* Stable sort: the earlier member of an equal pair comes first. */
        if (!member_cmp(sorted[i - 1], sorted[i]))
            return duplicate_key(p, base, (size_t)(sorted[i - 1] - m), (size_t)(sorted[i] - m));
    }
    obj->u.obj.sorted = sorted;
    return SP_OK;
}

static sp_status parse_value(parser *p, sp_json *out, int depth);

static sp_status parse_array(parser *p, sp_json *out, int depth) {
    size_t open = p->pos;
    size_t base = p->top;
    p->pos++;
    skip_ws(p);
    if (at(p, ']')) {
        p->pos++;
    } else {
        for (;;) {
            jmember item = {NULL, 0, {0}};
            sp_status st = parse_value(p, &item.value, depth);
            if (st)
                return st;
            if ((st = push(p, &item, 0)))
                return st;
            skip_ws(p);
            if (at(p, ',')) {
                p->pos++;
                skip_ws(p);
                if (at(p, ']'))
                    return fail(p, p->pos, SP_ERR_FORMAT, "trailing comma before ']'");
                continue;
            }
            if (at(p, ']')) {
                p->pos++;
                break;
            }
            char buf[16];
            size_t line, col;
            line_col(p, open, &line, &col);
            return fail(p, p->pos, SP_ERR_FORMAT,
                        "expected ',' or ']' in the array opened at line %zu column %zu, found %s",
                        line, col, describe(p, p->pos, buf, sizeof buf));
        }
    }
    size_t n = p->top - base;
    out->type = SP_JSON_ARRAY;
    out->n = n;
    out->u.items = NULL;
    if (n) {
        out->u.items = arena_array(p, n, sizeof(sp_json));
        if (!out->u.items)
            return fail_nomem(p);
        for (size_t i = 0; i < n; i++)
            out->u.items[i] = p->stack[base + i].m.value;
    }
    p->top = base;
    return SP_OK;
}

static sp_status parse_object(parser *p, sp_json *out, int depth) {
    size_t open = p->pos;
    size_t base = p->top;
    p->pos++;
    skip_ws(p);
    if (at(p, '}')) {
        p->pos++;
    } else {
        for (;;) {
            if (!at(p, '"'))
                return fail_expected(p, "a string key");
            jmember m = {NULL, 0, {0}};
            size_t key_off = p->pos;
            sp_status st = parse_string(p, &m.key, &m.klen);
            if (st)
                return st;
            skip_ws(p);
            if (!at(p, ':'))
                return fail_expected(p, "':' after the object key");
            p->pos++;
            if ((st = parse_value(p, &m.value, depth)))
                return st;
            if ((st = push(p, &m, key_off)))
                return st;
            skip_ws(p);
            if (at(p, ',')) {
                p->pos++;
                skip_ws(p);
                if (at(p, '}'))
                    return fail(p, p->pos, SP_ERR_FORMAT, "trailing comma before '}'");
                continue;
            }
            if (at(p, '}')) {
                p->pos++;
                break;
            }
            char buf[16];
            size_t line, col;
            line_col(p, open, &line, &col);
            return fail(p, p->pos, SP_ERR_FORMAT,
                        "expected ',' or '}' in the object opened at line %zu column %zu, found %s",
                        line, col, describe(p, p->pos, buf, sizeof buf));
        }
    }
    size_t n = p->top - base;
    out->type = SP_JSON_OBJECT;
    out->n = n;
    out->u.obj.m = NULL;
    out->u.obj.sorted = NULL;
    if (n) {
        jmember *m = arena_array(p, n, sizeof *m);
        if (!m)
            return fail_nomem(p);
        for (size_t i = 0; i < n; i++)
            m[i] = p->stack[base + i].m;
        out->u.obj.m = m;
        sp_status st = index_object(p, out, p->stack + base);
        if (st)
            return st;
    }
    p->top = base;
    return SP_OK;
}

static sp_status parse_literal(parser *p, const char *word) {
    size_t n = strlen(word);
    if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
        return fail_expected(p, "a value");
    p->pos += n;
    return SP_OK;
}

static sp_status parse_value(parser *p, sp_json *out, int depth) {
    skip_ws(p);
    memset(out, 0, sizeof *out);
    if (p->pos >= p->len)
        return fail_expected(p, "a value");
    switch (p->s[p->pos]) {
        case '{':
        case '[':
            if (depth >= SP_JSON_MAX_DEPTH)
                return fail(p, p->pos, SP_ERR_FORMAT, "nesting is deeper than %d levels",
                            SP_JSON_MAX_DEPTH);
            return p->s[p->pos] == '{' ? parse_object(p, out, depth + 1)
                                       : parse_array(p, out, depth + 1);
        case '"':
            out->type = SP_JSON_STRING;
            return parse_string(p, &out->u.str, &out->n);
        case 't':
            out->type = SP_JSON_BOOL;
            out->b = true;
            return parse_literal(p, "true");
        case 'f':
            out->type = SP_JSON_BOOL;
            return parse_literal(p, "false");
        case 'n':
            out->type = SP_JSON_NULL;
            return parse_literal(p, "null");
        default:
            if (p->s[p->pos] == '-' || is_digit(p, p->pos))
                return parse_number(p, out);
            return fail_expected(p, "a value");
    }
}

sp_status sp_json_parse(const char *text, size_t len, const char *name, sp_json_doc **out,
                        sp_error *err) {
    if (!name)
        name = "JSON";
    if (!out)
        return sp_error_set(err, SP_ERR_INVALID, "%s: output pointer is NULL", name);
    *out = NULL;
    if (!text && len)
        return sp_error_set(err, SP_ERR_INVALID, "%s: text is NULL", name);
    sp_json_doc *doc = sp_malloc(sizeof *doc);
    if (!doc)
        return sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory", name);
    sp_arena_init(&doc->arena);
    parser p = {.s = (const unsigned char *)(text ? text : ""),
                .len = len,
                .name = name,
                .err = err,
                .arena = &doc->arena};
    sp_status st;
    if (len >= 3 && memcmp(p.s, "\xef\xbb\xbf", 3) == 0) {
        st = fail(&p, 0, SP_ERR_FORMAT, "a byte order mark (U+FEFF) is not allowed");
    } else {
        skip_ws(&p);
        if (p.pos == len)
            st = fail(&p, p.pos, SP_ERR_FORMAT, "the document is empty");
        else
            st = parse_value(&p, &doc->root, 0);
    }
    if (!st) {
        skip_ws(&p);
        if (p.pos != len) {
            char buf[16];
            st = fail(&p, p.pos, SP_ERR_FORMAT, "unexpected %s after the end of the document",
                      describe(&p, p.pos, buf, sizeof buf));
        }
    }
    sp_free(p.stack);
    if (st) {
        sp_json_free(doc);
        return st;
    }
    *out = doc;
    return SP_OK;
}

void sp_json_free(sp_json_doc *doc) {
    if (!doc)
        return;
    sp_arena_free(&doc->arena);
    sp_free(doc);
}
