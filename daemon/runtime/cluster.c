/* Camera sharing over nodes with Redis leases (cluster.h). */
#include "runtime/cluster.h"

#include <inttypes.h>
#include <string.h>

#include "telemetry/log.h"
#include "broker/redis_conn.h"
#include "runtime/rendezvous.h"
#include "runtime/streams.h"

#define NODE_PREFIX "scriptd:nodes:"
#define LEASE_PREFIX "scriptd:lease:"

/* Extends a lease only while it is still this node's; releases it the same way. */
static const char *const REFRESH_LUA =
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";
static const char *const RELEASE_LUA =
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) "
    "else return 0 end";

typedef struct pending_release {
    char *id;
    guint64 gen; /* published without the camera in this generation; 0 = not yet published */
} pending_release;

struct scd_cluster {
    scd_app *app;
    scd_redis_target target;
    char *node;
    int lease_ms;
    int cameras_from;
    char *cameras_key;
    char *node_key;
    GThread *thread;
    guint poll_id;

    GMutex lock; /* the shared part */
    GCond wake;
    bool stop;
    GPtrArray *config_ids; /* camera ids of the config (cameras: config) */
    GPtrArray *owned;      /* published: ids this node holds a lease for, sorted */
    GHashTable *yaml;      /* published (cameras: redis): id -> YAML of the owned cameras */
    guint64 gen;           /* publication counter */
    guint64 applied_gen;   /* the main thread has applied up to this publication */

    /* Cluster thread only. */
    redisContext *c;
    GHashTable *held;     /* id -> NULL: leases held for running cameras */
    GPtrArray *releasing; /* pending_release*: still leased, no longer to run */
    int64_t last_ok_us;   /* monotonic time of the last full successful round */
    bool failing;         /* a failure was logged; log the recovery */
    guint live_nodes;

    /* Main thread only. */
    guint64 main_gen;
};

/* ---- Redis round (cluster thread) ----------------------------------------------------------- */

static void drop_connection(scd_cluster *c, const char *what) {
    if (!c->failing)
        scd_log(SCD_LOG_WARNING, "cluster", "%s: %s: %s", c->target.where, what,
                c->c ? c->c->errstr : "not connected");
    c->failing = true;
    if (c->c)
        redisFree(c->c);
    c->c = NULL;
}

/* Runs a command; NULL (connection dropped, logged) on I/O failure or an error reply. */
static redisReply *cmd(scd_cluster *c, int argc, const char **argv) {
    redisReply *r = redisCommandArgv(c->c, argc, argv, NULL);
    if (!r) {
        drop_connection(c, argv[0]);
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        if (!c->failing)
            scd_log(SCD_LOG_WARNING, "cluster", "%s: %s: %s", c->target.where, argv[0], r->str);
        c->failing = true;
        freeReplyObject(r);
        redisFree(c->c);
        c->c = NULL;
        return NULL;
    }
    return r;
}

static bool set_node_key(scd_cluster *c) {
    char px[16];
    snprintf(px, sizeof px, "%d", c->lease_ms);
    const char *argv[] = {"SET", c->node_key, "1", "PX", px};
    redisReply *r = cmd(c, 5, argv);
    if (r)
        freeReplyObject(r);
    return r != NULL;
}

/* Names of the live nodes (their keys exist), this one included. */
static GPtrArray *live_nodes(scd_cluster *c) {
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    char cursor[32] = "0";
    do {
        const char *argv[] = {"SCAN", cursor, "MATCH", NODE_PREFIX "*", "COUNT", "1000"};
        redisReply *r = cmd(c, 6, argv);
        if (!r) {
            g_ptr_array_unref(names);
            return NULL;
        }
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
            g_strlcpy(cursor, r->element[0]->str, sizeof cursor);
            const redisReply *keys = r->element[1];
            for (size_t i = 0; i < keys->elements; i++) {
                const char *name = keys->element[i]->str + strlen(NODE_PREFIX);
                if (!g_ptr_array_find_with_equal_func(names, name, g_str_equal, NULL))
                    g_ptr_array_add(names, g_strdup(name));
            }
        } else {
            g_strlcpy(cursor, "0", sizeof cursor);
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    if (!g_ptr_array_find_with_equal_func(names, c->node, g_str_equal, NULL))
        g_ptr_array_add(names, g_strdup(c->node));
    return names;
}

/* The camera list: ids (and, from Redis, id -> YAML in *yaml). NULL on failure. */
static GPtrArray *cameras(scd_cluster *c, GHashTable **yaml) {
    GPtrArray *ids = g_ptr_array_new_with_free_func(g_free);
    *yaml = NULL;
    if (c->cameras_from == SCD_CAMERAS_CONFIG) {
        g_mutex_lock(&c->lock);
        for (guint i = 0; i < c->config_ids->len; i++)
            g_ptr_array_add(ids, g_strdup(g_ptr_array_index(c->config_ids, i)));
        g_mutex_unlock(&c->lock);
        return ids;
    }
    const char *argv[] = {"HGETALL", c->cameras_key};
    redisReply *r = cmd(c, 2, argv);
    if (!r) {
        g_ptr_array_unref(ids);
        return NULL;
    }
    *yaml = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
        g_ptr_array_add(ids, g_strdup(r->element[i]->str));
        g_hash_table_insert(*yaml, g_strdup(r->element[i]->str),
                            g_strndup(r->element[i + 1]->str, r->element[i + 1]->len));
    }
    freeReplyObject(r);
    return ids;
}

/* Runs REFRESH_LUA or RELEASE_LUA on the camera's lease: 1 when it was ours, 0 when not, -1 on
 * failure. */
static int lease_script(scd_cluster *c, const char *script, const char *id) {
    char *key = g_strconcat(LEASE_PREFIX, id, NULL);
    char px[16];
    snprintf(px, sizeof px, "%d", c->lease_ms);
    const char *argv[] = {"EVAL", script, "1", key, c->node, px};
    redisReply *r = cmd(c, script == REFRESH_LUA ? 6 : 5, argv);
    g_free(key);
    if (!r)
        return -1;
    int v = r->type == REDIS_REPLY_INTEGER && r->integer == 1 ? 1 : 0;
    freeReplyObject(r);
    return v;
}

static int take_lease(scd_cluster *c, const char *id) {
    char *key = g_strconcat(LEASE_PREFIX, id, NULL);
    char px[16];
    snprintf(px, sizeof px, "%d", c->lease_ms);
    const char *argv[] = {"SET", key, c->node, "NX", "PX", px};
    redisReply *r = cmd(c, 6, argv);
    g_free(key);
    if (!r)
        return -1;
    int v = r->type == REDIS_REPLY_STATUS ? 1 : 0; /* OK, or nil when another node holds it */
    freeReplyObject(r);
    return v;
}

/* Appends id as a YAML double-quoted scalar (ids from the hash are checked by the reader). */
static void cfg_quote_id(GString *g, const char *id) {
    g_string_append_c(g, '"');
    for (const char *p = id; *p; p++) {
        if (*p == '"' || *p == '\\')
            g_string_append_c(g, '\\');
        if ((unsigned char)*p >= 0x20)
            g_string_append_c(g, *p);
    }
    g_string_append(g, "\"\n");
}

static gint by_name(gconstpointer a, gconstpointer b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool in_list(GPtrArray *a, const char *s) {
    return a && g_ptr_array_find_with_equal_func(a, s, g_str_equal, NULL);
}

/* Publishes the held set (and the YAML of those cameras) for the main thread. */
static void publish(scd_cluster *c, GHashTable *yaml) {
    GPtrArray *owned = g_ptr_array_new_with_free_func(g_free);
    GHashTableIter it;
    gpointer id;
    g_hash_table_iter_init(&it, c->held);
    while (g_hash_table_iter_next(&it, &id, NULL))
        g_ptr_array_add(owned, g_strdup(id));
    g_ptr_array_sort(owned, by_name);
    GHashTable *owned_yaml = NULL;
    if (yaml) {
        owned_yaml = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        for (guint i = 0; i < owned->len; i++) {
            const char *y = g_hash_table_lookup(yaml, g_ptr_array_index(owned, i));
            if (y)
                g_hash_table_insert(owned_yaml, g_strdup(g_ptr_array_index(owned, i)), g_strdup(y));
        }
    }
    g_mutex_lock(&c->lock);
    bool same = c->owned && c->owned->len == owned->len;
    for (guint i = 0; same && i < owned->len; i++)
        same = strcmp(g_ptr_array_index(owned, i), g_ptr_array_index(c->owned, i)) == 0;
    if (same && owned_yaml && c->yaml) {
        GHashTableIter yi;
        gpointer k, v;
        g_hash_table_iter_init(&yi, owned_yaml);
        while (same && g_hash_table_iter_next(&yi, &k, &v)) {
            const char *old = g_hash_table_lookup(c->yaml, k);
            same = old && strcmp(old, v) == 0;
        }
    }
    if (same) {
        g_ptr_array_unref(owned);
        if (owned_yaml)
            g_hash_table_unref(owned_yaml);
    } else {
        if (c->owned)
            g_ptr_array_unref(c->owned);
        if (c->yaml)
            g_hash_table_unref(c->yaml);
        c->owned = owned;
        c->yaml = owned_yaml;
        c->gen++;
    }
    for (guint i = 0; i < c->releasing->len; i++) {
        pending_release *p = g_ptr_array_index(c->releasing, i);
        if (p->gen == 0)
            p->gen = c->gen;
    }
    g_mutex_unlock(&c->lock);
}

static void pending_free(gpointer data) {
    pending_release *p = data;
    g_free(p->id);
    g_free(p);
}

/* Leases of cameras no longer to run: kept fresh until the main thread has stopped them, then
 * released. False on a Redis failure. */
static bool settle_releases(scd_cluster *c) {
    g_mutex_lock(&c->lock);
    guint64 applied = c->applied_gen;
    g_mutex_unlock(&c->lock);
    for (guint i = 0; i < c->releasing->len;) {
        pending_release *p = g_ptr_array_index(c->releasing, i);
        bool stopped = p->gen != 0 && p->gen <= applied;
        int v = lease_script(c, stopped ? RELEASE_LUA : REFRESH_LUA, p->id);
        if (v < 0)
            return false;
        if (stopped || v == 0) {
            if (stopped)
                scd_log(SCD_LOG_INFO, "cluster", "%s: stopped here, lease released", p->id);
            g_ptr_array_remove_index(c->releasing, i);
        } else {
            i++;
        }
    }
    return true;
}

/* One round: node key, live nodes, camera list, leases. False on a Redis failure. */
static bool round_trip(scd_cluster *c, GHashTable **yaml_out) {
    if (!set_node_key(c))
        return false;
    GPtrArray *nodes = live_nodes(c);
    if (!nodes)
        return false;
    GHashTable *yaml = NULL;
    GPtrArray *ids = cameras(c, &yaml);
    if (!ids) {
        g_ptr_array_unref(nodes);
        return false;
    }
    c->live_nodes = nodes->len;
    GPtrArray *desired = g_ptr_array_new();
    for (guint i = 0; i < ids->len; i++) {
        const char *id = g_ptr_array_index(ids, i);
        if (strcmp(scd_rendezvous_pick((const char *const *)nodes->pdata, nodes->len, id),
                   c->node) == 0)
            g_ptr_array_add(desired, (gpointer)id);
    }
    bool ok = true;
    /* Held cameras: keep (refresh) the desired ones, hand the others over. */
    GHashTableIter it;
    gpointer key;
    g_hash_table_iter_init(&it, c->held);
    while (ok && g_hash_table_iter_next(&it, &key, NULL)) {
        const char *id = key;
        if (!in_list(desired, id)) {
            pending_release *p = g_new0(pending_release, 1);
            p->id = g_strdup(id);
            g_ptr_array_add(c->releasing, p);
            scd_log(SCD_LOG_INFO, "cluster", "%s: belongs to another node now: stopping it here",
                    id);
            g_hash_table_iter_remove(&it);
            continue;
        }
        int v = lease_script(c, REFRESH_LUA, id);
        if (v < 0)
            ok = false;
        else if (v == 0) {
            scd_log(SCD_LOG_WARNING, "cluster", "%s: lease lost (expired or taken): stopping it",
                    id);
            g_hash_table_iter_remove(&it);
        }
    }
    ok = ok && settle_releases(c);
    /* Desired cameras not held yet: take their lease (fails while the old owner holds it). */
    for (guint i = 0; ok && i < desired->len; i++) {
        const char *id = g_ptr_array_index(desired, i);
        if (g_hash_table_contains(c->held, id))
            continue;
        bool releasing = false;
        for (guint k = 0; k < c->releasing->len; k++)
            releasing |=
                strcmp(((pending_release *)g_ptr_array_index(c->releasing, k))->id, id) == 0;
        if (releasing)
            continue;
        int v = take_lease(c, id);
        if (v < 0)
            ok = false;
        else if (v == 1) {
            scd_log(SCD_LOG_INFO, "cluster", "%s: lease taken: starting it on %s", id, c->node);
            g_hash_table_add(c->held, g_strdup(id));
        }
    }
    g_ptr_array_unref(desired);
    g_ptr_array_unref(ids);
    g_ptr_array_unref(nodes);
    *yaml_out = yaml;
    return ok;
}

static gpointer cluster_main(gpointer data) {
    scd_cluster *c = data;
    /* Leases are refreshed every second, or three times a lease when that is shorter. */
    int64_t period_us = MIN(1000, c->lease_ms / 3) * (int64_t)1000;
    unsigned timeout_ms = (unsigned)MAX(200, MIN(1000, c->lease_ms / 4));
    for (;;) {
        g_mutex_lock(&c->lock);
        bool stop = c->stop;
        g_mutex_unlock(&c->lock);
        if (stop)
            break;
        int64_t t0 = g_get_monotonic_time();
        GHashTable *yaml = NULL;
        bool ok = false;
        if (!c->c) {
            scd_broker_fail why;
            char *msg = NULL;
            c->c = scd_redis_connect(&c->target, timeout_ms, &why, &msg);
            if (!c->c && !c->failing)
                scd_log(SCD_LOG_WARNING, "cluster", "%s: cannot connect (%s): %s", c->target.where,
                        scd_broker_fail_name(why), msg);
            c->failing |= c->c == NULL;
            g_free(msg);
        }
        if (c->c)
            ok = round_trip(c, &yaml);
        if (ok) {
            if (c->failing)
                scd_log(SCD_LOG_INFO, "cluster", "%s: reachable again", c->target.where);
            c->failing = false;
            c->last_ok_us = g_get_monotonic_time();
        } else if (g_hash_table_size(c->held) > 0 &&
                   g_get_monotonic_time() - c->last_ok_us > (int64_t)c->lease_ms * 500) {
            /* The leases may expire before we can refresh them: stop first. */
            scd_log(SCD_LOG_ERROR, "cluster",
                    "leases not refreshed for half a lease (%d ms): stopping this node's %u "
                    "camera%s",
                    c->lease_ms / 2, g_hash_table_size(c->held),
                    g_hash_table_size(c->held) == 1 ? "" : "s");
            g_hash_table_remove_all(c->held);
        }
        if (ok || g_hash_table_size(c->held) == 0)
            publish(c, yaml);
        if (yaml)
            g_hash_table_unref(yaml);
        int64_t until = t0 + period_us;
        g_mutex_lock(&c->lock);
        while (!c->stop && g_get_monotonic_time() < until)
            g_cond_wait_until(&c->wake, &c->lock, until);
        g_mutex_unlock(&c->lock);
    }
    return NULL;
}

/* ---- applying the owned set (main thread) --------------------------------------------------- */

/* The YAML of a config with the node's server, cluster and defaults and the cameras ids: from
 * the node's config (yaml NULL) or from their YAML in the hash. g_free. */
static char *compose(scd_cluster *c, GPtrArray *ids, GHashTable *yaml) {
    const scd_config *base = scd_app_config(c->app);
    scd_config shell = *base;
    GArray *subset = g_array_new(FALSE, FALSE, sizeof(scd_stream_cfg));
    for (size_t i = 0; !yaml && i < base->n_streams; i++)
        if (in_list(ids, base->streams[i].id))
            g_array_append_val(subset, base->streams[i]);
    shell.streams = (scd_stream_cfg *)subset->data;
    shell.n_streams = subset->len;
    char *text = scd_config_to_yaml(&shell);
    g_array_free(subset, TRUE);
    if (!yaml)
        return text;
    /* The node's settings, then the cameras' own YAML as the items of the streams list. */
    GString *g = g_string_new(text);
    g_free(text);
    char *tail = strstr(g->str, "\nstreams: []\n");
    if (tail)
        g_string_truncate(g, (gsize)(tail - g->str) + 1);
    g_string_append(g, "streams:\n");
    for (guint i = 0; i < ids->len; i++) {
        const char *id = g_ptr_array_index(ids, i);
        const char *y = g_hash_table_lookup(yaml, id);
        g_string_append(g, "  - id: ");
        cfg_quote_id(g, id);
        char **lines = g_strsplit(y ? y : "", "\n", -1);
        for (char **l = lines; *l; l++)
            if (**l)
                g_string_append_printf(g, "    %s\n", *l);
        g_strfreev(lines);
    }
    return g_string_free(g, FALSE);
}

static scd_config *load(const char *text, scd_config_error *err) {
    scd_config *cfg = NULL;
    scd_config_load_string(text, strlen(text), "cluster cameras", NULL, &cfg, err);
    return cfg;
}

/* The config holding the owned cameras. From the hash, a camera whose YAML is not a valid stream
 * is left out (and logged) rather than holding up the others. */
static scd_config *owned_config(scd_cluster *c, GPtrArray *owned, GHashTable *yaml) {
    scd_config_error err;
    GPtrArray *good = g_ptr_array_new();
    for (guint i = 0; i < owned->len; i++) {
        GPtrArray *one = g_ptr_array_new();
        g_ptr_array_add(one, g_ptr_array_index(owned, i));
        char *text = yaml ? compose(c, one, yaml) : NULL;
        scd_config *cfg = text ? load(text, &err) : NULL;
        if (!yaml || cfg)
            g_ptr_array_add(good, g_ptr_array_index(owned, i));
        else
            scd_log(SCD_LOG_ERROR, "cluster", "camera %s: its YAML in %s is not a valid stream: %s",
                    (char *)g_ptr_array_index(owned, i), c->cameras_key, err.message);
        scd_config_free(cfg);
        g_free(text);
        g_ptr_array_unref(one);
    }
    char *text = compose(c, good, yaml);
    scd_config *cfg = load(text, &err);
    if (!cfg)
        scd_log(SCD_LOG_ERROR, "cluster", "the owned cameras do not form a valid config: %s",
                err.message);
    g_free(text);
    g_ptr_array_unref(good);
    return cfg;
}

static guint apply_owned(scd_cluster *c, GPtrArray *owned, GHashTable *yaml) {
    scd_config *cfg = owned_config(c, owned, yaml);
    if (!cfg)
        return 0;
    scd_config_ref *ref = scd_config_ref_new(cfg);
    guint started = scd_streams_apply(c->app->streams, ref);
    scd_config_ref_release(ref);
    GString *names = g_string_new(NULL);
    for (guint i = 0; i < owned->len; i++)
        g_string_append_printf(names, "%s%s", i ? ", " : "", (char *)g_ptr_array_index(owned, i));
    scd_log(SCD_LOG_INFO, "cluster", "node %s runs %u camera%s%s%s", c->node, owned->len,
            owned->len == 1 ? "" : "s", owned->len ? ": " : "", names->str);
    g_string_free(names, TRUE);
    scd_app_changed(c->app);
    return started;
}

/* Applies the newest publication, if any. */
static guint apply_latest(scd_cluster *c, bool force) {
    g_mutex_lock(&c->lock);
    guint64 gen = c->gen;
    if ((gen == c->main_gen && !force) || !c->owned) {
        g_mutex_unlock(&c->lock);
        return 0;
    }
    GPtrArray *owned = g_ptr_array_ref(c->owned);
    GHashTable *yaml = c->yaml ? g_hash_table_ref(c->yaml) : NULL;
    g_mutex_unlock(&c->lock);
    guint started = apply_owned(c, owned, yaml);
    g_ptr_array_unref(owned);
    if (yaml)
        g_hash_table_unref(yaml);
    c->main_gen = gen;
    g_mutex_lock(&c->lock);
    c->applied_gen = gen;
    g_mutex_unlock(&c->lock);
    return started;
}

static gboolean poll_cb(gpointer data) {
    scd_cluster *c = data;
    if (!c->app->stopping)
        apply_latest(c, false);
    return G_SOURCE_CONTINUE;
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

static void read_config_ids(scd_cluster *c) {
    const scd_config *cfg = scd_app_config(c->app);
    g_mutex_lock(&c->lock);
    g_ptr_array_set_size(c->config_ids, 0);
    for (size_t i = 0; i < cfg->n_streams; i++)
        g_ptr_array_add(c->config_ids, g_strdup(cfg->streams[i].id));
    g_cond_signal(&c->wake);
    g_mutex_unlock(&c->lock);
}

sp_status scd_cluster_new(scd_app *app, scd_cluster **out, sp_error *err) {
    *out = NULL;
    const scd_cluster_cfg *k = &scd_app_config(app)->cluster;
    if (!k->redis[0])
        return SP_OK;
    scd_cluster *c = g_new0(scd_cluster, 1);
    sp_status st = scd_redis_target_init(&c->target, k->redis, k->password_file, err);
    if (st != SP_OK) {
        g_free(c);
        return st;
    }
    c->app = app;
    c->node = g_strdup(k->node[0] ? k->node : g_get_host_name());
    c->node_key = g_strconcat(NODE_PREFIX, c->node, NULL);
    c->lease_ms = k->lease_ms;
    c->cameras_from = k->cameras;
    c->cameras_key = g_strdup(k->cameras_key);
    g_mutex_init(&c->lock);
    g_cond_init(&c->wake);
    c->config_ids = g_ptr_array_new_with_free_func(g_free);
    c->held = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    c->releasing = g_ptr_array_new_with_free_func(pending_free);
    read_config_ids(c);
    scd_log(SCD_LOG_INFO, "cluster", "node %s: cameras from %s, leases of %d ms on %s", c->node,
            c->cameras_from == SCD_CAMERAS_REDIS ? c->cameras_key : "the config", c->lease_ms,
            c->target.where);
    c->thread = g_thread_new("cluster", cluster_main, c);
    c->poll_id = g_timeout_add(100, poll_cb, c);
    *out = c;
    return SP_OK;
}

guint scd_cluster_config_changed(scd_cluster *c) {
    read_config_ids(c);
    /* Owned cameras whose settings changed restart now; the lease thread sees the new list on
     * its next round (cameras gone from the config stop here at once: they are not in it). */
    return apply_latest(c, true);
}

void scd_cluster_free(scd_cluster *c) {
    if (!c)
        return;
    g_source_remove(c->poll_id);
    g_mutex_lock(&c->lock);
    c->stop = true;
    g_cond_signal(&c->wake);
    g_mutex_unlock(&c->lock);
    g_thread_join(c->thread);
    /* The streams have stopped: hand every camera over now rather than after the lease. */
    if (!c->c) {
        scd_broker_fail why;
        char *msg = NULL;
        c->c = scd_redis_connect(&c->target, 1000, &why, &msg);
        g_free(msg);
    }
    if (c->c) {
        GHashTableIter it;
        gpointer id;
        g_hash_table_iter_init(&it, c->held);
        while (c->c && g_hash_table_iter_next(&it, &id, NULL))
            lease_script(c, RELEASE_LUA, id);
        for (guint i = 0; c->c && i < c->releasing->len; i++)
            lease_script(c, RELEASE_LUA,
                         ((pending_release *)g_ptr_array_index(c->releasing, i))->id);
        const char *argv[] = {"DEL", c->node_key};
        redisReply *r = c->c ? cmd(c, 2, argv) : NULL;
        if (r)
            freeReplyObject(r);
        if (c->c)
            redisFree(c->c);
    }
    scd_log(SCD_LOG_INFO, "cluster", "node %s left: leases released", c->node);
    g_hash_table_unref(c->held);
    g_ptr_array_unref(c->releasing);
    g_ptr_array_unref(c->config_ids);
    if (c->owned)
        g_ptr_array_unref(c->owned);
    if (c->yaml)
        g_hash_table_unref(c->yaml);
    g_mutex_clear(&c->lock);
    g_cond_clear(&c->wake);
    scd_redis_target_clear(&c->target);
    g_free(c->node);
    g_free(c->node_key);
    g_free(c->cameras_key);
    g_free(c);
}
