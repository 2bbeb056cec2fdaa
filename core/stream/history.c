/* The history store: candidates that left the window, kept for reselect() under a hard byte bound.
 * Records have a fixed size (a 40-byte header, then the token and embedding values as float16 or
 * float32), live in a ring, and the ring is cut into blocks allocated on first use so that a
 * stream that never fills its history never pays for it. The block table and every block are
 * counted in `bytes`, which never exceeds `bound`: the number of blocks is derived from the bound
 * up front, and a full ring evicts its oldest record. */
#include <math.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "alloc.h"
#include "cpu_features.h"
#include "history.h"

/* Records per block: blocks of about 1 MiB keep allocation counts low without making a small
 * bound round down to nothing. */
#define SP_HIST_BLOCK_TARGET ((size_t)1 << 20)
#define SP_HALF_MAX 65504.0f

_Static_assert(sizeof(sp_hist_rec) == 40, "history record header is 40 bytes");

static size_t value_size(sp_dtype t) {
    return t == SP_DTYPE_F16 ? 2 : 4;
}

sp_status sp_history_init(sp_history *h, size_t bound, size_t d, size_t e, sp_dtype dtype,
                          sp_error *err) {
    memset(h, 0, sizeof *h);
    h->bound = bound;
    h->d = d;
    h->e = e;
    h->dtype = dtype;
    h->f16c = sp_cpu_has_f16c();
    size_t vals = (d + e) * value_size(dtype);
    if (vals / value_size(dtype) != d + e || vals > SIZE_MAX / 2)
        return sp_error_set(err, SP_ERR_OVERFLOW, "history record of %zu values is too large",
                            d + e);
    h->rec = (sizeof(sp_hist_rec) + vals + 7) & ~(size_t)7;
    size_t ptr = sizeof(uint8_t *);
    /* Full blocks of ~1 MiB when the bound allows several; else one block as large as fits. */
    size_t per = SP_HIST_BLOCK_TARGET / h->rec;
    if (per == 0)
        per = 1;
    size_t blk = per * h->rec;
    size_t nb = bound / (blk + ptr);
    if (nb < 2) {
        nb = bound >= h->rec + ptr ? 1 : 0;
        per = nb ? (bound - ptr) / h->rec : 0;
    }
    h->per_block = per;
    h->max_blocks = nb;
    h->capacity = per * nb;
    if (nb) {
        h->blocks = sp_calloc(nb, ptr);
        if (!h->blocks)
            return sp_error_set(err, SP_ERR_NOMEM, "history: out of memory for the block table");
        h->bytes = nb * ptr;
    }
    return SP_OK;
}

void sp_history_free(sp_history *h) {
    if (h->blocks)
        for (size_t i = 0; i < h->max_blocks; i++)
            sp_free(h->blocks[i]);
    sp_free(h->blocks);
    memset(h, 0, sizeof *h);
}

static uint8_t *slot_ptr(const sp_history *h, size_t ring) {
    return h->blocks[ring / h->per_block] + (ring % h->per_block) * h->rec;
}

static void store_values(sp_history *h, uint8_t *dst, const float *src, size_t n) {
    if (h->dtype == SP_DTYPE_F32) {
        memcpy(dst, src, n * sizeof(float));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        float v = src[i];
        /* Saturate instead of turning large values into infinities; counted in `clamped`. */
        if (v > SP_HALF_MAX) {
            v = SP_HALF_MAX;
            h->clamped++;
        } else if (v < -SP_HALF_MAX) {
            v = -SP_HALF_MAX;
            h->clamped++;
        }
        uint16_t b = sp_float_to_half(v);
        memcpy(dst + 2 * i, &b, 2);
    }
}

/* Float16 to float32, eight at a time with SSE2 (every x86-64 has it) by the same exact method
 * as sp_half_bits_to_float, the rest one at a time. reselect decodes every history entry of a
 * range when it ranks them for a query: this is its inner loop. */
static void decode_f16(const uint8_t *src, float *dst, size_t n) {
    size_t i = 0;
#if defined(__SSE2__)
    const __m128i low15 = _mm_set1_epi32(0x7fff), signbit = _mm_set1_epi32(0x8000);
    const __m128 scale = _mm_set1_ps(0x1p112f);
    const __m128i zero = _mm_setzero_si128();
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm_loadu_si128((const __m128i *)(const void *)(src + 2 * i));
        __m128i lo = _mm_unpacklo_epi16(h, zero), hi = _mm_unpackhi_epi16(h, zero);
        __m128 flo =
            _mm_mul_ps(_mm_castsi128_ps(_mm_slli_epi32(_mm_and_si128(lo, low15), 13)), scale);
        __m128 fhi =
            _mm_mul_ps(_mm_castsi128_ps(_mm_slli_epi32(_mm_and_si128(hi, low15), 13)), scale);
        flo = _mm_or_ps(flo, _mm_castsi128_ps(_mm_slli_epi32(_mm_and_si128(lo, signbit), 16)));
        fhi = _mm_or_ps(fhi, _mm_castsi128_ps(_mm_slli_epi32(_mm_and_si128(hi, signbit), 16)));
        _mm_storeu_ps(dst + i, flo);
        _mm_storeu_ps(dst + i + 4, fhi);
    }
#endif
    for (; i < n; i++) {
        uint16_t b;
        memcpy(&b, src + 2 * i, 2);
        dst[i] = sp_half_bits_to_float(b);
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
#define SP_HAVE_F16C_PATH 1
/* The same values with the F16C instruction (exact for every float16), eight per instruction
 * and without the SSE2 path's bit arithmetic: reselect decodes the shortlist's rows with it. */
__attribute__((target("avx,f16c"))) static void decode_f16c(const uint8_t *src, float *dst,
                                                            size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(
                                      (const __m128i *)(const void *)(src + 2 * i))));
    decode_f16(src + 2 * i, dst + i, n - i);
}
#endif

static void load_values(const sp_history *h, const uint8_t *src, float *dst, size_t n) {
    if (h->dtype == SP_DTYPE_F32)
        memcpy(dst, src, n * sizeof(float));
#ifdef SP_HAVE_F16C_PATH
    else if (h->f16c)
        decode_f16c(src, dst, n);
#endif
    else
        decode_f16(src, dst, n);
}

sp_status sp_history_put(sp_history *h, const sp_hist_rec *meta, const float *tok, const float *emb,
                         sp_error *err) {
    if (h->capacity == 0) {
        h->evicted++;
        return SP_OK;
    }
    if (h->count == h->capacity) {
        h->head = (h->head + 1) % h->capacity;
        h->count--;
        h->evicted++;
    }
    size_t ring = (h->head + h->count) % h->capacity;
    size_t b = ring / h->per_block;
    if (!h->blocks[b]) {
        size_t blk = h->per_block * h->rec;
        h->blocks[b] = sp_malloc(blk);
        if (!h->blocks[b]) {
            h->lost_nomem++;
            return sp_error_set(err, SP_ERR_NOMEM,
                                "history: out of memory for a block of %zu bytes; one entry lost",
                                blk);
        }
        h->bytes += blk;
    }
    uint8_t *p = slot_ptr(h, ring);
    memcpy(p, meta, sizeof *meta);
    size_t vs = value_size(h->dtype);
    store_values(h, p + sizeof *meta, tok, h->d);
    if (h->e)
        store_values(h, p + sizeof *meta + h->d * vs, emb, h->e);
    h->count++;
    return SP_OK;
}

void sp_history_age(sp_history *h, int64_t oldest_pts) {
    while (h->count) {
        const sp_hist_rec *r = (const sp_hist_rec *)slot_ptr(h, h->head);
        if (r->last_pts >= oldest_pts)
            break;
        h->head = (h->head + 1) % h->capacity;
        h->count--;
        h->aged++;
    }
}

const sp_hist_rec *sp_history_at(const sp_history *h, size_t i) {
    return (const sp_hist_rec *)slot_ptr(h, (h->head + i) % h->capacity);
}

void sp_history_values(const sp_history *h, const sp_hist_rec *r, float *tok, float *emb) {
    const uint8_t *p = (const uint8_t *)r + sizeof *r;
    if (tok)
        load_values(h, p, tok, h->d);
    if (emb && h->e)
        load_values(h, p + h->d * value_size(h->dtype), emb, h->e);
}
