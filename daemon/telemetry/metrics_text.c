#include "telemetry/metrics_text.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct child {
    char *labels;     /* rendered label pairs without braces: a="x",b="y" ("" when none) */
    double value;     /* counter or gauge */
    guint64 *buckets; /* histogram: n_bounds + 1 per-bucket (not cumulative) counts */
    double sum;       /* histogram */
    guint64 count;    /* histogram */
} child;

struct scd_metric {
    scd_metrics *reg;
    scd_metric_type type;
    char *name;
    char *help;
    char **label_names; /* NULL-terminated */
    size_t n_labels;
    double *bounds;
    size_t n_bounds;
    GPtrArray *children;   /* child*, creation order */
    GHashTable *by_labels; /* labels string -> child* (borrowed) */
};

struct scd_metrics {
    GMutex lock;
    GPtrArray *families; /* scd_metric*, registration order */
};

static void child_free(gpointer p) {
    child *c = p;
    g_free(c->labels);
    g_free(c->buckets);
    g_free(c);
}

static void metric_free(gpointer p) {
    scd_metric *m = p;
    g_hash_table_destroy(m->by_labels);
    g_ptr_array_free(m->children, TRUE);
    g_strfreev(m->label_names);
    g_free(m->bounds);
    g_free(m->name);
    g_free(m->help);
    g_free(m);
}

scd_metrics *scd_metrics_new(void) {
    scd_metrics *reg = g_new0(scd_metrics, 1);
    g_mutex_init(&reg->lock);
    reg->families = g_ptr_array_new_with_free_func(metric_free);
    return reg;
}

void scd_metrics_free(scd_metrics *reg) {
    if (!reg)
        return;
    g_ptr_array_free(reg->families, TRUE);
    g_mutex_clear(&reg->lock);
    g_free(reg);
}

gboolean scd_metrics_valid_metric_name(const char *name) {
    if (!name || !name[0])
        return FALSE;
    for (const char *p = name; *p; p++) {
        gboolean alpha = g_ascii_isalpha(*p) || *p == '_' || *p == ':';
        if (!alpha && !(p > name && g_ascii_isdigit(*p)))
            return FALSE;
    }
    return TRUE;
}

gboolean scd_metrics_valid_label_name(const char *name) {
    if (!name || !name[0] || g_str_has_prefix(name, "__"))
        return FALSE;
    for (const char *p = name; *p; p++) {
        gboolean alpha = g_ascii_isalpha(*p) || *p == '_';
        if (!alpha && !(p > name && g_ascii_isdigit(*p)))
            return FALSE;
    }
    return TRUE;
}

void scd_metrics_escape_label_value(GString *out, const char *value) {
    for (const char *p = value; *p; p++) {
        if (*p == '\\')
            g_string_append(out, "\\\\");
        else if (*p == '"')
            g_string_append(out, "\\\"");
        else if (*p == '\n')
            g_string_append(out, "\\n");
        else
            g_string_append_c(out, *p);
    }
}

void scd_metrics_escape_help(GString *out, const char *help) {
    for (const char *p = help; *p; p++) {
        if (*p == '\\')
            g_string_append(out, "\\\\");
        else if (*p == '\n')
            g_string_append(out, "\\n");
        else
            g_string_append_c(out, *p);
    }
}

void scd_metrics_format_value(GString *out, double value) {
    if (isnan(value)) {
        g_string_append(out, "NaN");
        return;
    }
    if (isinf(value)) {
        g_string_append(out, value > 0 ? "+Inf" : "-Inf");
        return;
    }
    char buf[40];
    /* Whole numbers that a double holds exactly (every counter) print as integers: the %g
     * search below would pick "2e+01" for 20. */
    if (value == floor(value) && fabs(value) < 9007199254740992.0) {
        snprintf(buf, sizeof buf, "%.0f", value);
        g_string_append(out, strcmp(buf, "-0") == 0 ? "0" : buf);
        return;
    }
    /* Otherwise the shortest %g form that parses back to the same double keeps values readable
     * ("0.1", not "0.10000000000000001") without losing precision. */
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, value);
        if (strtod(buf, NULL) == value)
            break;
    }
    g_string_append(out, buf);
}

sp_status scd_metrics_add(scd_metrics *reg, scd_metric_type type, const char *name,
                          const char *help, const char *const *label_names, size_t n_labels,
                          const double *bounds, size_t n_bounds, scd_metric **out, sp_error *err) {
    if (out)
        *out = NULL;
    if (!reg || !out)
        return sp_error_set(err, SP_ERR_INVALID, "metrics: registry and out are required");
    if (!scd_metrics_valid_metric_name(name))
        return sp_error_set(err, SP_ERR_INVALID, "metrics: invalid metric name '%s'",
                            name ? name : "(null)");
    if (n_labels > SCD_METRICS_MAX_LABELS)
        return sp_error_set(err, SP_ERR_INVALID, "metrics: %s: more than %d labels", name,
                            SCD_METRICS_MAX_LABELS);
    for (size_t i = 0; i < n_labels; i++) {
        if (!scd_metrics_valid_label_name(label_names[i]))
            return sp_error_set(err, SP_ERR_INVALID, "metrics: %s: invalid label name '%s'", name,
                                label_names[i] ? label_names[i] : "(null)");
        if (type == SCD_METRIC_HISTOGRAM && strcmp(label_names[i], "le") == 0)
            return sp_error_set(err, SP_ERR_INVALID,
                                "metrics: %s: label 'le' is reserved for histogram buckets", name);
        for (size_t j = 0; j < i; j++)
            if (strcmp(label_names[i], label_names[j]) == 0)
                return sp_error_set(err, SP_ERR_INVALID, "metrics: %s: label '%s' given twice",
                                    name, label_names[i]);
    }
    if (type == SCD_METRIC_HISTOGRAM) {
        if (n_bounds == 0 || n_bounds > SCD_METRICS_MAX_BUCKETS || !bounds)
            return sp_error_set(err, SP_ERR_INVALID,
                                "metrics: %s: a histogram needs 1 to %d bucket bounds", name,
                                SCD_METRICS_MAX_BUCKETS);
        for (size_t i = 0; i < n_bounds; i++) {
            if (!isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1])))
                return sp_error_set(err, SP_ERR_INVALID,
                                    "metrics: %s: bucket bounds must be finite and strictly "
                                    "increasing (bound %zu)",
                                    name, i);
        }
    } else if (n_bounds != 0) {
        return sp_error_set(err, SP_ERR_INVALID, "metrics: %s: only histograms have buckets", name);
    }

    g_mutex_lock(&reg->lock);
    for (guint i = 0; i < reg->families->len; i++) {
        scd_metric *other = g_ptr_array_index(reg->families, i);
        if (strcmp(other->name, name) == 0) {
            g_mutex_unlock(&reg->lock);
            return sp_error_set(err, SP_ERR_INVALID, "metrics: %s declared twice", name);
        }
    }
    scd_metric *m = g_new0(scd_metric, 1);
    m->reg = reg;
    m->type = type;
    m->name = g_strdup(name);
    m->help = g_strdup(help ? help : "");
    m->label_names = g_new0(char *, n_labels + 1);
    for (size_t i = 0; i < n_labels; i++)
        m->label_names[i] = g_strdup(label_names[i]);
    m->n_labels = n_labels;
    if (n_bounds) {
        m->bounds = g_memdup2(bounds, n_bounds * sizeof *bounds);
        m->n_bounds = n_bounds;
    }
    m->children = g_ptr_array_new_with_free_func(child_free);
    m->by_labels = g_hash_table_new(g_str_hash, g_str_equal);
    g_ptr_array_add(reg->families, m);
    g_mutex_unlock(&reg->lock);
    *out = m;
    return SP_OK;
}

/* Finds or creates the child for label_values; the registry lock is held by the caller. */
static child *child_for(scd_metric *m, const char *const *label_values, sp_error *err) {
    GString *key = g_string_new(NULL);
    for (size_t i = 0; i < m->n_labels; i++) {
        if (!label_values || !label_values[i]) {
            g_string_free(key, TRUE);
            sp_error_set(err, SP_ERR_INVALID, "metrics: %s: value of label '%s' missing", m->name,
                         m->label_names[i]);
            return NULL;
        }
        if (i)
            g_string_append_c(key, ',');
        g_string_append_printf(key, "%s=\"", m->label_names[i]);
        scd_metrics_escape_label_value(key, label_values[i]);
        g_string_append_c(key, '"');
    }
    child *c = g_hash_table_lookup(m->by_labels, key->str);
    if (c) {
        g_string_free(key, TRUE);
        return c;
    }
    c = g_new0(child, 1);
    c->labels = g_string_free(key, FALSE);
    if (m->type == SCD_METRIC_HISTOGRAM)
        c->buckets = g_new0(guint64, m->n_bounds + 1);
    g_ptr_array_add(m->children, c);
    g_hash_table_insert(m->by_labels, c->labels, c);
    return c;
}

static sp_status update(scd_metric *m, const char *const *label_values, double v, int op,
                        sp_error *err) {
    enum { OP_INC, OP_SET, OP_OBSERVE };
    static const char *const op_name[] = {"inc", "set", "observe"};
    if (!m)
        return sp_error_set(err, SP_ERR_INVALID, "metrics: no metric");
    bool type_ok = (op == OP_INC && m->type != SCD_METRIC_HISTOGRAM) ||
                   (op == OP_SET && m->type == SCD_METRIC_GAUGE) ||
                   (op == OP_OBSERVE && m->type == SCD_METRIC_HISTOGRAM);
    if (!type_ok)
        return sp_error_set(err, SP_ERR_INVALID, "metrics: %s: '%s' does not apply to this type",
                            m->name, op_name[op]);
    if (isnan(v) || (op != OP_OBSERVE && !isfinite(v)))
        return sp_error_set(err, SP_ERR_INVALID, "metrics: %s: value must be finite", m->name);
    if (m->type == SCD_METRIC_COUNTER && v < 0)
        return sp_error_set(err, SP_ERR_INVALID, "metrics: %s: a counter cannot decrease", m->name);
    g_mutex_lock(&m->reg->lock);
    child *c = child_for(m, label_values, err);
    if (!c) {
        g_mutex_unlock(&m->reg->lock);
        return SP_ERR_INVALID;
    }
    if (op == OP_INC) {
        c->value += v;
    } else if (op == OP_SET) {
        c->value = v;
    } else {
        size_t b = 0;
        while (b < m->n_bounds && v > m->bounds[b])
            b++;
        c->buckets[b]++;
        c->sum += v;
        c->count++;
    }
    g_mutex_unlock(&m->reg->lock);
    return SP_OK;
}

sp_status scd_metric_inc(scd_metric *m, const char *const *label_values, double delta,
                         sp_error *err) {
    return update(m, label_values, delta, 0, err);
}

sp_status scd_metric_set(scd_metric *m, const char *const *label_values, double value,
                         sp_error *err) {
    return update(m, label_values, value, 1, err);
}

sp_status scd_metric_observe(scd_metric *m, const char *const *label_values, double value,
                             sp_error *err) {
    return update(m, label_values, value, 2, err);
}

static void sample(GString *out, const char *name, const char *suffix, const char *labels,
                   const char *extra, double value) {
    g_string_append(out, name);
    g_string_append(out, suffix);
    bool has = labels[0] != '\0';
    if (has || extra) {
        g_string_append_c(out, '{');
        g_string_append(out, labels);
        if (extra) {
            if (has)
                g_string_append_c(out, ',');
            g_string_append(out, extra);
        }
        g_string_append_c(out, '}');
    }
    g_string_append_c(out, ' ');
    scd_metrics_format_value(out, value);
    g_string_append_c(out, '\n');
}

static void render_histogram(GString *out, const scd_metric *m, const child *c) {
    GString *le = g_string_new(NULL);
    guint64 cumulative = 0;
    for (size_t b = 0; b <= m->n_bounds; b++) {
        cumulative += c->buckets[b];
        g_string_assign(le, "le=\"");
        if (b < m->n_bounds)
            scd_metrics_format_value(le, m->bounds[b]);
        else
            g_string_append(le, "+Inf");
        g_string_append_c(le, '"');
        sample(out, m->name, "_bucket", c->labels, le->str, (double)cumulative);
    }
    g_string_free(le, TRUE);
    sample(out, m->name, "_sum", c->labels, NULL, c->sum);
    sample(out, m->name, "_count", c->labels, NULL, (double)c->count);
}

void scd_metrics_render(scd_metrics *reg, GString *out) {
    static const char *const type_name[] = {"counter", "gauge", "histogram"};
    g_mutex_lock(&reg->lock);
    for (guint i = 0; i < reg->families->len; i++) {
        scd_metric *m = g_ptr_array_index(reg->families, i);
        /* A family without labels always has its one child, so it is exposed (as 0) from the
         * start; scrapers then see a series before the first event instead of a gap. */
        if (m->n_labels == 0 && m->children->len == 0) {
            sp_error ignored;
            child_for(m, NULL, &ignored);
        }
        g_string_append_printf(out, "# HELP %s ", m->name);
        scd_metrics_escape_help(out, m->help);
        g_string_append_printf(out, "\n# TYPE %s %s\n", m->name, type_name[m->type]);
        for (guint j = 0; j < m->children->len; j++) {
            const child *c = g_ptr_array_index(m->children, j);
            if (m->type == SCD_METRIC_HISTOGRAM)
                render_histogram(out, m, c);
            else
                sample(out, m->name, "", c->labels, NULL, c->value);
        }
    }
    g_mutex_unlock(&reg->lock);
}
