/* Four-float vectors through the GCC/clang generic vector extension. The compiler lowers them to
 * SSE on x86-64, NEON on arm64 and scalar code elsewhere; each operation is the elementwise IEEE
 * operation, so results do not depend on the target (unlike BLAS kernels, whose blocking and FMA
 * use differ between CPUs). Used where the encoders need speed and reproducible bytes. */
#ifndef SP_ENCODE_VEC_H
#define SP_ENCODE_VEC_H

#include <stdint.h>
#include <string.h>

typedef float v4f __attribute__((vector_size(16)));

static inline v4f v4_load(const float *p) {
    v4f v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void v4_store(float *p, v4f v) {
    memcpy(p, &v, sizeof v);
}

static inline v4f v4_splat(float x) {
    return (v4f){x, x, x, x};
}

#endif
