#include "scriptprune/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void sp_error_clear(sp_error *err) {
    if (err) {
        err->status = SP_OK;
        err->message[0] = '\0';
    }
}

sp_status sp_error_set(sp_error *err, sp_status status, const char *fmt, ...) {
    if (!err)
        return status;
    err->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return status;
}

sp_status sp_error_prefix(sp_error *err, const char *fmt, ...) {
    if (!err)
        return SP_OK;
    char prefix[SP_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    /* Truncation keeps the prefix, which names the outer context, and as much of the cause as fits.
     */
    char joined[SP_ERROR_MAX];
    size_t plen = strlen(prefix);
    size_t room = sizeof joined - 1;
    if (plen > room)
        plen = room;
    memcpy(joined, prefix, plen);
    size_t pos = plen;
    static const char sep[] = ": ";
    for (size_t i = 0; i < sizeof sep - 1 && pos < room; i++)
        joined[pos++] = sep[i];
    size_t mlen = strlen(err->message);
    if (mlen > room - pos)
        mlen = room - pos;
    memcpy(joined + pos, err->message, mlen);
    joined[pos + mlen] = '\0';
    memcpy(err->message, joined, pos + mlen + 1);
    return err->status;
}

const char *sp_status_name(sp_status status) {
    switch (status) {
        case SP_OK:
            return "ok";
        case SP_ERR_INVALID:
            return "invalid";
        case SP_ERR_NOMEM:
            return "nomem";
        case SP_ERR_IO:
            return "io";
        case SP_ERR_FORMAT:
            return "format";
        case SP_ERR_UNSUPPORTED:
            return "unsupported";
        case SP_ERR_OVERFLOW:
            return "overflow";
        case SP_ERR_STATE:
            return "state";
        case SP_ERR_NOT_FOUND:
            return "not-found";
    }
    return "unknown";
}
