#include "quote.h"

#include <stdio.h>

const char *sp_quote(char *dst, size_t cap, const char *s, size_t len) {
    static const char ellipsis[] = "...";
    /* Room for the longest escape (\xNN) plus the ellipsis and the terminator. */
    size_t limit = cap - (sizeof ellipsis - 1) - 1;
    size_t o = 0;
    size_t i = 0;
    for (; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[5];
        size_t n;
        if (c == '\n' || c == '\t' || c == '\r' || c == '\\' || c == '\'' || c == '"') {
            esc[0] = '\\';
            esc[1] = c == '\n' ? 'n' : c == '\t' ? 't' : c == '\r' ? 'r' : (char)c;
            n = 2;
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(esc, sizeof esc, "\\x%02x", c);
            n = 4;
        } else {
            esc[0] = (char)c; /* bytes >= 0x80 pass through: names are UTF-8 */
            n = 1;
        }
        if (o + n > limit)
            break;
        for (size_t k = 0; k < n; k++)
            dst[o++] = esc[k];
    }
    if (i < len) {
        /* Do not leave half a UTF-8 sequence before the ellipsis. */
        while (o > 0 && ((unsigned char)dst[o - 1] & 0xc0) == 0x80)
            o--;
        if (o > 0 && (unsigned char)dst[o - 1] >= 0xc0)
            o--;
        for (size_t k = 0; k < sizeof ellipsis - 1; k++)
            dst[o++] = ellipsis[k];
    }
    dst[o] = '\0';
    return dst;
}

const char *sp_describe_byte(char *dst, size_t cap, unsigned char c) {
    if (c >= 0x21 && c < 0x7f)
        snprintf(dst, cap, "'%c'", c);
    else
        snprintf(dst, cap, "byte 0x%02x", c);
    return dst;
}
