/* Parameter values as text: range checks with messages, parsing and formatting (params.h). */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scriptprune/params.h"

/* The shortest %g form without an exponent that reads back to v: to the float v becomes when
 * `as_float`, else to the double. Ranges and defaults then print as written ("0.2", "2147483647").
 */
static void shortest(double v, bool as_float, char *buf, size_t cap) {
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, v);
        double back = strtod(buf, NULL);
        if ((as_float ? (float)back == (float)v : back == v) && !strchr(buf, 'e'))
            return;
    }
}

static bool is_whole(sp_param_type t) {
    return t != SP_PARAM_TYPE_FLOAT;
}

static size_t count_choices(const sp_param_info *pi) {
    size_t n = 0;
    while (pi->choices && pi->choices[n])
        n++;
    return n;
}

sp_status sp_param_check(const sp_param_info *pi, double v, const char *what, sp_error *err) {
    if (!pi)
        return sp_error_set(err, SP_ERR_INVALID, "unknown parameter");
    const char *name = what ? what : pi->name;
    if (!isfinite(v))
        return sp_error_set(err, SP_ERR_INVALID, "%s: not a finite number", name);
    if (is_whole(pi->type) && v != floor(v))
        return sp_error_set(err, SP_ERR_INVALID, "%s: %g is not a whole number", name, v);
    bool low = pi->min_exclusive ? !(v > pi->min) : v < pi->min;
    if (!low && v <= pi->max)
        return SP_OK;
    if (pi->type == SP_PARAM_TYPE_ENUM)
        return sp_error_set(err, SP_ERR_INVALID, "%s: %g is not the value of a choice", name, v);
    if (pi->type == SP_PARAM_TYPE_METHOD)
        return sp_error_set(err, SP_ERR_INVALID, "%s: %g is not a known method", name, v);
    char val[32], lo[32], hi[32];
    shortest(v, pi->type == SP_PARAM_TYPE_FLOAT, val, sizeof val);
    shortest(pi->min, false, lo, sizeof lo);
    shortest(pi->max, false, hi, sizeof hi);
    return sp_error_set(err, SP_ERR_INVALID, "%s: %s is outside %s%s, %s]", name, val,
                        pi->min_exclusive ? "(" : "[", lo, hi);
}

static sp_status parse_whole(const sp_param_info *pi, const char *text, const char *name,
                             double *out, sp_error *err) {
    static const struct {
        const char *suffix;
        double scale;
    } units[] = {
        {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0}, {"TiB", 1099511627776.0}};
    if (!text[0] || text[0] == '-' || text[0] == '+' || text[0] == ' ')
        return sp_error_set(err, SP_ERR_INVALID, "%s: expected a whole number, got '%s'", name,
                            text);
    errno = 0;
    char *end;
    unsigned long long v = strtoull(text, &end, 10);
    double scale = 1.0;
    if (*end && pi->type == SP_PARAM_TYPE_BYTES && end != text) {
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
            if (strcmp(end, units[i].suffix) == 0) {
                scale = units[i].scale;
                end += strlen(end);
            }
    }
    if (*end || end == text || errno == ERANGE)
        return sp_error_set(
            err, SP_ERR_INVALID, "%s: expected a whole number%s, got '%s'", name,
            pi->type == SP_PARAM_TYPE_BYTES ? " (of bytes, or with KiB, MiB, GiB, TiB)" : "", text);
    *out = (double)v * scale;
    return SP_OK;
}

static sp_status parse_choice(const sp_param_info *pi, const char *text, const char *name,
                              double *out, sp_error *err) {
    size_t n = count_choices(pi);
    for (size_t i = 0; i < n; i++)
        if (strcmp(text, pi->choices[i]) == 0) {
            *out = (double)i;
            return SP_OK;
        }
    char list[256] = "";
    for (size_t i = 0; i < n; i++) {
        size_t used = strlen(list);
        snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", pi->choices[i]);
    }
    return sp_error_set(err, SP_ERR_INVALID, "%s: '%s' is not one of %s", name, text, list);
}

static sp_status parse_raw(const sp_param_info *pi, const char *text, const char *name, double *out,
                           sp_error *err) {
    switch (pi->type) {
        case SP_PARAM_TYPE_BOOL:
            if (strcmp(text, "true") == 0 || strcmp(text, "1") == 0)
                *out = 1.0;
            else if (strcmp(text, "false") == 0 || strcmp(text, "0") == 0)
                *out = 0.0;
            else
                return sp_error_set(err, SP_ERR_INVALID, "%s: expected true or false, got '%s'",
                                    name, text);
            return SP_OK;
        case SP_PARAM_TYPE_UINT:
        case SP_PARAM_TYPE_BYTES:
        case SP_PARAM_TYPE_DURATION:
            return parse_whole(pi, text, name, out, err);
        case SP_PARAM_TYPE_FLOAT: {
            errno = 0;
            char *end;
            double v = strtod(text, &end);
            if (!text[0] || *end || errno == ERANGE || !isfinite(v))
                return sp_error_set(err, SP_ERR_INVALID, "%s: expected a number, got '%s'", name,
                                    text);
            *out = v;
            return SP_OK;
        }
        case SP_PARAM_TYPE_ENUM:
            return parse_choice(pi, text, name, out, err);
        case SP_PARAM_TYPE_METHOD: {
            sp_method m;
            sp_status st = sp_method_from_name(text, &m, err);
            if (st)
                return sp_error_prefix(err, "%s", name);
            *out = (double)m;
            return SP_OK;
        }
    }
    return sp_error_set(err, SP_ERR_STATE, "%s: parameter of unknown type %d", name, (int)pi->type);
}

sp_status sp_param_parse(const sp_param_info *pi, const char *text, const char *what, double *out,
                         sp_error *err) {
    if (!pi)
        return sp_error_set(err, SP_ERR_INVALID, "unknown parameter");
    const char *name = what ? what : pi->name;
    double v = 0.0;
    sp_status st = parse_raw(pi, text ? text : "", name, &v, err);
    if (!st)
        st = sp_param_check(pi, v, what, err);
    if (!st)
        *out = v;
    return st;
}

size_t sp_param_format(const sp_param_info *pi, double v, char *buf, size_t cap) {
    static const struct {
        const char *suffix;
        double scale;
    } units[] = {
        {"TiB", 1099511627776.0}, {"GiB", 1073741824.0}, {"MiB", 1048576.0}, {"KiB", 1024.0}};
    char tmp[64] = "?";
    if (pi) {
        switch (pi->type) {
            case SP_PARAM_TYPE_BOOL:
                snprintf(tmp, sizeof tmp, "%s", v != 0.0 ? "true" : "false");
                break;
            case SP_PARAM_TYPE_BYTES:
                snprintf(tmp, sizeof tmp, "%.0f", v);
                for (size_t i = 0; v > 0 && i < sizeof units / sizeof units[0]; i++)
                    if (fmod(v, units[i].scale) == 0.0) {
                        snprintf(tmp, sizeof tmp, "%.0f%s", v / units[i].scale, units[i].suffix);
                        break;
                    }
                break;
            case SP_PARAM_TYPE_UINT:
            case SP_PARAM_TYPE_DURATION:
                /* (double)UINT64_MAX is 2^64: print the integer it stands for. */
                if (v >= (double)UINT64_MAX)
                    snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)UINT64_MAX);
                else
                    snprintf(tmp, sizeof tmp, "%.0f", v);
                break;
            case SP_PARAM_TYPE_FLOAT:
                shortest(v, true, tmp, sizeof tmp);
                break;
            case SP_PARAM_TYPE_ENUM:
                if (v >= 0 && (size_t)v < count_choices(pi))
                    snprintf(tmp, sizeof tmp, "%s", pi->choices[(size_t)v]);
                break;
            case SP_PARAM_TYPE_METHOD: {
                const sp_method_info *mi = v >= 0 ? sp_method_info_of((sp_method)(int)v) : NULL;
                if (mi)
                    snprintf(tmp, sizeof tmp, "%s", mi->name);
                break;
            }
        }
    }
    return (size_t)snprintf(buf, cap, "%s", tmp);
}
