/* scriptd-config-doc: prints the configuration reference generated from the key table, so that
 * docs/config.md and the README section can be regenerated (tools/gen-config-docs.sh).
 *   scriptd-config-doc            the whole docs/config.md
 *   scriptd-config-doc --table    only the key table (the README section) */
#include <glib.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"

int main(int argc, char **argv) {
    bool table = argc == 2 && strcmp(argv[1], "--table") == 0;
    if (argc > 2 || (argc == 2 && !table)) {
        fprintf(stderr, "usage: %s [--table]\n", argv[0]);
        return 2;
    }
    char *text = table ? scd_config_reference_table() : scd_config_reference_markdown();
    int rc = fputs(text, stdout) < 0 || fflush(stdout) != 0 ? 1 : 0;
    g_free(text);
    return rc;
}
