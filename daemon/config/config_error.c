/* Error reports of the config reader: "FILE:LINE:COL: key 'K': REASON", then the offending source
 * line and a caret under the column, in the style of compilers so editors can jump to it. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "config/config_internal.h"

/* Replaces bytes that would garble a terminal or a journal line (controls, DEL) with '?'. */
static void sanitize(char *s) {
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = '?';
}

sp_status cfg_pos_fail(cfg_pos_error *err, sp_status status, const ynode *at, const char *key,
                       const char *fmt, ...) {
    err->status = status;
    err->line = at ? at->line : 0;
    err->column = at ? at->column : 0;
    g_strlcpy(err->key, key ? key : "", sizeof err->key);
    va_list ap;
    va_start(ap, fmt);
    g_vsnprintf(err->reason, sizeof err->reason, fmt, ap);
    va_end(ap);
    sanitize(err->key);
    sanitize(err->reason);
    return status;
}

enum { ECHO_MAX = 120 }; /* characters of the source line shown around the column */

/* Appends the 1-based line `line` of text with a caret under character column `column`. libyaml
 * counts columns in characters, so the caret walks UTF-8 sequences, not bytes. */
static void echo_line(GString *out, const char *text, size_t len, unsigned line, unsigned column) {
    /* Line breaks as libyaml counts them: "\r\n", "\r" or "\n". */
    size_t pos = 0;
    for (unsigned l = 1; l < line; l++) {
        while (pos < len && text[pos] != '\n' && text[pos] != '\r')
            pos++;
        if (pos >= len)
            return;
        if (text[pos] == '\r' && pos + 1 < len && text[pos + 1] == '\n')
            pos++;
        pos++;
    }
    size_t end = pos;
    while (end < len && text[end] != '\n' && text[end] != '\r')
        end++;
    const char *s = text + pos;
    size_t n = end - pos;
    bool utf8 = g_utf8_validate(s, (gssize)n, NULL);

    /* Character offsets of the window shown: long lines are cut around the column. */
    size_t chars = utf8 ? (size_t)g_utf8_strlen(s, (gssize)n) : n;
    size_t col = column > 0 ? column - 1 : 0;
    size_t first = 0;
    if (chars > ECHO_MAX && col > ECHO_MAX / 2)
        first = col - ECHO_MAX / 2;
    size_t last = first + ECHO_MAX < chars ? first + ECHO_MAX : chars;

    char gutter[32];
    int gw = g_snprintf(gutter, sizeof gutter, "%5u | ", line);
    GString *src = g_string_new(first > 0 ? "..." : "");
    GString *caret = g_string_new(first > 0 ? "   " : "");
    const char *p = s;
    for (size_t c = 0; c < last; c++) {
        const char *next = utf8 ? g_utf8_next_char(p) : p + 1;
        if (c >= first) {
            unsigned char b = (unsigned char)*p;
            if (b == '\t') {
                g_string_append_c(src, '\t');
            } else if (b < 0x20 || b == 0x7f || (!utf8 && b >= 0x80)) {
                g_string_append_c(src, '?');
            } else {
                g_string_append_len(src, p, next - p);
            }
            /* Tabs are repeated in the caret line so the caret lines up whatever the tab width. */
            if (c < col)
                g_string_append_c(caret, b == '\t' ? '\t' : ' ');
        }
        p = next;
    }
    if (col >= last && col > first)
        for (size_t c = last; c < col; c++)
            g_string_append_c(caret, ' ');
    g_string_append_printf(out, "\n%s%s\n%*s| %s^", gutter, src->str, gw - 2, "", caret->str);
    g_string_free(src, TRUE);
    g_string_free(caret, TRUE);
}

void cfg_render_error(const cfg_pos_error *err, const char *name, const char *text, size_t len,
                      scd_config_error *out) {
    out->status = err->status;
    out->line = err->line;
    out->column = err->column;
    g_strlcpy(out->key, err->key, sizeof out->key);
    g_strlcpy(out->reason, err->reason, sizeof out->reason);
    GString *msg = g_string_new(name ? name : "<config>");
    if (err->line > 0)
        g_string_append_printf(msg, ":%u:%u", err->line, err->column);
    g_string_append(msg, ": ");
    if (err->key[0])
        g_string_append_printf(msg, "key '%s': ", err->key);
    g_string_append(msg, err->reason);
    if (err->line > 0 && text)
        echo_line(msg, text, len, err->line, err->column);
    g_strlcpy(out->message, msg->str, sizeof out->message);
    g_string_free(msg, TRUE);
}
