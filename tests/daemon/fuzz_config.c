/* libFuzzer target for the config reader (clang only; see tests/daemon/meson.build):
 *   CC=clang meson setup build-fuzz -Db_sanitize=address,undefined -Db_lundef=false
 *   ninja -C build-fuzz tests/daemon/fuzz-config
 *   build-fuzz/tests/daemon/fuzz-config -max_total_time=60 CORPUS_DIR configs/
 * Property: every input either loads, and then prints as YAML that loads again, or fails with
 * an error that has a line and column. Anything else aborts. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    scd_config *cfg = NULL;
    scd_config_error e;
    if (scd_config_load_string((const char *)data, size, "fuzz", "/base", &cfg, &e) != SP_OK) {
        if (cfg || e.line < 1 || e.column < 1)
            abort();
        return 0;
    }
    char *yaml = scd_config_to_yaml(cfg);
    scd_config *again = NULL;
    if (scd_config_load_string(yaml, strlen(yaml), "printed", "/base", &again, &e) != SP_OK)
        abort();
    scd_config_free(again);
    scd_config_free(cfg);
    g_free(yaml);
    return 0;
}
