/* ctl.h - what chanstatctl.c shares with ctlprint.c and ctlplace.c: the
 * parsed command line, the collectors the listing commands fill, the
 * printers of ctlprint.c and the cluster front's commands of ctlplace.c.
 * chanstatctl.c calls them, never the reverse. */
#ifndef CS_CTL_H
#define CS_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cs_admin.h"

struct command; /* an entry of chanstatctl.c's table of commands */
struct config;

#define MAX_ARGS 2
#define MAX_GROUPS 64

/* One run: the parsed command line, the open database, the last error. */
struct ctl {
    struct store *store;
    const struct config *cfg; /* the file -c named */
    bool json;
    const struct command *cmd;
    const char *args[MAX_ARGS];
    int nargs;
    unsigned given; /* enum opt_flag */
    struct admin_channel_edit ch;
    const char *subscription, *name;
    const char *move_to; /* channel move --to FILE */
    const char *format;  /* stats --format: text, json, prometheus; NULL = text */
    const char *groups[MAX_GROUPS];
    size_t n_groups;
    char err[512];
};

#define MAX_COLS 8

/* A table of text cells, printed with aligned columns. */
struct table {
    size_t ncols;
    const char *heads[MAX_COLS];
    char **cells; /* nrows * ncols, owned */
    size_t nrows, cap;
};

/* Adds a row of t->ncols cells (NULL: "-"). */
void ctl_table_row(struct table *t, ...);
/* Prints t (heads first) with each line after indent. */
void ctl_table_print(const struct table *t, const char *indent);
void ctl_table_free(struct table *t);
/* Writes the document to stdout and frees it. */
void ctl_json_print(struct admin_json *j);

/* Collects rows for either output. */
struct collect {
    struct ctl *c;
    struct admin_json j;
    struct table t;
    size_t n;
};

/* subscriptions: admin_subscriptions() passes the sections in order, so
 * JSON streams into one document (each section's array opened when its
 * turn comes, also when it has no rows); text keeps a table per section. */
struct subs {
    struct ctl *c;
    struct admin_json j;
    int open; /* the section whose array is open, -1: none yet */
    struct table t[3];
    size_t n[3];
};

/* Opens the JSON arrays of the sections up to kind. */
void ctl_subs_advance(struct subs *s, int kind);

/* Node subscriptions with their remaining lease: into the subs' JSON
 * document, or a table of their own. */
struct leases {
    struct ctl *c;
    struct admin_json *j;
    struct table t;
    size_t n;
    long long now;
};

/* The result of a command, in c->json's form. */
int ctl_channel_written(struct ctl *c, enum admin_action action, struct admin_channel *ch);
void ctl_print_channel_info(struct ctl *c, const struct admin_channel_info *in);
void ctl_print_item(struct ctl *c, enum admin_action action, const struct admin_item *it);
void ctl_print_status(struct ctl *c, const struct admin_status *st);

/* The rows of the listing commands: ud is a struct collect, except for
 * ctl_on_sub() (struct subs) and ctl_on_lease() (struct leases). */
void ctl_on_channel(void *ud, const struct admin_channel *ch);
void ctl_on_item(void *ud, const struct admin_item *it);
void ctl_on_sub(void *ud, enum admin_sub_kind kind, const struct admin_item *it);
void ctl_on_lease(void *ud, const char *node, long long expires);
/* The same struct leases, its table JID, NODE, LEASE LEFT. */
void ctl_on_propsub(void *ud, const char *jid, const char *node, long long expires);
void ctl_on_message(void *ud, const struct admin_message *m);
void ctl_on_stat(void *ud, const char *name, int64_t value, int64_t updated);

/* ctlprom.c: stats --format=prometheus, the stats table in the
 * Prometheus text exposition format 0.0.4.  Returns the exit status. */
int ctl_stats_prometheus(struct ctl *c);

/* ctlplace.c: at a cluster's front (others: exit status 2).  placement
 * set CHANNEL HOME, remove CHANNEL, list [CHANNEL]; subscriptions
 * CHANNEL lists the watchers the front holds. */
int ctl_placement_set(struct ctl *c);
int ctl_placement_remove(struct ctl *c);
int ctl_placement_list(struct ctl *c);
int ctl_front_subscriptions(struct ctl *c);
/* channel move NAME --to FILE: from this home's database to FILE's. */
int ctl_channel_move(struct ctl *c);

#endif
