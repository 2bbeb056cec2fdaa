/* safetensors files: an 8-byte little-endian header length, a JSON header
 * {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}, then the
 * data. The reader validates everything before use: header length and JSON, dtypes, shapes whose
 * element count matches the byte range, offsets inside the file, no overlaps, no overflow. Large
 * files are mapped read-only, not copied. An sp_st_file is immutable after open: concurrent reads
 * are safe. */
#ifndef SCRIPTPRUNE_SAFETENSORS_H
#define SCRIPTPRUNE_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "scriptprune/error.h"
#include "scriptprune/tensor.h"

#include "scriptprune/api.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sp_st_tensor {
    const char *name; /* owned by the file */
    sp_dtype dtype;
    size_t ndim;
    size_t shape[SP_TENSOR_MAX_DIMS];
    size_t elements;     /* product of shape */
    const uint8_t *data; /* points into the mapped file; little-endian, possibly unaligned */
    size_t nbytes;
} sp_st_tensor;

typedef struct sp_st_file sp_st_file;

/* Maps and validates path. On error *out is NULL. Gaps between tensors' byte ranges are
 * accepted; overlaps are not. */
SP_API sp_status sp_st_open(const char *path, sp_st_file **out, sp_error *err);
/* Validates an in-memory image; the buffer is borrowed and must outlive the sp_st_file. */
SP_API sp_status sp_st_open_buffer(const uint8_t *buf, size_t len, const char *name,
                                   sp_st_file **out, sp_error *err);
SP_API void sp_st_close(sp_st_file *f);

/* Number of tensors in the file. */
SP_API size_t sp_st_count(const sp_st_file *f);
/* Tensors in file order of their data offsets; i < sp_st_count. */
SP_API const sp_st_tensor *sp_st_at(const sp_st_file *f, size_t i);
/* NULL when absent. */
SP_API const sp_st_tensor *sp_st_find(const sp_st_file *f, const char *name);
/* Like sp_st_find but fails with SP_ERR_NOT_FOUND naming the tensor and the file. */
SP_API sp_status sp_st_get(const sp_st_file *f, const char *name, const sp_st_tensor **out,
                           sp_error *err);
/* Value of a __metadata__ key, or NULL. */
SP_API const char *sp_st_metadata(const sp_st_file *f, const char *key);
SP_API size_t sp_st_metadata_count(const sp_st_file *f);
SP_API void sp_st_metadata_at(const sp_st_file *f, size_t i, const char **key, const char **value);

/* Copies a float tensor (F32, F16, BF16, F64) of any shape into a new float32 array (caller frees
 * with free()). *elements receives the element count. */
SP_API sp_status sp_st_read_f32(const sp_st_tensor *t, float **out, size_t *elements,
                                sp_error *err);

/* Builds a safetensors image. Tensors are copied on add, so the caller's buffers can be reused.
 * Tensor names must be unique and must not be "__metadata__". Not thread-safe.
 * Names, metadata keys and values must be valid UTF-8, and a metadata key may be set only once
 * (SP_ERR_INVALID otherwise), so the header is always valid JSON. A failed call leaves the
 * writer unchanged. */
typedef struct sp_st_writer sp_st_writer;

SP_API sp_st_writer *sp_st_writer_new(void);
SP_API void sp_st_writer_free(sp_st_writer *w);
SP_API sp_status sp_st_writer_add(sp_st_writer *w, const char *name, sp_dtype dtype, size_t ndim,
                                  const size_t *shape, const void *data, sp_error *err);
/* Adds a float32 source stored as F16 (rounded to nearest even). */
SP_API sp_status sp_st_writer_add_f32_as_f16(sp_st_writer *w, const char *name, size_t ndim,
                                             const size_t *shape, const float *data, sp_error *err);
SP_API sp_status sp_st_writer_metadata(sp_st_writer *w, const char *key, const char *value,
                                       sp_error *err);
/* The whole file image in a new malloc'd buffer (for HTTP replies); caller frees with free(). */
SP_API sp_status sp_st_writer_to_buffer(const sp_st_writer *w, uint8_t **buf, size_t *len,
                                        sp_error *err);
/* Writes to path via a temporary file and rename (no partial files). */
SP_API sp_status sp_st_writer_write_file(const sp_st_writer *w, const char *path, sp_error *err);

#ifdef __cplusplus
}
#endif
#endif
