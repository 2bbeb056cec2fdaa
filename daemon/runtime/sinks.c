/* safetensors_dir and overlay_dir sinks. */
#include "runtime/sinks.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <glib/gstdio.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

sp_status scd_sink_prepare_dir(const char *dir, sp_error *err) {
    if (g_mkdir_with_parents(dir, 0755) != 0)
        return sp_error_set(err, SP_ERR_IO, "%s: cannot create the directory: %s", dir,
                            g_strerror(errno));
    if (!g_file_test(dir, G_FILE_TEST_IS_DIR))
        return sp_error_set(err, SP_ERR_IO, "%s: not a directory", dir);
    if (access(dir, W_OK) != 0)
        return sp_error_set(err, SP_ERR_IO, "%s: not writable: %s", dir, g_strerror(errno));
    return SP_OK;
}

sp_status scd_write_file_atomic(const char *path, const void *data, size_t len, sp_error *err) {
    char *tmp = g_strdup_printf("%s.tmp-%d", path, (int)getpid());
    sp_status st = SP_OK;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        st = sp_error_set(err, SP_ERR_IO, "%s: %s", tmp, g_strerror(errno));
        goto out;
    }
    const uint8_t *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            st = sp_error_set(err, SP_ERR_IO, "%s: write: %s", tmp,
                              n < 0 ? g_strerror(errno) : "no progress");
            break;
        }
        p += n;
        left -= (size_t)n;
    }
    if (close(fd) != 0 && st == SP_OK)
        st = sp_error_set(err, SP_ERR_IO, "%s: close: %s", tmp, g_strerror(errno));
    if (st == SP_OK && rename(tmp, path) != 0)
        st = sp_error_set(err, SP_ERR_IO, "%s: rename to %s: %s", tmp, path, g_strerror(errno));
    if (st != SP_OK)
        g_unlink(tmp);
out:
    g_free(tmp);
    return st;
}

/* The PID of a temporary file's name ("X.tmp-PID" or "X.tmp.PID"), or 0 when it is not one. */
static long temp_file_pid(const char *name) {
    const char *t = strstr(name, ".tmp");
    for (; t; t = strstr(t + 1, ".tmp")) {
        const char *d = t + 4;
        if (*d != '-' && *d != '.')
            continue;
        d++;
        char *end = NULL;
        long pid = *d >= '0' && *d <= '9' ? strtol(d, &end, 10) : 0;
        if (pid > 0 && end && *end == '\0')
            return pid;
    }
    return 0;
}

guint scd_remove_stale_temp_files(const char *dir, const char *only_prefix) {
    GDir *d = g_dir_open(dir, 0, NULL);
    if (!d)
        return 0;
    guint removed = 0;
    const char *name;
    while ((name = g_dir_read_name(d))) {
        if (only_prefix && !g_str_has_prefix(name, only_prefix))
            continue;
        long pid = temp_file_pid(name);
        /* A live writer (another scriptd sharing the directory) still owns its file. Our own PID
         * is stale too: this runs before we write anything (a PID reused after a restart). */
        if (pid <= 0 || (pid != (long)getpid() && (kill((pid_t)pid, 0) == 0 || errno != ESRCH)))
            continue;
        char *p = g_build_filename(dir, name, NULL);
        if (g_file_test(p, G_FILE_TEST_IS_REGULAR) && g_unlink(p) == 0)
            removed++;
        g_free(p);
    }
    g_dir_close(d);
    return removed;
}

sp_status scd_sink_write_safetensors(const char *dir, const char *stream, const char *run_tag,
                                     const char *method, const sp_packet *p, char **path_out,
                                     sp_error *err) {
    if (path_out)
        *path_out = NULL;
    sp_packet_collector *c = sp_packet_collector_new(p->d, stream, method);
    if (!c)
        return sp_error_set(err, SP_ERR_NOMEM, "out of memory for a packet collector");
    char name[96];
    if (p->window == SP_WINDOW_NONE)
        snprintf(name, sizeof name, "%s-%s-reselect.safetensors", stream, run_tag);
    else
        snprintf(name, sizeof name, "%s-%s-w%06" PRIu64 ".safetensors", stream, run_tag, p->window);
    char *path = g_build_filename(dir, name, NULL);
    sp_status st = sp_packet_collector_add(c, p, err);
    if (st == SP_OK)
        st = sp_packet_collector_write(c, SP_DTYPE_F32, path, err);
    sp_packet_collector_free(c);
    if (st == SP_OK && path_out)
        *path_out = path;
    else
        g_free(path);
    return st;
}

sp_status scd_sink_write_png(const char *dir, const char *stream, const char *run_tag,
                             GstBuffer *buf, char **path_out, sp_error *err) {
    if (path_out)
        *path_out = NULL;
    GstClockTime pts = GST_BUFFER_PTS(buf);
    char name[128];
    snprintf(name, sizeof name, "%s-%s-%09" PRIu64 "ms.png", stream, run_tag,
             GST_CLOCK_TIME_IS_VALID(pts) ? (uint64_t)(pts / GST_MSECOND) : (uint64_t)0);
    char *path = g_build_filename(dir, name, NULL);
    GstMapInfo map;
    sp_status st;
    if (!gst_buffer_map(buf, &map, GST_MAP_READ)) {
        st = sp_error_set(err, SP_ERR_IO, "overlay PNG buffer cannot be mapped");
    } else {
        st = scd_write_file_atomic(path, map.data, map.size, err);
        gst_buffer_unmap(buf, &map);
    }
    if (st == SP_OK && path_out)
        *path_out = path;
    else
        g_free(path);
    return st;
}
