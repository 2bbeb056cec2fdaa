/* libFuzzer target: decoding an exemplar (query) image into query rows, the daemon's
 * scd_query_from_image (what POST /v1/streams/{id}/query with an image body, a form upload or
 * {"image": PATH} run), with the default patch encoder (no model weights).
 *
 * The input is the image file's bytes, handed over as /proc/self/fd/N of a memory file (no disk
 * I/O). Property: a picture either becomes query rows, or is refused with a message. The decoder
 * itself is FFmpeg (not instrumented for coverage): the guidance comes from our side of it
 * (probing, frame conversion, the encoder's validation). */
#define _GNU_SOURCE
#include <libavutil/log.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config/config.h"
#include "fuzz_check.h"
#include "runtime/query.h"

static scd_config *cfg;
static scd_encoders *encoders;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    av_log_set_level(AV_LOG_QUIET);
    cfg = scd_config_new_default();
    encoders = scd_encoders_new();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int fd = memfd_create("fuzz-image", MFD_CLOEXEC);
    FUZZ_REQUIRE(fd >= 0);
    for (size_t off = 0; off < size;) {
        ssize_t n = write(fd, data + off, size - off);
        FUZZ_REQUIRE(n > 0);
        off += (size_t)n;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    scd_query *q = NULL;
    sp_error err;
    sp_error_clear(&err);
    sp_status st = scd_query_from_image(encoders, &cfg->encoder, path, SP_EXEMPLAR_POOLED, NULL,
                                        "fuzz", &q, &err);
    if (st == SP_OK) {
        FUZZ_REQUIRE(q && q->m >= 1 && q->e >= 1 && q->rows);
        scd_query_unref(q);
    } else {
        fuzz_require_error(st, &err);
        FUZZ_REQUIRE(q == NULL);
    }
    close(fd);
    return 0;
}
