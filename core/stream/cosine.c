/* Cosines of token rows with level-1 BLAS (cosine.h). */
#include <cblas.h>
#include <string.h>

#include "cosine.h"

float sp_stream_dot(const float *a, const float *b, size_t d) {
    /* Dot products between one token and a handful of scattered references: too few and too
     * scattered to batch into a GEMM, so a level-1 BLAS call each. */
    return cblas_sdot((int)d, a, 1, b, 1);
}

void sp_stream_normalize(const float *x, size_t n, size_t d, float *out) {
    for (size_t i = 0; i < n; i++) {
        float nrm = cblas_snrm2((int)d, x + i * d, 1);
        float inv = 1.0f / (nrm > 1e-12f ? nrm : 1e-12f);
        if (out != x)
            memcpy(out + i * d, x + i * d, d * sizeof(float));
        cblas_sscal((int)d, inv, out + i * d, 1);
    }
}
