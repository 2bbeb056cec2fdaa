/* A reference-counted config, shared by the config in force and the streams started from it.
 *
 * A running stream keeps the config it was started from (its scd_stream_cfg lives inside it)
 * while a reload installs a new one, so a config is freed when its last user lets go. Counting is
 * thread-safe; the config itself is immutable. */
#ifndef SCRIPTD_CONFIG_REF_H
#define SCRIPTD_CONFIG_REF_H

#include "config/config.h"

typedef struct scd_config_ref {
    scd_config *cfg;
} scd_config_ref;

/* Takes ownership of cfg. */
scd_config_ref *scd_config_ref_new(scd_config *cfg);
scd_config_ref *scd_config_ref_acquire(scd_config_ref *r);
void scd_config_ref_release(scd_config_ref *r);

#endif
