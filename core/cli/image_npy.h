/* Images as NumPy .npy files: uint8 arrays of shape (H, W, 3) RGB or (H, W, 4) RGBA, C order, as
 * np.save(path, np.asarray(PIL.Image.open(f).convert("RGB"))) writes them. */
#ifndef SP_CLI_IMAGE_NPY_H
#define SP_CLI_IMAGE_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "scriptprune/encode.h"

typedef struct npy_image {
    uint8_t *file; /* the whole file; img.data points into it */
    sp_image img;
} npy_image;

/* Reads path into out; SP_ERR_FORMAT / SP_ERR_UNSUPPORTED name the file and the problem. */
sp_status npy_image_read(const char *path, npy_image *out, sp_error *err);
void npy_image_free(npy_image *im);

#endif
