/* cs_admin.h - admin operations on the database: the validation and the
 * SQL behind chanstatctl(1), in the core library so that the tests and a
 * later ad-hoc command (XEP-0050) run exactly the same code.
 *
 * Input is validated and normalised the way chanstatd reads it: a channel
 * name is a JID localpart (jid_check_local()), ASCII case-folded as
 * jid_parse() folds the localpart of the address chanstatd looks the
 * channel up by, and never a relay address (jid_relay_parse() must answer
 * CS_ENOTFOUND); a JID goes through jid_parse(), must be bare and is
 * stored as jid_bare(); an owner also needs a localpart.  Texts (display
 * name, roster name, groups) are UTF-8 without control characters, at
 * most 1023 bytes each.
 *
 * Every write is one BEGIN IMMEDIATE transaction: it is committed whole
 * or not at all, and a function that fails has written nothing.  Reads of
 * several tables run in one read transaction, so they see one snapshot.
 * Writes to channel and roster leave rows in change_log through the
 * schema's triggers (schema 4), which is how a running chanstatd learns
 * of them; this module never touches log_control.
 *
 * Errors: 0 or a negative CS_E* code, with one line naming the problem in
 * err (no "chanstatctl:" prefix, no newline):
 *   CS_EINVAL     invalid input (name, JID, policy, subscription, text);
 *   CS_EEXIST     the channel to add exists already;
 *   CS_ENOTFOUND  no such channel, or no such roster row;
 *   CS_EAGAIN     another writer held the lock longer than the busy timeout;
 *   CS_EREADONLY  the database refused a write as read-only;
 *   CS_EDB        any other database error.
 * admin_exit_code() turns a code into chanstatctl's exit status.
 *
 * Strings in the structs passed to a callback are borrowed for the
 * duration of the call; structs filled for the caller (the _r
 * out-parameters) own theirs and are released with their _deinit(). */
#ifndef CS_ADMIN_H
#define CS_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cs_roster.h"
#include "cs_util.h"

struct store;

/* chanstatctl's exit statuses (chanstatctl(1), EXIT STATUS). */
enum admin_exit {
    ADMIN_EXIT_OK = 0,
    ADMIN_EXIT_RUNTIME = 1,  /* database or system error */
    ADMIN_EXIT_USAGE = 2,    /* unknown command or option, missing argument, bad config */
    ADMIN_EXIT_INVALID = 3,  /* invalid input, or a channel that exists already */
    ADMIN_EXIT_NOTFOUND = 4, /* no such channel or roster row */
};

/* The exit status for a return code of this module (0 for 0). */
int admin_exit_code(int err);

/* Longest display name, roster name or group, in bytes (the schema's). */
#define ADMIN_TEXT_MAX 1023

/* ---- Validation: each returns 0 or CS_EINVAL with err filled ---- */

/* The normalised (ASCII-lowercased) channel name for in; caller frees
 * *name_r.  Refuses what is no localpart and relay addresses. */
int admin_channel_name(const char *in, char **name_r, char *err, size_t errlen);
/* The normalised bare JID for in; caller frees *jid_r.  Refuses a JID
 * with a resource, and with need_local one without a localpart. */
int admin_bare_jid(const char *in, bool need_local, char **jid_r, char *err, size_t errlen);

/* ---- Channels ---- */

struct admin_channel {
    char *name;
    char *owner; /* NULL: no owner */
    enum channel_policy policy;
    char *display_name; /* NULL: none */
    int64_t created;    /* unix seconds */
    /* Properties (schema 9), read by admin_channel_get only (not by
     * listings): NULL when unset. */
    char *description, *email, *url;
    char *avatar_type;    /* image/png or image/jpeg; NULL: no avatar */
    long avatar_bytes;    /* its size */
    char avatar_sha1[41]; /* lowercase hex SHA-1 of its bytes; "" without one */
};
void admin_channel_deinit(struct admin_channel *c);

/* What channel add / channel set write; as typed by the admin, validated
 * by the functions below. */
struct admin_channel_edit {
    const char *owner;        /* a bare JID; NULL: unchanged (add: none) */
    bool no_owner;            /* set: remove the owner (owner must be NULL) */
    const char *policy;       /* open, approve or closed; NULL: unchanged (add: open) */
    const char *display_name; /* NULL: unchanged (add: none); "": remove it */
    /* Properties: NULL unchanged (add: none); "" removes a text. */
    const char *description, *email, *url;
    const char *avatar_file; /* a PNG or JPEG of at most ADMIN_AVATAR_MAX bytes */
    bool no_avatar;          /* set: remove the avatar (avatar_file must be NULL) */
};
#define ADMIN_AVATAR_MAX 65536
#define ADMIN_DESCRIPTION_MAX 4096
/* Validates e without touching the database.  0 or CS_EINVAL. */
int admin_channel_edit_check(const struct admin_channel_edit *e, char *err, size_t errlen);

/* What a write did. */
enum admin_action { ADMIN_ADDED, ADMIN_UPDATED, ADMIN_UNCHANGED, ADMIN_REMOVED };
const char *admin_action_name(enum admin_action a); /* "added", ... */

/* Creates channel name.  0 with *c_r the new row, CS_EEXIST, CS_EINVAL,
 * or a database error (*c_r then holds nothing to free). */
int admin_channel_add(struct store *store, const char *name, const struct admin_channel_edit *e,
                      struct admin_channel *c_r, char *err, size_t errlen);
/* Changes what e names, column by column, only where the value changes
 * (so a row stored before schema 3 with an owner the JID rules refuse can
 * still get a new policy).  0 with *c_r the row after and *action_r
 * ADMIN_UPDATED or ADMIN_UNCHANGED; CS_ENOTFOUND, CS_EINVAL, or a database
 * error. */
int admin_channel_set(struct store *store, const char *name, const struct admin_channel_edit *e,
                      struct admin_channel *c_r, enum admin_action *action_r, char *err,
                      size_t errlen);

/* What removing a channel took with it. */
struct admin_removed {
    int64_t roster_rows;
    int64_t offline_messages;
};
/* Deletes the channel; the schema deletes its roster rows, stored
 * messages and internal rows with it.  0 with *removed_r, CS_ENOTFOUND,
 * CS_EINVAL, or a database error. */
int admin_channel_remove(struct store *store, const char *name, struct admin_removed *removed_r,
                         char *err, size_t errlen);

typedef void admin_channel_cb(void *ud, const struct admin_channel *c);
/* Every channel, in name order (the whole table: for a tool).  0 or a
 * database error. */
int admin_channel_list(struct store *store, admin_channel_cb *cb, void *ud, char *err,
                       size_t errlen);

/* A channel with its counts, for channel show. */
struct admin_channel_info {
    struct admin_channel ch;
    int64_t roster_rows, watchers, pending_in, pending_out;
    int64_t offline_messages, offline_bytes;
    int64_t last_seen; /* 0: never */
    bool shown;        /* watchers were last shown "available" */
};
/* 0 with *info_r (release with admin_channel_deinit(&info_r->ch)),
 * CS_ENOTFOUND, CS_EINVAL, or a database error. */
int admin_channel_show(struct store *store, const char *name, struct admin_channel_info *info_r,
                       char *err, size_t errlen);

/* ---- Roster rows ---- */

struct admin_item {
    char *channel;
    char *jid;
    char subscription[8]; /* none, to, from or both */
    bool ask;             /* pending out */
    bool pending_in;
    bool approved; /* pre-approved (RFC 6121 3.4) */
    char *name;    /* NULL: none */
    char *groups;  /* as stored: newline-separated (admin_group_next); NULL: none */
};
void admin_item_deinit(struct admin_item *it);

/* What roster add writes, as typed. */
struct admin_item_edit {
    const char *subscription;  /* none, to, from, both; NULL: unchanged (new row: none) */
    const char *name;          /* NULL: unchanged (new row: none); "": remove it */
    const char *const *groups; /* n_groups of them replace the groups; */
    size_t n_groups;           /* 0: unchanged (new row: none) */
};
/* Validates e without touching the database.  0 or CS_EINVAL. */
int admin_item_edit_check(const struct admin_item_edit *e, char *err, size_t errlen);

/* Adds the row (channel, jid), or updates it when it exists: the fields e
 * gives replace the stored ones, the others are kept.  An explicit
 * subscription also clears what it makes impossible (RFC 6121 Appendix
 * A, the schema's CHECKs): from/both grant a pending inbound request
 * (pending_in = 0), to/both end a pending outbound one (ask = 0), and a
 * pre-approval is dropped unless the row is none or to without a pending
 * request.  A row that would not change is not written.  0 with *it_r and
 * *action_r (ADMIN_ADDED, ADMIN_UPDATED or ADMIN_UNCHANGED), CS_ENOTFOUND
 * (no such channel), CS_EINVAL, or a database error. */
int admin_roster_add(struct store *store, const char *channel, const char *jid,
                     const struct admin_item_edit *e, struct admin_item *it_r,
                     enum admin_action *action_r, char *err, size_t errlen);
/* Deletes the row.  0, CS_ENOTFOUND (no such channel or row), CS_EINVAL,
 * or a database error. */
int admin_roster_remove(struct store *store, const char *channel, const char *jid, char *err,
                        size_t errlen);

typedef void admin_item_cb(void *ud, const struct admin_item *it);
/* Every roster row of channel, in jid order.  0, CS_ENOTFOUND, CS_EINVAL,
 * or a database error. */
int admin_roster_list(struct store *store, const char *channel, admin_item_cb *cb, void *ud,
                      char *err, size_t errlen);

/* Iterates over the groups of a stored groups value (newline-separated,
 * empty segments skipped).  Start with *p at the value (NULL is fine);
 * each call sets the next group and its length and returns true, then
 * false at the end. */
bool admin_group_next(const char **p, const char **group_r, size_t *len_r);

/* ---- Subscriptions ---- */

enum admin_sub_kind {
    ADMIN_WATCHER,     /* subscription from or both: receives the channel's status */
    ADMIN_PENDING_IN,  /* asked to watch, waits for an answer (pending_in = 1) */
    ADMIN_PENDING_OUT, /* the channel asked for the contact's presence (ask = 1) */
};
typedef void admin_sub_cb(void *ud, enum admin_sub_kind kind, const struct admin_item *it);
/* The watchers, then the pending inbound, then the pending outbound
 * requests of channel, each in jid order, from one snapshot.  Node
 * subscriptions (federation) are listed by admin_node_leases().  0,
 * CS_ENOTFOUND, CS_EINVAL, or a database error. */
int admin_subscriptions(struct store *store, const char *channel, admin_sub_cb *cb, void *ud,
                        char *err, size_t errlen);

/* The chanstat nodes subscribed to channel (federation: node_lease) and
 * when their leases end (unix seconds), in node order.  0, CS_ENOTFOUND,
 * CS_EINVAL, or a database error. */
typedef void admin_lease_cb(void *ud, const char *node, long long expires);
int admin_node_leases(struct store *store, const char *channel, admin_lease_cb *cb, void *ud,
                      char *err, size_t errlen);
/* What admin_channel_move() moved: rows of roster and offline, and of
 * the other tables (the channel's own row included). */
struct admin_move {
    long long roster, offline, other;
};
/* Moves channel with its rows from this database to the one at dst_path
 * (a cluster's home to another, doc/cluster.md), in one transaction;
 * dst_path must hold this schema version (open it with store_open()
 * first).  0, CS_ENOTFOUND, CS_EEXIST (there already), CS_EINVAL or a
 * database error. */
int admin_channel_move(struct store *store, const char *dst_path, const char *channel,
                       struct admin_move *m, char *err, size_t errlen);
/* At a cluster's front: the watchers it holds for a channel's public
 * address (remote_watcher rows), in JID order; cb's second argument is
 * 1 for watching, 0 for pending.  0 or CS_EDB. */
int admin_front_watchers(struct store *store, const char *address, admin_lease_cb *cb, void *ud,
                         char *err, size_t errlen);

/* The property subscriptions to channel (XEP-0060 subscriptions to its
 * PEP nodes, table prop_subscription) whose lease runs at now (unix
 * seconds), in (jid, node) order: cb(ud, jid, node, expires).  0,
 * CS_ENOTFOUND, CS_EINVAL, or a database error. */
typedef void admin_propsub_cb(void *ud, const char *jid, const char *node, long long expires);
int admin_prop_subscriptions(struct store *store, const char *channel, long long now,
                             admin_propsub_cb *cb, void *ud, char *err, size_t errlen);

/* ---- Status (channel_resource and channel_state, written by chanstatd
 * at most once a second) ---- */

struct admin_resource {
    char *resource;
    char *show;   /* available, chat, away, xa, dnd (unavailable) */
    char *status; /* NULL: no text */
    int64_t priority;
    int64_t since; /* unix seconds of its last change */
};

struct admin_status {
    char *channel;
    char *owner; /* NULL: no owner */
    /* Available resources first, then by priority (highest first), then
     * most recent since, then name. */
    struct admin_resource *res;
    size_t n_res;
    /* The aggregate: the available resource with the highest priority,
     * ties to the most recent; NULL: unavailable.  Points into res. */
    const struct admin_resource *best;
    int64_t last_seen; /* 0: never */
    bool shown;
};
/* 0 with *st_r (release with admin_status_deinit()), CS_ENOTFOUND,
 * CS_EINVAL, or a database error. */
int admin_status(struct store *store, const char *channel, struct admin_status *st_r, char *err,
                 size_t errlen);
void admin_status_deinit(struct admin_status *st);

/* ---- Stored messages ---- */

struct admin_message {
    int64_t id;
    const char *channel;
    const char *sender;
    int64_t stored; /* unix seconds */
    int64_t bytes;
};
typedef void admin_message_cb(void *ud, const struct admin_message *m);
/* The stored messages of channel (NULL: of every channel), oldest first.
 * 0, CS_ENOTFOUND, CS_EINVAL, or a database error. */
int admin_offline_list(struct store *store, const char *channel, admin_message_cb *cb, void *ud,
                       char *err, size_t errlen);
/* Deletes the stored messages of channel; *n_r how many.  0,
 * CS_ENOTFOUND, CS_EINVAL, or a database error. */
int admin_offline_purge(struct store *store, const char *channel, int64_t *n_r, char *err,
                        size_t errlen);

/* ---- Statistics (the stats table, filled by chanstatd) ---- */

typedef void admin_stat_cb(void *ud, const char *name, int64_t value, int64_t updated);
/* Every row, in name order.  0 or a database error. */
int admin_stats(struct store *store, admin_stat_cb *cb, void *ud, char *err, size_t errlen);

/* ---- Output helpers ---- */

/* Unix seconds as ISO 8601 UTC ("2026-11-29T18:30:22Z") into buf; a time
 * gmtime_r() cannot represent is written as the number.  Returns buf. */
#define ADMIN_TIME_LEN 32
const char *admin_time_iso(int64_t t, char buf[ADMIN_TIME_LEN]);

/* A JSON writer (RFC 8259) building one document in memory, indented
 * with two spaces.  Each value function takes the member name inside an
 * object and NULL inside an array or at the top.  Strings are escaped:
 * " and \, every control character (U+0000-U+001F as \b \f \n \r \t or
 * \u00XX, and DEL as \u007f); other non-ASCII text stays UTF-8, and a
 * byte that is not part of valid UTF-8 becomes U+FFFD, so the document is
 * always valid JSON.  The caller declares it zeroed and releases out with
 * strbuf_free(). */
struct admin_json {
    struct strbuf out; /* the document so far */
    int depth;
    bool comma; /* the current container has a member already */
};
void admin_json_open(struct admin_json *j, const char *key, char bracket); /* '{' or '[' */
void admin_json_close(struct admin_json *j, char bracket);
void admin_json_str(struct admin_json *j, const char *key, const char *s); /* NULL: null */
void admin_json_int(struct admin_json *j, const char *key, int64_t v);
void admin_json_bool(struct admin_json *j, const char *key, bool v);
void admin_json_time(struct admin_json *j, const char *key, int64_t t); /* <= 0: null */
/* Appends s as a quoted, escaped JSON string. */
void admin_json_escape(struct strbuf *sb, const char *s);

#endif
