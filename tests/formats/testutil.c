#define _XOPEN_SOURCE 700 /* nftw */
#include "testutil.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *tu_tmpdir(void) {
    const char *base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    char *t = tu_join(base, "sp-formats-XXXXXX");
    assert_non_null(mkdtemp(t));
    return t;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void tu_rmtree(char *dir) {
    if (!dir)
        return;
    assert_int_equal(nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
    free(dir);
}

char *tu_join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    assert_non_null(p);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

void tu_write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (len)
        assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

uint8_t *tu_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    assert_non_null(buf);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    assert_int_equal(ferror(f), 0);
    fclose(f);
    *len = n;
    return buf;
}

uint64_t tu_next(tu_rng *r) {
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

size_t tu_below(tu_rng *r, size_t n) {
    return (size_t)(tu_next(r) % n);
}

uint8_t *tu_npy_image(int major, const char *dict, const void *data, size_t dlen, size_t *len) {
    size_t pre = major == 1 ? 10 : 12;
    size_t dl = strlen(dict);
    size_t hdr = (pre + dl + 1 + 63) / 64 * 64;
    size_t total = hdr + dlen;
    uint8_t *b = malloc(total ? total : 1);
    assert_non_null(b);
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (uint8_t)major;
    b[7] = 0;
    size_t hl = hdr - pre;
    if (major == 1) {
        b[8] = (uint8_t)hl;
        b[9] = (uint8_t)(hl >> 8);
    } else {
        for (int i = 0; i < 4; i++)
            b[8 + i] = (uint8_t)(hl >> (8 * i));
    }
    memcpy(b + pre, dict, dl);
    memset(b + pre + dl, ' ', hdr - pre - dl - 1);
    b[hdr - 1] = '\n';
    if (dlen)
        memcpy(b + hdr, data, dlen);
    *len = total;
    return b;
}

uint8_t *tu_st_image(const char *header, const void *data, size_t dlen, size_t *len) {
    size_t hl = strlen(header);
    size_t total = 8 + hl + dlen;
    uint8_t *b = malloc(total);
    assert_non_null(b);
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)((uint64_t)hl >> (8 * i));
    memcpy(b + 8, header, hl);
    if (dlen)
        memcpy(b + 8 + hl, data, dlen);
    *len = total;
    return b;
}

int tu_contains(const char *haystack, const char *needle) {
    if (!strstr(haystack, needle)) {
        print_error("message \"%s\" does not contain \"%s\"\n", haystack, needle);
        return 0;
    }
    return 1;
}
