/* JPEG into 8-bit RGB with libjpeg(-turbo) (image_file.h): YCbCr and greyscale files convert to
 * RGB with the library's defaults (integer IDCT, fancy upsampling), as PIL decodes them with the
 * same library; CMYK and YCCK files are refused (their colours need a colour profile).
 *
 * libjpeg's default error handler prints and calls exit(): ours formats the message and longjmps
 * back to cli_jpeg_decode, and so does a warning (libjpeg warns on corrupt data or a file that
 * ends early, then carries on with grey blocks), so that a damaged file is an error. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#include "image_file.h"

typedef struct jpeg_job {
    struct jpeg_error_mgr mgr; /* first: libjpeg hands us a pointer to it */
    jmp_buf jump;
    char why[JMSG_LENGTH_MAX];
} jpeg_job;

static void on_error(j_common_ptr c) {
    jpeg_job *j = (jpeg_job *)(void *)c->err;
    c->err->format_message(c, j->why);
    longjmp(j->jump, 1);
}

/* Our own failures take the same way out as libjpeg's. */
static void fail(jpeg_job *j, const char *why) {
    snprintf(j->why, sizeof j->why, "%s", why);
    longjmp(j->jump, 1);
}

static void on_message(j_common_ptr c, int level) {
    if (level < 0) /* a warning: corrupt or missing data */
        on_error(c);
}

sp_status cli_jpeg_decode(const char *path, const uint8_t *data, size_t len, uint8_t **rgb,
                          uint32_t *width, uint32_t *height, sp_error *err) {
    struct jpeg_decompress_struct cinfo;
    jpeg_job job;
    memset(&job, 0, sizeof job);
    cinfo.err = jpeg_std_error(&job.mgr);
    job.mgr.error_exit = on_error;
    job.mgr.emit_message = on_message;
    uint8_t *volatile out = NULL; /* written after setjmp, read after a longjmp */
    if (setjmp(job.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(out);
        return sp_error_set(err, SP_ERR_FORMAT, "%s: not a readable JPEG: %s", path, job.why);
    }
    jpeg_create_decompress(&cinfo);
    if (len > (unsigned long)-1)
        fail(&job, "too large for this libjpeg");
    jpeg_mem_src(&cinfo, data, (unsigned long)len);
    jpeg_read_header(&cinfo, TRUE);
    if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
        jpeg_destroy_decompress(&cinfo);
        return sp_error_set(err, SP_ERR_UNSUPPORTED,
                            "%s: a CMYK JPEG; only RGB (YCbCr) and greyscale JPEGs are read "
                            "(convert it to RGB first)",
                            path);
    }
    uint32_t w = cinfo.image_width, h = cinfo.image_height;
    if (w > CLI_IMAGE_MAX_SIDE || h > CLI_IMAGE_MAX_SIDE ||
        (uint64_t)w * h > CLI_IMAGE_MAX_PIXELS) {
        jpeg_destroy_decompress(&cinfo);
        return sp_error_set(err, SP_ERR_UNSUPPORTED, "%s: %u x %u pixels, more than %d", path, w, h,
                            CLI_IMAGE_MAX_PIXELS);
    }
    cinfo.out_color_space = JCS_RGB;
    jpeg_start_decompress(&cinfo);
    if (cinfo.output_components != 3 || cinfo.output_width != w || cinfo.output_height != h)
        fail(&job, "the decoder did not give 3-channel RGB rows");
    out = malloc((size_t)w * h * 3);
    if (!out)
        fail(&job, "out of memory for the pixels");
    while (cinfo.output_scanline < h) {
        JSAMPROW row = out + (size_t)cinfo.output_scanline * w * 3;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    *rgb = out;
    *width = w;
    *height = h;
    return SP_OK;
}
