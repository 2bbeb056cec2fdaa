/* Prometheus text exposition format 0.0.4, written by hand (Debian 12 ships no C client).
 *
 * A registry holds metric families (counter, gauge, histogram), each with fixed label names; a
 * family's children are created on first use of a label-value tuple. Updates come from streaming
 * threads and rendering from the HTTP handler, so every call takes the registry's mutex.
 * Rendering writes, per family in registration order, "# HELP", "# TYPE" and one line per child
 * (children in creation order); histograms write cumulative name_bucket{...,le="B"} lines ending
 * with le="+Inf", then name_sum and name_count.
 *
 * Memory: GLib allocation aborts the process when out of memory, which is the daemon's policy. */
#ifndef SCRIPTD_METRICS_TEXT_H
#define SCRIPTD_METRICS_TEXT_H

#include <glib.h>
#include <stddef.h>

#include "scriptprune/error.h"

#define SCD_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

enum { SCD_METRICS_MAX_LABELS = 8, SCD_METRICS_MAX_BUCKETS = 64 };

typedef enum scd_metric_type {
    SCD_METRIC_COUNTER,
    SCD_METRIC_GAUGE,
    SCD_METRIC_HISTOGRAM,
} scd_metric_type;

typedef struct scd_metrics scd_metrics; /* the registry */
typedef struct scd_metric scd_metric;   /* one family; owned by its registry */

scd_metrics *scd_metrics_new(void);
void scd_metrics_free(scd_metrics *reg);

/* Declares a family. name matches [a-zA-Z_:][a-zA-Z0-9_:]*, label names match
 * [a-zA-Z_][a-zA-Z0-9_]* and do not start with "__"; histograms may not use the label "le".
 * Histogram bounds are finite and strictly increasing (the +Inf bucket is implicit); other types
 * pass NULL/0. Declaring a name twice is an error. *out stays valid until scd_metrics_free. */
sp_status scd_metrics_add(scd_metrics *reg, scd_metric_type type, const char *name,
                          const char *help, const char *const *label_names, size_t n_labels,
                          const double *bounds, size_t n_bounds, scd_metric **out, sp_error *err);

/* label_values has one string per declared label name, in the same order (NULL when none).
 * Counters: inc adds delta >= 0. Gauges: inc adds any finite delta, set replaces the value.
 * Histograms: observe records one value (NaN is refused). Wrong-type calls are errors. */
sp_status scd_metric_inc(scd_metric *m, const char *const *label_values, double delta,
                         sp_error *err);
sp_status scd_metric_set(scd_metric *m, const char *const *label_values, double value,
                         sp_error *err);
sp_status scd_metric_observe(scd_metric *m, const char *const *label_values, double value,
                             sp_error *err);

/* Appends the whole exposition to out. */
void scd_metrics_render(scd_metrics *reg, GString *out);

/* The pieces the renderer uses, exposed for tests and for callers writing lines by hand. */
/* Label values: backslash -> \\, double quote -> \", newline -> \n. */
void scd_metrics_escape_label_value(GString *out, const char *value);
/* HELP text: backslash -> \\, newline -> \n (quotes stay). */
void scd_metrics_escape_help(GString *out, const char *help);
/* Sample values: the shortest decimal that reads back to the same double, "+Inf", "-Inf", "NaN". */
void scd_metrics_format_value(GString *out, double value);
gboolean scd_metrics_valid_metric_name(const char *name);
gboolean scd_metrics_valid_label_name(const char *name);

#endif
