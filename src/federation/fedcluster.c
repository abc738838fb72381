/* fedcluster.c - the status service at a cluster's front (doc/cluster.md).
 *
 * A front holds its homes' channels as remote channels named by their
 * own names (fed.c, which also knows which domains are homes and where a
 * stored public address lives): alpha@status.a.test watches
 * alpha@h1.status.a.test.  Here: the front's placement registered, a
 * channel moving to another home, and a home that stops or starts
 * answering pings. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cs_config.h"
#include "cs_jid.h"
#include "cs_log.h"
#include "fed_priv.h"

int fed_use_cluster(struct home *h, const struct config_list *homes,
                    const char *(*place)(void *ud, const char *channel), void *ud)
{
    h->cluster_homes = homes;
    h->place = place;
    h->place_ud = ud;
    /* home_new loaded the rows before the front existed: the front's
     * own rows (its public addresses) wait for this. */
    return fed_load(h);
}

void fed_rehome(struct home *h, const char *name, const char *home, int64_t now_ms)
{
    struct channel *c = chancache_loaded(&h->cache, name);
    struct remote *r = c ? c->remote : NULL;
    struct strbuf to = {0};
    if (r == NULL || !cluster_home(h, r->domain))
        return;
    strbuf_printf(&to, "%s@%s", name, home);
    if (strcmp(r->home, to.data) == 0) {
        strbuf_free(&to);
        return;
    }
    log_info("fed: %s moves from %s to %s", name, r->domain, home);
    if (r->state == R_ACTIVE || r->state == R_SUBSCRIBE)
        remote_send(h, c, "unsubscribe", false, now_ms);
    free(r->home);
    free(r->domain);
    r->home = to.data;
    r->domain = xstrdup(home);
    /* Not refused if the new home does not know it yet (its rows are
     * still moving): retried as an error would be. */
    r->subscribed_once = true;
    r->state = R_IDLE;
    if (c->nwatchers > 0 || r->npending > 0)
        remote_discover(h, c, now_ms);
}

void fed_home_down(struct home *h, const char *home, int64_t now_ms)
{
    for (struct channel *c = h->fed_head; c; c = c->remote->next) {
        if (strcmp(c->remote->domain, home) == 0 && c->remote->state != R_IDLE)
            remote_error(h, c, "its home does not answer", now_ms);
    }
}

void fed_home_up(struct home *h, const char *home, int64_t now_ms)
{
    for (struct channel *c = h->fed_head; c; c = c->remote->next) {
        struct remote *r = c->remote;
        if (strcmp(r->domain, home) == 0 && r->state == R_ERROR && r->retry_at != INT64_MAX &&
            (c->nwatchers > 0 || r->npending > 0))
            remote_discover(h, c, now_ms);
    }
}
