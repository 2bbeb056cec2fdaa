/* Whole-file reads of a model folder's text files (see textfile.h). */
#include "textfile.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"

sp_status enc_join_path(const char *dir, const char *name, char *buf, size_t cap, sp_error *err) {
    int n = snprintf(buf, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap)
        return sp_error_set(err, SP_ERR_INVALID, "model folder path '%s' is too long", dir);
    return SP_OK;
}

sp_status enc_read_text(const char *dir, const char *name, size_t max_bytes, char **out,
                        size_t *len, sp_error *err) {
    *out = NULL;
    *len = 0;
    char path[4096];
    sp_status s = enc_join_path(dir, name, path, sizeof path, err);
    if (s)
        return s;
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        char msg[128];
        /* strerror_r (XSI) is thread-safe where strerror is not */
        if (strerror_r(e, msg, sizeof msg) != 0)
            snprintf(msg, sizeof msg, "errno %d", e);
        return sp_error_set(err, e == ENOENT ? SP_ERR_NOT_FOUND : SP_ERR_IO, "%s: %s", path, msg);
    }
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 65536;
            if (cap > max_bytes) {
                s = sp_error_set(err, SP_ERR_FORMAT, "%s: larger than %zu bytes", path, max_bytes);
                break;
            }
            char *nb = sp_realloc(buf, ncap + 1);
            if (!nb) {
                s = sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f))
                s = sp_error_set(err, SP_ERR_IO, "%s: read error", path);
            break;
        }
    }
    fclose(f);
    if (!s && n > max_bytes)
        s = sp_error_set(err, SP_ERR_FORMAT, "%s: larger than %zu bytes", path, max_bytes);
    if (s) {
        sp_free(buf);
        return s;
    }
    if (!buf) {
        buf = sp_malloc(1);
        if (!buf)
            return sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory", path);
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return SP_OK;
}
