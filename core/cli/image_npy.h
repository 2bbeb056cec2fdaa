/* Images as NumPy .npy files: uint8 arrays of shape (H, W, 3) RGB or (H, W, 4) RGBA, C order, as
 * np.save(path, np.asarray(PIL.Image.open(f).convert("RGB"))) writes them. */
#ifndef SP_CLI_IMAGE_NPY_H
#define SP_CLI_IMAGE_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "scriptprune/encode.h"

/* Parses the .npy file held in b (len bytes) into img, whose data points into b. SP_ERR_FORMAT /
 * SP_ERR_UNSUPPORTED name the file (path) and the problem. */
sp_status npy_image_parse(const char *path, const uint8_t *b, size_t len, sp_image *img,
                          sp_error *err);

#endif
