/* File and socket output for scriptsink. */
#include "sinkconn.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

void sink_location_clear(SinkLocation *loc) {
    g_clear_pointer(&loc->path, g_free);
    g_clear_pointer(&loc->host, g_free);
    g_clear_pointer(&loc->port, g_free);
}

static gboolean parse_tcp(const gchar *rest, SinkLocation *out, gchar **msg) {
    const gchar *colon;
    gchar *host;
    if (rest[0] == '[') {
        const gchar *close = strchr(rest, ']');
        if (!close || close[1] != ':') {
            *msg = g_strdup_printf("tcp location \"%s\": expected [ipv6]:port", rest);
            return FALSE;
        }
        host = g_strndup(rest + 1, (gsize)(close - rest - 1));
        colon = close + 1;
    } else {
        colon = strrchr(rest, ':');
        if (!colon) {
            *msg = g_strdup_printf("tcp location \"%s\": expected host:port", rest);
            return FALSE;
        }
        host = g_strndup(rest, (gsize)(colon - rest));
    }
    const gchar *port = colon + 1;
    gchar *end = NULL;
    guint64 p = g_ascii_strtoull(port, &end, 10);
    if (!*host || !*port || *end || p == 0 || p > 65535) {
        *msg = g_strdup_printf("tcp location \"%s\": need a host and a port in 1..65535", rest);
        g_free(host);
        return FALSE;
    }
    out->kind = SINK_LOC_TCP;
    out->host = host;
    out->port = g_strdup(port);
    return TRUE;
}

gboolean sink_location_parse(const gchar *location, SinkLocation *out, gchar **msg) {
    memset(out, 0, sizeof *out);
    if (!location || !*location) {
        *msg = g_strdup("no location set (file:///path, unix:///path or tcp://host:port)");
        return FALSE;
    }
    if (g_str_has_prefix(location, "tcp://"))
        return parse_tcp(location + 6, out, msg);
    const gchar *path = location;
    SinkLocKind kind = SINK_LOC_FILE;
    if (g_str_has_prefix(location, "file://")) {
        path = location + 7;
    } else if (g_str_has_prefix(location, "unix://")) {
        path = location + 7;
        kind = SINK_LOC_UNIX;
    } else if (strstr(location, "://")) {
        *msg =
            g_strdup_printf("location \"%s\": unknown scheme (file://, unix://, tcp://)", location);
        return FALSE;
    }
    if (path[0] != '/') {
        *msg = g_strdup_printf("location \"%s\": the path must be absolute", location);
        return FALSE;
    }
    if (kind == SINK_LOC_UNIX && strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        *msg = g_strdup_printf("location \"%s\": socket path too long", location);
        return FALSE;
    }
    out->kind = kind;
    out->path = g_strdup(path);
    return TRUE;
}

static gboolean set_nonblock(int fd) {
    int fl = fcntl(fd, F_GETFL);
    return fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0;
}

/* Waits for a non-blocking connect to finish. */
static int finish_connect(int fd, gint timeout_ms) {
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int r = poll(&p, 1, timeout_ms);
    if (r == 0)
        return ETIMEDOUT;
    if (r < 0)
        return errno;
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
        return errno;
    return soerr;
}

static int connect_addr(int family, const struct sockaddr *addr, socklen_t len, gint timeout_ms,
                        int *error) {
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *error = errno;
        return -1;
    }
    if (!set_nonblock(fd)) {
        *error = errno;
        close(fd);
        return -1;
    }
    int e = 0;
    if (connect(fd, addr, len) != 0)
        e = errno == EINPROGRESS ? finish_connect(fd, timeout_ms) : errno;
    if (e != 0) {
        *error = e;
        close(fd);
        return -1;
    }
    return fd;
}

int sink_connect(const SinkLocation *loc, gint timeout_ms, gchar **msg) {
    int err = 0;
    if (loc->kind == SINK_LOC_FILE) {
        int fd = open(loc->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
            *msg =
                g_strdup_printf("cannot open \"%s\" for writing: %s", loc->path, g_strerror(errno));
        return fd;
    }
    if (loc->kind == SINK_LOC_UNIX) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        g_strlcpy(sa.sun_path, loc->path, sizeof sa.sun_path);
        int fd = connect_addr(AF_UNIX, (struct sockaddr *)&sa, sizeof sa, timeout_ms, &err);
        if (fd < 0)
            *msg = g_strdup_printf("cannot connect to unix://%s: %s", loc->path, g_strerror(err));
        return fd;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(loc->host, loc->port, &hints, &res);
    if (gai != 0) {
        *msg = g_strdup_printf("cannot resolve %s:%s: %s", loc->host, loc->port, gai_strerror(gai));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next)
        fd = connect_addr(ai->ai_family, ai->ai_addr, ai->ai_addrlen, timeout_ms, &err);
    freeaddrinfo(res);
    if (fd < 0)
        *msg = g_strdup_printf("cannot connect to tcp://%s:%s: %s", loc->host, loc->port,
                               g_strerror(err));
    return fd;
}

gboolean sink_write_all(int fd, gboolean socket, const void *data, gsize len, gint stall_ms,
                        const gint *stop, gchar **msg) {
    const guint8 *p = data;
    gint waited = 0;
    while (len > 0) {
        if (stop && g_atomic_int_get(stop)) {
            *msg = g_strdup("stopped while writing");
            return FALSE;
        }
        ssize_t n = socket ? send(fd, p, len, MSG_NOSIGNAL) : write(fd, p, len);
        if (n > 0) {
            p += n;
            len -= (gsize)n;
            waited = 0;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (waited >= stall_ms) {
                *msg = g_strdup_printf("the peer took no data for %d ms", stall_ms);
                return FALSE;
            }
            struct pollfd pf = {.fd = fd, .events = POLLOUT};
            poll(&pf, 1, 100);
            waited += 100;
            continue;
        }
        *msg = g_strdup_printf("write failed: %s", n < 0 ? g_strerror(errno) : "nothing written");
        return FALSE;
    }
    return TRUE;
}
