/* scriptprune's stream properties, made from core's parameter table (scriptprune/params.h): one
 * property per stream parameter and the method, named with dashes ("temporal-tau"), with the
 * table's default, range and doc; and the old property names, kept working with a deprecation
 * message that names the new one. */
#ifndef GST_SCRIPT_PRUNEPROPS_H
#define GST_SCRIPT_PRUNEPROPS_H

#include <gst/gst.h>

#include "pruneparams.h"

G_BEGIN_DECLS

/* Installs the properties with ids first_id .. first_id + prune_props_count() - 1. */
void prune_props_install(GObjectClass *gc, guint first_id, GParamFlags flags);
guint prune_props_count(void);

/* Handle a property of those ids: TRUE when prop_id is one of them. Called with the object lock
 * held (they only touch p). */
gboolean prune_props_set(GObject *obj, PruneParams *p, guint first_id, guint prop_id,
                         const GValue *value);
gboolean prune_props_get(const PruneParams *p, guint first_id, guint prop_id, GValue *value);

/* The property name of a table parameter ("temporal-tau"); static storage. */
const gchar *prune_props_name(guint param_id);

G_END_DECLS

#endif
