/* Read access to parsed JSON documents. NULL or a node of the wrong type gives a neutral answer
 * (NULL, 0, false), never a crash, so callers can chain lookups and check once. */
#include "json_internal.h"
#include "json_node.h"

const sp_json *sp_json_root(const sp_json_doc *doc) {
    return doc ? &doc->root : NULL;
}

sp_json_type sp_json_type_of(const sp_json *v) {
    return v ? v->type : SP_JSON_NULL;
}

const char *sp_json_type_name(sp_json_type t) {
    switch (t) {
        case SP_JSON_NULL:
            return "null";
        case SP_JSON_BOOL:
            return "boolean";
        case SP_JSON_NUMBER:
            return "number";
        case SP_JSON_STRING:
            return "string";
        case SP_JSON_ARRAY:
            return "array";
        case SP_JSON_OBJECT:
            return "object";
    }
    return "unknown";
}

bool sp_json_bool(const sp_json *v) {
    return v && v->type == SP_JSON_BOOL && v->b;
}

double sp_json_number(const sp_json *v) {
    return v && v->type == SP_JSON_NUMBER ? v->u.num.d : 0.0;
}

bool sp_json_int64(const sp_json *v, int64_t *out) {
    if (!v || v->type != SP_JSON_NUMBER || !v->is_int)
        return false;
    if (out)
        *out = v->u.num.i;
    return true;
}

const char *sp_json_string(const sp_json *v, size_t *len) {
    if (!v || v->type != SP_JSON_STRING) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = v->n;
    return v->u.str;
}

size_t sp_json_length(const sp_json *v) {
    return v && (v->type == SP_JSON_ARRAY || v->type == SP_JSON_OBJECT) ? v->n : 0;
}

const sp_json *sp_json_at(const sp_json *v, size_t i) {
    return v && v->type == SP_JSON_ARRAY && i < v->n ? &v->u.items[i] : NULL;
}

const char *sp_json_key_at(const sp_json *v, size_t i) {
    return v && v->type == SP_JSON_OBJECT && i < v->n ? v->u.obj.m[i].key : NULL;
}

const char *sp_json_key_at_len(const sp_json *v, size_t i, size_t *len) {
    if (!v || v->type != SP_JSON_OBJECT || i >= v->n) {
        *len = 0;
        return NULL;
    }
    *len = v->u.obj.m[i].klen;
    return v->u.obj.m[i].key;
}

const sp_json *sp_json_value_at(const sp_json *v, size_t i) {
    return v && v->type == SP_JSON_OBJECT && i < v->n ? &v->u.obj.m[i].value : NULL;
}

const sp_json *sp_json_get(const sp_json *obj, const char *key) {
    if (!obj || obj->type != SP_JSON_OBJECT || !key)
        return NULL;
    size_t klen = strlen(key);
    const jmember *m = obj->u.obj.m;
    if (!obj->u.obj.sorted) {
        for (size_t i = 0; i < obj->n; i++) {
            if (!sp_json_key_cmp(key, klen, m[i].key, m[i].klen))
                return &m[i].value;
        }
        return NULL;
    }
    size_t lo = 0, hi = obj->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const jmember *e = obj->u.obj.sorted[mid];
        int c = sp_json_key_cmp(key, klen, e->key, e->klen);
        if (c == 0)
            return &e->value;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}
