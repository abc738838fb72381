/* cs_channel.h - the home's cache of channels in memory.
 *
 * A channel is loaded on first use (a stanza to it, an owner's presence,
 * the resync after a reconnect), never all at start-up: memory follows
 * what is active, and start-up costs nothing per stored channel.  Loading
 * reads the channel row, its persisted state (last seen, whether watchers
 * were last shown "available") and its watchers; every JID read from the
 * database is parsed and must already be a normalised bare JID, other
 * rows are skipped and logged (hand edits cannot inject XML).
 *
 * Lookups by name and by watcher JID are hash lookups (cs_hash.h); the
 * watchers of a channel are also a dense array, which the fan-out cursor
 * walks by index (see watchers_set() for how removal keeps a cursor
 * exact). */
#ifndef CS_CHANNEL_H
#define CS_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cs_hash.h"
#include "cs_roster.h"
#include "cs_status.h"

struct channel {
    char *name;
    char *jid;          /* name@DOMAIN */
    char *owner;        /* normalised bare JID, or NULL */
    char *display_name; /* channel.display_name, or NULL */
    /* The avatar's SHA-1 in hex (XEP-0153), "" without one; and a hash of
     * the other properties (description, e-mail, web address), so that an
     * edit tells which of them changed (channel_reload_props). */
    char photo[41];
    bool photo_known; /* a remote channel: its home told the hash */
    uint64_t props_sig;
    size_t index; /* in chancache.all */
    enum channel_policy policy;
    struct status_set status;
    bool shown;              /* watchers were last sent an available status (persisted) */
    int64_t saved_last_seen; /* the last-seen time in the database */

    /* Watchers: bare JIDs in From/Both (+ Pending Out). */
    char **watchers;
    unsigned nwatchers, capwatchers;
    struct hash watcher_idx; /* jid -> index + 1 */
    /* Contacts a chanstat node vouched for (federation): jid -> node
     * (struct via); their status goes to the node, never to them. */
    struct hash via;
    /* Contacts with a pending inbound request (for the cap, O(1)). */
    struct hash pending; /* jid -> the same string, owned */

    /* Fan-out cursor (fanout.c): watchers [0, fan_pos) have the status
     * in fan_body; the rest are still to be sent it. */
    bool fan_queued;
    unsigned fan_pos;
    unsigned synced_epoch; /* home's online_epoch when a fan-out last completed */
    struct channel *fan_next;
    char *fan_body; /* serialised presence after "<presence", or NULL */
    size_t fan_body_len;
    size_t fan_tag_end; /* offset in fan_body of the '>' ending the start tag */

    /* Owner resources to write to channel_resource (chancache_write_resources). */
    bool res_dirty;
    struct channel *res_next;

    /* Status service (fed.c): set for a remote channel seen through this
     * node (name: the escaped JID, jid: name@DOMAIN).  Never in the
     * database's channel table; its watchers are in remote_watcher. */
    struct remote *remote;

    /* Owner binding retry (bind.c). */
    int64_t bind_retry_at; /* ms, 0 = none */
    struct channel *retry_next;
    bool retry_queued;
};

struct remote;

/* What the owner of the cache registers at wiring time, so that the
 * cache reaches the layers above it without calling up. */
struct chancache_hooks {
    /* Frees a remote channel's status-service state (federation owns it). */
    void (*free_remote)(struct remote *r);
    /* Takes c off every queue of its owner and then calls
     * chancache_remove() (with whatever cursor the owner walks). */
    void (*forget)(void *ud, struct channel *c);
    void *ud;
};

struct chancache {
    const char *domain;      /* borrowed */
    struct roster *roster;   /* borrowed */
    struct chanprops *props; /* borrowed; NULL: properties are not read */
    struct hash by_name;     /* name -> struct channel * (owned) */
    struct channel **all;    /* the same, dense, in load order */
    size_t n, cap;
    unsigned long long bad_rows; /* database rows skipped as invalid */
    struct channel *res_head;    /* owner resources not yet written */
    struct chancache_hooks hooks;
};

void chancache_init(struct chancache *cc, const char *domain, struct roster *roster);
/* Frees every channel. */
void chancache_deinit(struct chancache *cc);

/* A loaded channel, or NULL (no database access). */
struct channel *chancache_loaded(const struct chancache *cc, const char *name);
/* A channel from memory, else loaded from the database with its roster.
 * NULL when there is none (or on a database error, logged).  Borrowed:
 * the cache owns it until chancache_deinit(). */
struct channel *chancache_find(struct chancache *cc, const char *name);

/* Properties are read from props (cs_chanprops.h) from now on. */
void chancache_use_props(struct chancache *cc, struct chanprops *props);

/* What channel_reload_props() found changed. */
enum {
    CHANNEL_CHANGED_NAME = 1,   /* the display name */
    CHANNEL_CHANGED_TEXT = 2,   /* description, e-mail or web address */
    CHANNEL_CHANGED_AVATAR = 4, /* the avatar (photo) */
};
/* Reads c's display name and properties again (done at load; an edit
 * calls it).  Returns the CHANNEL_CHANGED_* bits of what differs from
 * before; on a database error (logged) the old values stay and 0. */
unsigned channel_reload_props(struct chancache *cc, struct channel *c);

void chancache_set_hooks(struct chancache *cc, const struct chancache_hooks *hooks);

/* Adds a channel that is not in the channel table (a remote channel of
 * the status service): name is the escaped JID used as localpart.  The
 * cache owns it. */
struct channel *chancache_add(struct chancache *cc, const char *name);

/* Takes c out of the cache and frees it.  *cursor, an index into
 * cc->all being walked (or NULL), is kept exact the same way
 * watchers_set() keeps the fan-out cursor.  The caller unlinks c from
 * its own queues first (chancache_forget does both). */
void chancache_remove(struct chancache *cc, struct channel *c, size_t *cursor);
/* Forgets c everywhere: the owner's queues (hooks.forget), then the
 * cache.  c is freed. */
void chancache_forget(struct chancache *cc, struct channel *c);

/* c's owner resources changed: written to channel_resource by the next
 * chancache_write_resources(). */
void chancache_resources_dirty(struct chancache *cc, struct channel *c);
/* Writes the owner resources of every channel marked dirty, inside the
 * caller's transaction.  O(channels changed since).  0 or CS_EDB (the
 * rest stay marked). */
int chancache_write_resources(struct chancache *cc);

/* Adds (on) or removes (off) jid from the watchers.  Removal keeps the
 * fan-out cursor exact: a watcher not yet sent to is never skipped. */
void watchers_set(struct channel *c, const char *jid, bool on);
bool watchers_has(const struct channel *c, const char *jid);

/* Keeps the set of contacts with a pending inbound request in step with
 * a row's state. */
void channel_note_state(struct channel *c, const char *contact, enum sub_state state);

/* The node that vouched for contact, or NULL. */
const char *channel_via(const struct channel *c, const char *contact);
/* Records (node != NULL) or forgets that a node vouched for contact. */
void channel_set_via(struct channel *c, const char *contact, const char *node);

/* Parses s as a bare JID already in normalised form; false for anything
 * else (a database row that was edited by hand into nonsense). */
bool channel_jid_ok(const char *s);

#endif
