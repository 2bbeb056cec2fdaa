/* Image embeddings as inference engines load them: a float matrix [rows, cols] (tokens x hidden
 * size) encoded as the bytes an OpenAI-compatible server such as vLLM accepts, base64'd, in an
 * `image_embeds` chat part: a NumPy .npy array (np.load) or the zip archive torch.save writes for
 * one tensor (torch.load(weights_only=True)). docs/mllm.md describes the chat payloads.
 *
 * Thread-safety: pure functions. */
#ifndef SCRIPTPRUNE_EMBEDS_H
#define SCRIPTPRUNE_EMBEDS_H

#include <stddef.h>
#include <stdint.h>

#include "scriptprune/error.h"
#include "scriptprune/tensor.h"

#include "scriptprune/api.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sp_embeds_format {
    SP_EMBEDS_NPY = 0,   /* NumPy .npy, version 1.0, little-endian, C order */
    SP_EMBEDS_TORCH = 1, /* torch.save zip archive of one contiguous tensor */
} sp_embeds_format;

/* Encodes rows x cols floats (row-major) as fmt with values stored as dtype (F32 or F16, rounded
 * to nearest even). *out is allocated (release with sp_embeds_free), *len its size. rows and cols
 * must be >= 1, the data under 4 GiB. Errors: SP_ERR_INVALID, SP_ERR_UNSUPPORTED (dtype),
 * SP_ERR_OVERFLOW, SP_ERR_NOMEM. */
SP_API sp_status sp_embeds_encode(sp_embeds_format fmt, const float *data, size_t rows, size_t cols,
                                  sp_dtype dtype, uint8_t **out, size_t *len, sp_error *err);
SP_API void sp_embeds_free(uint8_t *bytes);

/* Stable names "npy", "torch"; parsing names the accepted ones in its message. */
SP_API const char *sp_embeds_format_name(sp_embeds_format f);
SP_API sp_status sp_embeds_format_from_name(const char *name, sp_embeds_format *out, sp_error *err);

#ifdef __cplusplus
}
#endif
#endif
