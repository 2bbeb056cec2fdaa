/* Float values stored little-endian as F32 or F16, the way every writer of core lays out token
 * values (wire packets, .npy, safetensors, embeddings), any host byte order. */
#ifndef SP_FLOAT_STORE_H
#define SP_FLOAT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "scriptprune/tensor.h"

/* Writes n values of src to dst (n * 4 or n * 2 bytes, any alignment) as dtype, SP_DTYPE_F32 or
 * SP_DTYPE_F16 (rounded to nearest even, through the bulk converter); returns the end. */
uint8_t *sp_store_floats_le(uint8_t *dst, const float *src, size_t n, sp_dtype dtype);

#endif
