/* The parameter table: every user-visible parameter of streams (sp_stream_params) and of per-frame
 * selection (sp_params, sp_gsp_params), declared once with its name, type, default, range and a
 * one-line doc. The scriptprune CLI's options, the scriptprune element's properties and scriptd's
 * config keys are made from it, and sp_stream_params_init / sp_params_init / sp_gsp_params_init
 * read their defaults from it, so a default lives in one place.
 *
 * Spellings: the table name is snake_case, as written in scriptd's config ("temporal_tau"); the
 * element property and the CLI option use dashes ("temporal-tau", --temporal-tau).
 * Values travel as double: integers (exact up to 2^53), enums as their C value, booleans as 0 or
 * 1, durations in nanoseconds, sizes in bytes.
 *
 * Thread-safety: the table is constant static storage; every function here is pure. */
#ifndef SCRIPTPRUNE_PARAMS_H
#define SCRIPTPRUNE_PARAMS_H

#include <stdbool.h>
#include <stddef.h>

#include "scriptprune/error.h"
#include "scriptprune/select.h"
#include "scriptprune/stream.h"

#include "scriptprune/api.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Table order; new parameters may be added anywhere before SP_PARAM_COUNT. */
typedef enum sp_param_id {
    SP_PARAM_METHOD = 0,
    SP_PARAM_EMIT,
    SP_PARAM_PACKET_MODE,
    SP_PARAM_FRAME_BUDGET,
    SP_PARAM_WINDOW_BUDGET,
    SP_PARAM_WINDOW,
    SP_PARAM_HOP,
    SP_PARAM_TEMPORAL_TAU,
    SP_PARAM_TEMPORAL_RADIUS,
    SP_PARAM_MATCH_ALL,
    SP_PARAM_CUT_FRACTION,
    SP_PARAM_GSP_KEEP,
    SP_PARAM_GRAPH,
    SP_PARAM_TAU,
    SP_PARAM_K_MIN,
    SP_PARAM_GAMMA,
    SP_PARAM_KERNEL_SIGMA,
    SP_PARAM_MASS_GAMMA,
    SP_PARAM_QUERY_KERNEL_SIGMA,
    SP_PARAM_WINDOW_MAX_TOKENS,
    SP_PARAM_HISTORY_BYTES,
    SP_PARAM_HISTORY_MAX_AGE,
    SP_PARAM_RESELECT_MAX,
    SP_PARAM_BUDGET,
    SP_PARAM_RHO,
    SP_PARAM_SEED,
    SP_PARAM_SKIP_UNCHANGED,
    SP_PARAM_CHANGE_THRESHOLD,
    SP_PARAM_MAX_SKIP_S,
    SP_PARAM_COUNT
} sp_param_id;

typedef enum sp_param_type {
    SP_PARAM_TYPE_BOOL = 0, /* 0 or 1 */
    SP_PARAM_TYPE_UINT,     /* a whole number within [min, max] */
    SP_PARAM_TYPE_FLOAT,    /* a number within the range (stored as float) */
    SP_PARAM_TYPE_BYTES,    /* a whole number of bytes; text may end in KiB, MiB, GiB or TiB */
    SP_PARAM_TYPE_DURATION, /* a whole number of nanoseconds */
    SP_PARAM_TYPE_ENUM,     /* one of `choices`, the value being its index */
    SP_PARAM_TYPE_METHOD,   /* a selection method of core's method table (sp_method) */
} sp_param_type;

/* Where a parameter lives. Streams (the CLI's stream command, the element, scriptd) expose every
 * SP_PARAM_IN_STREAM parameter and the method; the CLI's select command the SP_PARAM_IN_SELECT
 * ones. SP_PARAM_IN_ENCODER: the change gate before the encoder (scriptprune/change_gate.h),
 * scriptd's encoder keys and the scriptencode element's properties. */
enum { SP_PARAM_IN_STREAM = 1u << 0, SP_PARAM_IN_SELECT = 1u << 1, SP_PARAM_IN_ENCODER = 1u << 2 };

/* Values of skip_unchanged: auto = on for the clip backend, off for patch. */
typedef enum sp_skip_unchanged {
    SP_SKIP_AUTO = 0,
    SP_SKIP_ON = 1,
    SP_SKIP_OFF = 2
} sp_skip_unchanged;

typedef struct sp_param_info {
    sp_param_id id;
    const char *name; /* snake_case */
    sp_param_type type;
    unsigned scope;             /* SP_PARAM_IN_STREAM | SP_PARAM_IN_SELECT */
    double def;                 /* the default */
    double min, max;            /* accepted range (ENUM, METHOD, BOOL: 0 .. count - 1) */
    bool min_exclusive;         /* min itself is refused: (min, max] */
    const char *const *choices; /* ENUM: names indexed by value, NULL-terminated; else NULL */
    const char *doc;            /* one line, for --help, gst-inspect and docs/config.md */
} sp_param_info;

/* The table, SP_PARAM_COUNT entries in id order; static storage, never freed. */
SP_API const sp_param_info *sp_param_table(size_t *count);
/* The entry of id, or NULL when id is out of range. */
SP_API const sp_param_info *sp_param_of(sp_param_id id);
/* Looks a parameter up by name, snake_case or dashed ("gsp_keep", "gsp-keep"); NULL if unknown. */
SP_API const sp_param_info *sp_param_find(const char *name);

/* Checks v against the type and range; the message names `what` (NULL: the parameter's name),
 * the value and the accepted range, e.g. "gsp_keep: 0 is outside (0, 1]". */
SP_API sp_status sp_param_check(const sp_param_info *pi, double v, const char *what, sp_error *err);
/* Parses text as a value of the parameter (numbers in C locale, enum and method names, true or
 * false, sizes with a binary suffix) and checks it; the message names `what` as above. */
SP_API sp_status sp_param_parse(const sp_param_info *pi, const char *text, const char *what,
                                double *out, sp_error *err);
/* Writes v as text that sp_param_parse reads back ("0.94", "window", "256MiB", "true") into buf
 * (cap bytes, always NUL-terminated). Returns the length it needed, like snprintf. */
SP_API size_t sp_param_format(const sp_param_info *pi, double v, char *buf, size_t cap);

/* The value of a parameter in a struct (NAN when the struct has no such field). */
SP_API double sp_stream_params_get(const sp_stream_params *p, sp_param_id id);
SP_API double sp_params_get(const sp_params *p, sp_param_id id);
/* Checks v (sp_param_check) and stores it; SP_ERR_NOT_FOUND when the struct has no such field. */
SP_API sp_status sp_stream_params_set(sp_stream_params *p, sp_param_id id, double v, sp_error *err);
SP_API sp_status sp_params_set(sp_params *p, sp_param_id id, double v, sp_error *err);

#ifdef __cplusplus
}
#endif
#endif
