/* Redis endpoints as written in scriptd's config and on `scriptprune follow`'s command line:
 * `redis://[:password@]host:port[/db]` (host may be `[ipv6]`; port defaults to 6379) or
 * `unix:///path[?db=N]`. Plain C (the CLI has no GLib); the daemon compiles this same file, so
 * the config reader, the daemon's Redis clients and the CLI agree on what a URL is. */
#ifndef SCRIPTD_REDIS_URL_H
#define SCRIPTD_REDIS_URL_H

#include <stdbool.h>
#include <stddef.h>

typedef struct scd_redis_url {
    char *host;     /* NULL for a unix socket */
    int port;       /* 1..65535 for TCP */
    char *path;     /* unix socket path, NULL for TCP */
    char *password; /* NULL when the URL carries none */
    int db;         /* 0..(1<<20) */
} scd_redis_url;

/* Parses text into *out (fields malloc'd; free with scd_redis_url_clear). Returns false and
 * points *why at a static reason when text is not a Redis URL (or memory ran out); *out is then
 * untouched. */
bool scd_redis_url_parse(const char *text, scd_redis_url *out, const char **why);
void scd_redis_url_clear(scd_redis_url *u);

/* "host:port/db" or "unix:/path/db" for logs and JSON, never the password, into buf. */
void scd_redis_url_describe(const scd_redis_url *u, char *buf, size_t cap);

#endif
