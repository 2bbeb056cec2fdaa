/* Registers the four elements of the scriptprune plugin. */
#include "elements.h"

gboolean gst_scriptprune_plugin_init(GstPlugin *plugin) {
    gboolean ok = FALSE;
    ok |= GST_ELEMENT_REGISTER(scriptencode, plugin);
    ok |= GST_ELEMENT_REGISTER(scriptprune, plugin);
    ok |= GST_ELEMENT_REGISTER(scriptoverlay, plugin);
    ok |= GST_ELEMENT_REGISTER(scriptsink, plugin);
    return ok;
}
