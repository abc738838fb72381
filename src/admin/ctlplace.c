/* ctlplace.c - chanstatctl in a cluster (doc/cluster.md): at the front
 * the placement commands and the watchers it holds for a channel; at a
 * home, moving a channel to another home. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_config.h"
#include "cs_error.h"
#include "cs_placement.h"
#include "cs_store.h"
#include "ctl.h"

/* The placement lives at the front: other roles have none. */
static int front_only(struct ctl *c)
{
    if (c->cfg->cluster_role == CLUSTER_FRONT)
        return 0;
    fprintf(stderr,
            "chanstatctl: 'placement' is kept at a cluster's front ([cluster] role = front); "
            "this configuration's role is %s\n",
            cluster_role_name(c->cfg->cluster_role));
    return ADMIN_EXIT_USAGE;
}

static struct placement *open_placement(struct ctl *c)
{
    struct placement *p = placement_new(c->store, c->err, sizeof(c->err));
    if (p == NULL)
        fprintf(stderr, "chanstatctl: %s\n", c->err);
    return p;
}

static void print_placed(struct ctl *c, const char *action, const char *channel, const char *home,
                         bool pinned)
{
    if (c->json) {
        struct admin_json j = {0};
        admin_json_open(&j, NULL, '{');
        if (action)
            admin_json_str(&j, "action", action);
        admin_json_str(&j, "channel", channel);
        admin_json_str(&j, "home", home);
        admin_json_str(&j, "by", pinned ? "row" : "hashing");
        admin_json_close(&j, '}');
        ctl_json_print(&j);
    } else {
        printf("channel %s %s %s (%s)\n", channel, action ? action : "lives on", home,
               pinned ? "placement row" : "rendezvous hashing");
    }
}

int ctl_placement_set(struct ctl *c)
{
    char *channel = NULL, *home = xstrdup(c->args[1]);
    struct placement *p;
    int r = front_only(c);
    for (char *q = home; *q; q++)
        *q = (*q >= 'A' && *q <= 'Z') ? (char)(*q - 'A' + 'a') : *q;
    if (r == 0 && !config_list_has(&c->cfg->cluster_homes, home)) {
        fprintf(stderr, "chanstatctl: '%s' is not one of this front's homes ([cluster] homes)\n",
                c->args[1]);
        r = ADMIN_EXIT_INVALID;
    }
    if (r == 0 && (p = open_placement(c)) != NULL) {
        admin_channel_name(c->args[0], &channel, c->err, sizeof(c->err));
        if (placement_set(p, channel, home) != 0) {
            fprintf(stderr, "chanstatctl: cannot store the placement of %s\n", channel);
            r = ADMIN_EXIT_RUNTIME;
        } else {
            print_placed(c, "placed on", channel, home, true);
        }
        placement_free(&p);
    } else if (r == 0) {
        r = ADMIN_EXIT_RUNTIME;
    }
    free(channel);
    free(home);
    return r;
}

int ctl_placement_remove(struct ctl *c)
{
    char *channel = NULL;
    struct placement *p;
    int r = front_only(c), rc;
    if (r != 0)
        return r;
    if ((p = open_placement(c)) == NULL)
        return ADMIN_EXIT_RUNTIME;
    admin_channel_name(c->args[0], &channel, c->err, sizeof(c->err));
    rc = placement_remove(p, channel);
    if (rc == CS_ENOTFOUND) {
        fprintf(stderr, "chanstatctl: channel %s has no placement row\n", channel);
        r = ADMIN_EXIT_NOTFOUND;
    } else if (rc != 0) {
        fprintf(stderr, "chanstatctl: cannot remove the placement of %s\n", channel);
        r = ADMIN_EXIT_RUNTIME;
    } else {
        const char *home = placement_home(p, &c->cfg->cluster_homes, channel);
        print_placed(c, "now lives on", channel, home ? home : "?", false);
    }
    placement_free(&p);
    free(channel);
    return r;
}

static void on_row(void *ud, const char *channel, const char *home)
{
    struct collect *k = ud;
    if (k->c->json) {
        admin_json_open(&k->j, NULL, '{');
        admin_json_str(&k->j, "channel", channel);
        admin_json_str(&k->j, "home", home);
        admin_json_close(&k->j, '}');
    } else {
        ctl_table_row(&k->t, channel, home);
    }
    k->n++;
}

int ctl_placement_list(struct ctl *c)
{
    struct collect k = {.c = c, .t = {.ncols = 2, .heads = {"CHANNEL", "HOME"}}};
    struct placement *p;
    int r = front_only(c);
    if (r != 0)
        return r;
    if (c->nargs == 1) {
        /* One channel: where it lives, and why. */
        char *channel = NULL, home[1024];
        const char *h;
        if ((p = open_placement(c)) == NULL)
            return ADMIN_EXIT_RUNTIME;
        admin_channel_name(c->args[0], &channel, c->err, sizeof(c->err));
        r = placement_get(p, channel, home, sizeof(home));
        h = r == 0 ? home : placement_home(p, &c->cfg->cluster_homes, channel);
        if (h)
            print_placed(c, NULL, channel, h, r == 0);
        r = h ? 0 : ADMIN_EXIT_RUNTIME;
        placement_free(&p);
        free(channel);
        return r;
    }
    if ((p = open_placement(c)) == NULL)
        return ADMIN_EXIT_RUNTIME;
    if (c->json) {
        admin_json_open(&k.j, NULL, '{');
        admin_json_open(&k.j, "placement", '[');
    }
    r = placement_each(p, on_row, &k);
    placement_free(&p);
    if (r != 0) {
        fprintf(stderr, "chanstatctl: cannot read the placement\n");
        ctl_table_free(&k.t);
        strbuf_free(&k.j.out);
        return ADMIN_EXIT_RUNTIME;
    }
    if (c->json) {
        admin_json_close(&k.j, ']');
        admin_json_close(&k.j, '}');
        ctl_json_print(&k.j);
    } else {
        printf("placement rows: %zu (other channels: rendezvous hashing over %zu homes)\n", k.n,
               c->cfg->cluster_homes.n);
        if (k.n > 0)
            ctl_table_print(&k.t, "  ");
    }
    ctl_table_free(&k.t);
    return 0;
}

static void on_watcher(void *ud, const char *jid, long long watching)
{
    struct collect *k = ud;
    const char *state = watching ? "watching" : "pending";
    if (k->c->json) {
        admin_json_open(&k->j, NULL, '{');
        admin_json_str(&k->j, "jid", jid);
        admin_json_str(&k->j, "state", state);
        admin_json_close(&k->j, '}');
    } else {
        ctl_table_row(&k->t, jid, state);
    }
    k->n++;
}

int ctl_front_subscriptions(struct ctl *c)
{
    struct collect k = {.c = c, .t = {.ncols = 2, .heads = {"JID", "STATE"}}};
    char *channel = NULL, *address;
    struct placement *p = open_placement(c);
    const char *home;
    size_t len;
    int r;
    if (p == NULL)
        return ADMIN_EXIT_RUNTIME;
    admin_channel_name(c->args[0], &channel, c->err, sizeof(c->err));
    home = placement_home(p, &c->cfg->cluster_homes, channel);
    len = strlen(channel) + strlen(c->cfg->domain) + 2;
    address = xmalloc(len);
    snprintf(address, len, "%s@%s", channel, c->cfg->domain);
    if (c->json) {
        admin_json_open(&k.j, NULL, '{');
        admin_json_str(&k.j, "channel", channel);
        admin_json_str(&k.j, "home", home ? home : "");
        admin_json_open(&k.j, "watchers", '[');
    }
    r = admin_front_watchers(c->store, address, on_watcher, &k, c->err, sizeof(c->err));
    if (r == 0 && c->json) {
        admin_json_close(&k.j, ']');
        admin_json_close(&k.j, '}');
        ctl_json_print(&k.j);
    } else if (r == 0) {
        printf("watchers held at the front for %s (home %s): %zu\n", address, home ? home : "?",
               k.n);
        if (k.n > 0)
            ctl_table_print(&k.t, "  ");
    }
    ctl_table_free(&k.t);
    if (r != 0) {
        strbuf_free(&k.j.out);
        fprintf(stderr, "chanstatctl: %s\n", c->err);
    }
    placement_free(&p);
    free(address);
    free(channel);
    return r == 0 ? 0 : admin_exit_code(r);
}

int ctl_channel_move(struct ctl *c)
{
    struct config other;
    struct store *dst = NULL;
    struct admin_move m;
    char *channel = NULL;
    int r;
    config_defaults(&other);
    if (config_load(&other, c->move_to, c->err, sizeof(c->err)) != 0) {
        fprintf(stderr, "chanstatctl: %s\n", c->err);
        config_deinit(&other);
        return ADMIN_EXIT_USAGE;
    }
    if (strcmp(other.database, c->cfg->database) == 0) {
        fprintf(stderr, "chanstatctl: --to names this configuration's own database\n");
        config_deinit(&other);
        return ADMIN_EXIT_USAGE;
    }
    /* The destination holds this schema before anything is copied. */
    r = store_open(other.database, &other, &dst, c->err, sizeof(c->err));
    store_close(&dst);
    if (r == 0)
        r = admin_channel_move(c->store, other.database, c->args[0], &m, c->err, sizeof(c->err));
    if (r != 0) {
        fprintf(stderr, "chanstatctl: %s\n", c->err);
        config_deinit(&other);
        return admin_exit_code(r);
    }
    admin_channel_name(c->args[0], &channel, c->err, sizeof(c->err));
    if (c->json) {
        struct admin_json j = {0};
        admin_json_open(&j, NULL, '{');
        admin_json_str(&j, "action", "moved");
        admin_json_str(&j, "channel", channel);
        admin_json_str(&j, "to", other.domain);
        admin_json_int(&j, "roster_rows", m.roster);
        admin_json_int(&j, "stored_messages", m.offline);
        admin_json_close(&j, '}');
        ctl_json_print(&j);
    } else {
        printf("channel %s moved to %s: %lld roster row%s, %lld stored message%s\n", channel,
               other.domain, m.roster, m.roster == 1 ? "" : "s", m.offline,
               m.offline == 1 ? "" : "s");
    }
    free(channel);
    config_deinit(&other);
    return 0;
}
