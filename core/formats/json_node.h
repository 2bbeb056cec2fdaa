/* The node layout shared by the JSON parser (json.c) and the accessors (json_access.c). */
#ifndef SP_JSON_NODE_H
#define SP_JSON_NODE_H

#include <string.h>

#include "scriptprune/json.h"

#include "arena.h"

typedef struct jmember jmember;

struct sp_json {
    sp_json_type type;
    bool b;      /* SP_JSON_BOOL value */
    bool is_int; /* SP_JSON_NUMBER written as an integer that fits int64 (u.num.i) */
    size_t n;    /* string bytes, array elements or object members */
    union {
        struct {
            double d;
            int64_t i;
        } num;
        const char *str;
        sp_json *items;
        struct {
            jmember *m;
            const jmember **sorted; /* NULL for small objects, which are scanned linearly */
        } obj;
    } u;
};

struct jmember {
    const char *key;
    size_t klen;
    sp_json value;
};

struct sp_json_doc {
    sp_arena arena;
    sp_json root;
};

/* Byte-wise key order (shorter first on a common prefix): the order of the sorted index. */
static inline int sp_json_key_cmp(const char *a, size_t alen, const char *b, size_t blen) {
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c)
        return c;
    return alen < blen ? -1 : alen > blen;
}

#endif
