/* homeadmin.c - the home's administration: edits made by other
 * connections applied live, and the operations behind owner and admin
 * commands and in-band registration.
 *
 * An edit is applied by comparing the database with what the home holds,
 * so applying one twice, or one of chanstatd's own changes, sends nothing
 * more.  What each edit triggers (doc/schema.md):
 *   roster row becomes from/both      the contact gets the current status
 *   roster row stops being from/both  unsubscribed + unavailable
 *   channel owner changes             old owner: unsubscribe; new: bound
 *   channel policy changes            the next request follows it
 *   channel removed                   watchers as a removed row; owner:
 *                                     unsubscribe + unsubscribed
 * At a cluster's home a removed channel tells nobody: its address is the
 * front's, and it may live on at another home (chanstatctl channel move);
 * the front's placement decides what users see (doc/cluster.md). */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_changes.h"
#include "cs_error.h"
#include "cs_jid.h"
#include "cs_log.h"
#include "home_priv.h"

static char *channel_jid(const struct home *h, const char *name)
{
    struct strbuf sb = {0};
    strbuf_printf(&sb, "%s@%s", name, h->domain);
    return sb.data;
}

/* Once a second: O(channels whose status changed since). */
int home_write_resources(struct home *h)
{
    return chancache_write_resources(&h->cache);
}

static bool was_watcher(const char *old)
{
    return old && (strcmp(old, "from") == 0 || strcmp(old, "both") == 0);
}

static void on_exists(void *ud, const char *name, const char *owner, enum channel_policy policy)
{
    *(bool *)ud = true;
}

/* Is there a row of channel name (a database error counts as yes)? */
static bool channel_exists(struct home *h, const char *name)
{
    bool found = false;
    return roster_find_channel(h->roster, name, on_exists, &found) != 0 || found;
}

/* A row written by hand in another spelling than its prepared one is
 * stored prepared first (as the channel's load does, channel.c), so that
 * the edit applies to the prepared JID; a second spelling of a JID that
 * has a row is left alone. */
static char *prepared_jid(struct home *h, const struct change *ch)
{
    char *prepared = ch->jid ? jid_prep_bare(ch->jid) : NULL;
    int r;
    if (prepared == NULL || strcmp(prepared, ch->jid) == 0)
        return prepared;
    r = roster_prepare_jid(h->roster, ch->channel, ch->jid, prepared, false);
    if (r == 0)
        log_warning("home: edit of %s: roster jid '%s' stored prepared as '%s'", ch->channel,
                    ch->jid, prepared);
    return prepared;
}

static void apply_roster_as(struct home *h, struct channel *c, const struct change *ch,
                            const char *jid)
{
    struct sub_row row;
    bool before, now;
    int r;

    r = roster_get(h->roster, ch->channel, jid, &row);
    if (r == CS_EDB)
        return;
    now = r == 0 && sub_is_watcher(row.state) && !(c && channel_via(c, jid));
    /* The old value counts too when the channel was loaded after the
     * edit (a restart): the contact still has the status of the run before. */
    before = (c && watchers_has(c, jid)) || was_watcher(ch->old);
    if (c) {
        watchers_set(c, jid, now);
        channel_note_state(c, jid, r == 0 ? row.state : SUB_NONE);
    }
    if (now && !before) {
        /* A channel not in memory has nobody's status to share yet: its
         * watchers get it when the owner's presence loads it. */
        if (c)
            home_send_status_to(h, c, jid);
        log_debug("home: %s: %s added as a watcher by an edit", ch->channel, jid);
    } else if (before && !now && h->fed.front && !channel_exists(h, ch->channel)) {
        log_debug("home: %s: %s left with the channel", ch->channel, jid);
    } else if (before && !now) {
        char *from = channel_jid(h, ch->channel);
        home_send_presence(h, from, jid, "unsubscribed", NULL);
        home_send_presence(h, from, jid, "unavailable", NULL);
        free(from);
        log_debug("home: %s: %s removed as a watcher by an edit", ch->channel, jid);
    }
}

static void apply_roster(struct home *h, const struct change *ch)
{
    struct channel *c = chancache_loaded(&h->cache, ch->channel);
    char *jid = prepared_jid(h, ch);

    if (jid == NULL) {
        log_warning("home: edit of %s: '%s' is not a valid bare JID; ignored", ch->channel,
                    ch->jid ? ch->jid : "");
        return;
    }
    apply_roster_as(h, c, ch, jid);
    free(jid);
}

struct channel_row {
    bool found;
    char *owner;
    enum channel_policy policy;
};

static void on_row(void *ud, const char *name, const char *owner, enum channel_policy policy)
{
    struct channel_row *cr = ud;
    cr->found = true;
    cr->owner = owner ? xstrdup(owner) : NULL;
    cr->policy = policy;
}

static bool same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* The channel stops following old_owner's presence. */
static void unbind(struct home *h, const char *name, struct channel *c, const char *old_owner,
                   bool removed)
{
    char *from = channel_jid(h, name);
    struct sub_row row;
    if (!removed && roster_get(h->roster, name, old_owner, &row) == 0) {
        int act = home_change(h, name, c, old_owner, &row, SUB_OUT_UNSUBSCRIBE);
        (void)act;
    }
    home_send_presence(h, from, old_owner, "unsubscribe", NULL);
    if (removed)
        home_send_presence(h, from, old_owner, "unsubscribed", NULL);
    free(from);
}

struct refresh_ctx {
    struct home *h;
    struct channel *c;
};

/* A policy change may give a node the status or take it away. */
static void on_lease_refresh(void *ud, const char *node, const char *expires, const char *unused)
{
    struct refresh_ctx *rc = ud;
    homefed_refresh_node(rc->h, rc->c, node);
}

static void apply_channel(struct home *h, const struct change *ch, int64_t now_ms)
{
    struct channel *c = chancache_loaded(&h->cache, ch->channel);
    struct channel_row cr = {0};
    int r = roster_find_channel(h->roster, ch->channel, on_row, &cr);
    const char *old_owner = c ? c->owner : ch->old;

    if (r == CS_EDB)
        return;
    if (!cr.found) {
        log_info("home: channel %s removed by an edit", ch->channel);
        if (old_owner && channel_jid_ok(old_owner) && h->fed.front == NULL)
            unbind(h, ch->channel, NULL, old_owner, true);
        if (c)
            chancache_forget(&h->cache, c);
        return;
    }
    if (cr.owner && !channel_jid_ok(cr.owner)) {
        /* Written by hand in another spelling: stored prepared. */
        char *prepared = jid_prep_bare(cr.owner);
        if (prepared && strchr(prepared, '@') &&
            roster_prepare_jid(h->roster, ch->channel, cr.owner, prepared, true) == 0)
            log_warning("home: edit of %s: owner '%s' stored prepared as '%s'", ch->channel,
                        cr.owner, prepared);
        else if (prepared && strchr(prepared, '@'))
            log_warning("home: edit of %s: owner '%s' used as '%s'", ch->channel, cr.owner,
                        prepared);
        else {
            free(prepared);
            prepared = NULL;
        }
        free(cr.owner);
        cr.owner = prepared;
    }
    if (c && c->policy != cr.policy) {
        log_info("home: channel %s: policy now %s", c->name, channel_policy_name(cr.policy));
        c->policy = cr.policy;
        struct refresh_ctx rc = {h, c};
        if (roster_leases_of(h->roster, c->name, on_lease_refresh, &rc) != 0)
            log_error("home: channel %s: reading its node leases failed", c->name);
    }
    if (!same(old_owner, cr.owner) || (ch->old == NULL && c == NULL && cr.owner)) {
        if (old_owner && !same(old_owner, cr.owner) && channel_jid_ok(old_owner)) {
            log_info("home: channel %s: owner %s unbound by an edit", ch->channel, old_owner);
            unbind(h, ch->channel, c, old_owner, false);
        }
        if (c) {
            free(c->owner);
            c->owner = cr.owner ? xstrdup(cr.owner) : NULL;
            home_owner_lost(h, c, now_ms);
        }
        if (cr.owner) {
            log_debug("home: channel %s: binding owner %s", ch->channel, cr.owner);
            bind_channel(h, ch->channel, cr.owner, c);
        }
    }
    if (c == NULL && h->pep && pep_wants_unloaded(h->pep, ch->channel, now_ms)) {
        c = chancache_find(&h->cache, ch->channel);
        if (c)
            pep_changed(h->pep, c,
                        CHANNEL_CHANGED_NAME | CHANNEL_CHANGED_TEXT | CHANNEL_CHANGED_AVATAR);
    } else if (c) {
        unsigned changed = channel_reload_props(&h->cache, c);
        if (changed & CHANNEL_CHANGED_AVATAR)
            fanout_queue(h, c, now_ms); /* the new hash in presence (XEP-0153) */
        if (changed && h->pep)
            pep_changed(h->pep, c, changed);
    }
    free(cr.owner);
}

void home_apply_change(struct home *h, const struct change *ch, int64_t now_ms)
{
    if (jid_check_local(ch->channel, strlen(ch->channel)) != 0)
        return;
    if (ch->roster)
        apply_roster(h, ch);
    else
        apply_channel(h, ch, now_ms);
}

/* ---- Owner and admin operations ---- */

struct list_ctx {
    home_entry_cb *cb;
    void *ud;
};

static void on_entry(void *ud, const char *jid, const struct sub_row *row)
{
    struct list_ctx *lc = ud;
    if (sub_is_watcher(row->state))
        lc->cb(lc->ud, jid, "watcher");
    if (row->state == SUB_NONE_IN || row->state == SUB_NONE_OUT_IN || row->state == SUB_TO_IN)
        lc->cb(lc->ud, jid, "pending");
}

int home_list_entries(struct home *h, const char *name, home_entry_cb *cb, void *ud)
{
    struct list_ctx lc = {cb, ud};
    if (chancache_find(&h->cache, name) == NULL)
        return CS_ENOTFOUND;
    return roster_each_item(h->roster, name, on_entry, &lc) == 0 ? 0 : CS_EDB;
}

/* The channel name and contact's row in it: 0, CS_ENOTFOUND (no such
 * channel or row) or CS_EDB. */
static int row_in(struct home *h, const char *name, const char *contact, struct channel **c_r,
                  struct sub_row *row)
{
    int r;
    *c_r = chancache_find(&h->cache, name);
    if (*c_r == NULL)
        return CS_ENOTFOUND;
    r = roster_get(h->roster, name, contact, row);
    return r == CS_EDB ? CS_EDB : r != 0 ? CS_ENOTFOUND : 0;
}

int home_answer_request(struct home *h, const char *name, const char *contact, bool approve,
                        int64_t now_ms)
{
    struct channel *c;
    struct sub_row row;
    int r = row_in(h, name, contact, &c, &row);
    if (r != 0)
        return r;
    if (!(row.state == SUB_NONE_IN || row.state == SUB_NONE_OUT_IN || row.state == SUB_TO_IN))
        return CS_ENOTFOUND;
    home_decide(h, c, contact, &row, approve);
    if (c->owner) {
        /* The request relayed to the owner's client is answered: take it
         * back, so that a later click there does not revoke the watcher. */
        char *relay = jid_relay_address(contact, h->domain);
        home_send_presence(h, relay, c->owner, "unsubscribe", NULL);
        free(relay);
    }
    return 0;
}

int home_revoke(struct home *h, const char *name, const char *contact)
{
    struct channel *c;
    struct sub_row row;
    int r = row_in(h, name, contact, &c, &row);
    if (r != 0)
        return r;
    if (!sub_is_watcher(row.state))
        return CS_ENOTFOUND;
    home_decide(h, c, contact, &row, false);
    return 0;
}

int home_set_policy(struct home *h, const char *name, const char *policy, int64_t now_ms)
{
    struct channel *c = chancache_find(&h->cache, name);
    enum channel_policy p;
    if (c == NULL)
        return CS_ENOTFOUND;
    if (channel_policy_parse(policy, &p) != 0)
        return CS_EINVAL;
    if (roster_channel_set_policy(h->roster, name, p) != 0)
        return CS_EDB;
    c->policy = p;
    return 0;
}

int home_create_channel(struct home *h, const char *name, const char *owner, int64_t now_ms)
{
    struct jid probe;
    struct channel *c;
    int r;
    if (jid_check_local(name, strlen(name)) != 0)
        return CS_EINVAL;
    r = jid_relay_parse(name, &probe);
    if (r == 0)
        jid_deinit(&probe);
    if (r != CS_ENOTFOUND)
        return CS_EINVAL; /* it would read as a relay address */
    if (chancache_find(&h->cache, name))
        return CS_EEXIST;
    r = roster_channel_add(h->roster, name, owner, POLICY_OPEN);
    if (r != 0)
        return r;
    c = chancache_find(&h->cache, name);
    if (c == NULL)
        return CS_EDB;
    bind_channel(h, name, owner, c);
    return 0;
}

struct watchers_copy {
    char **v;
    size_t n;
};

int home_remove_channel(struct home *h, const char *name, int64_t now_ms)
{
    struct channel *c = chancache_find(&h->cache, name);
    char *jid, *owner;
    char **watchers;
    unsigned n;
    if (c == NULL)
        return CS_ENOTFOUND;
    if (roster_channel_delete(h->roster, name) != 0)
        return CS_EDB;
    jid = xstrdup(c->jid);
    owner = c->owner ? xstrdup(c->owner) : NULL;
    n = c->nwatchers;
    watchers = xcalloc(n + 1, sizeof(*watchers));
    for (unsigned i = 0; i < n; i++)
        watchers[i] = xstrdup(c->watchers[i]);
    chancache_forget(&h->cache, c);
    for (unsigned i = 0; i < n; i++) {
        if (owner == NULL || strcmp(watchers[i], owner) != 0) {
            home_send_presence(h, jid, watchers[i], "unsubscribed", NULL);
            home_send_presence(h, jid, watchers[i], "unavailable", NULL);
        }
        free(watchers[i]);
    }
    if (owner) {
        home_send_presence(h, jid, owner, "unsubscribe", NULL);
        home_send_presence(h, jid, owner, "unsubscribed", NULL);
    }
    free(watchers);
    free(owner);
    free(jid);
    return 0;
}

int home_channel_info(struct home *h, const char *name, const char **owner_r, const char **policy_r,
                      const char **display_name_r)
{
    struct channel *c = chancache_find(&h->cache, name);
    if (c == NULL)
        return CS_ENOTFOUND;
    *owner_r = c->owner;
    *policy_r = channel_policy_name(c->policy);
    *display_name_r = c->display_name;
    return 0;
}

struct names_ctx {
    home_name_cb *cb;
    void *ud;
};

static void on_owned_name(void *ud, const char *name, const char *owner, enum channel_policy p)
{
    struct names_ctx *nc = ud;
    nc->cb(nc->ud, name);
}

int home_channels_of(struct home *h, const char *owner, home_name_cb *cb, void *ud)
{
    struct names_ctx nc = {cb, ud};
    return roster_channels_of_owner(h->roster, owner, INT_MAX, on_owned_name, &nc) == 0 ? 0
                                                                                        : CS_EDB;
}
