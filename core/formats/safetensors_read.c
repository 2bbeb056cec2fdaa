/* safetensors reader. Everything in the header is untrusted: each number is checked before it is
 * used, in an order that makes every later computation safe (header length against the file,
 * shape products and byte counts against overflow, offsets against the data section, tensors
 * against each other). A file that fails a check is an error, never an out-of-bounds read.
 * Gaps between tensors are accepted (only overlaps are rejected), so any file the reference
 * implementation writes reads here. */
#include "scriptprune/safetensors.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "bytes_le.h"
#include "fileio.h"
#include "json_internal.h"
#include "quote.h"
#include "sort.h"

/* The reference implementation's limit is 100 MB; we allow 100 MiB. */
#define ST_MAX_HEADER (100u * 1024u * 1024u)

struct sp_st_file {
    char *name; /* for messages */
    sp_file_map map;
    sp_json_doc *doc;      /* owns the tensor names and the metadata strings */
    const sp_json *meta;   /* the __metadata__ object, or NULL */
    sp_st_tensor *tensors; /* count, in order of their data offsets */
    size_t count;
    const sp_st_tensor **by_name; /* sorted by name for sp_st_find */
};

/* What one header entry says, kept while all entries are checked. */
typedef struct entry {
    sp_st_tensor t;
    uint64_t begin, end;
} entry;

static const char *qname(char *buf, const char *s) {
    return sp_quote(buf, SP_QUOTE_MAX, s, strlen(s));
}

static sp_status tensor_fail(const sp_st_file *f, const char *tname, sp_error *err, sp_status st,
                             const char *what) {
    char q[SP_QUOTE_MAX];
    return sp_error_set(err, st, "%s: tensor '%s': %s", f->name, qname(q, tname), what);
}

static int key_is(const char *k, size_t klen, const char *want) {
    return klen == strlen(want) && memcmp(k, want, klen) == 0;
}

/* A non-negative JSON integer that fits in size_t (and hence in the file). */
static int get_size(const sp_json *v, uint64_t *out) {
    int64_t i;
    if (!sp_json_int64(v, &i) || i < 0 || (uint64_t)i > SIZE_MAX)
        return 0;
    *out = (uint64_t)i;
    return 1;
}

static sp_status check_metadata(const sp_st_file *f, const sp_json *meta, sp_error *err) {
    char q[SP_QUOTE_MAX];
    if (sp_json_type_of(meta) != SP_JSON_OBJECT)
        return sp_error_set(err, SP_ERR_FORMAT,
                            "%s: __metadata__ is a JSON %s; it must be an object of strings",
                            f->name, sp_json_type_name(sp_json_type_of(meta)));
    for (size_t i = 0; i < sp_json_length(meta); i++) {
        size_t klen, vlen;
        const char *k = sp_json_key_at_len(meta, i, &klen);
        const sp_json *v = sp_json_value_at(meta, i);
        const char *s = sp_json_string(v, &vlen);
        if (strlen(k) != klen)
            return sp_error_set(err, SP_ERR_FORMAT, "%s: __metadata__ key '%s' contains a NUL",
                                f->name, sp_quote(q, sizeof q, k, klen));
        if (!s)
            return sp_error_set(err, SP_ERR_FORMAT,
                                "%s: __metadata__ key '%s' has a %s value; values must be strings",
                                f->name, qname(q, k), sp_json_type_name(sp_json_type_of(v)));
        if (strlen(s) != vlen)
            return sp_error_set(err, SP_ERR_FORMAT,
                                "%s: __metadata__ value of key '%s' contains a NUL", f->name,
                                qname(q, k));
    }
    return SP_OK;
}

static sp_status parse_shape(const sp_st_file *f, const char *tname, const sp_json *shape,
                             sp_st_tensor *t, sp_error *err) {
    char msg[160];
    if (sp_json_type_of(shape) != SP_JSON_ARRAY)
        return tensor_fail(f, tname, err, SP_ERR_FORMAT, "'shape' is not an array");
    size_t nd = sp_json_length(shape);
    if (nd > SP_TENSOR_MAX_DIMS) {
        snprintf(msg, sizeof msg, "shape has %zu dimensions; at most %d are supported", nd,
                 SP_TENSOR_MAX_DIMS);
        return tensor_fail(f, tname, err, SP_ERR_UNSUPPORTED, msg);
    }
    t->ndim = nd;
    for (size_t d = 0; d < nd; d++) {
        uint64_t v;
        if (!get_size(sp_json_at(shape, d), &v)) {
            snprintf(msg, sizeof msg, "shape[%zu] is not a non-negative integer that fits size_t",
                     d);
            return tensor_fail(f, tname, err, SP_ERR_FORMAT, msg);
        }
        t->shape[d] = (size_t)v;
    }
    if (sp_shape_elements(t->shape, nd, &t->elements, err) != SP_OK)
        return tensor_fail(f, tname, err, SP_ERR_OVERFLOW,
                           "the element count of its shape overflows size_t");
    return SP_OK;
}

/* Checks one tensor entry, everything except overlaps with other tensors. */
static sp_status parse_entry(const sp_st_file *f, const char *tname, const sp_json *v,
                             size_t data_len, size_t data_start, entry *e, sp_error *err) {
    char msg[320];
    if (sp_json_type_of(v) != SP_JSON_OBJECT) {
        snprintf(msg, sizeof msg, "entry is a JSON %s, not an object",
                 sp_json_type_name(sp_json_type_of(v)));
        return tensor_fail(f, tname, err, SP_ERR_FORMAT, msg);
    }
    for (size_t i = 0; i < sp_json_length(v); i++) {
        size_t klen;
        const char *k = sp_json_key_at_len(v, i, &klen);
        if (!key_is(k, klen, "dtype") && !key_is(k, klen, "shape") &&
            !key_is(k, klen, "data_offsets")) {
            char q[SP_QUOTE_MAX];
            snprintf(msg, sizeof msg,
                     "unexpected key '%s' (an entry has exactly dtype, shape and data_offsets)",
                     sp_quote(q, sizeof q, k, klen));
            return tensor_fail(f, tname, err, SP_ERR_FORMAT, msg);
        }
    }
    static const char *const need[] = {"dtype", "shape", "data_offsets"};
    for (size_t i = 0; i < 3; i++) {
        if (!sp_json_get(v, need[i])) {
            snprintf(msg, sizeof msg, "the entry has no '%s'", need[i]);
            return tensor_fail(f, tname, err, SP_ERR_FORMAT, msg);
        }
    }
    /* Only these three keys, each at most once, all present: so there are exactly three. */

    sp_st_tensor *t = &e->t;
    memset(t, 0, sizeof *t);
    t->name = tname;
    size_t dlen;
    const char *dname = sp_json_string(sp_json_get(v, "dtype"), &dlen);
    if (!dname)
        return tensor_fail(f, tname, err, SP_ERR_FORMAT, "'dtype' is not a string");
    if (strlen(dname) != dlen)
        return tensor_fail(f, tname, err, SP_ERR_FORMAT, "'dtype' contains a NUL");
    sp_status st = sp_dtype_from_name(dname, &t->dtype, err);
    if (st) {
        char q[SP_QUOTE_MAX];
        return sp_error_prefix(err, "%s: tensor '%s'", f->name, qname(q, tname));
    }
    if ((st = parse_shape(f, tname, sp_json_get(v, "shape"), t, err)))
        return st;

    const sp_json *off = sp_json_get(v, "data_offsets");
    if (sp_json_type_of(off) != SP_JSON_ARRAY || sp_json_length(off) != 2 ||
        !get_size(sp_json_at(off, 0), &e->begin) || !get_size(sp_json_at(off, 1), &e->end))
        return tensor_fail(f, tname, err, SP_ERR_FORMAT,
                           "'data_offsets' is not an array of two non-negative integers");
    if (e->begin > e->end) {
        snprintf(msg, sizeof msg, "data_offsets [%llu, %llu] begin after they end",
                 (unsigned long long)e->begin, (unsigned long long)e->end);
        return tensor_fail(f, tname, err, SP_ERR_FORMAT, msg);
    }
    if (e->end > data_len) {
        snprintf(msg, sizeof msg,
                 "data_offsets [%llu, %llu] run past the end of the data section (%zu bytes "
                 "from file byte %zu)",
                 (unsigned long long)e->begin, (unsigned long long)e->end, data_len, data_start);
        return tensor_fail(f, tname, err, SP_ERR_FORMAT, msg);
    }
    if (!sp_mul_size(t->elements, sp_dtype_size(t->dtype), &t->nbytes)) {
        snprintf(msg, sizeof msg, "%zu elements of %s overflow size_t in bytes", t->elements,
                 sp_dtype_name(t->dtype));
        return tensor_fail(f, tname, err, SP_ERR_OVERFLOW, msg);
    }
    if (t->nbytes != e->end - e->begin) {
        snprintf(msg, sizeof msg,
                 "%zu elements of %s take %zu bytes but data_offsets [%llu, %llu] span %llu",
                 t->elements, sp_dtype_name(t->dtype), t->nbytes, (unsigned long long)e->begin,
                 (unsigned long long)e->end, (unsigned long long)(e->end - e->begin));
        return tensor_fail(f, tname, err, SP_ERR_FORMAT, msg);
    }
    return SP_OK;
}

static int by_begin(const void *a, const void *b) {
    const entry *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

static int by_tensor_name(const void *a, const void *b) {
    const sp_st_tensor *x = a, *y = b;
    return strcmp(x->name, y->name);
}

/* Orders the entries by offset, rejects overlaps and builds the file's two indexes. */
static sp_status index_tensors(sp_st_file *f, entry *es, size_t n, const uint8_t *data,
                               sp_error *err) {
    const void **order = sp_alloc_array(n, sizeof *order);
    const void **tmp = sp_alloc_array(n, sizeof *tmp);
    f->tensors = sp_alloc_array(n, sizeof *f->tensors);
    f->by_name = sp_alloc_array(n, sizeof *f->by_name);
    sp_status st = SP_OK;
    if (!order || !tmp || !f->tensors || !f->by_name) {
        st = sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory indexing %zu tensors", f->name, n);
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        order[i] = &es[i];
    sp_sort_ptrs(order, tmp, n, by_begin);
    const entry *last = NULL; /* the non-empty tensor reaching furthest so far */
    for (size_t i = 0; i < n; i++) {
        const entry *e = order[i];
        if (e->t.nbytes && last && e->begin < last->end) {
            char q1[SP_QUOTE_MAX], q2[SP_QUOTE_MAX];
            st = sp_error_set(err, SP_ERR_FORMAT,
                              "%s: tensors '%s' [%llu, %llu] and '%s' [%llu, %llu] overlap",
                              f->name, qname(q1, last->t.name), (unsigned long long)last->begin,
                              (unsigned long long)last->end, qname(q2, e->t.name),
                              (unsigned long long)e->begin, (unsigned long long)e->end);
            goto done;
        }
        if (e->t.nbytes && (!last || e->end > last->end))
            last = e;
        f->tensors[i] = e->t;
        f->tensors[i].data = data + e->begin;
    }
    for (size_t i = 0; i < n; i++)
        f->by_name[i] = &f->tensors[i];
    sp_sort_ptrs((const void **)f->by_name, tmp, n, by_tensor_name);
    f->count = n;
done:
    sp_free(order);
    sp_free(tmp);
    return st;
}

static sp_status load(sp_st_file *f, const uint8_t *buf, size_t len, sp_error *err) {
    if (len < 8)
        return sp_error_set(err, SP_ERR_FORMAT,
                            "%s: file is %zu bytes, too short for the 8-byte header length",
                            f->name, len);
    uint64_t hlen = sp_load_le64(buf);
    if (hlen > ST_MAX_HEADER)
        return sp_error_set(err, SP_ERR_FORMAT,
                            "%s: header length %llu at byte 0 exceeds the 100 MiB limit", f->name,
                            (unsigned long long)hlen);
    if (hlen > len - 8)
        return sp_error_set(err, SP_ERR_FORMAT,
                            "%s: header length %llu at byte 0 runs past the end of the file (%zu "
                            "bytes)",
                            f->name, (unsigned long long)hlen, len);
    char jname[SP_ERROR_MAX];
    snprintf(jname, sizeof jname, "%s header", f->name);
    sp_status st = sp_json_parse((const char *)buf + 8, (size_t)hlen, jname, &f->doc, err);
    if (st)
        return st;
    const sp_json *root = sp_json_root(f->doc);
    if (sp_json_type_of(root) != SP_JSON_OBJECT)
        return sp_error_set(err, SP_ERR_FORMAT, "%s: header is a JSON %s, not an object", f->name,
                            sp_json_type_name(sp_json_type_of(root)));
    size_t data_start = 8 + (size_t)hlen;
    size_t data_len = len - data_start;
    size_t members = sp_json_length(root);
    entry *es = sp_alloc_array(members, sizeof *es);
    if (!es)
        return sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory for %zu header entries", f->name,
                            members);
    size_t n = 0;
    for (size_t i = 0; i < members && st == SP_OK; i++) {
        size_t klen;
        const char *k = sp_json_key_at_len(root, i, &klen);
        const sp_json *v = sp_json_value_at(root, i);
        if (strlen(k) != klen) {
            char q[SP_QUOTE_MAX];
            st = sp_error_set(err, SP_ERR_FORMAT, "%s: tensor name '%s' contains a NUL", f->name,
                              sp_quote(q, sizeof q, k, klen));
        } else if (strcmp(k, "__metadata__") == 0) {
            f->meta = v;
            st = check_metadata(f, v, err);
        } else {
            st = parse_entry(f, k, v, data_len, data_start, &es[n++], err);
        }
    }
    if (st == SP_OK)
        st = index_tensors(f, es, n, buf + data_start, err);
    sp_free(es);
    return st;
}

/* A new, empty file object named `name`; NULL (with err set) when out of memory. */
static sp_st_file *new_file(const char *name, sp_error *err) {
    sp_st_file *f = sp_calloc(1, sizeof *f);
    size_t nlen = strlen(name);
    char *copy = sp_malloc(nlen + 1);
    if (!f || !copy) {
        sp_free(f);
        sp_free(copy);
        sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory", name);
        return NULL;
    }
    memcpy(copy, name, nlen + 1);
    f->name = copy;
    return f;
}

sp_status sp_st_open_buffer(const uint8_t *buf, size_t len, const char *name, sp_st_file **out,
                            sp_error *err) {
    if (!name)
        name = "<safetensors buffer>";
    if (!out)
        return sp_error_set(err, SP_ERR_INVALID, "%s: output pointer is NULL", name);
    *out = NULL;
    if (!buf && len)
        return sp_error_set(err, SP_ERR_INVALID, "%s: buffer is NULL", name);
    sp_st_file *f = new_file(name, err);
    if (!f)
        return SP_ERR_NOMEM;
    sp_status st = load(f, buf ? buf : (const uint8_t *)"", len, err);
    if (st) {
        sp_st_close(f);
        return st;
    }
    *out = f;
    return SP_OK;
}

sp_status sp_st_open(const char *path, sp_st_file **out, sp_error *err) {
    if (!out || !path) {
        if (out)
            *out = NULL;
        return sp_error_set(err, SP_ERR_INVALID, "safetensors path or output pointer is NULL");
    }
    *out = NULL;
    sp_st_file *f = new_file(path, err);
    if (!f)
        return SP_ERR_NOMEM;
    sp_status st = sp_file_map_open(path, &f->map, err);
    if (!st)
        st = load(f, f->map.data, f->map.len, err);
    if (st) {
        sp_st_close(f);
        return st;
    }
    *out = f;
    return SP_OK;
}

void sp_st_close(sp_st_file *f) {
    if (!f)
        return;
    sp_json_free(f->doc);
    sp_free(f->tensors);
    sp_free(f->by_name);
    sp_free(f->name);
    sp_file_map_close(&f->map);
    sp_free(f);
}

size_t sp_st_count(const sp_st_file *f) {
    return f ? f->count : 0;
}

const sp_st_tensor *sp_st_at(const sp_st_file *f, size_t i) {
    return f && i < f->count ? &f->tensors[i] : NULL;
}

const sp_st_tensor *sp_st_find(const sp_st_file *f, const char *name) {
    if (!f || !name)
        return NULL;
    size_t lo = 0, hi = f->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, f->by_name[mid]->name);
        if (c == 0)
            return f->by_name[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

sp_status sp_st_get(const sp_st_file *f, const char *name, const sp_st_tensor **out,
                    sp_error *err) {
    if (!f || !name || !out)
        return sp_error_set(err, SP_ERR_INVALID, "sp_st_get: file, name or output is NULL");
    *out = sp_st_find(f, name);
    if (!*out) {
        char q[SP_QUOTE_MAX];
        return sp_error_set(err, SP_ERR_NOT_FOUND, "%s: no tensor named '%s' (the file has %zu)",
                            f->name, qname(q, name), f->count);
    }
    return SP_OK;
}

const char *sp_st_metadata(const sp_st_file *f, const char *key) {
    return f ? sp_json_string(sp_json_get(f->meta, key), NULL) : NULL;
}

size_t sp_st_metadata_count(const sp_st_file *f) {
    return f ? sp_json_length(f->meta) : 0;
}

void sp_st_metadata_at(const sp_st_file *f, size_t i, const char **key, const char **value) {
    const sp_json *meta = f ? f->meta : NULL;
    if (key)
        *key = sp_json_key_at(meta, i);
    if (value)
        *value = sp_json_string(sp_json_value_at(meta, i), NULL);
}

sp_status sp_st_read_f32(const sp_st_tensor *t, float **out, size_t *elements, sp_error *err) {
    if (!t || !out)
        return sp_error_set(err, SP_ERR_INVALID, "sp_st_read_f32: tensor or output is NULL");
    *out = NULL;
    if (elements)
        *elements = 0;
    char q[SP_QUOTE_MAX];
    if (t->dtype != SP_DTYPE_F32 && t->dtype != SP_DTYPE_F16 && t->dtype != SP_DTYPE_BF16 &&
        t->dtype != SP_DTYPE_F64)
        return sp_error_set(err, SP_ERR_UNSUPPORTED,
                            "tensor '%s' has dtype %s; only F32, F16, BF16 and F64 read as float32",
                            qname(q, t->name), sp_dtype_name(t->dtype));
    float *dst = sp_alloc_array(t->elements, sizeof(float));
    if (!dst)
        return sp_error_set(err, SP_ERR_NOMEM, "tensor '%s': out of memory for %zu floats",
                            qname(q, t->name), t->elements);
    sp_convert_to_f32(t->dtype, t->data, dst, t->elements);
    *out = dst;
    if (elements)
        *elements = t->elements;
    return SP_OK;
}
