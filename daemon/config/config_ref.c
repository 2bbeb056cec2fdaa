#include "config/config_ref.h"

#include <glib.h>

scd_config_ref *scd_config_ref_new(scd_config *cfg) {
    scd_config_ref *r = g_atomic_rc_box_new0(scd_config_ref);
    r->cfg = cfg;
    return r;
}

scd_config_ref *scd_config_ref_acquire(scd_config_ref *r) {
    return g_atomic_rc_box_acquire(r);
}

static void clear_config_ref(gpointer data) {
    scd_config_ref *r = data;
    scd_config_free(r->cfg);
}

void scd_config_ref_release(scd_config_ref *r) {
    if (r)
        g_atomic_rc_box_release_full(r, clear_config_ref);
}
