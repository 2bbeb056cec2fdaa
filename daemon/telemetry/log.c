#include "telemetry/log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

/* The only global state of daemon/ (see log.h): written by main, read by every thread. */
static atomic_int log_level = SCD_LOG_INFO;
static atomic_int log_style = SCD_LOG_STYLE_PLAIN;

void scd_log_setup(scd_log_level level, scd_log_style style) {
    atomic_store_explicit(&log_level, (int)level, memory_order_relaxed);
    atomic_store_explicit(&log_style, (int)style, memory_order_relaxed);
}

scd_log_level scd_log_get_level(void) {
    return (scd_log_level)atomic_load_explicit(&log_level, memory_order_relaxed);
}

scd_log_style scd_log_get_style(void) {
    return (scd_log_style)atomic_load_explicit(&log_style, memory_order_relaxed);
}

bool scd_log_enabled(scd_log_level level) {
    return (int)level <= atomic_load_explicit(&log_level, memory_order_relaxed);
}

scd_log_style scd_log_style_for_fd(int fd) {
    /* systemd sets JOURNAL_STREAM="DEV:INODE" for the stream it connected; a process whose stderr
     * was redirected elsewhere inherits the variable, so the fd itself must match it. */
    const char *js = getenv("JOURNAL_STREAM");
    struct stat st;
    if (!js || fstat(fd, &st) != 0)
        return SCD_LOG_STYLE_PLAIN;
    unsigned long long dev = 0, ino = 0;
    char tail;
    if (sscanf(js, "%llu:%llu%c", &dev, &ino, &tail) != 2)
        return SCD_LOG_STYLE_PLAIN;
    if ((unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino)
        return SCD_LOG_STYLE_JOURNAL;
    return SCD_LOG_STYLE_PLAIN;
}

const char *scd_log_level_name(scd_log_level level) {
    switch (level) {
        case SCD_LOG_ERROR:
            return "error";
        case SCD_LOG_WARNING:
            return "warning";
        case SCD_LOG_INFO:
            return "info";
        case SCD_LOG_DEBUG:
            return "debug";
    }
    return "unknown";
}

bool scd_log_level_from_name(const char *name, scd_log_level *out) {
    static const scd_log_level all[] = {SCD_LOG_DEBUG, SCD_LOG_INFO, SCD_LOG_WARNING,
                                        SCD_LOG_ERROR};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (strcmp(name, scd_log_level_name(all[i])) == 0) {
            *out = all[i];
            return true;
        }
    }
    return false;
}

static const char *journal_prefix(scd_log_level level) {
    switch (level) {
        case SCD_LOG_ERROR:
            return SD_ERR;
        case SCD_LOG_WARNING:
            return SD_WARNING;
        case SCD_LOG_INFO:
            return SD_INFO;
        case SCD_LOG_DEBUG:
            return SD_DEBUG;
    }
    return SD_ERR;
}

/* Appends up to n bytes of s at *pos, keeping one byte for the terminator; returns false when it
 * did not all fit. */
static bool put(char *buf, size_t cap, size_t *pos, const char *s, size_t n) {
    size_t room = cap - 1 - *pos;
    bool fits = n <= room;
    if (!fits)
        n = room;
    memcpy(buf + *pos, s, n);
    *pos += n;
    return fits;
}

size_t scd_log_format(char *buf, size_t cap, scd_log_style style, scd_log_level level,
                      const char *component, const char *message, long long now_ms) {
    if (cap == 0)
        return 0;
    /* Room for the "...\n" marker is reserved so that a cut message still ends a line. */
    static const char cut[] = "...\n";
    if (cap <= sizeof cut) {
        buf[0] = '\0';
        return 0;
    }
    size_t limit = cap - (sizeof cut - 1);
    char prefix[96];
    if (style == SCD_LOG_STYLE_JOURNAL) {
        snprintf(prefix, sizeof prefix, "%s%s: ", journal_prefix(level),
                 component ? component : "scriptd");
    } else {
        time_t secs = (time_t)(now_ms / 1000);
        struct tm tm;
        localtime_r(&secs, &tm);
        snprintf(prefix, sizeof prefix, "%02d:%02d:%02d.%03d %-7s %s: ", tm.tm_hour, tm.tm_min,
                 tm.tm_sec, (int)(now_ms % 1000), scd_log_level_name(level),
                 component ? component : "scriptd");
    }
    size_t plen = strlen(prefix);
    size_t pos = 0;
    bool ok = true;
    const char *p = message ? message : "";
    /* Every line of the message gets the prefix: journald stores each line as its own entry, and
     * a line without a priority would be logged at the default level. */
    do {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        ok = put(buf, limit, &pos, prefix, plen);
        for (size_t i = 0; ok && i < n; i++) {
            char c = p[i];
            if ((unsigned char)c < 0x20 && c != '\t')
                c = '?';
            else if (c == 0x7f)
                c = '?';
            ok = put(buf, limit, &pos, &c, 1);
        }
        if (ok)
            ok = put(buf, limit, &pos, "\n", 1);
        p = nl ? nl + 1 : NULL;
        /* A trailing newline ends the message; it does not start an empty line. */
        if (p && *p == '\0')
            p = NULL;
    } while (ok && p);
    if (!ok) {
        memcpy(buf + pos, cut, sizeof cut - 1);
        pos += sizeof cut - 1;
    }
    buf[pos] = '\0';
    return pos;
}

void scd_logv(scd_log_level level, const char *component, const char *fmt, va_list ap) {
    if (!scd_log_enabled(level))
        return;
    char message[SCD_LOG_MESSAGE_MAX];
    vsnprintf(message, sizeof message, fmt, ap);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long now_ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    char line[SCD_LOG_MESSAGE_MAX + 256];
    size_t n =
        scd_log_format(line, sizeof line, scd_log_get_style(), level, component, message, now_ms);
    /* One write per message keeps lines of concurrent threads apart; a failed write to stderr has
     * nowhere to be reported, so its result is deliberately dropped. */
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w;
}

void scd_log(scd_log_level level, const char *component, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    scd_logv(level, component, fmt, ap);
    va_end(ap);
}
