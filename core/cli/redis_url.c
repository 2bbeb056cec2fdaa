/* Redis URL parsing (redis_url.h). */
#include "redis_url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool has_prefix(const char *s, const char *prefix) {
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static char *dup_n(const char *s, size_t n) {
    char *r = malloc(n + 1);
    if (r) {
        memcpy(r, s, n);
        r[n] = '\0';
    }
    return r;
}

static bool parse_int(const char *s, size_t len, long lo, long hi, long *out) {
    if (len == 0 || len > 9)
        return false;
    long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static bool parse_unix(const char *rest, scd_redis_url *u, const char **why) {
    const char *q = strchr(rest, '?');
    size_t plen = q ? (size_t)(q - rest) : strlen(rest);
    if (plen == 0 || rest[0] != '/') {
        *why = "unix:// needs an absolute socket path (unix:///run/redis.sock)";
        return false;
    }
    if (plen > 107) {
        *why = "the socket path is longer than 107 bytes";
        return false;
    }
    long db = 0;
    if (q && (!has_prefix(q, "?db=") || !parse_int(q + 4, strlen(q + 4), 0, 1 << 20, &db))) {
        *why = "the only query a unix:// URL takes is ?db=N";
        return false;
    }
    u->db = (int)db;
    if (!(u->path = dup_n(rest, plen))) {
        *why = "out of memory";
        return false;
    }
    return true;
}

/* host, [v6] or host:port, [v6]:port within hostpart[0, hlen). */
static bool parse_host_port(const char *hostpart, size_t hlen, scd_redis_url *u, const char **why) {
    const char *port_s = NULL, *name = hostpart;
    size_t name_len;
    if (hostpart[0] == '[') {
        const char *close = memchr(hostpart, ']', hlen);
        if (!close || close == hostpart + 1) {
            *why = "an IPv6 host is written [addr]";
            return false;
        }
        name = hostpart + 1;
        name_len = (size_t)(close - name);
        if (close + 1 < hostpart + hlen) {
            if (close[1] != ':') {
                *why = "expected ':port' after ']'";
                return false;
            }
            port_s = close + 2;
        }
    } else {
        const char *colon = memchr(hostpart, ':', hlen);
        name_len = colon ? (size_t)(colon - hostpart) : hlen;
        if (colon)
            port_s = colon + 1;
    }
    for (size_t i = 0; i < name_len; i++)
        if (strchr(" \t?#@/", name[i])) {
            *why = "malformed host";
            return false;
        }
    if (name_len == 0) {
        *why = "missing host";
        return false;
    }
    long port = 6379;
    if (port_s && !parse_int(port_s, (size_t)(hostpart + hlen - port_s), 1, 65535, &port)) {
        *why = "the port must be a number from 1 to 65535";
        return false;
    }
    u->port = (int)port;
    if (!(u->host = dup_n(name, name_len))) {
        *why = "out of memory";
        return false;
    }
    return true;
}

static bool parse_tcp(const char *rest, scd_redis_url *u, const char **why) {
    const char *at = strrchr(rest, '@');
    const char *hostpart = rest;
    if (at) {
        if (rest[0] != ':' || at == rest + 1) {
            *why = "credentials are written ':password@' (Redis ACL user names are not supported)";
            return false;
        }
        if (!(u->password = dup_n(rest + 1, (size_t)(at - rest - 1)))) {
            *why = "out of memory";
            return false;
        }
        hostpart = at + 1;
    }
    const char *slash = strchr(hostpart, '/');
    size_t hlen = slash ? (size_t)(slash - hostpart) : strlen(hostpart);
    if (!parse_host_port(hostpart, hlen, u, why))
        return false;
    long db = 0;
    if (slash && slash[1] && !parse_int(slash + 1, strlen(slash + 1), 0, 1 << 20, &db)) {
        *why = "the path after the port must be a database number (/0)";
        return false;
    }
    u->db = (int)db;
    return true;
}

bool scd_redis_url_parse(const char *text, scd_redis_url *out, const char **why) {
    scd_redis_url u = {0};
    bool ok;
    if (has_prefix(text, "redis://")) {
        ok = parse_tcp(text + 8, &u, why);
    } else if (has_prefix(text, "unix://")) {
        ok = parse_unix(text + 7, &u, why);
    } else {
        *why = "expected redis://[:password@]host:port[/db] or unix:///path (rediss:// is not "
               "supported: hiredis 0.14 has no TLS; use a local TLS tunnel or a unix socket)";
        ok = false;
    }
    if (!ok) {
        scd_redis_url_clear(&u);
        return false;
    }
    *out = u;
    return true;
}

void scd_redis_url_clear(scd_redis_url *u) {
    free(u->host);
    free(u->path);
    if (u->password) {
        /* volatile: the wipe must not be optimised away before free. */
        volatile char *p = u->password;
        while (*p)
            *p++ = 0;
    }
    free(u->password);
    memset(u, 0, sizeof *u);
}

void scd_redis_url_describe(const scd_redis_url *u, char *buf, size_t cap) {
    if (u->path)
        snprintf(buf, cap, "unix:%s/%d", u->path, u->db);
    else if (strchr(u->host, ':'))
        snprintf(buf, cap, "[%s]:%d/%d", u->host, u->port, u->db);
    else
        snprintf(buf, cap, "%s:%d/%d", u->host, u->port, u->db);
}
