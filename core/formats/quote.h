/* Renders untrusted names (tensor names, dtype strings, header snippets) for one-line error
 * messages: control characters and quotes are escaped, long names are cut with "...". */
#ifndef SP_QUOTE_H
#define SP_QUOTE_H

#include <stddef.h>

enum { SP_QUOTE_MAX = 96 };

/* Writes a printable rendering of s[0..len) into dst (NUL-terminated, at most cap bytes, cap >= 8)
 * and returns dst, so it can be used directly as a printf argument. */
const char *sp_quote(char *dst, size_t cap, const char *s, size_t len);

/* Names one input byte for "expected X, found Y" messages: "'c'" when printable, else
 * "byte 0x%02x". Returns dst (cap >= 16). */
const char *sp_describe_byte(char *dst, size_t cap, unsigned char c);

#endif
