/* Cosines of token rows (cosine.c): rows normalised once, then a cosine is their dot product.
 * The temporal graph, the motion estimate and the re-selection all compare tokens this way. */
#ifndef SP_STREAM_COSINE_H
#define SP_STREAM_COSINE_H

#include <stddef.h>

/* Cosine (dot of normalised rows) of two rows of width d. */
float sp_stream_dot(const float *a, const float *b, size_t d);

/* out[i] = x[i] / max(|x[i]|, 1e-12) for n rows of width d; out may equal x. */
void sp_stream_normalize(const float *x, size_t n, size_t d, float *out);

#endif
