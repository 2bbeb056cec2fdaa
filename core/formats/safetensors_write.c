/* safetensors writer: tensors are copied (as little-endian bytes) when added and laid out in
 * insertion order. The JSON header is padded with spaces so the data section starts at a multiple
 * of 8 bytes, as the reference implementation does, which keeps every tensor of a file we write
 * aligned for its element type. */
#include "scriptprune/safetensors.h"

#include <string.h>

#include "scriptprune/json.h"

#include "alloc.h"
#include "bytes_le.h"
#include "fileio.h"
#include "float_store.h"
#include "quote.h"
#include "utf8.h"

/* Keep in step with the reader, so we never write a file we would refuse to read. */
#define ST_MAX_HEADER (100u * 1024u * 1024u)

typedef struct st_entry {
    char *name;
    sp_dtype dtype;
    size_t ndim;
    size_t shape[SP_TENSOR_MAX_DIMS];
    uint8_t *data; /* little-endian */
    size_t nbytes;
} st_entry;

typedef struct st_meta {
    char *key;
    char *value;
} st_meta;

struct sp_st_writer {
    st_entry *e;
    size_t n, cap;
    st_meta *m;
    size_t nm, mcap;
    size_t data_bytes; /* sum of nbytes, checked against overflow on every add */
};

sp_st_writer *sp_st_writer_new(void) {
    return sp_calloc(1, sizeof(sp_st_writer));
}

void sp_st_writer_free(sp_st_writer *w) {
    if (!w)
        return;
    for (size_t i = 0; i < w->n; i++) {
        sp_free(w->e[i].name);
        sp_free(w->e[i].data);
    }
    for (size_t i = 0; i < w->nm; i++) {
        sp_free(w->m[i].key);
        sp_free(w->m[i].value);
    }
    sp_free(w->e);
    sp_free(w->m);
    sp_free(w);
}

static char *dup_string(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = sp_malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* Grows *arr (of elem-byte items) so that one more fits; the array is unchanged on failure. */
static int grow(void **arr, size_t *cap, size_t n, size_t elem) {
    if (n < *cap)
        return 1;
    size_t nc = *cap ? *cap * 2 : 8;
    size_t bytes;
    if (nc < n || !sp_mul_size(nc, elem, &bytes))
        return 0;
    void *p = sp_realloc(*arr, bytes);
    if (!p)
        return 0;
    *arr = p;
    *cap = nc;
    return 1;
}

/* Stores n elements of esize bytes from host order at src as little-endian at dst. */
static void copy_le(uint8_t *dst, const void *src, size_t n, size_t esize) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    (void)esize;
    if (n)
        memcpy(dst, src, n * esize);
#else
    const uint8_t *s = src;
    for (size_t i = 0; i < n; i++)
        for (size_t b = 0; b < esize; b++)
            dst[i * esize + b] = s[i * esize + esize - 1 - b];
#endif
}

static sp_status add(sp_st_writer *w, const char *name, sp_dtype dtype, size_t ndim,
                     const size_t *shape, const void *data, int from_f32, sp_error *err) {
    char q[SP_QUOTE_MAX];
    if (!w || !name)
        return sp_error_set(err, SP_ERR_INVALID, "safetensors writer: writer or name is NULL");
    const char *qn = sp_quote(q, sizeof q, name, strlen(name));
    if (!sp_utf8_valid(name, strlen(name)))
        return sp_error_set(err, SP_ERR_INVALID,
                            "safetensors writer: tensor name '%s' is not valid UTF-8", qn);
    if (strcmp(name, "__metadata__") == 0)
        return sp_error_set(err, SP_ERR_INVALID,
                            "safetensors writer: '__metadata__' is reserved, not a tensor name");
    for (size_t i = 0; i < w->n; i++) {
        if (strcmp(w->e[i].name, name) == 0)
            return sp_error_set(err, SP_ERR_INVALID,
                                "safetensors writer: tensor '%s' was already added", qn);
    }
    if ((unsigned)dtype >= SP_DTYPE_COUNT)
        return sp_error_set(err, SP_ERR_INVALID,
                            "safetensors writer: tensor '%s': invalid dtype %d", qn, (int)dtype);
    if (ndim > SP_TENSOR_MAX_DIMS)
        return sp_error_set(err, SP_ERR_UNSUPPORTED,
                            "safetensors writer: tensor '%s' has %zu dimensions (at most %d)", qn,
                            ndim, SP_TENSOR_MAX_DIMS);
    size_t elements, nbytes, total;
    if (sp_shape_elements(shape, ndim, &elements, err) != SP_OK)
        return sp_error_prefix(err, "safetensors writer: tensor '%s'", qn);
    if (!sp_mul_size(elements, sp_dtype_size(dtype), &nbytes) ||
        __builtin_add_overflow(w->data_bytes, nbytes, &total))
        return sp_error_set(err, SP_ERR_OVERFLOW,
                            "safetensors writer: tensor '%s' of %zu elements overflows the file "
                            "size",
                            qn, elements);
    if (nbytes && !data)
        return sp_error_set(err, SP_ERR_INVALID, "safetensors writer: tensor '%s' has no data", qn);
    if (!grow((void **)&w->e, &w->cap, w->n, sizeof *w->e))
        return sp_error_set(err, SP_ERR_NOMEM, "safetensors writer: out of memory adding '%s'", qn);
    st_entry e = {.dtype = dtype, .ndim = ndim, .nbytes = nbytes};
    if (ndim)
        memcpy(e.shape, shape, ndim * sizeof *shape);
    e.name = dup_string(name);
    e.data = sp_malloc(nbytes);
    if (!e.name || !e.data) {
        sp_free(e.name);
        sp_free(e.data);
        return sp_error_set(err, SP_ERR_NOMEM,
                            "safetensors writer: out of memory copying %zu bytes of '%s'", nbytes,
                            qn);
    }
    if (from_f32) {
        sp_store_floats_le(e.data, data, elements, SP_DTYPE_F16);
    } else {
        copy_le(e.data, data, elements, sp_dtype_size(dtype));
    }
    w->e[w->n++] = e;
    w->data_bytes = total;
    return SP_OK;
}

sp_status sp_st_writer_add(sp_st_writer *w, const char *name, sp_dtype dtype, size_t ndim,
                           const size_t *shape, const void *data, sp_error *err) {
    return add(w, name, dtype, ndim, shape, data, 0, err);
}

sp_status sp_st_writer_add_f32_as_f16(sp_st_writer *w, const char *name, size_t ndim,
                                      const size_t *shape, const float *data, sp_error *err) {
    return add(w, name, SP_DTYPE_F16, ndim, shape, data, 1, err);
}

sp_status sp_st_writer_metadata(sp_st_writer *w, const char *key, const char *value,
                                sp_error *err) {
    char q[SP_QUOTE_MAX];
    if (!w || !key || !value)
        return sp_error_set(err, SP_ERR_INVALID,
                            "safetensors writer: metadata key or value is NULL");
    const char *qk = sp_quote(q, sizeof q, key, strlen(key));
    if (!sp_utf8_valid(key, strlen(key)) || !sp_utf8_valid(value, strlen(value)))
        return sp_error_set(err, SP_ERR_INVALID,
                            "safetensors writer: metadata '%s': key or value is not valid UTF-8",
                            qk);
    for (size_t i = 0; i < w->nm; i++) {
        if (strcmp(w->m[i].key, key) == 0)
            return sp_error_set(err, SP_ERR_INVALID,
                                "safetensors writer: metadata key '%s' was already set", qk);
    }
    if (!grow((void **)&w->m, &w->mcap, w->nm, sizeof *w->m))
        return sp_error_set(err, SP_ERR_NOMEM, "safetensors writer: out of memory for metadata");
    st_meta m = {dup_string(key), dup_string(value)};
    if (!m.key || !m.value) {
        sp_free(m.key);
        sp_free(m.value);
        return sp_error_set(err, SP_ERR_NOMEM, "safetensors writer: out of memory for metadata");
    }
    w->m[w->nm++] = m;
    return SP_OK;
}

/* The padded JSON header. Strings were checked for UTF-8 on add, so only NOMEM can fail. */
static sp_status build_header(const sp_st_writer *w, sp_strbuf *h, sp_error *err) {
    sp_status st = sp_strbuf_append(h, "{", 1);
    if (w->nm)
        st = st ? st : sp_strbuf_append(h, "\"__metadata__\":{", 16);
    for (size_t i = 0; i < w->nm && !st; i++) {
        if (i)
            st = sp_strbuf_append(h, ",", 1);
        st = st ? st : sp_json_append_string(h, w->m[i].key, strlen(w->m[i].key));
        st = st ? st : sp_strbuf_append(h, ":", 1);
        st = st ? st : sp_json_append_string(h, w->m[i].value, strlen(w->m[i].value));
    }
    if (w->nm)
        st = st ? st : sp_strbuf_append(h, "}", 1);
    size_t off = 0;
    for (size_t i = 0; i < w->n && !st; i++) {
        const st_entry *e = &w->e[i];
        if (i || w->nm)
            st = sp_strbuf_append(h, ",", 1);
        st = st ? st : sp_json_append_string(h, e->name, strlen(e->name));
        st = st ? st
                : sp_strbuf_printf(h, ":{\"dtype\":\"%s\",\"shape\":[", sp_dtype_name(e->dtype));
        for (size_t d = 0; d < e->ndim && !st; d++)
            st = sp_strbuf_printf(h, d ? ",%zu" : "%zu", e->shape[d]);
        st = st ? st : sp_strbuf_printf(h, "],\"data_offsets\":[%zu,%zu]}", off, off + e->nbytes);
        off += e->nbytes;
    }
    st = st ? st : sp_strbuf_append(h, "}", 1);
    while (!st && (8 + h->len) % 8 != 0)
        st = sp_strbuf_append(h, " ", 1);
    if (st)
        return sp_error_set(err, st, "safetensors writer: %s building the header of %zu tensors",
                            st == SP_ERR_NOMEM ? "out of memory" : sp_status_name(st), w->n);
    if (h->len > ST_MAX_HEADER)
        return sp_error_set(err, SP_ERR_UNSUPPORTED,
                            "safetensors writer: header of %zu bytes exceeds the 100 MiB limit",
                            h->len);
    return SP_OK;
}

sp_status sp_st_writer_to_buffer(const sp_st_writer *w, uint8_t **buf, size_t *len, sp_error *err) {
    if (!w || !buf || !len)
        return sp_error_set(err, SP_ERR_INVALID, "safetensors writer: NULL argument");
    *buf = NULL;
    *len = 0;
    sp_strbuf h;
    sp_strbuf_init(&h);
    sp_status st = build_header(w, &h, err);
    size_t total;
    if (!st && __builtin_add_overflow(8 + h.len, w->data_bytes, &total))
        st = sp_error_set(err, SP_ERR_OVERFLOW, "safetensors writer: file size overflows size_t");
    uint8_t *out = NULL;
    if (!st) {
        out = sp_malloc(total); /* malloc underneath: the caller frees with free() */
        if (!out)
            st = sp_error_set(err, SP_ERR_NOMEM,
                              "safetensors writer: out of memory for a %zu-byte image", total);
    }
    if (!st) {
        sp_store_le64(out, h.len);
        memcpy(out + 8, h.data, h.len);
        size_t o = 8 + h.len;
        for (size_t i = 0; i < w->n; i++) {
            if (w->e[i].nbytes)
                memcpy(out + o, w->e[i].data, w->e[i].nbytes);
            o += w->e[i].nbytes;
        }
        *buf = out;
        *len = total;
    }
    sp_strbuf_free(&h);
    return st;
}

sp_status sp_st_writer_write_file(const sp_st_writer *w, const char *path, sp_error *err) {
    if (!w || !path)
        return sp_error_set(err, SP_ERR_INVALID, "safetensors writer: writer or path is NULL");
    sp_strbuf h;
    sp_strbuf_init(&h);
    sp_status st = build_header(w, &h, err);
    if (st) {
        sp_strbuf_free(&h);
        return sp_error_prefix(err, "%s", path);
    }
    sp_atomic_file f;
    st = sp_atomic_open(&f, path, err);
    if (!st) {
        uint8_t lenbuf[8];
        sp_store_le64(lenbuf, h.len);
        st = sp_atomic_write(&f, lenbuf, sizeof lenbuf, err);
        if (!st)
            st = sp_atomic_write(&f, h.data, h.len, err);
        for (size_t i = 0; i < w->n && !st; i++)
            st = sp_atomic_write(&f, w->e[i].data, w->e[i].nbytes, err);
        if (st)
            sp_atomic_abort(&f);
        else
            st = sp_atomic_commit(&f, err);
    }
    sp_strbuf_free(&h);
    return st;
}
