/* Configuration reloads (SIGHUP) and the parts of a config applied to the process (log level,
 * bearer token). A new config that does not load is rejected with its positioned error and the
 * running one stays in force; a good one is installed and only the streams whose settings
 * changed restart. Settings that need a new process (the listeners) are reported, not applied.
 * Main thread. */
#ifndef SCRIPTD_RELOAD_H
#define SCRIPTD_RELOAD_H

#include "app.h"
#include "scriptprune/error.h"

/* Reads server.token_file: its first line, without surrounding blanks; must not be empty. */
sp_status scd_read_token_file(const char *path, char **token, sp_error *err);

/* Applies cfg's log settings to the process. */
void scd_apply_log_settings(const scd_config *cfg);

/* Reloads app->config_path. Returns true when the new config is in force. */
bool scd_reload(scd_app *app);

#endif
