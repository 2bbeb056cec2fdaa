/* libFuzzer target: the CLIP / SigLIP model folder's config.json and preprocessor_config.json
 * readers (core/encode/clip_config.c; the LLaVA config reader will be added here when it lands).
 * The input is config.json, optionally followed by a NUL byte and preprocessor_config.json.
 * Properties: a refusal has a message; an accepted pair satisfies what the loader relies on
 * (head width divides, patch fits the image, normalisation finite with a positive std). */
#include <math.h>
#include <string.h>

#include "clip_config.h"
#include "fuzz_check.h"

static void check_tower(const clip_tower_config *t) {
    FUZZ_REQUIRE(t->hidden >= 1 && t->heads >= 1 && t->layers >= 1 && t->inter >= 1);
    FUZZ_REQUIRE(t->hidden % t->heads == 0);
    FUZZ_REQUIRE(t->eps > 0 && t->eps < 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *text = (const char *)data;
    const uint8_t *nul = memchr(data, 0, size);
    size_t config_len = nul ? (size_t)(nul - data) : size;
    const char *pre = nul ? text + config_len + 1 : NULL;
    size_t pre_len = nul ? size - config_len - 1 : 0;

    clip_config c;
    memset(&c, 0, sizeof c);
    sp_error err;
    sp_error_clear(&err);
    sp_status st = clip_config_parse(text, config_len, &c, &err);
    if (st != SP_OK) {
        fuzz_require_error(st, &err);
        return 0;
    }
    check_tower(&c.vis);
    if (c.has_text)
        check_tower(&c.txt);
    FUZZ_REQUIRE(c.patch_size >= 1 && c.image_size >= c.patch_size);
    st = clip_preprocessor_parse(pre, pre_len, &c, &err);
    if (st != SP_OK) {
        fuzz_require_error(st, &err);
        return 0;
    }
    for (int k = 0; k < 3; k++)
        FUZZ_REQUIRE(isfinite(c.mean[k]) && isfinite(c.std[k]) && c.std[k] > 0);
    return 0;
}
