/* Connections to Redis shared by scriptd's Redis clients (the stream sink, the cluster lease
 * keeper): connect with timeouts, authenticate, select the database, and name failures. hiredis
 * 0.14 has no TLS: scriptd reaches a remote Redis through a local TLS tunnel or a unix socket. */
#ifndef SCRIPTD_REDIS_CONN_H
#define SCRIPTD_REDIS_CONN_H

#include <hiredis/hiredis.h>

#include "broker/broker_sink.h"
#include "redis_url.h"
#include "scriptprune/error.h"

/* A parsed endpoint and its password (from the URL or a password file). */
typedef struct scd_redis_target {
    scd_redis_url url;
    char *password; /* NULL: no AUTH */
    char where[160];
} scd_redis_target;

/* Parses url and reads password_file ("" = none; its first line, trailing blanks stripped, wins
 * over a password in the URL). */
sp_status scd_redis_target_init(scd_redis_target *t, const char *url, const char *password_file,
                                sp_error *err);
void scd_redis_target_clear(scd_redis_target *t);

/* Connects, authenticates and selects the database; timeout_ms bounds the connection and every
 * later reply. NULL with *why and *msg (g_free) on failure. */
redisContext *scd_redis_connect(const scd_redis_target *t, unsigned timeout_ms,
                                scd_broker_fail *why, char **msg);

/* The failure behind a context error (refused, timeout, io). */
scd_broker_fail scd_redis_context_fail(const redisContext *c);
/* The failure an error reply names: OOM, NOAUTH/WRONGPASS (auth), others rejected. */
scd_broker_fail scd_redis_reply_fail(const char *text);

#endif
