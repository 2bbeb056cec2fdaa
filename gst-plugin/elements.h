/* The plugin's elements and its init function (plugin.c), shared by the module and the tests. */
#ifndef GST_SCRIPT_ELEMENTS_H
#define GST_SCRIPT_ELEMENTS_H

#include <gst/gst.h>

G_BEGIN_DECLS

GST_ELEMENT_REGISTER_DECLARE(scriptencode);
GST_ELEMENT_REGISTER_DECLARE(scriptprune);
GST_ELEMENT_REGISTER_DECLARE(scriptoverlay);
GST_ELEMENT_REGISTER_DECLARE(scriptsink);

/* Registers every element of the plugin. */
gboolean gst_scriptprune_plugin_init(GstPlugin *plugin);

G_END_DECLS

#endif
