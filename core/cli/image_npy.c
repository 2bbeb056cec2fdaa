/* .npy uint8 images (see image_npy.h): the header dictionary is read for descr, fortran_order and
 * shape only; everything else about the file is checked against them. */
#include "image_npy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "image_file.h"

enum { MAX_SIDE = CLI_IMAGE_MAX_SIDE };

/* The value text after 'key': in the header dictionary, or NULL. */
static const char *value_of(const char *header, const char *key) {
    const char *k = strstr(header, key);
    if (!k)
        return NULL;
    k = strchr(k + strlen(key), ':');
    if (!k)
        return NULL;
    k++;
    while (*k == ' ')
        k++;
    return k;
}

static sp_status parse_shape(const char *path, const char *v, size_t dims[3], sp_error *err) {
    const char *p = v && *v == '(' ? v + 1 : NULL;
    size_t k = 0;
    while (p && k < 4) {
        while (*p == ' ')
            p++;
        if (*p == ')')
            break;
        char *end;
        errno = 0;
        unsigned long long x = strtoull(p, &end, 10);
        if (end == p || errno || x < 1 || x > MAX_SIDE)
            break;
        if (k < 3)
            dims[k] = (size_t)x;
        k++;
        p = end;
        while (*p == ' ')
            p++;
        if (*p == ',')
            p++;
    }
    if (!p || *p != ')' || k != 3 || (dims[2] != 3 && dims[2] != 4))
        return sp_error_set(err, SP_ERR_FORMAT,
                            "%s: the array's shape must be (H, W, 3) RGB or (H, W, 4) RGBA with "
                            "sides in [1, %d]",
                            path, MAX_SIDE);
    return SP_OK;
}

sp_status npy_image_parse(const char *path, const uint8_t *b, size_t len, sp_image *img,
                          sp_error *err) {
    memset(img, 0, sizeof *img);
    sp_status s = SP_OK;
    size_t hlen = 0, hoff = 0;
    if (len < 10 || memcmp(b, "\x93NUMPY", 6) != 0) {
        s = sp_error_set(err, SP_ERR_FORMAT, "%s: not a .npy file (no \\x93NUMPY magic)", path);
    } else if (b[6] == 1) {
        hlen = (size_t)b[8] | (size_t)b[9] << 8;
        hoff = 10;
    } else if ((b[6] == 2 || b[6] == 3) && len >= 12) {
        hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
        hoff = 12;
    } else {
        s = sp_error_set(err, SP_ERR_UNSUPPORTED, "%s: .npy format version %u", path, b[6]);
    }
    if (!s && hlen > len - hoff)
        s = sp_error_set(err, SP_ERR_FORMAT, "%s: truncated header", path);
    char *header = NULL;
    if (!s && !(header = malloc(hlen + 1)))
        s = sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory", path);
    if (!s) {
        memcpy(header, b + hoff, hlen);
        header[hlen] = '\0';
        const char *descr = value_of(header, "'descr'");
        const char *order = value_of(header, "'fortran_order'");
        if (!descr || (strncmp(descr, "'|u1'", 5) != 0 && strncmp(descr, "'<u1'", 5) != 0 &&
                       strncmp(descr, "'>u1'", 5) != 0))
            s = sp_error_set(err, SP_ERR_UNSUPPORTED,
                             "%s: the array must have dtype uint8 (an 8-bit RGB image)", path);
        else if (!order || strncmp(order, "False", 5) != 0)
            s = sp_error_set(err, SP_ERR_UNSUPPORTED, "%s: a Fortran-order array (use C order)",
                             path);
    }
    size_t dims[3] = {0, 0, 0};
    if (!s)
        s = parse_shape(path, value_of(header, "'shape'"), dims, err);
    free(header);
    size_t need = dims[0] * dims[1] * dims[2];
    if (!s && len - hoff - hlen != need)
        s = sp_error_set(err, SP_ERR_FORMAT,
                         "%s: %zu data bytes but the shape (%zu, %zu, %zu) needs %zu", path,
                         len - hoff - hlen, dims[0], dims[1], dims[2], need);
    if (s)
        return s;
    img->data = b + hoff + hlen;
    img->height = (uint32_t)dims[0];
    img->width = (uint32_t)dims[1];
    img->stride = dims[1] * dims[2];
    img->format = dims[2] == 3 ? SP_PIXFMT_RGB : SP_PIXFMT_RGBX;
    return SP_OK;
}
