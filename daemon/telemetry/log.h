/* Logging for scriptd: one line per message on stderr, in the form journald understands when
 * stderr is connected to the journal ("<3>config: ..." with the sd-daemon priority prefix), or a
 * plain form with a timestamp and level name for terminals and pipes.
 *
 * Global state: the process's log settings (threshold level and output style) are the only global
 * state in daemon/. main sets them once with scd_log_setup() before any thread starts; afterwards
 * they are only read (relaxed atomics, so a later change from main is still data-race free).
 *
 * Thread-safety: every message is formatted into a private buffer and written with one write(2)
 * call, so lines from different threads never interleave. */
#ifndef SCRIPTD_LOG_H
#define SCRIPTD_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* Levels carry the syslog priority numbers used by the sd-daemon prefixes (<3>, <4>, <6>, <7>). */
typedef enum scd_log_level {
    SCD_LOG_ERROR = 3,
    SCD_LOG_WARNING = 4,
    SCD_LOG_INFO = 6,
    SCD_LOG_DEBUG = 7,
} scd_log_level;

typedef enum scd_log_style {
    SCD_LOG_STYLE_JOURNAL = 0, /* "<6>component: message" */
    SCD_LOG_STYLE_PLAIN = 1,   /* "12:00:01.250 info    component: message" */
} scd_log_style;

/* Longest output of one message (all its lines); longer output is cut and ends with "...". */
enum { SCD_LOG_MESSAGE_MAX = 4096 };

/* Sets the process's threshold and style (call from main; see the note above). */
void scd_log_setup(scd_log_level level, scd_log_style style);
scd_log_level scd_log_get_level(void);
scd_log_style scd_log_get_style(void);

/* True when a message at `level` would be written (to skip building expensive messages). */
bool scd_log_enabled(scd_log_level level);

/* The style that suits file descriptor fd: JOURNAL when $JOURNAL_STREAM names fd's device and
 * inode (systemd connected it to the journal), PLAIN otherwise. */
scd_log_style scd_log_style_for_fd(int fd);

/* Level names as written in configs and the plain style: "debug", "info", "warning", "error". */
const char *scd_log_level_name(scd_log_level level);
/* Parses a level name; returns false (and leaves *out alone) for anything else. */
bool scd_log_level_from_name(const char *name, scd_log_level *out);

/* Formats one message into buf (cap bytes, NUL-terminated) exactly as scd_log writes it, without
 * the trailing newline handling of the writer: every embedded line gets its own prefix, control
 * characters other than newline and tab become '?'. Returns the length written. `now_ms` is the
 * wall-clock time used by the plain style (milliseconds since the epoch). Pure; used by tests. */
size_t scd_log_format(char *buf, size_t cap, scd_log_style style, scd_log_level level,
                      const char *component, const char *message, long long now_ms);

/* Writes a message at `level` from `component` (a short subsystem name such as "config"). */
void scd_log(scd_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void scd_logv(scd_log_level level, const char *component, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#endif
