/* sd_notify, STATUS updates and the progress-gated watchdog (notify.h). */
#include "process/notify.h"

#include <inttypes.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "telemetry/log.h"
#include "process/status.h"
#include "runtime/streams.h"

enum { STATUS_PERIOD_S = 5 };

struct scd_notify {
    scd_app *app;
    uint64_t watchdog_usec;
    guint watchdog_timer, status_timer;
    bool stalled; /* the previous tick skipped its ping (log once per stall) */
};

static void notify_send(const char *text) {
    int r = sd_notify(0, text);
    if (r < 0)
        scd_log(SCD_LOG_WARNING, "notify", "sd_notify failed: %s", g_strerror(-r));
}

static void send_status(const char *prefix, const char *status) {
    /* One line: systemd shows STATUS= as is, and a newline would end the assignment. */
    char *clean = g_strdup(status ? status : "");
    g_strdelimit(clean, "\n", ' ');
    char *text = g_strdup_printf("%sSTATUS=%s", prefix, clean);
    notify_send(text);
    g_free(text);
    g_free(clean);
}

static gboolean watchdog_tick(gpointer data) {
    scd_notify *n = data;
    GString *stalled = g_string_new(NULL);
    /* While draining, streams legitimately stop; the drain itself is bounded. */
    bool ok =
        n->app->stopping || !n->app->streams || scd_streams_advanced(n->app->streams, stalled);
    if (ok) {
        notify_send("WATCHDOG=1");
        scd_metric_counter_add(n->app->m->watchdog_pings, NULL, 1);
        if (n->stalled)
            scd_log(SCD_LOG_INFO, "notify", "every stream advances again: watchdog pings resume");
        n->stalled = false;
    } else {
        scd_metric_counter_add(n->app->m->watchdog_skipped, NULL, 1);
        if (!n->stalled)
            scd_log(SCD_LOG_WARNING, "notify",
                    "no new frames from %s since the last watchdog tick: WATCHDOG=1 withheld",
                    stalled->str);
        n->stalled = true;
    }
    g_string_free(stalled, TRUE);
    return G_SOURCE_CONTINUE;
}

static gboolean status_tick(gpointer data) {
    scd_notify *n = data;
    if (n->app->ready_sent && !n->app->stopping) {
        char *s = scd_app_status_text(n->app);
        scd_notify_status(n, s);
        g_free(s);
    }
    return G_SOURCE_CONTINUE;
}

scd_notify *scd_notify_new(scd_app *app) {
    scd_notify *n = g_new0(scd_notify, 1);
    n->app = app;
    uint64_t usec = 0;
    int r = sd_watchdog_enabled(0, &usec);
    if (r > 0 && usec > 0) {
        n->watchdog_usec = usec;
        guint period_ms = (guint)MAX(usec / 2000, 1);
        n->watchdog_timer = g_timeout_add(period_ms, watchdog_tick, n);
        scd_log(SCD_LOG_INFO, "notify", "watchdog every %u ms (WATCHDOG_USEC=%" PRIu64 ")",
                period_ms, usec);
    } else if (r < 0) {
        scd_log(SCD_LOG_WARNING, "notify", "ignoring the watchdog settings: %s", g_strerror(-r));
    }
    if (g_getenv("NOTIFY_SOCKET"))
        n->status_timer = g_timeout_add_seconds(STATUS_PERIOD_S, status_tick, n);
    return n;
}

void scd_notify_free(scd_notify *n) {
    if (!n)
        return;
    if (n->watchdog_timer)
        g_source_remove(n->watchdog_timer);
    if (n->status_timer)
        g_source_remove(n->status_timer);
    g_free(n);
}

void scd_notify_ready(scd_notify *n, const char *status) {
    (void)n;
    send_status("READY=1\n", status);
}

void scd_notify_status(scd_notify *n, const char *status) {
    (void)n;
    send_status("", status);
}

void scd_notify_reloading(scd_notify *n) {
    (void)n;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t usec = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
    char *text = g_strdup_printf(
        "RELOADING=1\nMONOTONIC_USEC=%" PRIu64 "\nSTATUS=reloading the configuration", usec);
    notify_send(text);
    g_free(text);
}

void scd_notify_stopping(scd_notify *n) {
    (void)n;
    notify_send("STOPPING=1\nSTATUS=stopping: draining the streams");
}

uint64_t scd_notify_watchdog_usec(const scd_notify *n) {
    return n->watchdog_usec;
}
