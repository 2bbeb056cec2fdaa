/* Reference-counted configs (see app.h). */
#include "app.h"

scd_cfgref *scd_cfgref_new(scd_config *cfg) {
    scd_cfgref *r = g_atomic_rc_box_new0(scd_cfgref);
    r->cfg = cfg;
    return r;
}

scd_cfgref *scd_cfgref_acquire(scd_cfgref *r) {
    return g_atomic_rc_box_acquire(r);
}

static void clear_cfgref(gpointer data) {
    scd_cfgref *r = data;
    scd_config_free(r->cfg);
}

void scd_cfgref_release(scd_cfgref *r) {
    if (r)
        g_atomic_rc_box_release_full(r, clear_cfgref);
}
