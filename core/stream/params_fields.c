/* Where each parameter of the table lives in sp_stream_params and sp_params, so that defaults,
 * range checks and the interfaces' setters are loops over the table instead of per-field code. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "params_internal.h"
#include "scriptprune/params.h"

typedef enum field_type {
    F_NONE = 0,
    F_SIZE,
    F_U32,
    F_U64,
    F_I64,
    F_FLOAT,
    F_BOOL,
    F_ENUM
} field_type;

typedef struct field_ref {
    field_type type;
    size_t offset;
    const char *field; /* the struct field's name, for messages */
} field_ref;

#define SF(t, f)                                                                                   \
    { t, offsetof(sp_stream_params, f), #f }
#define PF(t, f)                                                                                   \
    { t, offsetof(sp_params, f), #f }

static const field_ref stream_fields[SP_PARAM_COUNT] = {
    [SP_PARAM_EMIT] = SF(F_ENUM, policy),
    [SP_PARAM_PACKET_MODE] = SF(F_ENUM, packet_mode),
    [SP_PARAM_FRAME_BUDGET] = SF(F_SIZE, frame_budget),
    [SP_PARAM_WINDOW_BUDGET] = SF(F_SIZE, window_budget),
    [SP_PARAM_WINDOW] = SF(F_U32, window),
    [SP_PARAM_HOP] = SF(F_U32, hop),
    [SP_PARAM_TEMPORAL_TAU] = SF(F_FLOAT, tau_t),
    [SP_PARAM_TEMPORAL_RADIUS] = SF(F_U32, radius),
    [SP_PARAM_MATCH_ALL] = SF(F_BOOL, match_all),
    [SP_PARAM_CUT_FRACTION] = SF(F_FLOAT, cut_fraction),
    [SP_PARAM_GSP_KEEP] = SF(F_FLOAT, gsp_keep),
    [SP_PARAM_GRAPH] = SF(F_ENUM, gsp.graph),
    [SP_PARAM_TAU] = SF(F_FLOAT, gsp.tau),
    [SP_PARAM_K_MIN] = SF(F_U32, gsp.k_min),
    [SP_PARAM_GAMMA] = SF(F_FLOAT, gsp.gamma),
    [SP_PARAM_KERNEL_SIGMA] = SF(F_FLOAT, kernel_sigma),
    [SP_PARAM_MASS_GAMMA] = SF(F_FLOAT, mass_gamma),
    [SP_PARAM_QUERY_KERNEL_SIGMA] = SF(F_FLOAT, query_kernel_sigma),
    [SP_PARAM_WINDOW_MAX_TOKENS] = SF(F_SIZE, window_max_tokens),
    [SP_PARAM_HISTORY_BYTES] = SF(F_SIZE, history_bytes),
    [SP_PARAM_HISTORY_MAX_AGE] = SF(F_I64, history_max_age),
    [SP_PARAM_RESELECT_MAX] = SF(F_SIZE, reselect_max),
};

static const field_ref select_fields[SP_PARAM_COUNT] = {
    [SP_PARAM_METHOD] = PF(F_ENUM, method), [SP_PARAM_BUDGET] = PF(F_SIZE, budget),
    [SP_PARAM_GRAPH] = PF(F_ENUM, graph),   [SP_PARAM_TAU] = PF(F_FLOAT, tau),
    [SP_PARAM_K_MIN] = PF(F_U32, k_min),    [SP_PARAM_GAMMA] = PF(F_FLOAT, gamma),
    [SP_PARAM_RHO] = PF(F_FLOAT, rho),      [SP_PARAM_SEED] = PF(F_U64, seed),
};

/* C enums of these structs (sp_emit_policy, sp_graph, sp_method) are int-sized. */
_Static_assert(sizeof(sp_emit_policy) == sizeof(int), "enum fields are read as int");
_Static_assert(sizeof(sp_packet_mode) == sizeof(int), "enum fields are read as int");
_Static_assert(sizeof(sp_graph) == sizeof(int), "enum fields are read as int");
_Static_assert(sizeof(sp_method) == sizeof(int), "enum fields are read as int");

static double get(const void *base, field_ref f) {
    const char *at = (const char *)base + f.offset;
    switch (f.type) {
        case F_SIZE:
            return (double)*(const size_t *)at;
        case F_U32:
            return (double)*(const uint32_t *)at;
        case F_U64:
            return (double)*(const uint64_t *)at;
        case F_I64:
            return (double)*(const int64_t *)at;
        case F_FLOAT:
            return (double)*(const float *)at;
        case F_BOOL:
            return *(const bool *)at ? 1.0 : 0.0;
        case F_ENUM:
            return (double)*(const int *)at;
        case F_NONE:
            break;
    }
    return NAN;
}

/* v has passed sp_param_check, so it fits the field. */
static void put(void *base, field_ref f, double v) {
    char *at = (char *)base + f.offset;
    switch (f.type) {
        case F_SIZE:
            *(size_t *)at = (size_t)v;
            break;
        case F_U32:
            *(uint32_t *)at = (uint32_t)v;
            break;
        case F_U64:
            *(uint64_t *)at = (uint64_t)v;
            break;
        case F_I64:
            *(int64_t *)at = (int64_t)v;
            break;
        case F_FLOAT:
            *(float *)at = (float)v;
            break;
        case F_BOOL:
            *(bool *)at = v != 0.0;
            break;
        case F_ENUM:
            *(int *)at = (int)v;
            break;
        case F_NONE:
            break;
    }
}

static sp_status set(void *base, const field_ref *fields, const char *what, sp_param_id id,
                     double v, sp_error *err) {
    const sp_param_info *pi = sp_param_of(id);
    if (!pi || fields[id].type == F_NONE)
        return sp_error_set(err, SP_ERR_NOT_FOUND, "%s have no parameter %s", what,
                            pi ? pi->name : "of that id");
    sp_status st = sp_param_check(pi, v, NULL, err);
    if (!st)
        put(base, fields[id], v);
    return st;
}

double sp_stream_params_get(const sp_stream_params *p, sp_param_id id) {
    return (unsigned)id < SP_PARAM_COUNT ? get(p, stream_fields[id]) : NAN;
}

double sp_params_get(const sp_params *p, sp_param_id id) {
    return (unsigned)id < SP_PARAM_COUNT ? get(p, select_fields[id]) : NAN;
}

sp_status sp_stream_params_set(sp_stream_params *p, sp_param_id id, double v, sp_error *err) {
    return set(p, stream_fields, "stream parameters", id, v, err);
}

sp_status sp_params_set(sp_params *p, sp_param_id id, double v, sp_error *err) {
    return set(p, select_fields, "selection parameters", id, v, err);
}

/* "temporal_tau (field tau_t)" when the field's name differs from the parameter's. */
static const char *name_of(const field_ref *fields, sp_param_id id, char *buf, size_t cap) {
    const sp_param_info *pi = sp_param_of(id);
    const char *field = (unsigned)id < SP_PARAM_COUNT ? fields[id].field : NULL;
    if (!pi || !field || strcmp(field, pi->name) == 0)
        return pi ? pi->name : "?";
    snprintf(buf, cap, "%s (field %s)", pi->name, field);
    return buf;
}

const char *sp_stream_param_label(sp_param_id id, char *buf, size_t cap) {
    return name_of(stream_fields, id, buf, cap);
}

const char *sp_select_param_label(sp_param_id id, char *buf, size_t cap) {
    return name_of(select_fields, id, buf, cap);
}
