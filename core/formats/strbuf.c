/* sp_strbuf, the growable string used by writers, and the JSON string escaper. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "scriptprune/json.h"

#include "alloc.h"
#include "utf8.h"

void sp_strbuf_init(sp_strbuf *b) {
    /* An empty literal until the first append, so data is always a valid string; cap == 0 marks
     * storage that is not ours (also true of a zero-initialised sp_strbuf). */
    b->data = (char *)"";
    b->len = 0;
    b->cap = 0;
}

void sp_strbuf_free(sp_strbuf *b) {
    if (!b)
        return;
    if (b->cap)
        sp_free(b->data);
    sp_strbuf_init(b);
}

/* Makes room for extra more bytes plus the terminator; the buffer is unchanged on failure. */
static sp_status reserve(sp_strbuf *b, size_t extra) {
    if (extra > SIZE_MAX - 1 - b->len)
        return SP_ERR_OVERFLOW;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return SP_OK;
    size_t cap = b->cap > 32 ? b->cap : 32;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *d;
    if (b->cap) {
        d = sp_realloc(b->data, cap);
    } else {
        d = sp_malloc(cap); /* len is 0 here: nothing to carry over from the literal */
    }
    if (!d)
        return SP_ERR_NOMEM;
    if (!b->cap)
        d[b->len] = '\0';
    b->data = d;
    b->cap = cap;
    return SP_OK;
}

sp_status sp_strbuf_append(sp_strbuf *b, const char *s, size_t len) {
    if (!b || (len && !s))
        return SP_ERR_INVALID;
    sp_status st = reserve(b, len);
    if (st)
        return st;
    if (len)
        memcpy(b->data + b->len, s, len);
    b->len += len;
    b->data[b->len] = '\0';
    return SP_OK;
}

sp_status sp_strbuf_printf(sp_strbuf *b, const char *fmt, ...) {
    if (!b || !fmt)
        return SP_ERR_INVALID;
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    sp_status st = n < 0 ? SP_ERR_INVALID : reserve(b, (size_t)n);
    if (!st) {
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
        b->len += (size_t)n;
    }
    va_end(ap2);
    return st;
}

/* Bytes needed for c inside a JSON string literal. */
static size_t escaped_size(unsigned char c) {
    if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t')
        return 2;
    return c < 0x20 ? 6 : 1;
}

sp_status sp_json_append_string(sp_strbuf *b, const char *s, size_t len) {
    if (!b || (len && !s))
        return SP_ERR_INVALID;
    /* Never emit text a strict reader (ours) would reject. */
    if (!sp_utf8_valid(s, len))
        return SP_ERR_INVALID;
    if (len > (SIZE_MAX - 2) / 6)
        return SP_ERR_OVERFLOW;
    size_t need = 2;
    for (size_t i = 0; i < len; i++)
        need += escaped_size((unsigned char)s[i]);
    sp_status st = reserve(b, need);
    if (st)
        return st;
    char *d = b->data + b->len;
    *d++ = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        size_t k = escaped_size(c);
        if (k == 1) {
            *d++ = (char)c;
        } else if (k == 2) {
            *d++ = '\\';
            *d++ = c == '"'    ? '"'
                   : c == '\\' ? '\\'
                   : c == '\b' ? 'b'
                   : c == '\f' ? 'f'
                   : c == '\n' ? 'n'
                   : c == '\r' ? 'r'
                               : 't';
        } else {
            static const char hex[] = "0123456789abcdef";
            memcpy(d, "\\u00", 4);
            d[4] = hex[c >> 4];
            d[5] = hex[c & 15];
            d += 6;
        }
    }
    *d++ = '"';
    b->len += need;
    b->data[b->len] = '\0';
    return SP_OK;
}
