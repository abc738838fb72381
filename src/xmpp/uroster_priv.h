/* uroster_priv.h - what the files of the roster sync share (not a public
 * API: the rest of the program sees cs_uroster.h).
 *
 * uroster.c runs the sync: set-up, who may be synced, the queue of users
 * and the flow control, the iqs and their answers.  urosterplan.c plans
 * one user: the items the roster table wants against those pushed before
 * and, when readable, the user's roster at their server.  Both reach the
 * database through store/cs_syncdb.h.  Calls go one way: uroster.c calls
 * urosterplan.c, never the other way round. */
#ifndef CS_UROSTER_PRIV_H
#define CS_UROSTER_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cs_hash.h"
#include "cs_out.h"
#include "cs_privilege.h"
#include "cs_uroster.h"
#include "cs_util.h"
#include "cs_xml.h"

#define NS_ROSTER "jabber:iq:roster"

enum op_kind { OP_GET, OP_SET, OP_REMOVE };

/* One roster item as chanstat wants it, pushed it, or the server has it.
 * groups: sorted, newline-joined ("" for none). */
struct item {
    char *channel;
    char *name;
    char *groups;
    const char *sub; /* "to" or "both" */
    bool adds;       /* a set that puts the channel into the user's roster */
};

/* A user queued or being synced. */
struct uuser {
    char *jid; /* key of users */
    bool active, again;
    struct uuser *next; /* the queue */
    unsigned inflight;
    /* Computed changes not written yet. */
    struct item **todo;
    enum op_kind *todo_kind;
    size_t ntodo, itodo, captodo;
};

struct syncdb;
struct full;   /* a domain's full sync (uroster.c) */
struct op;     /* an iq in flight (uroster.c) */
struct iqwait; /* the node's registry of our iqs (cs_iqwait.h) */

struct uroster {
    struct syncdb *db;
    const char *domain;
    const struct out *out;
    const struct privileges *priv;
    uroster_removed_cb *removed;
    void *removed_ud;
    uroster_added_cb *added;
    void *added_ud;
    struct hash users; /* jid -> struct uuser * (queued or active) */
    struct uuser *head, *tail;
    struct uuser *active[UROSTER_MAX_ACTIVE];
    unsigned nactive;
    /* The iqs in flight: pending in iqwait under their ids, and listed
     * here to be dropped when the link goes or the sync is freed. */
    struct iqwait *iqwait; /* borrowed; NULL: nothing is sent */
    struct op *inflight;
    unsigned ninflight;
    struct hash dstates; /* domain -> struct dstate * */
    struct full *full;
    size_t nfull;
    struct uroster_stats stats;
    /* A full sync in progress: since when, and the counts at its start. */
    bool syncing;
    int64_t sync_since;
    struct uroster_stats sync_base;
    struct strbuf sb;
};

/* ---- urosterplan.c ---- */

/* Frees an item and its strings; NULL-safe. */
void uplan_item_free(struct item *it);
/* The channel part of item jid "name@domain" (caller frees), or NULL when
 * it is not one of this component's addresses. */
char *uplan_our_channel(const struct uroster *u, const char *jid);
/* Compares what the roster table wants for us with what we pushed (and,
 * with roster, the result of our roster get: what the server has) and
 * adds the iqs that bring the server in step to us's todo.  roster NULL:
 * the user's roster is not readable.  Records that need no iq are
 * written at once; an item the user removed calls the removed callback. */
void uplan_user(struct uroster *u, struct uuser *us, const struct xml_node *roster, int64_t now_ms);

#endif
