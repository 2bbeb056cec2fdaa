/* libFuzzer target: the safetensors reader (sp_st_open_buffer, the same validation sp_st_open
 * runs on a mapped file), then every accessor on whatever it accepted: lookup by name, metadata,
 * and the float32 conversion of each tensor. */
#include "fuzz_check.h"
#include "scriptprune/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sp_st_file *f = NULL;
    sp_error err;
    sp_error_clear(&err);
    sp_status st = sp_st_open_buffer(data, size, "fuzz.safetensors", &f, &err);
    if (st != SP_OK) {
        fuzz_require_error(st, &err);
        FUZZ_REQUIRE(f == NULL);
        return 0;
    }
    for (size_t i = 0; i < sp_st_count(f); i++) {
        const sp_st_tensor *t = sp_st_at(f, i);
        FUZZ_REQUIRE(t && t->name);
        FUZZ_REQUIRE(sp_st_find(f, t->name) == t);
        FUZZ_REQUIRE(t->nbytes == 0 || (t->data >= data && t->data + t->nbytes <= data + size));
        float *v = NULL;
        size_t n = 0;
        sp_error e2;
        sp_status rs = sp_st_read_f32(t, &v, &n, &e2);
        if (rs == SP_OK) {
            FUZZ_REQUIRE(n == t->elements);
            volatile float sink = 0;
            for (size_t k = 0; k < n; k++)
                sink += v[k];
            (void)sink;
            free(v);
        } else {
            fuzz_require_error(rs, &e2);
        }
    }
    for (size_t i = 0; i < sp_st_metadata_count(f); i++) {
        const char *k = NULL, *v = NULL;
        sp_st_metadata_at(f, i, &k, &v);
        FUZZ_REQUIRE(k && v);
        FUZZ_REQUIRE(sp_st_metadata(f, k) != NULL);
    }
    const char *probe = "fuzz probe";
    const sp_st_tensor *got = NULL;
    sp_error e3;
    sp_status gs = sp_st_get(f, probe, &got, &e3);
    if (sp_st_find(f, probe))
        FUZZ_REQUIRE(gs == SP_OK && got == sp_st_find(f, probe));
    else
        fuzz_require_error(gs, &e3);
    sp_st_close(f);
    return 0;
}
