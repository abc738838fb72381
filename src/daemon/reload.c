/* reload.c - SIGHUP: the log reopened, the configuration read again. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cs_config.h"
#include "cs_error.h"
#include "cs_log.h"
#include "cs_node.h"
#include "cs_reload.h"
#include "cs_util.h"

struct reload_ctx {
    struct strbuf applied; /* "[log] level, [limits] ..." */
    struct reload_result *res;
};

static void on_change(void *ud, const char *section, const char *key, enum config_change what)
{
    struct reload_ctx *rc = ud;
    if (what == CONFIG_NEEDS_RESTART) {
        rc->res->needs_restart++;
        log_warning("reload: [%s] %s changed; needs a restart, the running value stays until then",
                    section, key);
        return;
    }
    rc->res->applied++;
    strbuf_printf(&rc->applied, "%s[%s] %s", rc->applied.len ? ", " : "", section, key);
}

static bool same_path(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

void reload_run(struct config *live, const char *path, struct node *node, struct reload_result *res)
{
    struct config fresh;
    struct reload_ctx rc = {.res = res};
    enum log_level old_level = (enum log_level)live->log_level;
    char err[512];
    int r;

    memset(res, 0, sizeof(*res));
    /* First, whatever the file says: logrotate moved the file away. */
    if (log_reopen(err, sizeof(err)) != 0)
        log_error("reload: %s; lines go on to the file as it was", err);

    config_defaults(&fresh);
    r = config_load(&fresh, path, err, sizeof(err));
    if (r != 0) {
        res->failed = r;
        log_error("reload: %s; the running configuration is kept, nothing changed", err);
        config_deinit(&fresh);
        return;
    }
    /* A new [log] file that cannot be opened is no reason to refuse the
     * rest: the old destination stays, as if the key had not changed. */
    if (!same_path(live->log_file, fresh.log_file) &&
        log_set_file(fresh.log_file, err, sizeof(err)) != 0) {
        log_error("reload: %s; [log] file stays %s", err,
                  live->log_file ? live->log_file : "stderr");
        free(fresh.log_file);
        fresh.log_file = live->log_file ? xstrdup(live->log_file) : NULL;
    }
    config_reload(live, &fresh, on_change, &rc);
    config_deinit(&fresh);

    log_set_syslog(live->log_syslog);
    if (node != NULL)
        node_set_limits(node, live);
    /* The summary is seen whether the level goes up or down. */
    if ((enum log_level)live->log_level > old_level)
        log_set_level((enum log_level)live->log_level);
    log_info("reload: %s read; applied: %s; %d changed key(s) need a restart", path,
             rc.applied.len ? rc.applied.data : "nothing changed", res->needs_restart);
    log_set_level((enum log_level)live->log_level);
    strbuf_free(&rc.applied);
}
