/* The one-line state of the process: the STATUS= text for systemd, also logged when ready and
 * after a reload. Main thread. */
#ifndef SCRIPTD_PROCESS_STATUS_H
#define SCRIPTD_PROCESS_STATUS_H

#include "app.h"

/* Each stream's state, whether jobs run, and where the API listens. g_free. */
char *scd_app_status_text(scd_app *app);

#endif
