/* Error reporting for libscriptprune: every fallible function returns an sp_status and, when given
 * a non-NULL sp_error, fills it with a one-line message that says what failed, where and why.
 * sp_error is a plain value owned by the caller; functions are thread-safe on distinct errors. */
#ifndef SCRIPTPRUNE_ERROR_H
#define SCRIPTPRUNE_ERROR_H

#include <stddef.h>

#include "scriptprune/api.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sp_status {
    SP_OK = 0,
    SP_ERR_INVALID = 1,     /* an argument or the input data is not acceptable */
    SP_ERR_NOMEM = 2,       /* an allocation failed */
    SP_ERR_IO = 3,          /* reading or writing a file or socket failed */
    SP_ERR_FORMAT = 4,      /* a file or packet is malformed or truncated */
    SP_ERR_UNSUPPORTED = 5, /* well-formed but outside what we support (dtype, layout, ...) */
    SP_ERR_OVERFLOW = 6,    /* a size computation would overflow size_t */
    SP_ERR_STATE = 7,       /* the object is not in a state that allows the call */
    SP_ERR_NOT_FOUND = 8,   /* a named item (tensor, key, file) does not exist */
} sp_status;

enum { SP_ERROR_MAX = 512 };

typedef struct sp_error {
    sp_status status;
    char message[SP_ERROR_MAX];
} sp_error;

/* Resets err to SP_OK with an empty message. err may be NULL. */
SP_API void sp_error_clear(sp_error *err);

/* Sets err (may be NULL) and returns status, so callers can write `return sp_error_set(...)`. */
SP_API sp_status sp_error_set(sp_error *err, sp_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends "context: " to an existing message (keeps the status); returns err->status, or SP_OK
 * when err is NULL. Used to add the caller's view ("tokens.npy: ...") to a callee's message. */
SP_API sp_status sp_error_prefix(sp_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Stable short name of a status ("invalid", "nomem", ...); never NULL. */
SP_API const char *sp_status_name(sp_status status);

#ifdef __cplusplus
}
#endif
#endif
