/* node.c - a chanstat node without sockets: batches, commits, producers. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "cs_changes.h"
#include "cs_chanprops.h"
#include "cs_cluster.h"
#include "cs_directory.h"
#include "cs_propsub.h"
#include "cs_config.h"
#include "cs_error.h"
#include "cs_federation.h"
#include "cs_home.h"
#include "cs_homestate.h"
#include "cs_iqwait.h"
#include "cs_link.h"
#include "cs_log.h"
#include "cs_node.h"
#include "cs_offline.h"
#include "cs_placement.h"
#include "cs_roster.h"
#include "cs_route.h"
#include "cs_service.h"
#include "cs_stats.h"
#include "cs_stanza.h"
#include "cs_store.h"
#include "cs_uroster.h"
#include "cs_util.h"

/* Change-log entries applied per step. */
#define EDIT_PAGE 1000
/* Counters and owner resources are written for admins this often. */
#define STATS_WRITE_INTERVAL_MS 1000
/* Reloads after failed writes: the delay after the first, and its cap. */
#define NODE_RELOAD_FIRST_MS 1000
#define NODE_RELOAD_MAX_MS 60000
/* Room for the first stanzas of a batch that change state; doubled as
 * needed. */
#define TAKEN_FIRST_CAP 16

#include "node_priv.h"

static const struct stats *counters_of(void *ud)
{
    return node_counters(ud);
}

static void on_deliverable(void *ud, const char *channel)
{
    struct node *n = ud;
    route_flush(n->route, channel);
}

/* ---- XEP-0356: grants, roster sync answers, removals ---- */

static void on_granted(void *ud, const struct privilege *pv, int64_t now_ms)
{
    struct node *n = ud;
    uroster_granted(n->uroster, pv->domain, now_ms);
}

static bool on_roster_push(void *ud, const struct stanza_in *iq)
{
    struct node *n = ud;
    return uroster_roster_push(n->uroster, iq);
}

static void on_unsubscribed(void *ud, const char *channel, const char *contact)
{
    struct node *n = ud;
    uroster_forget(n->uroster, contact, channel);
}

static void on_user_removed(void *ud, const char *channel, const char *user, int64_t now_ms)
{
    struct node *n = ud;
    home_user_removed(n->home, channel, user, now_ms);
}

static void on_user_added(void *ud, const char *channel, const char *user)
{
    struct node *n = ud;
    home_status_to_watcher(n->home, channel, user);
}

/* ---- The output path, counted ---- */

static int c_write(void *ud, const char *xml, size_t len)
{
    struct node *n = ud;
    int r = n->sink->write(n->sink->ud, xml, len);
    if (r == 0)
        stats_count_out(&n->counters, xml, len);
    return r;
}

static size_t c_room(void *ud)
{
    struct node *n = ud;
    return n->sink->room(n->sink->ud);
}

static size_t c_mark(void *ud)
{
    struct node *n = ud;
    return n->sink->mark ? n->sink->mark(n->sink->ud) : 0;
}

static void c_splice(void *ud, size_t from, size_t to, const char *repl, size_t len)
{
    struct node *n = ud;
    if (n->sink->splice)
        n->sink->splice(n->sink->ud, from, to, repl, len);
}

static bool commit_or_take_back(struct node *n, enum take_back how, size_t from, int64_t now_ms,
                                const char *what);

/* Routing's commits (conversation memory, delivered messages) go through
 * the one commit path; a failure is rolled back and retried by routing,
 * nothing else is taken back. */
static bool commit_for_route(void *ud, const char *what)
{
    return commit_or_take_back(ud, TAKE_BACK_NOTHING, 0, 0, what);
}

/* [fanout]: the users' domain is the one named, else the component's
 * parent domain (status.example.org serves example.org). */
static void use_multicast(struct node *n, const struct config *cfg)
{
    const char *dot = strchr(cfg->domain, '.');
    const char *users = cfg->multicast_domain.n ? cfg->multicast_domain.v[0] : dot ? dot + 1 : "";
    struct jid j;
    if (users[0] == '\0' || jid_parse(users, &j) != 0) {
        log_warning("node: no users' domain for multicast (set multicast_domain in [fanout]); "
                    "one stanza per watcher");
        return;
    }
    n->multicast_domain = xstrdup(j.domain);
    jid_deinit(&j);
    home_use_multicast(n->home, &(struct mcast_opts){
                                    .enabled = cfg->multicast,
                                    .domain = n->multicast_domain,
                                    .max_addresses = (unsigned)cfg->multicast_max,
                                    .request_timeout_ms = cfg->fed_request_timeout_ms,
                                    .retry_ms = cfg->fed_retry_ms,
                                });
}

struct node *node_new(const struct config *cfg, struct store *store, const struct out *sink,
                      int64_t now_ms, char *err, size_t errlen)
{
    struct node *n = xcalloc(1, sizeof(*n));
    const struct out *out = &n->counting;
    struct home_limits hl = {
        .sub_burst = cfg->subscription_burst,
        .sub_per_minute = cfg->subscriptions_per_minute,
        .dom_burst = cfg->domain_subscription_burst,
        .dom_per_minute = cfg->domain_subscriptions_per_minute,
        .node_burst = cfg->node_subscription_burst,
        .node_per_minute = cfg->node_subscriptions_per_minute,
        .max_pending = cfg->max_pending_per_channel,
        .retry_ms = cfg->fed_retry_ms,
        .fed =
            {
                .local_domains = &cfg->fed_local_domains,
                .trusted_nodes = &cfg->fed_trusted_nodes,
                .lease_ms = cfg->fed_lease_ms,
                .resubscribe_delta_ms = cfg->fed_resubscribe_delta_ms,
                .min_resubscribe_ms = cfg->fed_min_resubscribe_ms,
                .retry_ms = cfg->fed_retry_ms,
                .linger_ms = cfg->fed_linger_ms,
                .discovery_ttl_ms = cfg->fed_discovery_ttl_ms,
                .request_timeout_ms = cfg->fed_request_timeout_ms,
            },
    };
    struct route_limits rl = {
        .max_message_bytes = cfg->max_message_bytes,
        .offline_max_messages = cfg->offline_max_messages,
        .offline_max_bytes = cfg->offline_max_bytes,
        /* Routing compares it with the stored messages' times, in seconds. */
        .offline_expiry_s = (int)(cfg->offline_expiry_ms / MS_PER_S),
    };
    n->cfg = cfg;
    n->store = store;
    n->sink = sink;
    if (cfg->cluster_role == CLUSTER_HOME) {
        /* Everything the home writes to users goes through its front. */
        n->homeside = homeside_new(cfg->domain, cfg->cluster_front.v[0], sink);
        n->sink = homeside_out(n->homeside);
        hl.fed.front = cfg->cluster_front.v[0];
    }
    rl.fed = hl.fed;
    n->counting = (struct out){c_write, c_room, c_mark, c_splice, n};
    n->out = out;
    n->iqwait = iqwait_new();
    n->roster = roster_new(store, err, errlen);
    if (n->roster)
        n->offline = offline_new(store, err, errlen);
    if (n->offline)
        n->changes = changes_new(store, err, errlen);
    /* The trim at start is a commit like the others: timed and counted. */
    if (n->changes && (roster_tx_begin(n->roster) != 0 || changes_at_start(n->changes) != 0 ||
                       !commit_or_take_back(n, TAKE_BACK_NOTHING, 0, 0, "change log at start"))) {
        roster_tx_rollback(n->roster);
        snprintf(err, errlen, "cannot trim the change log");
        changes_free(&n->changes);
    }
    if (n->changes && cfg->list_channels)
        n->directory = directory_new(store, err, errlen);
    if (n->changes && (n->directory || !cfg->list_channels))
        n->props = chanprops_new(store, err, errlen);
    if (n->props)
        n->propsub = propsub_new(store, err, errlen);
    if (n->propsub)
        n->uroster = uroster_new(store, n->roster, cfg->domain, out, &n->svc.priv, err, errlen);
    if (n->uroster && cfg->cluster_role == CLUSTER_FRONT)
        n->placement = placement_new(store, err, errlen);
    if (n->uroster == NULL || (cfg->cluster_role == CLUSTER_FRONT && n->placement == NULL)) {
        node_free(&n);
        return NULL;
    }
    uroster_use_iqwait(n->uroster, n->iqwait);
    n->home = home_new(cfg->domain, n->roster, &hl, out);
    fed_use_iqwait(n->home, n->iqwait);
    /* A home writes only to its front: nothing to batch. */
    if (cfg->cluster_role != CLUSTER_HOME)
        use_multicast(n, cfg);
    home_use_props(n->home, n->props, n->propsub,
                   &(struct pep_limits){
                       .lease_default_s = cfg->prop_lease_default_ms / MS_PER_S,
                       .lease_max_s = cfg->prop_lease_max_ms / MS_PER_S,
                       .max_subscriptions = cfg->prop_max_subscriptions,
                   });
    n->route = route_new(cfg->domain, n->home, n->roster, n->offline, &rl, out);
    route_on_commit(n->route, commit_for_route, n);
    home_on_deliverable(n->home, on_deliverable, n);
    fed_on_remote_known(n->home, route_remote_known, n->route);
    service_init(&n->svc, cfg->domain, n->home, n->route, out);
    service_configure(&n->svc, &(struct service_opts){
                                   /* A front has no channels of its own. */
                                   .registration = cfg->registration_enabled &&
                                                   cfg->cluster_role != CLUSTER_FRONT,
                                   .max_channels_per_owner = cfg->registration_max_per_owner,
                                   .registration_domains = &cfg->registration_domains,
                                   .admins = &cfg->admin_jids,
                                   .counters = counters_of,
                                   .counters_ud = n,
                                   .started_ms = now_ms,
                                   .directory = n->directory,
                                   .props = n->props,
                               });
    if (cfg->cluster_role == CLUSTER_HOME)
        n->svc.shown_domain = cfg->cluster_front.v[0];
    n->svc.granted = on_granted;
    n->svc.iqwait = n->iqwait;
    n->svc.roster_push = on_roster_push;
    n->svc.hooks_ud = n;
    home_set_privileges(n->home, &n->svc.priv);
    home_on_unsubscribed(n->home, on_unsubscribed, n);
    uroster_on_removed(n->uroster, on_user_removed, n);
    uroster_on_added(n->uroster, on_user_added, n);
    if (n->placement)
        n->front = front_new(cfg->domain, &cfg->cluster_homes, cfg->cluster_home_check_ms, n->home,
                             n->roster, n->placement, out, n->iqwait);
    return n;
}

void node_set_limits(struct node *n, const struct config *cfg)
{
    home_set_limits(n->home, &(struct home_limits){
                                 .sub_burst = cfg->subscription_burst,
                                 .sub_per_minute = cfg->subscriptions_per_minute,
                                 .dom_burst = cfg->domain_subscription_burst,
                                 .dom_per_minute = cfg->domain_subscriptions_per_minute,
                                 .node_burst = cfg->node_subscription_burst,
                                 .node_per_minute = cfg->node_subscriptions_per_minute,
                                 .max_pending = cfg->max_pending_per_channel,
                             });
    route_set_limits(n->route, &(struct route_limits){
                                   .max_message_bytes = cfg->max_message_bytes,
                                   .offline_max_messages = cfg->offline_max_messages,
                                   .offline_max_bytes = cfg->offline_max_bytes,
                                   .offline_expiry_s = (int)(cfg->offline_expiry_ms / MS_PER_S),
                               });
}

static void clear_taken(struct node *n)
{
    for (size_t i = 0; i < n->ntaken; i++)
        free(n->taken[i].error);
    n->ntaken = 0;
}

void node_free(struct node **np)
{
    struct node *n = *np;
    if (n == NULL)
        return;
    /* First: the front writes the relay routes it still holds. */
    front_free(&n->front);
    if (n->roster)
        commit_or_take_back(n, TAKE_BACK_NOTHING, 0, 0, "at exit");
    uroster_free(&n->uroster);
    service_deinit(&n->svc);
    route_free(&n->route);
    home_free(&n->home);
    offline_free(&n->offline);
    changes_free(&n->changes);
    directory_free(&n->directory);
    chanprops_free(&n->props);
    propsub_free(&n->propsub);
    placement_free(&n->placement);
    roster_free(&n->roster);
    /* Last: the roster sync and the home cancelled their requests. */
    iqwait_free(&n->iqwait);
    homeside_free(&n->homeside);
    clear_taken(n);
    free(n->taken);
    free(n->multicast_domain);
    free(n);
    *np = NULL;
}

const struct node_stats *node_stats(const struct node *n)
{
    return &n->stats;
}

static size_t mark(const struct node *n)
{
    return n->out->mark ? n->out->mark(n->out->ud) : 0;
}

static void splice(const struct node *n, size_t from, size_t to, const char *repl)
{
    if (n->out->splice)
        n->out->splice(n->out->ud, from, to, repl, strlen(repl));
}

void node_stanza(struct node *n, const struct xml_node *stanza, int64_t now_ms)
{
    sqlite3 *db = store_handle(n->store);
    sqlite3_int64 changes = sqlite3_total_changes64(db);
    unsigned long failures = store_failures();
    size_t from = mark(n);
    struct stanza_in in;
    struct taken *t;

    struct xml_node *copy = NULL;

    stanza_in_parse(&in, stanza, now_ms);
    if (in.kind == STANZA_MESSAGE)
        n->counters.v[STAT_IN_MESSAGE]++;
    else if (in.kind == STANZA_PRESENCE)
        n->counters.v[STAT_IN_PRESENCE]++;
    else if (in.kind == STANZA_IQ)
        n->counters.v[STAT_IN_IQ]++;
    if (n->homeside) {
        enum homeside_verdict v = homeside_inbound(n->homeside, &in, &copy);
        if (v == HOMESIDE_REFUSED) {
            n->svc.stats.dropped++;
            stanza_in_deinit(&in);
            return;
        }
        if (v == HOMESIDE_REWRITTEN) {
            /* From the user the front's relay address named. */
            stanza_in_deinit(&in);
            stanza_in_parse(&in, copy, now_ms);
        }
    }
    if (n->front == NULL || !front_stanza(n->front, &in))
        service_dispatch(&n->svc, &in);
    /* A write it needed failed: its answer becomes the error below, even
     * when nothing of it reached the database. */
    if (store_failures() != failures)
        n->batch_broken = true;
    else if (sqlite3_total_changes64(db) == changes) {
        stanza_in_deinit(&in);
        xml_free(copy);
        return;
    }
    if (n->ntaken == n->captaken) {
        n->captaken = n->captaken ? n->captaken * 2 : TAKEN_FIRST_CAP;
        n->taken = xrealloc(n->taken, n->captaken * sizeof(*n->taken));
    }
    t = &n->taken[n->ntaken++];
    t->from = from;
    t->to = mark(n);
    if (in.type && (strcmp(in.type, "error") == 0 ||
                    (in.kind == STANZA_IQ && strcmp(in.type, "result") == 0))) {
        /* RFC 6120 8.2.3, 8.3.1: results and errors are not answered */
        t->error = xstrdup("");
    } else {
        struct strbuf sb = {0};
        struct xml_node *e = stanza_error_reply(&in, n->svc.domain, "wait", "internal-server-error",
                                                "the change could not be stored; try again");
        xml_serialize(e, XML_NS_COMPONENT, &sb);
        xml_free(e);
        t->error = sb.data ? sb.data : xstrdup("");
    }
    stanza_in_deinit(&in);
    xml_free(copy);
}

static void apply_edits(struct node *n, int64_t now_ms);

/* State in memory may be ahead of the database: start again from it. */
static void reload(struct node *n, int64_t now_ms)
{
    home_reload(n->home, now_ms);
    route_reload(n->route);
    n->resync_at = now_ms + NODE_RESYNC_DELAY_MS;
}

/* After a failed write: the first reload at once, later ones after a
 * delay doubling up to NODE_RELOAD_MAX_MS, and never while another writer
 * holds the lock (node_tick() reloads once it is free). */
static void reload_after_failure(struct node *n, int64_t now_ms)
{
    if (n->reload_backoff == 0 && !store_locked(n->store)) {
        reload(n, now_ms);
        n->reload_backoff = NODE_RELOAD_FIRST_MS;
        return;
    }
    if (n->reload_at == 0) {
        n->reload_at = now_ms + n->reload_backoff;
        n->reload_backoff = n->reload_backoff ? n->reload_backoff * 2 : NODE_RELOAD_FIRST_MS;
        if (n->reload_backoff > NODE_RELOAD_MAX_MS)
            n->reload_backoff = NODE_RELOAD_MAX_MS;
    }
}

/* Rolls the open transaction back and takes back what depended on it. */
static void take_back(struct node *n, enum take_back how, size_t from, int64_t now_ms)
{
    roster_tx_rollback(n->roster);
    switch (how) {
    case TAKE_BACK_ANSWERS:
        for (size_t i = n->ntaken; i-- > 0;) {
            splice(n, n->taken[i].from, n->taken[i].to, n->taken[i].error);
            n->stats.answers_taken_back++;
        }
        break;
    case TAKE_BACK_OUTPUT: splice(n, from, mark(n), ""); break;
    case TAKE_BACK_STATE:
    case TAKE_BACK_NOTHING: break;
    }
    if (how != TAKE_BACK_NOTHING)
        reload_after_failure(n, now_ms);
}

/* Every commit of the node goes through here: commits the open
 * transaction, counts it (db_commits or db_commit_failures) and times it
 * when a clock was given; on failure takes back as how says.  With no
 * transaction open there is nothing to commit and nothing is counted
 * (but a transaction SQLite rolled back by itself fails here).  what
 * names the commit in the log.  Returns true when committed. */
static bool commit_or_take_back(struct node *n, enum take_back how, size_t from, int64_t now_ms,
                                const char *what)
{
    bool open = !sqlite3_get_autocommit(store_handle(n->store));
    bool timed = open && n->clock_us != NULL;
    int64_t t0 = timed ? n->clock_us() : 0;
    int r = roster_tx_commit(n->roster);

    if (r == 0 && !open)
        return true;
    if (timed) {
        uint64_t dt = (uint64_t)(n->clock_us() - t0);
        n->counters.v[STAT_COMMIT_US_TOTAL] += dt;
        if (dt > n->counters.v[STAT_COMMIT_US_MAX])
            n->counters.v[STAT_COMMIT_US_MAX] = dt;
    }
    if (r == 0) {
        n->counters.v[STAT_COMMITS]++;
        if (n->reload_at == 0)
            n->reload_backoff = 0; /* writes work again */
        return true;
    }
    n->counters.v[STAT_COMMIT_FAILURES]++;
    n->stats.commit_failures++;
    if (how == TAKE_BACK_ANSWERS)
        log_error("node: database commit failed (%s); %zu stanza(s) of this batch are answered "
                  "with an error instead, state is reloaded",
                  what, n->ntaken);
    else
        log_error("node: database commit failed (%s); %s", what,
                  how == TAKE_BACK_OUTPUT  ? "its output is taken back, state is reloaded"
                  : how == TAKE_BACK_STATE ? "state is reloaded"
                                           : "rolled back");
    take_back(n, how, from, now_ms);
    return false;
}

void node_batch_end(struct node *n, int64_t now_ms)
{
    if (n->batch_broken) {
        n->counters.v[STAT_COMMIT_FAILURES]++;
        n->stats.commit_failures++;
        log_error("node: a database write failed; %zu stanza(s) of this batch are answered with "
                  "an error instead, state is reloaded",
                  n->ntaken);
        take_back(n, TAKE_BACK_ANSWERS, 0, now_ms);
    } else
        commit_or_take_back(n, TAKE_BACK_ANSWERS, 0, now_ms, "batch end");
    n->batch_broken = false;
    clear_taken(n);
    node_pump(n, now_ms);
}

bool node_pump(struct node *n, int64_t now_ms)
{
    size_t from = mark(n);
    bool more = home_pump(n->home, now_ms);
    more = route_pump(n->route, now_ms) || more;
    /* Users' rosters last: what watchers see and messages come first. */
    if (out_room(n->out) > 0)
        more = uroster_pump(n->uroster, now_ms) || more;
    /* Producers write state too (binding requests, shown flags): durable
     * before their output leaves, or their output is taken back. */
    if (!commit_or_take_back(n, TAKE_BACK_OUTPUT, from, now_ms, "producers"))
        more = false;
    /* Stopped for its work limit, not for room: go on after the loop
     * read its inputs (the daemon's zero-delay timer). */
    n->pump_again = more && n->out->room(n->out->ud) > 0;
    return n->pump_again;
}

bool node_wants_pump(const struct node *n)
{
    return n->pump_again;
}

void node_writable(struct node *n, int64_t now_ms)
{
    if (n->edits_pending)
        apply_edits(n, now_ms);
    node_pump(n, now_ms);
}

void node_drained(struct node *n, int64_t now_ms)
{
    if (route_drained(n->route) != 0)
        log_error("node: deleting delivered offline messages failed; they may repeat");
    if (n->edits_pending)
        apply_edits(n, now_ms); /* a bulk edit continues as the output drains */
    node_pump(n, now_ms);
}

void node_online(struct node *n, int64_t now_ms)
{
    home_online(n->home, now_ms);
    if (n->front)
        front_online(n->front, now_ms);
    n->resync_at = now_ms + NODE_RESYNC_DELAY_MS;
    node_pump(n, now_ms);
}

void node_offline(struct node *n, int64_t now_ms)
{
    /* A batch cut short by the loss: its state changes are kept (what a
     * peer did not hear of is re-derived after the reconnect).  Its
     * output went with the link; the resync the reload would schedule is
     * cancelled below (the next online() schedules one). */
    commit_or_take_back(n, TAKE_BACK_STATE, 0, now_ms, "link loss");
    n->batch_broken = false;
    n->resync_at = 0;
    uroster_offline(n->uroster);
    privileges_deinit(&n->svc.priv); /* the next session announces again */
    home_offline(n->home, now_ms);
    if (n->front)
        front_offline(n->front);
    route_link_lost(n->route);
    clear_taken(n);
}

struct apply_ctx {
    struct node *n;
    int64_t now_ms;
    int64_t last;
};

static void on_change(void *ud, const struct change *c)
{
    struct apply_ctx *ac = ud;
    home_apply_change(ac->n->home, c, ac->now_ms);
    if (c->roster && c->jid)
        uroster_touch_user(ac->n->uroster, c->jid);
    else if (!c->roster)
        uroster_touch_channel(ac->n->uroster, c->channel);
    ac->last = c->seq;
}

/* Edits made with sqlite3 or chanstatctl: a page of the change log at a
 * time, each page committed with what it sent, while the output has room.
 * Idle, this costs one PRAGMA data_version per tick. */
static void apply_edits(struct node *n, int64_t now_ms)
{
    int polled = changes_poll(n->changes);
    if (polled < 0)
        return;
    if (polled == 1)
        n->edits_pending = true;
    while (n->edits_pending && n->out->room(n->out->ud) > 0) {
        struct apply_ctx ac = {n, now_ms, 0};
        size_t from = mark(n);
        int got = 0;
        if (changes_page(n->changes, 0, EDIT_PAGE, on_change, &ac, &got) != 0)
            return;
        /* The trim joins the page's transaction (opened here when the
         * page wrote nothing): page and trim are one commit. */
        if (got > 0 &&
            (roster_tx_begin(n->roster) != 0 || changes_trim(n->changes, ac.last) != 0)) {
            /* The page cannot be committed whole: taken back as a failed
             * commit would be. */
            n->stats.commit_failures++;
            log_error("node: applying edits failed; retried");
            take_back(n, TAKE_BACK_OUTPUT, from, now_ms);
            return;
        }
        if (got > 0 && !commit_or_take_back(n, TAKE_BACK_OUTPUT, from, now_ms, "edits, retried"))
            return;
        n->stats.edits_applied += (unsigned long)got;
        if (got > 0)
            log_info("node: applied %d edit(s) made by other connections", got);
        if (got < EDIT_PAGE)
            n->edits_pending = false;
    }
}

void node_use_clock(struct node *n, const struct cs_clock *clock)
{
    n->clock = clock;
    home_use_clock(n->home, clock);
    route_use_clock(n->route, clock);
}

void node_set_bind_delay(struct node *n, int64_t ms)
{
    home_set_bind_delay(n->home, ms);
}

struct uroster *node_uroster(struct node *n)
{
    return n->uroster;
}

void node_set_clock(struct node *n, int64_t (*clock_us)(void))
{
    n->clock_us = clock_us;
}

struct put_ctx {
    struct node *n;
    int64_t now_s;
    int failed;
};

static void put_stat(void *ud, const char *name, uint64_t value)
{
    struct put_ctx *pc = ud;
    if (!pc->failed && roster_stats_put(pc->n->roster, name, (int64_t)value, pc->now_s) != 0)
        pc->failed = 1;
}

/* Counters and owner resources for chanstatctl, once a second, in a
 * transaction of their own (node_tick() committed what came before). */
static void write_admin_state(struct node *n, int64_t now_ms)
{
    struct put_ctx pc = {n, cs_wall_of(n->clock, now_ms) / MS_PER_S, 0};
    n->stats_written = now_ms;
    /* Never worth waiting for another writer's lock: retried anyway. */
    store_nowait(n->store, true);
    stats_each(node_counters(n), put_stat, &pc);
    if (!pc.failed && home_write_resources(n->home) != 0)
        pc.failed = 1;
    store_nowait(n->store, false);
    if (pc.failed) {
        take_back(n, TAKE_BACK_NOTHING, 0, now_ms);
        if (!n->stats_failing)
            log_warning("node: writing stats for admins failed; retried every second");
        n->stats_failing = true;
        return;
    }
    if (n->stats_failing)
        log_info("node: stats for admins written again");
    n->stats_failing = false;
    commit_or_take_back(n, TAKE_BACK_NOTHING, 0, now_ms, "stats for admins, retried in a second");
}

void node_tick(struct node *n, int64_t now_ms)
{
    if (n->reload_at && now_ms >= n->reload_at && !store_locked(n->store)) {
        n->reload_at = 0;
        log_info("node: reloading state after failed writes");
        reload(n, now_ms);
    }
    if (n->resync_at && now_ms >= n->resync_at) {
        n->resync_at = 0;
        home_resync(n->home);
    }
    size_t from = mark(n);
    /* Our iqs nobody answered: the roster sync counts a timeout, a
     * domain that did not answer discovery is no node (it may release
     * held messages: output under the commit below). */
    iqwait_expire(n->iqwait, now_ms);
    home_tick(n->home, now_ms);
    if (n->front)
        front_tick(n->front, now_ms);
    /* Before route_tick: its conversation memory commits on its own. */
    commit_or_take_back(n, TAKE_BACK_OUTPUT, from, now_ms, "timers");
    /* Stored messages that expired: committed here, not with the counters
     * for admins, whose failure takes nothing back. */
    from = mark(n);
    route_tick(n->route, now_ms);
    commit_or_take_back(n, TAKE_BACK_OUTPUT, from, now_ms, "expiry");
    apply_edits(n, now_ms);
    if (now_ms - n->stats_written >= STATS_WRITE_INTERVAL_MS)
        write_admin_state(n, now_ms);
    node_pump(n, now_ms);
}
