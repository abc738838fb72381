/* cs_uroster.h - channels in the users' own server rosters (XEP-0356
 * roster permission).
 *
 * When a user's server granted this component roster "set" (or "both"),
 * every roster row that makes the user a watcher (subscription from or
 * both) is mirrored as an item of the user's roster at their server:
 * jid channel@component, name = the channel's display name (else its
 * name), the row's groups, subscription to (row from) or both (row both).
 * A row that stops making the user a watcher, or a channel that goes,
 * removes the item.  Only items recorded in pushed_item (schema 6) were
 * made here, and only those are ever changed or removed.
 *
 * A user is synced as a unit: with roster "get" too, the user's roster is
 * read first, and an item for a channel that the user has and we never
 * pushed is the user's own (never touched); an item we pushed that the
 * user's roster no longer has was removed by the user, which counts as
 * the user's unsubscribe (the removed callback).  With "set" alone the
 * record is all there is to go by.
 *
 * Work is a queue of users: live edits touch single users (or a channel's
 * users), a grant (every connect) runs a full sync of that domain's users
 * page by page.  At most UROSTER_MAX_ACTIVE users and UROSTER_MAX_INFLIGHT
 * iqs are in progress, and nothing is written without room in the
 * output (doc/privilege.md). */
#ifndef CS_UROSTER_H
#define CS_UROSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cs_out.h"
#include "cs_privilege.h"
#include "cs_stanza.h"
#include "cs_xml.h"

struct store;
struct roster;
struct uroster;
struct iqwait;

#define UROSTER_MAX_ACTIVE 64
#define UROSTER_MAX_INFLIGHT 16
#define UROSTER_TIMEOUT_MS 30000

struct uroster_stats {
    unsigned long users_synced;
    unsigned long gets;          /* user rosters read */
    unsigned long items_set;     /* items added or changed (answered result) */
    unsigned long items_removed; /* items removed */
    unsigned long kept_own;      /* channels already in a user's roster by the user's doing */
    unsigned long user_removed;  /* pushed items the user had removed */
    unsigned long errors;        /* iqs answered with an error */
    unsigned long timeouts;      /* iqs never answered */
};

/* A pushed item is gone from user's roster: the user removed channel. */
typedef void uroster_removed_cb(void *ud, const char *channel, const char *user, int64_t now_ms);
/* channel is now in user's roster (it was not, or not as a subscription
 * of theirs): the place to send them the channel's status. */
typedef void uroster_added_cb(void *ud, const char *channel, const char *user);

/* domain is the component's, priv the grants (both borrowed, must
 * outlive it).  NULL with err filled when statements cannot be prepared. */
struct uroster *uroster_new(struct store *store, struct roster *roster, const char *domain,
                            const struct out *out, const struct privileges *priv, char *err,
                            size_t errlen);
void uroster_free(struct uroster **u);
void uroster_on_removed(struct uroster *u, uroster_removed_cb *cb, void *ud);
void uroster_on_added(struct uroster *u, uroster_added_cb *cb, void *ud);
/* Where the iqs wait for their answers (borrowed: the node's registry, set
 * once at wiring time; it must outlive u).  Answers whose id and sender
 * match reach the roster sync through it, and an iq unanswered within
 * UROSTER_TIMEOUT_MS expires there (iqwait_expire).  Without one nothing
 * is sent, as with the link down. */
void uroster_use_iqwait(struct uroster *u, struct iqwait *w);

/* domain's server (re)announced its grants: with roster set, every user
 * of domain with rows or pushed items is synced.  When nothing is left to
 * do, "uroster: roster sync finished ..." is logged with the counts. */
void uroster_granted(struct uroster *u, const char *domain, int64_t now_ms);
/* A roster row of user changed (live edit). */
void uroster_touch_user(struct uroster *u, const char *user);
/* Channel changed or went: its users with pushed items are synced. */
void uroster_touch_channel(struct uroster *u, const char *channel);
/* The user unsubscribed from channel (e.g. removed it from their roster):
 * the item is no longer ours to manage.  Inside the open transaction. */
void uroster_forget(struct uroster *u, const char *user, const char *channel);

/* An iq set of jabber:iq:roster at the component's domain: a roster push
 * a server sends a privileged entity with roster get (XEP-0356 0.4).
 * From a user of a domain that granted roster get: answered with a
 * result, and an item chanstat pushed that the push removes is the user's
 * removal (the removed callback); returns true.  false otherwise (not
 * ours to answer). */
bool uroster_roster_push(struct uroster *u, const struct stanza_in *iq);
/* Writes while there is room, a bounded amount per call; true when it
 * stopped for that bound (call again soon). */
bool uroster_pump(struct uroster *u, int64_t now_ms);
/* The link is gone: nothing in flight will be answered (the iqs are
 * dropped unanswered, not counted as timeouts, now_ms), grants end. */
void uroster_offline(struct uroster *u);
/* Nothing queued, active or in flight. */
bool uroster_idle(const struct uroster *u);
const struct uroster_stats *uroster_stats(const struct uroster *u);

#endif
