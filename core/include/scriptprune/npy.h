/* NumPy .npy files (format versions 1.0, 2.0 and 3.0): float32 or float16, little-endian, C order,
 * 1-D or 2-D. Anything else (Fortran order, big-endian, other dtypes, more dims, truncated data)
 * is rejected with a message naming the file and the reason. Thread-safe on distinct arguments. */
#ifndef SCRIPTPRUNE_NPY_H
#define SCRIPTPRUNE_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "scriptprune/error.h"
#include "scriptprune/tensor.h"

#include "scriptprune/api.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A float32 matrix read from a file. A 1-D array of length n reads as 1 x n (ndim says which it
 * was). A 2-D array may have zero rows (an empty query, say); data is then NULL. Owned by the
 * caller: release data with sp_matrix_free. */
typedef struct sp_matrix {
    float *data;
    size_t rows;
    size_t cols;
    int ndim; /* 1 or 2: the array's rank in the file */
} sp_matrix;

SP_API void sp_matrix_free(sp_matrix *m);

/* Reads path into out, converting float16 to float32. Shape (0, D) with D >= 1 reads as 0 rows
 * (callers that need rows say so); (N, 0) and (0,) are rejected (SP_ERR_UNSUPPORTED, "has
 * zero-width rows"); so are data bytes beyond those the shape needs. The file
 * is mapped, not read, and must not be truncated while being read. */
SP_API sp_status sp_npy_read(const char *path, sp_matrix *out, sp_error *err);
/* Parses an in-memory .npy image (the same rules; `name` is used in messages). */
SP_API sp_status sp_npy_parse(const uint8_t *buf, size_t len, const char *name, sp_matrix *out,
                              sp_error *err);

/* Writes rows x cols floats (ndim 2; ndim 1 writes shape (cols,) and requires rows == 1) as dtype
 * F32 or F16. The file is written to a temporary name and renamed, so readers never see a partial
 * file. */
SP_API sp_status sp_npy_write(const char *path, const float *data, size_t rows, size_t cols,
                              int ndim, sp_dtype dtype, sp_error *err);

#ifdef __cplusplus
}
#endif
#endif
