/* The service manager protocol (sd_notify, libsystemd): READY=1 once the streams settled,
 * STATUS= lines, RELOADING=1 (with MONOTONIC_USEC=, which systemd 253+ needs for
 * Type=notify-reload and 252 ignores) around a SIGHUP reload, STOPPING=1 at shutdown, and
 * WATCHDOG=1 at half the interval systemd asked for, sent only when every PLAYING stream saw new
 * frames since the previous tick: a wedged streaming thread stops the pings and gets the service
 * restarted, which a ping from the main loop alone would hide.
 *
 * Without $NOTIFY_SOCKET every call is a no-op. Main thread only. */
#ifndef SCRIPTD_NOTIFY_H
#define SCRIPTD_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "app.h"

scd_notify *scd_notify_new(scd_app *app);
void scd_notify_free(scd_notify *n);

void scd_notify_ready(scd_notify *n, const char *status);
void scd_notify_status(scd_notify *n, const char *status);
void scd_notify_reloading(scd_notify *n);
void scd_notify_stopping(scd_notify *n);
/* The watchdog interval systemd asked for, in microseconds (0: none). */
uint64_t scd_notify_watchdog_usec(const scd_notify *n);

#endif
