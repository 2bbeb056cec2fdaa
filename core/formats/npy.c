/* NumPy .npy reader and writer. The header is a Python dict literal such as
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (576, 1024), }
 * padded with spaces and a newline. It is parsed as the small literal grammar it is (keys in any
 * order, either quote style, optional trailing commas, Python 2 "L" suffixes) rather than matched
 * as a fixed string, so files from any NumPy version and hand-written ones read the same. */
#include "scriptprune/npy.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "bytes_le.h"
#include "npy_header.h"
#include "fileio.h"
#include "float_store.h"
#include "quote.h"

static const uint8_t npy_magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

enum { MAX_HEADER_DIMS = 32, DESCR_MAX = 64 };

typedef struct npy_header {
    char descr[DESCR_MAX];
    size_t descr_len; /* the full length, possibly more than was kept */
    int fortran;
    size_t ndim; /* all dims are counted; the first MAX_HEADER_DIMS are kept */
    size_t shape[MAX_HEADER_DIMS];
    unsigned seen; /* bit per key, to find missing and duplicate keys */
} npy_header;

enum { KEY_DESCR = 1, KEY_FORTRAN = 2, KEY_SHAPE = 4 };

typedef struct hparser {
    const uint8_t *s;
    size_t len;
    size_t pos;
    size_t base; /* file offset of s[0], for messages */
    const char *name;
    sp_error *err;
} hparser;

void sp_matrix_free(sp_matrix *m) {
    if (!m)
        return;
    sp_free(m->data);
    m->data = NULL;
    m->rows = 0;
    m->cols = 0;
}

/* ---- header dict ---- */

__attribute__((format(printf, 3, 4))) static sp_status hfail(hparser *h, sp_status st,
                                                             const char *fmt, ...) {
    char what[SP_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return sp_error_set(h->err, st, "%s: header byte %zu: %s", h->name, h->base + h->pos, what);
}

static const char *found(const hparser *h, char *buf, size_t cap) {
    if (h->pos >= h->len)
        return "the end of the header";
    return sp_describe_byte(buf, cap, (unsigned char)h->s[h->pos]);
}

static sp_status expected(hparser *h, const char *what) {
    char buf[16];
    return hfail(h, SP_ERR_FORMAT, "expected %s, found %s", what, found(h, buf, sizeof buf));
}

static void hskip(hparser *h) {
    while (h->pos < h->len) {
        uint8_t c = h->s[h->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        h->pos++;
    }
}

static int hat(const hparser *h, uint8_t c) {
    return h->pos < h->len && h->s[h->pos] == c;
}

/* A quoted Python string without escapes; *str points into the header. */
static sp_status hstring(hparser *h, const char **str, size_t *len) {
    if (!hat(h, '\'') && !hat(h, '"'))
        return expected(h, "a quoted string");
    uint8_t q = h->s[h->pos];
    size_t start = h->pos + 1;
    size_t i = start;
    while (i < h->len && h->s[i] != q) {
        if (h->s[i] == '\\') {
            h->pos = i;
            return hfail(h, SP_ERR_FORMAT, "escape sequences in header strings are not supported");
        }
        i++;
    }
    if (i >= h->len)
        return hfail(h, SP_ERR_FORMAT, "string is not terminated");
    *str = (const char *)h->s + start;
    *len = i - start;
    h->pos = i + 1;
    return SP_OK;
}

static int word_at(const hparser *h, const char *w) {
    size_t n = strlen(w);
    return h->len - h->pos >= n && memcmp(h->s + h->pos, w, n) == 0;
}

static sp_status hbool(hparser *h, int *out) {
    if (word_at(h, "True")) {
        *out = 1;
        h->pos += 4;
    } else if (word_at(h, "False")) {
        *out = 0;
        h->pos += 5;
    } else {
        return expected(h, "True or False for 'fortran_order'");
    }
    return SP_OK;
}

static sp_status hint(hparser *h, size_t *out) {
    if (hat(h, '-'))
        return hfail(h, SP_ERR_FORMAT, "shape dimensions must not be negative");
    if (h->pos >= h->len || h->s[h->pos] < '0' || h->s[h->pos] > '9')
        return expected(h, "a non-negative integer in 'shape'");
    size_t start = h->pos;
    size_t v = 0;
    while (h->pos < h->len && h->s[h->pos] >= '0' && h->s[h->pos] <= '9') {
        unsigned d = (unsigned)(h->s[h->pos] - '0');
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, d, &v)) {
            h->pos = start;
            return hfail(h, SP_ERR_OVERFLOW, "shape dimension does not fit in size_t");
        }
        h->pos++;
    }
    if (h->pos - start > 1 && h->s[start] == '0') {
        h->pos = start;
        return hfail(h, SP_ERR_FORMAT, "shape dimension has a leading zero");
    }
    if (hat(h, 'L') || hat(h, 'l')) /* Python 2 long, written by old NumPy versions */
        h->pos++;
    *out = v;
    return SP_OK;
}

static sp_status htuple(hparser *h, npy_header *hd) {
    if (!hat(h, '('))
        return expected(h, "a tuple such as (rows, cols) for 'shape'");
    size_t open = h->pos;
    h->pos++;
    hskip(h);
    hd->ndim = 0;
    int comma = 0;
    while (!hat(h, ')')) {
        size_t v = 0;
        sp_status st = hint(h, &v);
        if (st)
            return st;
        if (hd->ndim < MAX_HEADER_DIMS)
            hd->shape[hd->ndim] = v;
        hd->ndim++;
        hskip(h);
        if (hat(h, ',')) {
            comma = 1;
            h->pos++;
            hskip(h);
        } else if (!hat(h, ')')) {
            return expected(h, "',' or ')' in 'shape'");
        }
    }
    if (hd->ndim == 1 && !comma) {
        h->pos = open;
        return hfail(h, SP_ERR_FORMAT,
                     "'shape' is a parenthesised integer, not a tuple (a 1-tuple is written (n,))");
    }
    h->pos++;
    return SP_OK;
}

static sp_status hvalue(hparser *h, const char *key, size_t klen, npy_header *hd) {
    char q[SP_QUOTE_MAX];
    unsigned bit;
    if (klen == 5 && memcmp(key, "descr", 5) == 0)
        bit = KEY_DESCR;
    else if (klen == 13 && memcmp(key, "fortran_order", 13) == 0)
        bit = KEY_FORTRAN;
    else if (klen == 5 && memcmp(key, "shape", 5) == 0)
        bit = KEY_SHAPE;
    else
        return hfail(h, SP_ERR_FORMAT,
                     "unexpected key '%s' (a .npy header has 'descr', 'fortran_order', 'shape')",
                     sp_quote(q, sizeof q, key, klen));
    if (hd->seen & bit)
        return hfail(h, SP_ERR_FORMAT, "duplicate key '%s'", sp_quote(q, sizeof q, key, klen));
    hd->seen |= bit;
    if (bit == KEY_FORTRAN)
        return hbool(h, &hd->fortran);
    if (bit == KEY_SHAPE)
        return htuple(h, hd);
    if (hat(h, '['))
        return hfail(h, SP_ERR_UNSUPPORTED,
                     "structured dtypes (a list for 'descr') are not supported; need '<f4' or "
                     "'<f2'");
    const char *s;
    size_t n;
    sp_status st = hstring(h, &s, &n);
    if (st)
        return st;
    hd->descr_len = n;
    size_t keep = n < DESCR_MAX - 1 ? n : DESCR_MAX - 1;
    memcpy(hd->descr, s, keep);
    hd->descr[keep] = '\0';
    return SP_OK;
}

static sp_status parse_header(hparser *h, npy_header *hd) {
    memset(hd, 0, sizeof *hd);
    hskip(h);
    if (!hat(h, '{'))
        return expected(h, "'{' opening the header dict");
    h->pos++;
    for (;;) {
        hskip(h);
        if (hat(h, '}'))
            break;
        const char *key;
        size_t klen;
        sp_status st = hstring(h, &key, &klen);
        if (st)
            return st;
        hskip(h);
        if (!hat(h, ':'))
            return expected(h, "':' after the key");
        h->pos++;
        hskip(h);
        if ((st = hvalue(h, key, klen, hd)))
            return st;
        hskip(h);
        if (hat(h, ','))
            h->pos++;
        else if (!hat(h, '}'))
            return expected(h, "',' or '}' in the header dict");
    }
    h->pos++;
    hskip(h);
    if (h->pos != h->len)
        return hfail(h, SP_ERR_FORMAT, "unexpected bytes after the header dict");
    static const struct {
        unsigned bit;
        const char *name;
    } keys[] = {{KEY_DESCR, "descr"}, {KEY_FORTRAN, "fortran_order"}, {KEY_SHAPE, "shape"}};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (!(hd->seen & keys[i].bit))
            return sp_error_set(h->err, SP_ERR_FORMAT, "%s: the header dict has no '%s' key",
                                h->name, keys[i].name);
    }
    return SP_OK;
}

/* "(2, 3)" or "(5,)" for messages. */
static const char *shape_str(const npy_header *hd, char *buf, size_t cap) {
    size_t o = (size_t)snprintf(buf, cap, "(");
    size_t shown = hd->ndim < MAX_HEADER_DIMS ? hd->ndim : MAX_HEADER_DIMS;
    for (size_t i = 0; i < shown && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, i ? ", %zu" : "%zu", hd->shape[i]);
    if (o < cap)
        snprintf(buf + o, cap - o, hd->ndim == 1 ? ",)" : hd->ndim > shown ? ", ...)" : ")");
    return buf;
}

/* ---- reading ---- */

static sp_status check_descr(const npy_header *hd, const char *name, sp_dtype *dtype,
                             sp_error *err) {
    char q[SP_QUOTE_MAX];
    const char *d = hd->descr;
    if (hd->descr_len == 3 && strcmp(d, "<f4") == 0) {
        *dtype = SP_DTYPE_F32;
        return SP_OK;
    }
    if (hd->descr_len == 3 && strcmp(d, "<f2") == 0) {
        *dtype = SP_DTYPE_F16;
        return SP_OK;
    }
    const char *why = "only float32 '<f4' and float16 '<f2' are supported";
    if (hd->descr_len == 3 && d[0] == '>' && (strcmp(d + 1, "f4") == 0 || strcmp(d + 1, "f2") == 0))
        why = "big-endian data is not supported; save with dtype '<f4' or '<f2'";
    return sp_error_set(err, SP_ERR_UNSUPPORTED, "%s: dtype '%s': %s", name,
                        sp_quote(q, sizeof q, hd->descr, hd->descr_len), why);
}

sp_status sp_npy_parse(const uint8_t *buf, size_t len, const char *name, sp_matrix *out,
                       sp_error *err) {
    if (!name)
        name = "<npy>";
    if (!out)
        return sp_error_set(err, SP_ERR_INVALID, "%s: output matrix is NULL", name);
    out->data = NULL;
    out->rows = 0;
    out->cols = 0;
    out->ndim = 0;
    if (!buf && len)
        return sp_error_set(err, SP_ERR_INVALID, "%s: buffer is NULL", name);
    if (len < 10 || memcmp(buf, npy_magic, sizeof npy_magic) != 0) {
        if (len >= sizeof npy_magic && memcmp(buf, npy_magic, sizeof npy_magic) != 0)
            return sp_error_set(err, SP_ERR_FORMAT,
                                "%s: not a .npy file (bytes 0-5 are not the \\x93NUMPY magic)",
                                name);
        return sp_error_set(err, SP_ERR_FORMAT,
                            "%s: file is %zu bytes, too short for a .npy preamble (10 bytes)", name,
                            len);
    }
    unsigned major = buf[6], minor = buf[7];
    if (major < 1 || major > 3 || minor != 0)
        return sp_error_set(err, SP_ERR_UNSUPPORTED,
                            "%s: .npy format version %u.%u at byte 6 is not supported (1.0, 2.0 "
                            "and 3.0 are)",
                            name, major, minor);
    size_t prefix = major == 1 ? 10 : 12;
    if (len < prefix)
        return sp_error_set(err, SP_ERR_FORMAT,
                            "%s: file is %zu bytes, too short for the version %u.0 header length",
                            name, len, major);
    size_t hlen = major == 1 ? sp_load_le16(buf + 8) : sp_load_le32(buf + 8);
    if (hlen > len - prefix)
        return sp_error_set(err, SP_ERR_FORMAT,
                            "%s: header of %zu bytes at byte %zu runs past the end of the file "
                            "(%zu bytes)",
                            name, hlen, prefix, len);
    npy_header hd;
    hparser h = {buf + prefix, hlen, 0, prefix, name, err};
    sp_status st = parse_header(&h, &hd);
    if (st)
        return st;
    sp_dtype dtype = SP_DTYPE_F32; /* set by check_descr; initialised for the compiler */
    if ((st = check_descr(&hd, name, &dtype, err)))
        return st;
    char sh[128];
    if (hd.fortran)
        return sp_error_set(err, SP_ERR_UNSUPPORTED,
                            "%s: Fortran-order (column-major) arrays are not supported; save a "
                            "C-contiguous array (np.ascontiguousarray)",
                            name);
    if (hd.ndim == 0 || hd.ndim > 2)
        return sp_error_set(err, SP_ERR_UNSUPPORTED,
                            "%s: shape %s has %zu dimensions; only 1-D and 2-D arrays are "
                            "supported",
                            name, shape_str(&hd, sh, sizeof sh), hd.ndim);
    size_t rows = hd.ndim == 2 ? hd.shape[0] : 1;
    size_t cols = hd.ndim == 2 ? hd.shape[1] : hd.shape[0];
    if (cols == 0)
        return sp_error_set(err, SP_ERR_UNSUPPORTED, "%s: shape %s has zero-width rows", name,
                            shape_str(&hd, sh, sizeof sh));
    size_t count, bytes, fbytes;
    if (!sp_mul_size(rows, cols, &count) || !sp_mul_size(count, sp_dtype_size(dtype), &bytes) ||
        !sp_mul_size(count, sizeof(float), &fbytes))
        return sp_error_set(err, SP_ERR_OVERFLOW, "%s: shape %s is too large to address", name,
                            shape_str(&hd, sh, sizeof sh));
    size_t data_off = prefix + hlen;
    size_t avail = len - data_off;
    if (avail < bytes)
        return sp_error_set(err, SP_ERR_FORMAT,
                            "%s: data is truncated: shape %s of %s needs %zu bytes from byte %zu, "
                            "only %zu are present",
                            name, shape_str(&hd, sh, sizeof sh), hd.descr, bytes, data_off, avail);
    if (avail > bytes)
        return sp_error_set(err, SP_ERR_FORMAT,
                            "%s: data size mismatch: shape %s of %s needs %zu bytes from byte %zu, "
                            "but %zu follow the header",
                            name, shape_str(&hd, sh, sizeof sh), hd.descr, bytes, data_off, avail);
    out->ndim = (int)hd.ndim;
    out->cols = cols;
    if (rows == 0)
        return SP_OK; /* an empty (0, D) array: no data to hold */
    float *data = sp_malloc(fbytes);
    if (!data)
        return sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory for %zu x %zu floats", name, rows,
                            cols);
    sp_convert_to_f32(dtype, buf + data_off, data, count);
    out->data = data;
    out->rows = rows;
    return SP_OK;
}

sp_status sp_npy_read(const char *path, sp_matrix *out, sp_error *err) {
    if (out) {
        out->data = NULL;
        out->rows = out->cols = 0;
        out->ndim = 0;
    }
    sp_file_map m;
    sp_status st = sp_file_map_open(path, &m, err);
    if (st)
        return st;
    st = sp_npy_parse(m.data, m.len, path, out, err);
    sp_file_map_close(&m);
    return st;
}

/* ---- writing ---- */

size_t sp_npy_header(uint8_t head[SP_NPY_HEADER_MAX], size_t rows, size_t cols, int ndim,
                     sp_dtype dtype) {
    /* Version 1.0: magic, version, u16 header length, dict, spaces, '\n'; the data then starts at
     * a multiple of 64 bytes, as NumPy writes it. The dict is short, so it always fits v1.0. */
    char dict[160];
    const char *descr = dtype == SP_DTYPE_F32 ? "<f4" : "<f2";
    int dl = ndim == 2 ? snprintf(dict, sizeof dict,
                                  "{'descr': '%s', 'fortran_order': False, 'shape': (%zu, %zu), }",
                                  descr, rows, cols)
                       : snprintf(dict, sizeof dict,
                                  "{'descr': '%s', 'fortran_order': False, 'shape': (%zu,), }",
                                  descr, cols);
    size_t total = (10 + (size_t)dl + 1 + 63) / 64 * 64;
    memcpy(head, npy_magic, sizeof npy_magic);
    head[6] = 1;
    head[7] = 0;
    sp_store_le16(head + 8, (uint16_t)(total - 10));
    memcpy(head + 10, dict, (size_t)dl);
    memset(head + 10 + dl, ' ', total - 10 - (size_t)dl - 1);
    head[total - 1] = '\n';
    return total;
}

sp_status sp_npy_write(const char *path, const float *data, size_t rows, size_t cols, int ndim,
                       sp_dtype dtype, sp_error *err) {
    const char *name = path ? path : "<npy>";
    if (!path || !data)
        return sp_error_set(err, SP_ERR_INVALID, "%s: path or data is NULL", name);
    if (ndim != 1 && ndim != 2)
        return sp_error_set(err, SP_ERR_INVALID, "%s: ndim must be 1 or 2, not %d", name, ndim);
    if (ndim == 1 && rows != 1)
        return sp_error_set(err, SP_ERR_INVALID, "%s: a 1-D array needs rows == 1, not %zu", name,
                            rows);
    if (rows == 0 || cols == 0)
        return sp_error_set(err, SP_ERR_INVALID, "%s: cannot write an empty %zu x %zu array", name,
                            rows, cols);
    if (dtype != SP_DTYPE_F32 && dtype != SP_DTYPE_F16)
        return sp_error_set(err, SP_ERR_UNSUPPORTED,
                            "%s: .npy output dtype %s is not supported (F32 or F16)", name,
                            sp_dtype_name(dtype));
    size_t count, bytes;
    if (!sp_mul_size(rows, cols, &count) || !sp_mul_size(count, sp_dtype_size(dtype), &bytes))
        return sp_error_set(err, SP_ERR_OVERFLOW, "%s: %zu x %zu array is too large", name, rows,
                            cols);

    uint8_t head[SP_NPY_HEADER_MAX];
    size_t total = sp_npy_header(head, rows, cols, ndim, dtype);

    sp_atomic_file f;
    sp_status st = sp_atomic_open(&f, path, err);
    if (st)
        return st;
    st = sp_atomic_write(&f, head, total, err);
    /* Convert to little-endian bytes in chunks: no allocation, and any host byte order. */
    uint8_t chunk[16384];
    size_t esize = sp_dtype_size(dtype);
    size_t per = sizeof chunk / esize;
    for (size_t i = 0; i < count && st == SP_OK; i += per) {
        size_t n = count - i < per ? count - i : per;
        sp_store_floats_le(chunk, data + i, n, dtype);
        st = sp_atomic_write(&f, chunk, n * esize, err);
    }
    if (st) {
        sp_atomic_abort(&f);
        return st;
    }
    return sp_atomic_commit(&f, err);
}
