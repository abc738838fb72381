/* route_priv.h - what route.c, convmem.c and flush.c share on the route's
 * floor (not a public API: the rest of the program sees cs_route.h).
 *
 * Calls run one way: route.c calls into convmem.c and flush.c; those two
 * call neither route.c nor each other. */
#ifndef CS_ROUTE_PRIV_H
#define CS_ROUTE_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cs_hash.h"
#include "cs_route.h"
#include "cs_util.h"
#include "cs_xml.h"

/* Channels whose store usage is cached; above this, entries with nothing
 * stored are forgotten (read again on demand). */
#define USAGE_SWEEP 100000

/* A channel's offline store: how much, and how far the cursor got. */
struct stored {
    int count; /* rows in the store, sent or not (no scan per message) */
    int64_t bytes;
    int64_t sent_upto;  /* highest id accepted by the link and not yet deleted */
    unsigned in_flight; /* of those, how many await route_drained */
    bool queued;        /* on the flush queue */
    struct stored *next;
    char channel[];
};

struct sent; /* flush.c */
struct held; /* route.c */

/* The wiring at the top is read by all three files; each later group of
 * fields is read and written only by the file named on it (route_new and
 * route_free in route.c aside). */
struct route {
    const char *domain;
    struct home *home;
    struct roster *roster;
    struct offline *offline;
    struct route_limits limits;
    const struct out *out;
    route_commit_cb *commit;      /* route_on_commit(), or NULL */
    const struct cs_clock *clock; /* wall clock for stored times; NULL: now_ms */
    void *commit_ud;
    /* flush.c: the store's usage and the flush cursor */
    struct hash usage; /* channel -> struct stored * */
    size_t usage_sweep_at;
    struct stored *flush_head, *flush_tail;
    struct sent *sent; /* accepted by the link since the last drain */
    size_t nsent, capsent;
    int64_t next_expire;
    /* convmem.c: conversation memory */
    struct hash convs; /* key -> struct conv * */
    unsigned ndirty;
    bool conv_failing; /* writing conversations fails (logged once) */
    /* route.c: messages waiting for a domain's answer */
    struct held *held_head, *held_tail;
    unsigned nheld;
    struct route_stats stats; /* counted by all three */
};

/* ---- convmem.c: which channel a contact last wrote to ---- */

/* Remembers that contact wrote to owner's channel (through node `via`,
 * or NULL); written to the database at the next conv_persist. */
void conv_note(struct route *r, const char *owner, const char *contact, const char *channel,
               const char *via);
/* The address a reply from owner to contact comes from; NULL when owner
 * owns no channel.  *via_r: the node the contact wrote through (a reply
 * goes back there), or NULL.  *known_r: there was a conversation.  Caller
 * frees both strings. */
char *conv_reply_channel(struct route *r, const char *owner, const char *contact, char **via_r,
                         bool *known_r);
/* Writes the remembered conversations not yet in the database (route_tick). */
void conv_persist(struct route *r);
/* Forgets every conversation held in memory. */
void conv_free_all(struct route *r);

/* ---- flush.c: the offline store as seen by routing ---- */

/* The channel's store usage (one indexed query the first time).  NULL on
 * a database error. */
struct stored *flush_usage(struct route *r, const char *channel);
/* Stores sb, the message in (as delivered, or without its <vouch/>)
 * serialised, in the batch's transaction, stamped with in's time.  The
 * sender hears of a failure now; a failed commit is answered by the
 * daemon (cs_node.h).  True when it was stored; false when refused (the
 * store full) or failed, the sender answered. */
bool flush_store(struct route *r, const struct stanza_in *in, const char *channel,
                 const char *contact, const struct strbuf *sb);
/* Forgets the cached usage and the flush queue (read again on demand). */
void flush_free_usage(struct route *r);
/* Drops expired stored messages, at most once a minute (route_tick). */
void flush_expire(struct route *r, int64_t now_ms);

/* Helpers of all three, kept in the lowest file. */

/* An error reply to msg (cs_stanza.h). */
void flush_reply_error(struct route *r, const struct stanza_in *msg, const char *type,
                       const char *cond, const char *text);
/* A copy of msg readdressed, with a XEP-0203 delay stamp when `delayed`
 * (seconds) is not 0.  0 or CS_ENOTCONN. */
int flush_forward(struct route *r, const struct xml_node *msg, const char *from, const char *to,
                  int64_t delayed);
/* bare/resource; caller frees. */
char *flush_full_of(const char *bare, const char *resource);

/* flush.c: commits the open transaction through the registered path
 * (cs_route.h); what names it in the log.  True when committed. */
bool route_commit(struct route *r, const char *what);

#endif
