/* Library-internal additions to the JSON reader (not part of the public API). */
#ifndef SP_JSON_INTERNAL_H
#define SP_JSON_INTERNAL_H

#include "scriptprune/json.h"

/* Like sp_json_key_at, also giving the key's length: keys may contain "\u0000", and readers that
 * hand keys out as C strings (tensor names) must reject those. */
const char *sp_json_key_at_len(const sp_json *v, size_t i, size_t *len);

#endif
