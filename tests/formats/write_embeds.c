/* Writes one embeddings file with core's encoder, for check_embeds.py to load with NumPy and
 * PyTorch:  write_embeds npy|torch f32|f16 ROWS COLS OUT
 * Value i (row-major) is (i % 251 - 125) / 16 + i / 4096, exact in float32. Exit 2 on bad use. */
#include <stdio.h>
#include <stdlib.h>

#include "scriptprune/embeds.h"

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: write_embeds npy|torch f32|f16 ROWS COLS OUT\n");
        return 2;
    }
    sp_error err;
    sp_error_clear(&err);
    sp_embeds_format fmt;
    sp_dtype dtype;
    if (sp_embeds_format_from_name(argv[1], &fmt, &err) != SP_OK ||
        sp_dtype_from_name(argv[2][1] == '3' ? "F32" : "F16", &dtype, &err) != SP_OK) {
        fprintf(stderr, "write_embeds: %s\n", err.message);
        return 2;
    }
    size_t rows = strtoul(argv[3], NULL, 10), cols = strtoul(argv[4], NULL, 10);
    size_t n = rows * cols;
    float *v = malloc((n > 0 ? n : 1) * sizeof *v);
    if (!v)
        return 1;
    for (size_t i = 0; i < n; i++)
        v[i] = (float)((double)(i % 251) - 125) / 16.0f + (float)i / 4096.0f;
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (sp_embeds_encode(fmt, v, rows, cols, dtype, &bytes, &len, &err) != SP_OK) {
        fprintf(stderr, "write_embeds: %s\n", err.message);
        free(v);
        return 2;
    }
    FILE *f = fopen(argv[5], "wb");
    int rc = f && fwrite(bytes, 1, len, f) == len && fclose(f) == 0 ? 0 : 1;
    sp_embeds_free(bytes);
    free(v);
    return rc;
}
