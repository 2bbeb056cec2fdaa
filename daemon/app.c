#include "app.h"

void scd_app_changed(scd_app *app) {
    if (app->changed)
        app->changed(app);
}
