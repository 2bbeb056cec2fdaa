/* Element types shared by the file formats (.npy, safetensors) and the wire format. */
#ifndef SCRIPTPRUNE_TENSOR_H
#define SCRIPTPRUNE_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "scriptprune/error.h"

#include "scriptprune/api.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sp_dtype {
    SP_DTYPE_F32 = 0,
    SP_DTYPE_F16,
    SP_DTYPE_BF16,
    SP_DTYPE_F64,
    SP_DTYPE_I64,
    SP_DTYPE_I32,
    SP_DTYPE_I16,
    SP_DTYPE_U8,
    SP_DTYPE_COUNT
} sp_dtype;

enum { SP_TENSOR_MAX_DIMS = 8 };

/* Bytes per element (2 for F16/BF16 ...). */
SP_API size_t sp_dtype_size(sp_dtype t);
/* safetensors spelling: "F32", "F16", "BF16", "F64", "I64", "I32", "I16", "U8". */
SP_API const char *sp_dtype_name(sp_dtype t);
/* Parses the safetensors spelling; SP_ERR_UNSUPPORTED (message names the type) otherwise. */
SP_API sp_status sp_dtype_from_name(const char *name, sp_dtype *out, sp_error *err);

/* Product of dims with overflow check (SP_ERR_OVERFLOW). ndim == 0 is a scalar (1 element). */
SP_API sp_status sp_shape_elements(const size_t *shape, size_t ndim, size_t *out, sp_error *err);

/* Converts n elements of type t at src (little-endian, any alignment) to float32 at dst. Supported
 * t: F32, F16, BF16, F64 (rounded), I64/I32/I16/U8 (converted). */
SP_API void sp_convert_to_f32(sp_dtype t, const void *src, float *dst, size_t n);

/* IEEE binary16 and bfloat16 conversions; to-half and to-bf16 round to nearest even, keep NaN a NaN
 * and overflow to infinity. Pure functions, thread-safe. */
SP_API float sp_half_to_float(uint16_t h);
SP_API uint16_t sp_float_to_half(float f);
SP_API float sp_bf16_to_float(uint16_t b);
SP_API uint16_t sp_float_to_bf16(float f);
SP_API void sp_half_to_float_n(const uint16_t *src, float *dst, size_t n);
SP_API void sp_float_to_half_n(const float *src, uint16_t *dst, size_t n);

#ifdef __cplusplus
}
#endif
#endif
