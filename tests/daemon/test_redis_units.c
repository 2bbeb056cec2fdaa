/* Pure pieces of the Redis support: URL parsing, the sink's key template, and the rendezvous
 * choice of the cluster (a dead node's cameras move, nobody else's do). */
#include <glib.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "broker/redis_stream.h"
#include "redis_url.h"
#include "runtime/rendezvous.h"

static void urls_parse_into_their_parts(void **state) {
    (void)state;
    scd_redis_url u;
    const char *why = NULL;
    assert_true(scd_redis_url_parse("redis://:s3cret@10.0.0.5:6380/3", &u, &why));
    assert_string_equal(u.host, "10.0.0.5");
    assert_int_equal(u.port, 6380);
    assert_int_equal(u.db, 3);
    assert_string_equal(u.password, "s3cret");
    char where[128];
    scd_redis_url_describe(&u, where, sizeof where);
    assert_string_equal(where, "10.0.0.5:6380/3"); /* never the password */
    scd_redis_url_clear(&u);
    assert_true(scd_redis_url_parse("redis://[::1]", &u, &why));
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 6379);
    scd_redis_url_describe(&u, where, sizeof where);
    assert_string_equal(where, "[::1]:6379/0");
    scd_redis_url_clear(&u);
    assert_true(scd_redis_url_parse("unix:///run/redis.sock?db=2", &u, &why));
    assert_string_equal(u.path, "/run/redis.sock");
    assert_int_equal(u.db, 2);
    assert_null(u.host);
    scd_redis_url_clear(&u);
}

static void bad_urls_say_why(void **state) {
    (void)state;
    const struct {
        const char *url, *needle;
    } cases[] = {
        {"rediss://h:6379", "no TLS"},
        {"http://h", "expected redis://"},
        {"redis://", "missing host"},
        {"redis://h:0", "port"},
        {"redis://h:70000", "port"},
        {"redis://h:12x", "port"},
        {"redis://h:1/x", "database number"},
        {"redis://user:pw@h", "':password@'"},
        {"redis://[::1", "[addr]"},
        {"unix://rel.sock", "absolute"},
        {"unix:///s.sock?timeout=1", "?db=N"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        scd_redis_url u = {0};
        const char *why = NULL;
        if (scd_redis_url_parse(cases[i].url, &u, &why))
            fail_msg("accepted %s", cases[i].url);
        if (!why || !strstr(why, cases[i].needle))
            fail_msg("%s: expected '%s' in '%s'", cases[i].url, cases[i].needle, why);
    }
}

static void key_template_names_the_stream(void **state) {
    (void)state;
    char *k = scd_redis_stream_key("scriptd:{stream}:packets:{stream}", "cam-1");
    assert_string_equal(k, "scriptd:cam-1:packets:cam-1");
    g_free(k);
    k = scd_redis_stream_key("fixed", "cam");
    assert_string_equal(k, "fixed");
    g_free(k);
}

static void rendezvous_moves_only_the_dead_nodes_cameras(void **state) {
    (void)state;
    const char *all[] = {"a", "b", "c", "d"};
    unsigned per_node[4] = {0};
    for (int i = 0; i < 400; i++) {
        char cam[16];
        snprintf(cam, sizeof cam, "cam%d", i);
        const char *before = scd_rendezvous_pick(all, 4, cam);
        /* The order of the node list does not matter. */
        const char *reversed[] = {"d", "c", "b", "a"};
        assert_string_equal(scd_rendezvous_pick(reversed, 4, cam), before);
        for (int k = 0; k < 4; k++)
            per_node[k] += strcmp(before, all[k]) == 0;
        /* Without "b": b's cameras go elsewhere, the others stay. */
        const char *alive[] = {"a", "c", "d"};
        const char *after = scd_rendezvous_pick(alive, 3, cam);
        if (strcmp(before, "b") != 0)
            assert_string_equal(after, before);
        else
            assert_string_not_equal(after, "b");
    }
    for (int k = 0; k < 4; k++) /* spread: 100 expected per node */
        assert_in_range(per_node[k], 60, 140);
    assert_null(scd_rendezvous_pick(all, 0, "cam"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(urls_parse_into_their_parts),
        cmocka_unit_test(bad_urls_say_why),
        cmocka_unit_test(key_template_names_the_stream),
        cmocka_unit_test(rendezvous_moves_only_the_dead_nodes_cameras),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
