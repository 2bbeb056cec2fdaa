/* Image embeddings in the formats inference engines load (scriptprune/embeds.h). */
#include "scriptprune/embeds.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "bytes_le.h"
#include "crc32.h"
#include "float_store.h"
#include "npy_header.h"

/* ---- torch.save's archive ------------------------------------------------------------------
 *
 * A zip of stored (uncompressed) records under one folder: `<dir>/data.pkl` (a pickle, protocol
 * 2, that rebuilds the tensor from a storage), `<dir>/data/0` (the storage's bytes) and
 * `<dir>/version` ("3\n"). The pickle uses only what torch.load(weights_only=True) accepts:
 * GLOBAL torch._utils._rebuild_tensor_v2 applied to (storage, offset 0, size, stride,
 * requires_grad False, an empty collections.OrderedDict), the storage a persistent id
 * ('storage', torch.FloatStorage or HalfStorage, '0', 'cpu', numel). */

#define TORCH_DIR "embeds"

typedef struct bytes_out {
    uint8_t *p;
    size_t len;
} bytes_out;

static void put(bytes_out *o, const void *data, size_t n) {
    memcpy(o->p + o->len, data, n);
    o->len += n;
}

static void put_byte(bytes_out *o, uint8_t b) {
    o->p[o->len++] = b;
}

static void put_le16(bytes_out *o, uint16_t v) {
    sp_store_le16(o->p + o->len, v);
    o->len += 2;
}

static void put_le32(bytes_out *o, uint32_t v) {
    sp_store_le32(o->p + o->len, v);
    o->len += 4;
}

/* Pickle pieces (protocol 2 opcodes). */
static void pk_global(bytes_out *o, const char *module, const char *name) {
    put_byte(o, 'c');
    put(o, module, strlen(module));
    put_byte(o, '\n');
    put(o, name, strlen(name));
    put_byte(o, '\n');
}

static void pk_str(bytes_out *o, const char *s) {
    put_byte(o, 'X'); /* BINUNICODE */
    put_le32(o, (uint32_t)strlen(s));
    put(o, s, strlen(s));
}

static void pk_int(bytes_out *o, uint32_t v) {
    put_byte(o, 'J'); /* BININT: every size here is < 2^31 */
    put_le32(o, v);
}

/* The pickle of a rows x cols tensor; o has room for 512 bytes. */
static void torch_pickle(bytes_out *o, size_t rows, size_t cols, sp_dtype dtype) {
    put(o, "\x80\x02", 2); /* PROTO 2 */
    pk_global(o, "torch._utils", "_rebuild_tensor_v2");
    put_byte(o, '('); /* MARK: the arguments */
    put_byte(o, '('); /* MARK: the storage's persistent id */
    pk_str(o, "storage");
    pk_global(o, "torch", dtype == SP_DTYPE_F16 ? "HalfStorage" : "FloatStorage");
    pk_str(o, "0");
    pk_str(o, "cpu");
    pk_int(o, (uint32_t)(rows * cols));
    put_byte(o, 't'); /* TUPLE */
    put_byte(o, 'Q'); /* BINPERSID */
    pk_int(o, 0);     /* storage offset */
    pk_int(o, (uint32_t)rows);
    pk_int(o, (uint32_t)cols);
    put_byte(o, 0x86); /* TUPLE2: size */
    pk_int(o, (uint32_t)cols);
    pk_int(o, 1);
    put_byte(o, 0x86); /* TUPLE2: stride */
    put_byte(o, 0x89); /* NEWFALSE: requires_grad */
    pk_global(o, "collections", "OrderedDict");
    put_byte(o, ')'); /* EMPTY_TUPLE */
    put_byte(o, 'R'); /* REDUCE: OrderedDict() */
    put_byte(o, 't'); /* TUPLE */
    put_byte(o, 'R'); /* REDUCE: _rebuild_tensor_v2(*args) */
    put_byte(o, '.'); /* STOP */
}

enum {
    ZIP_LOCAL = 30,              /* local file header without its name */
    ZIP_CENTRAL = 46,            /* central directory entry without its name */
    ZIP_END = 22,                /* end of central directory record */
    ZIP_DOS_DATE = (1 << 5) | 1, /* 1980-01-01: a fixed date keeps the bytes reproducible */
};

typedef struct zip_entry {
    const char *name;
    uint32_t offset, size, crc;
} zip_entry;

/* A stored record: local header, name, data. The data is already at o->p + its final offset
 * (written in place) when in_place is set; else copied from data. */
static void zip_record(bytes_out *o, zip_entry *e, const void *data, bool in_place) {
    e->offset = (uint32_t)o->len;
    put_le32(o, 0x04034b50u);
    put_le16(o, 20); /* version needed */
    put_le16(o, 0);  /* flags */
    put_le16(o, 0);  /* method: stored */
    put_le16(o, 0);  /* time */
    put_le16(o, ZIP_DOS_DATE);
    put_le32(o, e->crc);
    put_le32(o, e->size);
    put_le32(o, e->size);
    put_le16(o, (uint16_t)strlen(e->name));
    put_le16(o, 0); /* extra */
    put(o, e->name, strlen(e->name));
    if (in_place)
        o->len += e->size;
    else
        put(o, data, e->size);
}

static void zip_directory(bytes_out *o, const zip_entry *e, size_t n) {
    uint32_t start = (uint32_t)o->len;
    for (size_t i = 0; i < n; i++) {
        put_le32(o, 0x02014b50u);
        put_le16(o, 20); /* made by */
        put_le16(o, 20); /* needed */
        put_le16(o, 0);
        put_le16(o, 0);
        put_le16(o, 0);
        put_le16(o, ZIP_DOS_DATE);
        put_le32(o, e[i].crc);
        put_le32(o, e[i].size);
        put_le32(o, e[i].size);
        put_le16(o, (uint16_t)strlen(e[i].name));
        put_le16(o, 0); /* extra */
        put_le16(o, 0); /* comment */
        put_le16(o, 0); /* disk */
        put_le16(o, 0); /* internal attributes */
        put_le32(o, 0); /* external attributes */
        put_le32(o, e[i].offset);
        put(o, e[i].name, strlen(e[i].name));
    }
    uint32_t size = (uint32_t)o->len - start;
    put_le32(o, 0x06054b50u);
    put_le16(o, 0);
    put_le16(o, 0);
    put_le16(o, (uint16_t)n);
    put_le16(o, (uint16_t)n);
    put_le32(o, size);
    put_le32(o, start);
    put_le16(o, 0); /* comment */
}

static sp_status encode_torch(const float *data, size_t rows, size_t cols, size_t value_bytes,
                              sp_dtype dtype, uint8_t **out, size_t *len, sp_error *err) {
    uint8_t pickle_buf[512];
    bytes_out pk = {pickle_buf, 0};
    torch_pickle(&pk, rows, cols, dtype);
    zip_entry e[3] = {{TORCH_DIR "/data.pkl", 0, (uint32_t)pk.len, 0},
                      {TORCH_DIR "/data/0", 0, (uint32_t)value_bytes, 0},
                      {TORCH_DIR "/version", 0, 2, 0}};
    size_t names = 0;
    for (size_t i = 0; i < 3; i++)
        names += strlen(e[i].name);
    size_t total = 3 * (ZIP_LOCAL + ZIP_CENTRAL) + 2 * names + ZIP_END + pk.len + 2 + value_bytes;
    if (total > UINT32_MAX)
        return sp_error_set(err, SP_ERR_OVERFLOW,
                            "embeddings: %zu x %zu values do not fit a zip without zip64", rows,
                            cols);
    uint8_t *buf = sp_malloc(total);
    if (!buf)
        return sp_error_set(err, SP_ERR_NOMEM, "embeddings: out of memory (%zu bytes)", total);
    bytes_out o = {buf, 0};
    e[0].crc = sp_crc32_update(0, pickle_buf, pk.len);
    zip_record(&o, &e[0], pickle_buf, false);
    /* The values go straight to their place after the second record's header. */
    uint8_t *values = buf + o.len + ZIP_LOCAL + strlen(e[1].name);
    sp_store_floats_le(values, data, rows * cols, dtype);
    e[1].crc = sp_crc32_update(0, values, value_bytes);
    zip_record(&o, &e[1], NULL, true);
    e[2].crc = sp_crc32_update(0, "3\n", 2);
    zip_record(&o, &e[2], "3\n", false);
    zip_directory(&o, e, 3);
    *out = buf;
    *len = o.len;
    return SP_OK;
}

static sp_status encode_npy(const float *data, size_t rows, size_t cols, size_t value_bytes,
                            sp_dtype dtype, uint8_t **out, size_t *len, sp_error *err) {
    uint8_t head[SP_NPY_HEADER_MAX];
    size_t hl = sp_npy_header(head, rows, cols, 2, dtype);
    uint8_t *buf = sp_malloc(hl + value_bytes);
    if (!buf)
        return sp_error_set(err, SP_ERR_NOMEM, "embeddings: out of memory (%zu bytes)",
                            hl + value_bytes);
    memcpy(buf, head, hl);
    sp_store_floats_le(buf + hl, data, rows * cols, dtype);
    *out = buf;
    *len = hl + value_bytes;
    return SP_OK;
}

sp_status sp_embeds_encode(sp_embeds_format fmt, const float *data, size_t rows, size_t cols,
                           sp_dtype dtype, uint8_t **out, size_t *len, sp_error *err) {
    *out = NULL;
    *len = 0;
    if (!data || rows == 0 || cols == 0)
        return sp_error_set(err, SP_ERR_INVALID,
                            "embeddings: need a non-empty matrix, not %zu x %zu", rows, cols);
    if (dtype != SP_DTYPE_F32 && dtype != SP_DTYPE_F16)
        return sp_error_set(err, SP_ERR_UNSUPPORTED,
                            "embeddings: dtype %s is not supported (F32 or F16)",
                            sp_dtype_name(dtype));
    size_t count, bytes;
    if (!sp_mul_size(rows, cols, &count) || !sp_mul_size(count, sp_dtype_size(dtype), &bytes) ||
        count > INT32_MAX || bytes > UINT32_MAX - 4096)
        return sp_error_set(err, SP_ERR_OVERFLOW, "embeddings: %zu x %zu values are too many", rows,
                            cols);
    if (fmt == SP_EMBEDS_NPY)
        return encode_npy(data, rows, cols, bytes, dtype, out, len, err);
    if (fmt == SP_EMBEDS_TORCH)
        return encode_torch(data, rows, cols, bytes, dtype, out, len, err);
    return sp_error_set(err, SP_ERR_INVALID, "embeddings: unknown format %d", (int)fmt);
}

void sp_embeds_free(uint8_t *bytes) {
    sp_free(bytes);
}

static const char *const format_names[] = {"npy", "torch"};

const char *sp_embeds_format_name(sp_embeds_format f) {
    return (unsigned)f < 2 ? format_names[f] : "?";
}

sp_status sp_embeds_format_from_name(const char *name, sp_embeds_format *out, sp_error *err) {
    for (int i = 0; i < 2; i++)
        if (name && strcmp(name, format_names[i]) == 0) {
            *out = (sp_embeds_format)i;
            return SP_OK;
        }
    return sp_error_set(err, SP_ERR_INVALID, "embeddings format '%s': expected npy or torch",
                        name ? name : "(null)");
}
