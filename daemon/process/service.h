/* The running daemon, from a loaded config to its exit status (process/service.c). */
#ifndef SCRIPTD_PROCESS_SERVICE_H
#define SCRIPTD_PROCESS_SERVICE_H

#include <stdbool.h>

#include "config/config.h"

/* scriptd's exit statuses. */
enum {
    SCD_EXIT_OK = 0,
    SCD_EXIT_FAILURE_RUN = 1, /* could not start (listener, plugin) or failed at run time */
    SCD_EXIT_BAD_CONFIG = 2,  /* the config (or the command line) is invalid */
};

typedef struct scd_run_options {
    char *config_path; /* as given on the command line (borrowed) */
    char *ready_file;  /* --ready-file, NULL for none (borrowed) */
    bool exit_when_done;
    bool summary_json; /* with exit_when_done: the summary as JSON Lines */
} scd_run_options;

/* Runs until a signal, or until every source ended (exit_when_done); takes cfg. Returns an
 * SCD_EXIT_* status. GStreamer must be initialized. */
int scd_service_run(const scd_run_options *o, scd_config *cfg);

#endif
