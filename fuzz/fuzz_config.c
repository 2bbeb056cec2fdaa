/* libFuzzer target: the YAML config reader (daemon/config/config_*.c on libyaml).
 * Property: every input either loads, and then prints as YAML that loads again, or fails with an
 * error that has a line and column. The normal suite checks the same property on deterministic
 * mutations (tests/daemon/test_config_fuzz.c). */
#include <string.h>

#include <glib.h>

#include "config/config.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    scd_config *cfg = NULL;
    scd_config_error e;
    if (scd_config_load_string((const char *)data, size, "fuzz", "/base", &cfg, &e) != SP_OK) {
        FUZZ_REQUIRE(cfg == NULL);
        FUZZ_REQUIRE(e.line >= 1 && e.column >= 1);
        return 0;
    }
    char *yaml = scd_config_to_yaml(cfg);
    scd_config *again = NULL;
    if (scd_config_load_string(yaml, strlen(yaml), "printed", "/base", &again, &e) != SP_OK) {
        fprintf(stderr, "an accepted config does not read back: %s\n%s\n", e.message, yaml);
        abort();
    }
    scd_config_free(again);
    scd_config_free(cfg);
    g_free(yaml);
    return 0;
}
