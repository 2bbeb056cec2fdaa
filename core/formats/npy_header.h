/* The .npy header NumPy writes (version 1.0, data aligned to 64 bytes), shared by the file writer
 * (npy.c) and the in-memory embeddings (embeds.c). */
#ifndef SP_NPY_HEADER_H
#define SP_NPY_HEADER_H

#include <stddef.h>
#include <stdint.h>

#include "scriptprune/tensor.h"

enum { SP_NPY_HEADER_MAX = 256 };

/* Writes the header of a C-order little-endian F32 or F16 array, shape (rows, cols) for ndim 2
 * or (cols,) for ndim 1, into head; returns its length (a multiple of 64). */
size_t sp_npy_header(uint8_t head[SP_NPY_HEADER_MAX], size_t rows, size_t cols, int ndim,
                     sp_dtype dtype);

#endif
