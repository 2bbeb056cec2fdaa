/* SIGHUP reloads (reload.h). */
#include "process/reload.h"

#include <string.h>
#include <unistd.h>

#include "process/notify.h"
#include "process/status.h"
#include "runtime/cluster.h"
#include "telemetry/log.h"
#include "scriptprune/select.h"
#include "runtime/streams.h"

enum { TOKEN_MAX = 4096 };

sp_status scd_read_token_file(const char *path, char **token, sp_error *err) {
    *token = NULL;
    gchar *text = NULL;
    gsize len = 0;
    GError *gerr = NULL;
    if (!g_file_get_contents(path, &text, &len, &gerr)) {
        sp_error_set(err, SP_ERR_IO, "server.token_file: %s", gerr->message);
        g_error_free(gerr);
        return SP_ERR_IO;
    }
    char *nl = memchr(text, '\n', len);
    if (nl)
        *nl = '\0';
    g_strstrip(text);
    sp_status st = SP_OK;
    if (text[0] == '\0')
        st = sp_error_set(err, SP_ERR_INVALID, "server.token_file: %s holds no token", path);
    else if (strlen(text) > TOKEN_MAX || strlen(text) != strcspn(text, " \t\r"))
        st = sp_error_set(err, SP_ERR_INVALID,
                          "server.token_file: %s: a token is one word of at most %d bytes", path,
                          TOKEN_MAX);
    if (st == SP_OK)
        *token = text;
    else
        g_free(text);
    return st;
}

void scd_apply_log_settings(const scd_config *cfg) {
    scd_log_style style;
    switch (cfg->server.log_format) {
        case SCD_LOG_FORMAT_JOURNAL:
            style = SCD_LOG_STYLE_JOURNAL;
            break;
        case SCD_LOG_FORMAT_PLAIN:
            style = SCD_LOG_STYLE_PLAIN;
            break;
        default:
            style = scd_log_style_for_fd(STDERR_FILENO);
            break;
    }
    scd_log_setup(cfg->server.log_level, style);
}

static void reject(scd_app *app, const char *why) {
    const char *l[] = {"rejected"};
    scd_metric_counter_add(app->m->reloads, l, 1);
    scd_log(SCD_LOG_ERROR, "reload", "new configuration rejected, the running one stays: %s", why);
    /* The first line of the message carries FILE:LINE:COL. */
    const char *nl = strchr(why, '\n');
    char *first = nl ? g_strndup(why, (gsize)(nl - why)) : g_strdup(why);
    char *status =
        g_strdup_printf("reload rejected (%s); running the previous configuration", first);
    scd_notify_ready(app->notify, status);
    g_free(status);
    g_free(first);
}

bool scd_reload(scd_app *app) {
    scd_notify_reloading(app->notify);
    scd_log(SCD_LOG_INFO, "reload", "reloading %s", app->config_path);
    scd_config *cfg = NULL;
    scd_config_error cerr;
    if (scd_config_load_file(app->config_path, &cfg, &cerr) != SP_OK) {
        reject(app, cerr.message);
        return false;
    }
    char *token = NULL;
    sp_error err;
    if (cfg->server.token_file[0] &&
        scd_read_token_file(cfg->server.token_file, &token, &err) != SP_OK) {
        reject(app, err.message);
        scd_config_free(cfg);
        return false;
    }
    const scd_server_cfg *old = &scd_app_config(app)->server, *fresh = &cfg->server;
    if (strcmp(old->listen, fresh->listen) != 0 ||
        strcmp(old->unix_socket, fresh->unix_socket) != 0)
        scd_log(SCD_LOG_WARNING, "reload",
                "server.listen / server.unix_socket changed: restart scriptd to move the API "
                "(it stays on the old address)");
    if (old->blas_threads != fresh->blas_threads && fresh->blas_threads > 0)
        sp_blas_set_threads(fresh->blas_threads);
    scd_apply_log_settings(cfg);
    g_free(app->token);
    app->token = token;
    scd_config_ref *ref = scd_config_ref_new(cfg);
    scd_config_ref *prev = app->cfg;
    app->cfg = ref;
    guint restarted = app->cluster ? scd_cluster_config_changed(app->cluster)
                                   : scd_streams_apply(app->streams, ref);
    scd_config_ref_release(prev); /* streams that kept running hold their own reference */
    const char *l[] = {"ok"};
    scd_metric_counter_add(app->m->reloads, l, 1);
    scd_log(SCD_LOG_INFO, "reload", "configuration reloaded: %u stream%s started or restarted",
            restarted, restarted == 1 ? "" : "s");
    char *status = scd_app_status_text(app);
    scd_notify_ready(app->notify, status);
    g_free(status);
    return true;
}
