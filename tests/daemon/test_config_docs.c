/* docs/config.md and the README's table are generated from the key table; this test fails when
 * either differs from what the table generates now (run tools/gen-config-docs.sh). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>

#include "config/config.h"

static char *read_source(const char *rel) {
    const char *root = getenv("SCRIPTD_SOURCE_ROOT");
    char *path = g_build_filename(root ? root : ".", rel, NULL);
    char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL))
        fail_msg("cannot read %s", path);
    g_free(path);
    return text;
}

static void docs_config_md_matches_the_key_table(void **state) {
    (void)state;
    char *committed = read_source("docs/config.md");
    char *generated = scd_config_reference_markdown();
    if (strcmp(committed, generated) != 0)
        fail_msg("docs/config.md is out of date: run tools/gen-config-docs.sh");
    g_free(committed);
    g_free(generated);
}

static void readme_table_matches_the_key_table(void **state) {
    (void)state;
    char *readme = read_source("README.md");
    const char *begin = strstr(readme, "<!-- config-reference:begin -->\n");
    const char *end = strstr(readme, "<!-- config-reference:end -->");
    assert_non_null(begin);
    assert_non_null(end);
    begin += strlen("<!-- config-reference:begin -->\n");
    assert_true(end >= begin);
    char *table = scd_config_reference_table();
    if (strlen(table) != (size_t)(end - begin) || memcmp(table, begin, strlen(table)) != 0)
        fail_msg("README.md's configuration table is out of date: run tools/gen-config-docs.sh");
    g_free(table);
    g_free(readme);
}

static void reference_names_every_method_of_core(void **state) {
    (void)state;
    char *md = scd_config_reference_markdown();
    const sp_method_info *m = sp_method_table();
    for (int i = 0; i < SP_METHOD_COUNT; i++) {
        char *quoted = g_strdup_printf("`%s`", m[i].name);
        assert_non_null(strstr(md, quoted));
        g_free(quoted);
    }
    g_free(md);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(docs_config_md_matches_the_key_table),
        cmocka_unit_test(readme_table_matches_the_key_table),
        cmocka_unit_test(reference_names_every_method_of_core),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
