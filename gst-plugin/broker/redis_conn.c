/* Redis connections (redis_conn.h). */
#include "broker/redis_conn.h"

#include <errno.h>
#include <glib.h>
#include <string.h>
#include <sys/time.h>

sp_status scd_redis_target_init(scd_redis_target *t, const char *url, const char *password_file,
                                sp_error *err) {
    memset(t, 0, sizeof *t);
    const char *why = NULL;
    if (!scd_redis_url_parse(url, &t->url, &why))
        return sp_error_set(err, SP_ERR_INVALID, "redis URL: %s", why);
    scd_redis_url_describe(&t->url, t->where, sizeof t->where);
    if (password_file && password_file[0]) {
        char *text = NULL;
        GError *ge = NULL;
        if (!g_file_get_contents(password_file, &text, NULL, &ge)) {
            sp_status st = sp_error_set(err, SP_ERR_IO, "redis password_file: %s", ge->message);
            g_error_free(ge);
            scd_redis_target_clear(t);
            return st;
        }
        char *nl = strchr(text, '\n');
        if (nl)
            *nl = '\0';
        g_strchomp(text);
        t->password = text;
    } else if (t->url.password) {
        t->password = g_strdup(t->url.password);
    }
    return SP_OK;
}

void scd_redis_target_clear(scd_redis_target *t) {
    scd_redis_url_clear(&t->url);
    if (t->password)
        memset(t->password, 0, strlen(t->password));
    g_free(t->password);
    t->password = NULL;
}

scd_broker_fail scd_redis_context_fail(const redisContext *c) {
    if (c->err == REDIS_ERR_IO) {
        int e = errno;
        if (strstr(c->errstr, "refused") || strstr(c->errstr, "No such file") ||
            e == ECONNREFUSED || e == ENOENT)
            return SCD_BROKER_REFUSED;
        if (strstr(c->errstr, "temporarily unavailable") || strstr(c->errstr, "timed out") ||
            e == EAGAIN || e == ETIMEDOUT)
            return SCD_BROKER_TIMEOUT;
    }
    if (c->err == REDIS_ERR_EOF)
        return SCD_BROKER_IO;
    if (strstr(c->errstr, "refused") || strstr(c->errstr, "No such file"))
        return SCD_BROKER_REFUSED;
    if (strstr(c->errstr, "timed out") || strstr(c->errstr, "temporarily unavailable"))
        return SCD_BROKER_TIMEOUT;
    return SCD_BROKER_IO;
}

scd_broker_fail scd_redis_reply_fail(const char *text) {
    if (g_str_has_prefix(text, "OOM"))
        return SCD_BROKER_OOM;
    if (g_str_has_prefix(text, "NOAUTH") || g_str_has_prefix(text, "WRONGPASS") ||
        strstr(text, "invalid password") || strstr(text, "AUTH <password> called without"))
        return SCD_BROKER_AUTH;
    return SCD_BROKER_REJECTED;
}

/* Runs one command during the handshake; false with why/msg on an error reply or I/O failure. */
static bool handshake(redisContext *c, int argc, const char **argv, scd_broker_fail *why,
                      char **msg) {
    redisReply *r = redisCommandArgv(c, argc, argv, NULL);
    if (!r) {
        *why = scd_redis_context_fail(c);
        *msg = g_strdup_printf("%s: %s", argv[0], c->errstr);
        return false;
    }
    bool ok = r->type != REDIS_REPLY_ERROR;
    if (!ok) {
        *why = scd_redis_reply_fail(r->str);
        *msg = g_strdup_printf("%s: %s", argv[0], r->str);
    }
    freeReplyObject(r);
    return ok;
}

redisContext *scd_redis_connect(const scd_redis_target *t, unsigned timeout_ms,
                                scd_broker_fail *why, char **msg) {
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    redisContext *c = t->url.path ? redisConnectUnixWithTimeout(t->url.path, tv)
                                  : redisConnectWithTimeout(t->url.host, t->url.port, tv);
    if (!c) {
        *why = SCD_BROKER_IO;
        *msg = g_strdup("out of memory for a Redis context");
        return NULL;
    }
    if (c->err) {
        *why = scd_redis_context_fail(c);
        *msg = g_strdup(c->errstr);
        redisFree(c);
        return NULL;
    }
    if (redisSetTimeout(c, tv) != REDIS_OK) {
        *why = SCD_BROKER_IO;
        *msg = g_strdup_printf("cannot set the reply timeout: %s", c->errstr);
        redisFree(c);
        return NULL;
    }
    if (!t->url.path)
        redisEnableKeepAlive(c);
    if (t->password) {
        const char *argv[] = {"AUTH", t->password};
        if (!handshake(c, 2, argv, why, msg)) {
            redisFree(c);
            return NULL;
        }
    }
    if (t->url.db != 0) {
        char db[16];
        snprintf(db, sizeof db, "%d", t->url.db);
        const char *argv[] = {"SELECT", db};
        if (!handshake(c, 2, argv, why, msg)) {
            redisFree(c);
            return NULL;
        }
    }
    return c;
}
