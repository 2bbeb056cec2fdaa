/* scriptprune's properties from core's parameter table (see pruneprops.h). */
#include "pruneprops.h"

#include <math.h>

#include "enums.h"
#include "scriptprune/params.h"

GST_DEBUG_CATEGORY_STATIC(prune_props_debug);
#define GST_CAT_DEFAULT prune_props_debug

/* Old property names: they set the same value and say once per process which name replaced
 * them. */
typedef struct prune_alias {
    const gchar *old_name;
    sp_param_id id;
} prune_alias;

static const prune_alias aliases[] = {
    {"budget", SP_PARAM_FRAME_BUDGET},
    {"radius", SP_PARAM_TEMPORAL_RADIUS},
};
#define N_ALIASES G_N_ELEMENTS(aliases)

/* Interned once: property names are the table's with dashes. */
const gchar *prune_props_name(guint param_id) {
    const sp_param_info *pi = sp_param_of((sp_param_id)param_id);
    if (!pi)
        return NULL;
    gchar *dashed = g_strdelimit(g_strdup(pi->name), "_", '-');
    const gchar *name = g_intern_string(dashed);
    g_free(dashed);
    return name;
}

static gboolean exposed(const sp_param_info *pi) {
    return (pi->scope & SP_PARAM_IN_STREAM) || pi->id == SP_PARAM_METHOD;
}

/* Enum parameters with a GType of their own keep it (their names appear in gst-inspect and
 * applications); any other enum of the table gets one registered from its choices. */
static GType enum_type(const sp_param_info *pi) {
    switch (pi->id) {
        case SP_PARAM_METHOD:
            return GST_TYPE_SCRIPT_METHOD;
        case SP_PARAM_EMIT:
            return GST_TYPE_SCRIPT_EMIT;
        case SP_PARAM_GRAPH:
            return GST_TYPE_SCRIPT_GRAPH;
        default:
            break;
    }
    gchar *camel = g_strdup_printf("GstScriptprune_%s", pi->name);
    GType t = g_type_from_name(camel);
    if (!t) {
        guint n = 0;
        while (pi->choices && pi->choices[n])
            n++;
        /* Static for the process lifetime, as g_enum_register_static requires. */
        GEnumValue *values = g_new0(GEnumValue, n + 1);
        for (guint i = 0; i < n; i++) {
            values[i].value = (gint)i;
            values[i].value_name = pi->choices[i];
            values[i].value_nick = pi->choices[i];
        }
        t = g_enum_register_static(camel, values);
    }
    g_free(camel);
    return t;
}

static GParamSpec *make_spec(const sp_param_info *pi, const gchar *name, const gchar *blurb,
                             GParamFlags flags) {
    switch (pi->type) {
        case SP_PARAM_TYPE_BOOL:
            return g_param_spec_boolean(name, name, blurb, pi->def != 0.0, flags);
        case SP_PARAM_TYPE_UINT:
            if (pi->max <= G_MAXUINT)
                return g_param_spec_uint(name, name, blurb, (guint)pi->min, (guint)pi->max,
                                         (guint)pi->def, flags);
            return g_param_spec_uint64(name, name, blurb, (guint64)pi->min, (guint64)pi->max,
                                       (guint64)pi->def, flags);
        case SP_PARAM_TYPE_BYTES:
        case SP_PARAM_TYPE_DURATION:
            return g_param_spec_uint64(name, name, blurb, (guint64)pi->min, (guint64)pi->max,
                                       (guint64)pi->def, flags);
        case SP_PARAM_TYPE_FLOAT: {
            /* GParamSpec bounds are inclusive: an excluded minimum becomes the next float. */
            gfloat lo = (gfloat)pi->min;
            if (pi->min_exclusive)
                lo = nextafterf(lo, INFINITY);
            return g_param_spec_float(name, name, blurb, lo, (gfloat)pi->max, (gfloat)pi->def,
                                      flags);
        }
        case SP_PARAM_TYPE_ENUM:
        case SP_PARAM_TYPE_METHOD:
            return g_param_spec_enum(name, name, blurb, enum_type(pi), (gint)pi->def, flags);
    }
    g_assert_not_reached();
}

guint prune_props_count(void) {
    return SP_PARAM_COUNT + N_ALIASES;
}

void prune_props_install(GObjectClass *gc, guint first_id, GParamFlags flags) {
    GST_DEBUG_CATEGORY_INIT(prune_props_debug, "scriptprune", 0, "visual-token pruning (scriptd)");
    size_t n;
    const sp_param_info *t = sp_param_table(&n);
    for (size_t i = 0; i < n; i++) {
        if (!exposed(&t[i]))
            continue;
        g_object_class_install_property(
            gc, first_id + (guint)t[i].id,
            make_spec(&t[i], prune_props_name(t[i].id), t[i].doc, flags));
    }
    for (guint a = 0; a < N_ALIASES; a++) {
        const sp_param_info *pi = sp_param_of(aliases[a].id);
        /* Interned: the pspec may keep the pointer (G_PARAM_STATIC_STRINGS). */
        gchar *text = g_strdup_printf("Deprecated: use %s", prune_props_name(pi->id));
        const gchar *blurb = g_intern_string(text);
        g_free(text);
        g_object_class_install_property(
            gc, first_id + SP_PARAM_COUNT + a,
            make_spec(pi, aliases[a].old_name, blurb, flags | G_PARAM_DEPRECATED));
    }
}

static double value_to_double(const GValue *v) {
    switch (G_TYPE_FUNDAMENTAL(G_VALUE_TYPE(v))) {
        case G_TYPE_BOOLEAN:
            return g_value_get_boolean(v) ? 1.0 : 0.0;
        case G_TYPE_UINT:
            return (double)g_value_get_uint(v);
        case G_TYPE_UINT64:
            return (double)g_value_get_uint64(v);
        case G_TYPE_FLOAT:
            return (double)g_value_get_float(v);
        case G_TYPE_ENUM:
            return (double)g_value_get_enum(v);
        default:
            return NAN;
    }
}

static void double_to_value(double d, GValue *v) {
    switch (G_TYPE_FUNDAMENTAL(G_VALUE_TYPE(v))) {
        case G_TYPE_BOOLEAN:
            g_value_set_boolean(v, d != 0.0);
            break;
        case G_TYPE_UINT:
            g_value_set_uint(v, (guint)d);
            break;
        case G_TYPE_UINT64:
            g_value_set_uint64(v, (guint64)d);
            break;
        case G_TYPE_FLOAT:
            g_value_set_float(v, (gfloat)d);
            break;
        case G_TYPE_ENUM:
            g_value_set_enum(v, (gint)d);
            break;
        default:
            break;
    }
}

/* Maps prop_id to a table id; *alias is the alias index or -1. */
static gboolean param_of_prop(guint first_id, guint prop_id, sp_param_id *id, gint *alias) {
    if (prop_id < first_id || prop_id >= first_id + prune_props_count())
        return FALSE;
    guint k = prop_id - first_id;
    *alias = k >= SP_PARAM_COUNT ? (gint)(k - SP_PARAM_COUNT) : -1;
    *id = *alias >= 0 ? aliases[*alias].id : (sp_param_id)k;
    return TRUE;
}

static void warn_deprecated_once(GObject *obj, gint alias) {
    static gint warned[N_ALIASES];
    GST_WARNING_OBJECT(obj, "property '%s' is deprecated: use '%s'", aliases[alias].old_name,
                       prune_props_name(aliases[alias].id));
    if (g_atomic_int_compare_and_exchange(&warned[alias], 0, 1))
        g_message("scriptprune: property '%s' is deprecated: use '%s'", aliases[alias].old_name,
                  prune_props_name(aliases[alias].id));
}

gboolean prune_props_set(GObject *obj, PruneParams *p, guint first_id, guint prop_id,
                         const GValue *value) {
    sp_param_id id;
    gint alias;
    if (!param_of_prop(first_id, prop_id, &id, &alias))
        return FALSE;
    if (alias >= 0)
        warn_deprecated_once(obj, alias);
    double v = value_to_double(value);
    if (id == SP_PARAM_METHOD) {
        p->method = (sp_method)(gint)v;
        return TRUE;
    }
    sp_error err;
    sp_error_clear(&err);
    /* GLib checked the pspec's range, which is the table's: this only fails on a bug. */
    if (sp_stream_params_set(&p->sp, id, v, &err) != SP_OK)
        GST_WARNING_OBJECT(obj, "%s", err.message);
    return TRUE;
}

gboolean prune_props_get(const PruneParams *p, guint first_id, guint prop_id, GValue *value) {
    sp_param_id id;
    gint alias;
    if (!param_of_prop(first_id, prop_id, &id, &alias))
        return FALSE;
    double_to_value(id == SP_PARAM_METHOD ? (double)p->method : sp_stream_params_get(&p->sp, id),
                    value);
    return TRUE;
}
