/* What every fuzz target asserts besides "no crash, no sanitizer report": a refusal carries a
 * status and a message (bad input always gets a clear error). abort() makes libFuzzer save the
 * input as a crash. */
#ifndef SCRIPTD_FUZZ_CHECK_H
#define SCRIPTD_FUZZ_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "scriptprune/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_REQUIRE(cond)                                                                         \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__, #cond);          \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A failed call reports why: a non-OK status and a non-empty message. */
static inline void fuzz_require_error(sp_status st, const sp_error *err) {
    FUZZ_REQUIRE(st != SP_OK);
    FUZZ_REQUIRE(err->status == st);
    FUZZ_REQUIRE(err->message[0] != '\0');
}

#endif
