/* Helpers shared by the format tests: temporary directories, whole-file I/O, a deterministic
 * PRNG, and builders for hand-made .npy and safetensors images (for the error cases no writer
 * would produce). Failures abort the test through cmocka. */
#ifndef SP_TESTS_FORMATS_TESTUTIL_H
#define SP_TESTS_FORMATS_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

/* A fresh directory under $TMPDIR (or /tmp); tu_rmtree removes it with its files and frees it. */
char *tu_tmpdir(void);
void tu_rmtree(char *dir);
/* dir + "/" + name, malloc'd. */
char *tu_join(const char *dir, const char *name);
void tu_write_file(const char *path, const void *data, size_t len);
/* The whole file, malloc'd (never NULL; an empty file gives a 1-byte allocation). */
uint8_t *tu_read_file(const char *path, size_t *len);

/* splitmix64: deterministic and good enough for fuzzing. */
typedef struct tu_rng {
    uint64_t s;
} tu_rng;
uint64_t tu_next(tu_rng *r);
/* Uniform-ish in [0, n), n > 0. */
size_t tu_below(tu_rng *r, size_t n);

/* A .npy image: preamble for format version major.0, the dict padded with spaces and '\n' to a
 * multiple of 64 bytes, then dlen bytes of data. malloc'd. */
uint8_t *tu_npy_image(int major, const char *dict, const void *data, size_t dlen, size_t *len);
/* A safetensors image: u64 length of header, the header text verbatim, then dlen data bytes. */
uint8_t *tu_st_image(const char *header, const void *data, size_t dlen, size_t *len);

/* True when haystack contains needle (for message checks). */
int tu_contains(const char *haystack, const char *needle);

#endif
