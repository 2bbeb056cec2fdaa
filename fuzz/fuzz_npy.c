/* libFuzzer target: the .npy reader (sp_npy_parse, what sp_npy_read runs on a mapped file).
 * Property: an input either parses into a matrix whose every value can be read, or is refused
 * with a message. */
#include <math.h>

#include "fuzz_check.h"
#include "scriptprune/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sp_matrix m = {0};
    sp_error err;
    sp_error_clear(&err);
    sp_status st = sp_npy_parse(data, size, "fuzz.npy", &m, &err);
    if (st != SP_OK) {
        fuzz_require_error(st, &err);
        FUZZ_REQUIRE(m.data == NULL);
        return 0;
    }
    FUZZ_REQUIRE(m.ndim == 1 || m.ndim == 2);
    FUZZ_REQUIRE(m.cols > 0);
    FUZZ_REQUIRE(m.rows == 0 || m.data != NULL);
    /* Touch every value: a wrong size shows up as an ASan report here. */
    volatile float sink = 0;
    for (size_t i = 0; i < m.rows * m.cols; i++)
        sink += isnan(m.data[i]) ? 0.0f : 1.0f;
    (void)sink;
    sp_matrix_free(&m);
    return 0;
}
