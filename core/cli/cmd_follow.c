/* scriptprune follow: reads the token packets a scriptd `redis:` sink writes to a Redis stream.
 *
 * With --group, entries are read with XREADGROUP and acknowledged (XACK) only after the packet is
 * written; entries another consumer of the group left pending longer than --claim-idle-ms are
 * taken over (XAUTOCLAIM), so a consumer that dies loses nothing: delivery is at least once (a
 * packet written just before a crash, not yet acknowledged, is written again by whoever claims
 * it). Without a group, XREAD follows the stream from --from. Sequence numbers reveal packets the
 * sink dropped (gaps, on stderr) and repeats (skipped). */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "follow_out.h"
#include "redis_url.h"

typedef struct follow_opts {
    const char *url, *key, *group, *consumer, *from, *out, *password_file;
    uint64_t claim_idle_ms;
    double exit_when_idle_s; /* 0: run forever */
    bool check_gaps;
    bool positions;
} follow_opts;

typedef struct follow_state {
    follow_opts o;
    scd_redis_url url;
    char password[512];
    redisContext *c;
    follow_seqs seqs;
    char last_id[64]; /* XREAD position */
    uint64_t entries, written, claimed, failed;
    double last_arrival;
    bool group_made;     /* the group existed once: a re-creation starts at 0 (see connect_redis) */
    bool position_known; /* XREAD: last_id is an entry id, not "$" */
} follow_state;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void follow_usage(FILE *to) {
    fprintf(
        to,
        "usage: scriptprune follow --redis URL --key KEY [--group G --consumer C]\n"
        "                          [--from ID|$] [--out DIR|-] [--claim-idle-ms MS]\n"
        "                          [--exit-when-idle SECONDS] [--password-file FILE]\n"
        "                          [--check-gaps] [--positions]\n"
        "Reads token packets written by scriptd's redis sink. URL: redis://[:pw@]host:port[/db]\n"
        "or unix:///path. --out -: one JSON line per packet (default; --positions adds every\n"
        "token's [pts, last_pts, seen, frame, y, x]); DIR: one safetensors file per packet\n"
        "(tensors pts, last_pts, seen, frame, yx, ...). --group: XREADGROUP (group created\n"
        "at --from, default $), XACK after each packet is written, entries idle >\n"
        "--claim-idle-ms (default 30000) claimed from\n"
        "dead consumers. At least once: a packet may be written twice after a crash.\n"
        "Gaps in sequence numbers (packets the sink dropped) are reported on stderr when\n"
        "reading without a group, or with --check-gaps.\n");
}

static sp_status apply_option(void *args, int c, const char *arg, sp_error *err) {
    follow_opts *o = args;
    sp_status st = SP_OK;
    float idle;
    switch (c) {
        case 'r':
            o->url = arg;
            break;
        case 'k':
            o->key = arg;
            break;
        case 'g':
            o->group = arg;
            break;
        case 'c':
            o->consumer = arg;
            break;
        case 'f':
            o->from = arg;
            break;
        case 'o':
            o->out = arg;
            break;
        case 'p':
            o->password_file = arg;
            break;
        case 'C':
            st = cli_parse_u64(arg, "--claim-idle-ms", &o->claim_idle_ms, err);
            break;
        case 'x':
            st = cli_parse_float(arg, "--exit-when-idle", 0.001, 1e7, &idle, err);
            o->exit_when_idle_s = idle;
            break;
        case 'G':
            o->check_gaps = true;
            break;
        case 'P':
            o->positions = true;
            break;
        default: /* an entry of the table below without a case here */
            st = sp_error_set(err, SP_ERR_STATE, "option %d has no handler", c);
    }
    return st;
}

static sp_status finish_args(void *args, sp_error *err) {
    follow_opts *o = args;
    sp_status st = cli_require(o->url != NULL, "--redis", err);
    if (!st)
        st = cli_require(o->key != NULL, "--key", err);
    if (!st && (o->group == NULL) != (o->consumer == NULL))
        st = sp_error_set(err, SP_ERR_INVALID, "--group and --consumer go together");
    if (!o->group)
        o->check_gaps = true;
    return st;
}

static const struct option follow_table[] = {
    {"redis", required_argument, 0, 'r'},
    {"key", required_argument, 0, 'k'},
    {"group", required_argument, 0, 'g'},
    {"consumer", required_argument, 0, 'c'},
    {"from", required_argument, 0, 'f'},
    {"out", required_argument, 0, 'o'},
    {"password-file", required_argument, 0, 'p'},
    {"claim-idle-ms", required_argument, 0, 'C'},
    {"exit-when-idle", required_argument, 0, 'x'},
    {"check-gaps", no_argument, 0, 'G'},
    {"positions", no_argument, 0, 'P'},
    {"help", no_argument, 0, CLI_OPT_HELP},
    {0, 0, 0, 0},
};

static const cli_options follow_options = {
    .command = "follow",
    .table = follow_table,
    .apply = apply_option,
    .finish = finish_args,
    .usage = follow_usage,
};

static int read_password(follow_state *s) {
    if (s->o.password_file) {
        FILE *f = fopen(s->o.password_file, "r");
        if (!f)
            return cli_fail(CLI_BAD_INPUT, "follow: %s: %s", s->o.password_file, strerror(errno));
        if (!fgets(s->password, sizeof s->password, f))
            s->password[0] = '\0';
        fclose(f);
        s->password[strcspn(s->password, "\r\n")] = '\0';
    } else if (s->url.password) {
        snprintf(s->password, sizeof s->password, "%s", s->url.password);
    }
    return 0;
}

static redisReply *command(follow_state *s, int argc, const char **argv) {
    redisReply *r = redisCommandArgv(s->c, argc, argv, NULL);
    if (!r) {
        fprintf(stderr, "scriptprune: follow: %s: %s\n", argv[0], s->c->errstr);
        redisFree(s->c);
        s->c = NULL;
    }
    return r;
}

/* XREAD from "$": the id of the newest entry now (0-0 for an empty stream), so that entries added
 * between two reads are not skipped, as re-sending "$" each time would. */
static bool resolve_position(follow_state *s) {
    if (s->o.group || s->position_known)
        return true;
    if (strcmp(s->last_id, "$") != 0) {
        s->position_known = true;
        return true;
    }
    const char *argv[] = {"XREVRANGE", s->o.key, "+", "-", "COUNT", "1"};
    redisReply *r = command(s, 6, argv);
    if (!r)
        return false;
    snprintf(s->last_id, sizeof s->last_id, "0-0");
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
        r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2)
        snprintf(s->last_id, sizeof s->last_id, "%s", r->element[0]->element[0]->str);
    freeReplyObject(r);
    s->position_known = true;
    return true;
}

/* Connects (AUTH, SELECT, the group); false after a failure (logged), to be retried. */
static bool connect_redis(follow_state *s) {
    struct timeval tv = {.tv_sec = 5};
    s->c = s->url.path ? redisConnectUnixWithTimeout(s->url.path, tv)
                       : redisConnectWithTimeout(s->url.host, s->url.port, tv);
    if (!s->c || s->c->err) {
        fprintf(stderr, "scriptprune: follow: connect: %s\n", s->c ? s->c->errstr : "no memory");
        if (s->c)
            redisFree(s->c);
        s->c = NULL;
        return false;
    }
    redisSetTimeout(s->c, tv);
    char db[16];
    snprintf(db, sizeof db, "%d", s->url.db);
    const char *auth[] = {"AUTH", s->password}, *sel[] = {"SELECT", db};
    /* A group that vanished (Redis restarted without its data) is made again at 0: everything
     * in the stream then is newer than what was read. */
    const char *grp[] = {"XGROUP",  "CREATE", s->o.key, s->o.group, s->group_made ? "0" : s->o.from,
                         "MKSTREAM"};
    struct {
        const char **argv;
        int argc;
        bool skip;
    } steps[] = {{auth, 2, !s->password[0]}, {sel, 2, s->url.db == 0}, {grp, 6, !s->o.group}};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        if (steps[i].skip)
            continue;
        redisReply *r = command(s, steps[i].argc, steps[i].argv);
        if (!r)
            return false;
        bool ok = r->type != REDIS_REPLY_ERROR || strncmp(r->str, "BUSYGROUP", 9) == 0;
        if (!ok)
            fprintf(stderr, "scriptprune: follow: %s: %s\n", steps[i].argv[0], r->str);
        freeReplyObject(r);
        if (!ok) {
            redisFree(s->c);
            s->c = NULL;
            return false;
        }
    }
    s->group_made = s->o.group != NULL;
    return resolve_position(s);
}

static const redisReply *field(const redisReply *fv, const char *name) {
    for (size_t i = 0; i + 1 < fv->elements; i += 2)
        if (fv->element[i]->type == REDIS_REPLY_STRING && strcmp(fv->element[i]->str, name) == 0)
            return fv->element[i + 1];
    return NULL;
}

static bool field_u64(const redisReply *fv, const char *name, uint64_t *out) {
    const redisReply *v = field(fv, name);
    sp_error err;
    return v && v->type == REDIS_REPLY_STRING && cli_parse_u64(v->str, name, out, &err) == SP_OK;
}

static void ack(follow_state *s, const char *id) {
    const char *argv[] = {"XACK", s->o.key, s->o.group, id};
    redisReply *r = command(s, 4, argv);
    if (r)
        freeReplyObject(r);
}

/* Handles one [id, [field, value, ...]] entry: decode, check, write, acknowledge. */
static void handle_entry(follow_state *s, const redisReply *e) {
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        e->element[0]->type != REDIS_REPLY_STRING)
        return;
    const char *id = e->element[0]->str;
    const redisReply *fv = e->element[1];
    s->last_arrival = now_s();
    if (!s->o.group)
        snprintf(s->last_id, sizeof s->last_id, "%s", id);
    if (fv->type != REDIS_REPLY_ARRAY) /* deleted (trimmed) while pending: nothing to write */
        goto acknowledge;
    s->entries++;
    follow_entry fe = {.id = id};
    const redisReply *pk = field(fv, "packet"), *st = field(fv, "stream");
    if (!pk || pk->type != REDIS_REPLY_STRING || !st || st->type != REDIS_REPLY_STRING ||
        !field_u64(fv, "seq", &fe.seq) || !field_u64(fv, "epoch", &fe.epoch)) {
        fprintf(stderr, "scriptprune: follow: entry %s: not a scriptd packet entry (skipped)\n",
                id);
        s->failed++;
        goto acknowledge;
    }
    fe.stream = st->str;
    fe.packet = (const uint8_t *)pk->str;
    fe.packet_len = pk->len;
    if (s->o.check_gaps && follow_seqs_note(&s->seqs, &fe) == FOLLOW_REPEAT)
        goto acknowledge;
    sp_error err;
    if (follow_write(&fe, s->o.out, s->o.positions, &err) != SP_OK) {
        /* A packet that cannot be decoded or written is reported and left unacknowledged only
         * when writing failed (the output may recover); a malformed one is acknowledged. */
        fprintf(stderr, "scriptprune: follow: entry %s: %s\n", id, err.message);
        s->failed++;
        if (err.status == SP_ERR_IO)
            return;
    } else {
        s->written++;
    }
acknowledge:
    if (s->o.group)
        ack(s, id);
}

static void handle_entries(follow_state *s, const redisReply *list) {
    for (size_t i = 0; list && list->type == REDIS_REPLY_ARRAY && i < list->elements; i++)
        handle_entry(s, list->element[i]);
}

/* XAUTOCLAIM: entries of dead consumers idle longer than the threshold become ours. */
static void claim(follow_state *s) {
    char idle[24];
    snprintf(idle, sizeof idle, "%" PRIu64, s->o.claim_idle_ms);
    char start[64] = "0-0";
    do {
        const char *argv[] = {"XAUTOCLAIM", s->o.key, s->o.group, s->o.consumer,
                              idle,         start,    "COUNT",    "64"};
        redisReply *r = command(s, 8, argv);
        if (!r)
            return;
        if (r->type != REDIS_REPLY_ARRAY || r->elements < 2) {
            freeReplyObject(r);
            return;
        }
        snprintf(start, sizeof start, "%s", r->element[0]->str ? r->element[0]->str : "0-0");
        s->claimed += r->element[1]->elements;
        handle_entries(s, r->element[1]);
        freeReplyObject(r);
    } while (strcmp(start, "0-0") != 0 && s->c);
}

/* One blocking read (up to 500 ms). */
static void read_once(follow_state *s, const char *pos) {
    redisReply *r;
    if (s->o.group) {
        const char *argv[] = {"XREADGROUP", "GROUP", s->o.group, s->o.consumer, "COUNT", "32",
                              "BLOCK",      "500",   "STREAMS",  s->o.key,      pos};
        r = command(s, 11, argv);
    } else {
        const char *argv[] = {"XREAD", "COUNT", "32", "BLOCK", "500", "STREAMS", s->o.key, pos};
        r = command(s, 8, argv);
    }
    if (!r)
        return;
    if (r->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "scriptprune: follow: read: %s\n", r->str);
        /* NOGROUP: the key or group vanished (Redis restarted without its data): recreate. */
        redisFree(s->c);
        s->c = NULL;
    } else if (r->type == REDIS_REPLY_ARRAY && r->elements == 1) {
        handle_entries(s, r->element[0]->element[1]);
    }
    freeReplyObject(r);
}

static int run(follow_state *s) {
    double last_claim = 0;
    bool own_pending_done = false;
    unsigned backoff_ms = 100;
    snprintf(s->last_id, sizeof s->last_id, "%s", s->o.from);
    s->last_arrival = now_s();
    for (;;) {
        if (s->o.exit_when_idle_s > 0 && now_s() - s->last_arrival >= s->o.exit_when_idle_s)
            return CLI_OK;
        if (!s->c && !connect_redis(s)) {
            usleep(backoff_ms * 1000);
            backoff_ms = backoff_ms * 2 > 2000 ? 2000 : backoff_ms * 2;
            continue;
        }
        backoff_ms = 100;
        if (s->o.group && !own_pending_done) {
            /* Our own entries left pending by a previous run of this consumer come first. */
            read_once(s, "0");
            own_pending_done = s->c != NULL;
            continue;
        }
        if (s->o.group && now_s() - last_claim >= (double)s->o.claim_idle_ms / 2000.0) {
            last_claim = now_s();
            claim(s);
            continue;
        }
        read_once(s, s->o.group ? ">" : s->last_id);
    }
}

int cli_cmd_follow(int argc, char **argv) {
    follow_state s;
    memset(&s, 0, sizeof s);
    s.o = (follow_opts){.from = "$", .out = "-", .claim_idle_ms = 30000};
    int rc;
    if (!cli_parse_command_line(argc, argv, &follow_options, &s.o, &rc))
        return rc;
    const char *why = NULL;
    if (!scd_redis_url_parse(s.o.url, &s.url, &why))
        return cli_fail(CLI_BAD_INPUT, "follow: --redis %s: %s", s.o.url, why);
    if ((rc = read_password(&s)) != 0)
        goto out;
    struct stat sb;
    if (strcmp(s.o.out, "-") != 0 && (stat(s.o.out, &sb) != 0 || !S_ISDIR(sb.st_mode))) {
        rc = cli_fail(CLI_BAD_INPUT, "follow: --out %s: not a directory", s.o.out);
        goto out;
    }
    rc = run(&s);
    fprintf(stderr,
            "{\"follow\":{\"entries\":%" PRIu64 ",\"written\":%" PRIu64 ",\"failed\":%" PRIu64
            ",\"claimed\":%" PRIu64 ",\"gaps\":%" PRIu64 ",\"missing\":%" PRIu64
            ",\"duplicates\":%" PRIu64 "}}\n",
            s.entries, s.written, s.failed, s.claimed, s.seqs.gaps, s.seqs.missing,
            s.seqs.duplicates);
out:
    if (s.c)
        redisFree(s.c);
    memset(s.password, 0, sizeof s.password);
    scd_redis_url_clear(&s.url);
    return rc;
}
