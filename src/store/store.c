/* store.c - opening the database and migrating its schema. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "cs_config.h"
#include "cs_error.h"
#include "cs_log.h"
#include "cs_store.h"
#include "cs_util.h"

struct store {
    sqlite3 *db;
    char *path;
    int busy_timeout_ms;
    /* A wait for another writer's lock ran out: until a commit succeeds,
     * writes fail at once instead of each waiting again (the event loop
     * must not stop for busy_timeout_ms per stanza). */
    bool gave_up;
    bool nowait;     /* store_nowait(): fail at once while locked */
    bool quiet_lock; /* store_log_locks(off) */
};

/* Statements that ended in an error, in this process (store_end()). */
static unsigned long failures;
/* store_nowait() is on for some store: a busy error is expected there and
 * not logged per statement (the caller says it once). */
static int quiet_busy;

/* The body of a trigger refusing a column value that cannot be a safe,
 * normalised bare JID; NULL passes (channel.owner may be NULL).  One
 * statement per rule, so the message names the rule that failed:
 *  - none of ' " < > & or a control character: they have no place in a
 *    bare JID (RFC 7622) and must never reach XML or a log line unescaped;
 *    char(0) is looked for in the bytes, because GLOB stops at it;
 *  - no '/' (a resource) or space;
 *  - at most one '@';
 *  - neither localpart nor domain empty;
 *  - the domain (after the '@', or all of it) is lowercase: chanstatd
 *    compares normalised JIDs.  lower() folds ASCII only.
 * Part of migration 2 -> 3: never change it, add a migration instead. */
#define JID_RULES(table, col)                                                                      \
    "  SELECT RAISE(ABORT, '" table "." col ": must not contain '' \" < > & or a control "         \
    "character')"                                                                                  \
    "    WHERE instr(CAST(NEW." col " AS BLOB), x'00') > 0"                                        \
    "      OR NEW." col " GLOB ('*[''\"<>&' || char(1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,"    \
    "         18,19,20,21,22,23,24,25,26,27,28,29,30,31,127) || ']*');"                            \
    "  SELECT RAISE(ABORT, '" table "." col ": must be a bare JID, without / or space')"           \
    "    WHERE NEW." col " GLOB '*[/ ]*';"                                                         \
    "  SELECT RAISE(ABORT, '" table "." col ": must not contain more than one @')"                 \
    "    WHERE NEW." col " GLOB '*@*@*';"                                                          \
    "  SELECT RAISE(ABORT, '" table "." col ": localpart and domain must not be empty')"           \
    "    WHERE NEW." col " = '' OR NEW." col " GLOB '@*' OR NEW." col " GLOB '*@';"                \
    "  SELECT RAISE(ABORT, '" table "." col ": domain must be lowercase')"                         \
    "    WHERE substr(NEW." col ", instr(NEW." col ", '@') + 1)"                                   \
    "       <> lower(substr(NEW." col ", instr(NEW." col ", '@') + 1));"

/* Migration i takes user_version from i to i + 1.  Append only: never edit
 * a migration that has shipped.  doc/schema.md documents the result. */
/* clang-format off */
static const char *const migrations[] = {
    /* 0 -> 1: the admin-facing tables.  Constraints are named so that a
     * rejected hand edit says which rule it broke. */
    "CREATE TABLE channel ("
    "  name TEXT PRIMARY KEY NOT NULL"
    "    CONSTRAINT channel_name_is_localpart CHECK ("
    "      length(CAST(name AS BLOB)) BETWEEN 1 AND 1023"
    "      AND name NOT GLOB '*[\"&''/:<>@ ]*'"
    "      AND name NOT GLOB ('*[' || char(1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,"
    "                         21,22,23,24,25,26,27,28,29,30,31,127) || ']*'))"
    "    CONSTRAINT channel_name_lowercase CHECK (name = lower(name)),"
    "  owner TEXT"
    "    CONSTRAINT channel_owner_is_bare_jid CHECK (owner IS NULL OR ("
    "      length(CAST(owner AS BLOB)) <= 3071"
    "      AND owner GLOB '?*@?*' AND owner NOT GLOB '*@*@*'"
    "      AND owner NOT GLOB '*[/ ]*')),"
    "  policy TEXT NOT NULL DEFAULT 'open'"
    "    CONSTRAINT channel_policy_valid CHECK (policy IN ('open', 'approve', 'closed')),"
    "  display_name TEXT"
    "    CONSTRAINT channel_display_name_length CHECK ("
    "      display_name IS NULL OR length(CAST(display_name AS BLOB)) <= 1023),"
    "  created INTEGER NOT NULL DEFAULT (unixepoch())"
    ") STRICT;"
    "CREATE TABLE roster ("
    "  channel TEXT NOT NULL REFERENCES channel(name) ON DELETE CASCADE ON UPDATE CASCADE,"
    "  jid TEXT NOT NULL"
    "    CONSTRAINT roster_jid_is_bare_jid CHECK ("
    "      length(CAST(jid AS BLOB)) BETWEEN 1 AND 3071"
    "      AND jid NOT GLOB '*[/ ]*' AND jid NOT GLOB '*@*@*'"
    "      AND jid NOT GLOB '@*' AND jid NOT GLOB '*@'),"
    "  subscription TEXT NOT NULL DEFAULT 'none'"
    "    CONSTRAINT roster_subscription_valid CHECK ("
    "      subscription IN ('none', 'to', 'from', 'both')),"
    "  ask INTEGER NOT NULL DEFAULT 0 CONSTRAINT roster_ask_bool CHECK (ask IN (0, 1)),"
    "  pending_in INTEGER NOT NULL DEFAULT 0"
    "    CONSTRAINT roster_pending_in_bool CHECK (pending_in IN (0, 1)),"
    "  approved INTEGER NOT NULL DEFAULT 0"
    "    CONSTRAINT roster_approved_bool CHECK (approved IN (0, 1)),"
    "  name TEXT CONSTRAINT roster_name_length CHECK ("
    "    name IS NULL OR length(CAST(name AS BLOB)) <= 1023),"
    "  groups TEXT,"
    "  PRIMARY KEY (channel, jid),"
    /* RFC 6121 Appendix A: the nine states are these column combinations. */
    "  CONSTRAINT roster_ask_needs_no_to CHECK ("
    "    NOT (ask = 1 AND subscription IN ('to', 'both'))),"
    "  CONSTRAINT roster_pending_in_needs_no_from CHECK ("
    "    NOT (pending_in = 1 AND subscription IN ('from', 'both'))),"
    "  CONSTRAINT roster_approved_only_before_request CHECK ("
    "    approved = 0 OR (subscription IN ('none', 'to') AND pending_in = 0))"
    ") STRICT;"
    "CREATE INDEX roster_watchers ON roster(channel, subscription);"
    /* The sqlite3 shell runs with foreign keys off: the same rules as
     * triggers, so hand edits cannot orphan roster rows. */
    "CREATE TRIGGER roster_channel_exists_insert BEFORE INSERT ON roster"
    "  WHEN NOT EXISTS (SELECT 1 FROM channel WHERE name = NEW.channel)"
    "  BEGIN SELECT RAISE(ABORT, 'roster.channel: no such channel'); END;"
    "CREATE TRIGGER roster_channel_exists_update BEFORE UPDATE OF channel ON roster"
    "  WHEN NOT EXISTS (SELECT 1 FROM channel WHERE name = NEW.channel)"
    "  BEGIN SELECT RAISE(ABORT, 'roster.channel: no such channel'); END;"
    "CREATE TRIGGER channel_delete_roster AFTER DELETE ON channel"
    "  BEGIN DELETE FROM roster WHERE channel = OLD.name; END;"
    "CREATE TRIGGER channel_rename_roster AFTER UPDATE OF name ON channel"
    "  WHEN OLD.name <> NEW.name"
    "  BEGIN UPDATE roster SET channel = NEW.name WHERE channel = OLD.name; END;",
    /* 1 -> 2: messages kept for an owner who is offline, in arrival order. */
    "CREATE TABLE offline ("
    "  id INTEGER PRIMARY KEY,"
    "  channel TEXT NOT NULL REFERENCES channel(name) ON DELETE CASCADE ON UPDATE CASCADE,"
    "  sender TEXT NOT NULL,"
    "  stanza TEXT NOT NULL,"
    "  bytes INTEGER NOT NULL CONSTRAINT offline_bytes_positive CHECK (bytes > 0),"
    "  stored INTEGER NOT NULL"
    ") STRICT;"
    "CREATE INDEX offline_by_channel ON offline(channel, id);"
    "CREATE TRIGGER channel_delete_offline AFTER DELETE ON channel"
    "  BEGIN DELETE FROM offline WHERE channel = OLD.name; END;",
    /* 2 -> 3: bare-JID rules as triggers, owner and paging indexes, and the
     * internal tables channel_state and conversation. */
    "CREATE TRIGGER roster_jid_safe_insert BEFORE INSERT ON roster BEGIN"
    JID_RULES("roster", "jid") "END;"
    "CREATE TRIGGER roster_jid_safe_update BEFORE UPDATE OF jid ON roster BEGIN"
    JID_RULES("roster", "jid") "END;"
    "CREATE TRIGGER channel_owner_safe_insert BEFORE INSERT ON channel BEGIN"
    JID_RULES("channel", "owner") "END;"
    "CREATE TRIGGER channel_owner_safe_update BEFORE UPDATE OF owner ON channel BEGIN"
    JID_RULES("channel", "owner") "END;"
    /* Which channels an owner has (owner = ?, in name order). */
    "CREATE INDEX channel_by_owner ON channel(owner, name);"
    /* Paging through the channels that have an owner (the owner probes
     * after a reconnect): a page costs its rows however many channels
     * have no owner. */
    "CREATE INDEX channel_owned ON channel(name) WHERE owner IS NOT NULL;"
    /* Counting a channel's pending inbound requests against a cap. */
    "CREATE INDEX roster_pending ON roster(channel) WHERE pending_in = 1;"
    "CREATE TABLE channel_state ("
    "  channel TEXT PRIMARY KEY REFERENCES channel(name) ON DELETE CASCADE ON UPDATE CASCADE,"
    "  last_seen INTEGER NOT NULL DEFAULT 0,"
    "  shown INTEGER NOT NULL DEFAULT 0"
    "    CONSTRAINT channel_state_shown_bool CHECK (shown IN (0, 1))"
    ") STRICT;"
    /* The channels whose watchers were last shown 'available', paged
     * through after a restart at the cost of those rows only. */
    "CREATE INDEX channel_state_shown ON channel_state(channel) WHERE shown = 1;"
    "CREATE TABLE conversation ("
    "  owner TEXT NOT NULL,"
    "  contact TEXT NOT NULL,"
    "  channel TEXT NOT NULL REFERENCES channel(name) ON DELETE CASCADE ON UPDATE CASCADE,"
    "  PRIMARY KEY (owner, contact)"
    ") STRICT, WITHOUT ROWID;"
    /* The cascades and the triggers below look rows up by channel. */
    "CREATE INDEX conversation_by_channel ON conversation(channel);"
    /* As for roster: the sqlite3 shell runs with foreign keys off. */
    "CREATE TRIGGER channel_delete_state AFTER DELETE ON channel"
    "  BEGIN DELETE FROM channel_state WHERE channel = OLD.name; END;"
    "CREATE TRIGGER channel_rename_state AFTER UPDATE OF name ON channel"
    "  WHEN OLD.name <> NEW.name"
    "  BEGIN UPDATE channel_state SET channel = NEW.name WHERE channel = OLD.name; END;"
    "CREATE TRIGGER channel_delete_conversation AFTER DELETE ON channel"
    "  BEGIN DELETE FROM conversation WHERE channel = OLD.name; END;"
    "CREATE TRIGGER channel_rename_conversation AFTER UPDATE OF name ON channel"
    "  WHEN OLD.name <> NEW.name"
    "  BEGIN UPDATE conversation SET channel = NEW.name WHERE channel = OLD.name; END;"
    /* Version 2 forgot this one: a rename in the shell orphaned messages. */
    "CREATE TRIGGER channel_rename_offline AFTER UPDATE OF name ON channel"
    "  WHEN OLD.name <> NEW.name"
    "  BEGIN UPDATE offline SET channel = NEW.name WHERE channel = OLD.name; END;",
    /* 3 -> 4: live administration.  Every write to channel and roster by
     * anybody but chanstatd itself (sqlite3, chanstatctl) leaves a row in
     * change_log, which chanstatd reads when PRAGMA data_version says
     * another connection committed, and applies (doc/schema.md).
     * chanstatd's own transactions set log_control.quiet for their
     * duration, so its own writes are not logged. */
    "CREATE TABLE change_log ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  kind TEXT NOT NULL CONSTRAINT change_log_kind CHECK (kind IN ('channel', 'roster')),"
    "  channel TEXT NOT NULL,"
    "  jid TEXT,"   /* roster: the contact */
    "  old TEXT"    /* roster: subscription before; channel: owner before */
    ") STRICT;"
    "CREATE TABLE log_control ("
    "  id INTEGER PRIMARY KEY CONSTRAINT log_control_one_row CHECK (id = 1),"
    "  quiet INTEGER NOT NULL DEFAULT 0 CONSTRAINT log_control_quiet_bool CHECK (quiet IN (0, 1))"
    ") STRICT;"
    "INSERT INTO log_control (id, quiet) VALUES (1, 0);"
    "CREATE TRIGGER channel_log_insert AFTER INSERT ON channel"
    "  WHEN (SELECT quiet FROM log_control) = 0"
    "  BEGIN INSERT INTO change_log (kind, channel) VALUES ('channel', NEW.name); END;"
    "CREATE TRIGGER channel_log_update AFTER UPDATE ON channel"
    "  WHEN (SELECT quiet FROM log_control) = 0 BEGIN"
    "    INSERT INTO change_log (kind, channel, old) VALUES ('channel', OLD.name, OLD.owner);"
    "    INSERT INTO change_log (kind, channel) SELECT 'channel', NEW.name"
    "      WHERE NEW.name <> OLD.name;"
    "  END;"
    "CREATE TRIGGER channel_log_delete AFTER DELETE ON channel"
    "  WHEN (SELECT quiet FROM log_control) = 0"
    "  BEGIN INSERT INTO change_log (kind, channel, old) VALUES ('channel', OLD.name, OLD.owner); END;"
    "CREATE TRIGGER roster_log_insert AFTER INSERT ON roster"
    "  WHEN (SELECT quiet FROM log_control) = 0"
    "  BEGIN INSERT INTO change_log (kind, channel, jid) VALUES ('roster', NEW.channel, NEW.jid); END;"
    "CREATE TRIGGER roster_log_update AFTER UPDATE ON roster"
    "  WHEN (SELECT quiet FROM log_control) = 0 BEGIN"
    "    INSERT INTO change_log (kind, channel, jid, old)"
    "      VALUES ('roster', OLD.channel, OLD.jid, OLD.subscription);"
    "    INSERT INTO change_log (kind, channel, jid) SELECT 'roster', NEW.channel, NEW.jid"
    "      WHERE NEW.channel <> OLD.channel OR NEW.jid <> OLD.jid;"
    "  END;"
    "CREATE TRIGGER roster_log_delete AFTER DELETE ON roster"
    "  WHEN (SELECT quiet FROM log_control) = 0 BEGIN"
    "    INSERT INTO change_log (kind, channel, jid, old)"
    "      VALUES ('roster', OLD.channel, OLD.jid, OLD.subscription);"
    "  END;"
    /* What chanstatd knows and admins read (chanstatctl status, stats):
     * written by chanstatd at most once a second. */
    "CREATE TABLE channel_resource ("
    "  channel TEXT NOT NULL REFERENCES channel(name) ON DELETE CASCADE ON UPDATE CASCADE,"
    "  resource TEXT NOT NULL,"
    "  show TEXT NOT NULL,"
    "  status TEXT,"
    "  priority INTEGER NOT NULL,"
    "  since INTEGER NOT NULL,"
    "  PRIMARY KEY (channel, resource)"
    ") STRICT, WITHOUT ROWID;"
    "CREATE TRIGGER channel_delete_resource AFTER DELETE ON channel"
    "  BEGIN DELETE FROM channel_resource WHERE channel = OLD.name; END;"
    "CREATE TRIGGER channel_rename_resource AFTER UPDATE OF name ON channel"
    "  WHEN OLD.name <> NEW.name"
    "  BEGIN UPDATE channel_resource SET channel = NEW.name WHERE channel = OLD.name; END;"
    "CREATE TABLE stats ("
    "  name TEXT PRIMARY KEY NOT NULL,"
    "  value INTEGER NOT NULL,"
    "  updated INTEGER NOT NULL"
    ") STRICT, WITHOUT ROWID;",
    /* 4 -> 5: federation (doc/federation.md).  At a home: the lease of
     * each node subscribed to a channel (the node's roster row is an
     * ordinary 'from' row).  At a status service: the local watchers of
     * remote channels. */
    "CREATE TABLE node_lease ("
    "  channel TEXT NOT NULL REFERENCES channel(name) ON DELETE CASCADE ON UPDATE CASCADE,"
    "  node TEXT NOT NULL,"
    "  expires INTEGER NOT NULL,"
    "  PRIMARY KEY (channel, node)"
    ") STRICT, WITHOUT ROWID;"
    "CREATE INDEX node_lease_by_expiry ON node_lease(expires);"
    "CREATE TRIGGER channel_delete_lease AFTER DELETE ON channel"
    "  BEGIN DELETE FROM node_lease WHERE channel = OLD.name; END;"
    "CREATE TRIGGER channel_rename_lease AFTER UPDATE OF name ON channel"
    "  WHEN OLD.name <> NEW.name"
    "  BEGIN UPDATE node_lease SET channel = NEW.name WHERE channel = OLD.name; END;"
    "CREATE TABLE remote_watcher ("
    "  remote TEXT NOT NULL,"
    "  jid TEXT NOT NULL,"
    "  state TEXT NOT NULL CONSTRAINT remote_watcher_state CHECK (state IN ('pending', 'watching')),"
    "  PRIMARY KEY (remote, jid)"
    ") STRICT, WITHOUT ROWID;"
    /* At a home: watchers a node vouched for (their status goes to the
     * node, never to them directly). */
    "CREATE TABLE watcher_via ("
    "  channel TEXT NOT NULL REFERENCES channel(name) ON DELETE CASCADE ON UPDATE CASCADE,"
    "  jid TEXT NOT NULL,"
    "  node TEXT NOT NULL,"
    "  PRIMARY KEY (channel, jid)"
    ") STRICT, WITHOUT ROWID;"
    /* The node a contact wrote through: the owner's reply goes back there. */
    "ALTER TABLE conversation ADD COLUMN via TEXT;"
    "CREATE TRIGGER channel_delete_via AFTER DELETE ON channel"
    "  BEGIN DELETE FROM watcher_via WHERE channel = OLD.name; END;"
    "CREATE TRIGGER channel_rename_via AFTER UPDATE OF name ON channel"
    "  WHEN OLD.name <> NEW.name"
    "  BEGIN UPDATE watcher_via SET channel = NEW.name WHERE channel = OLD.name; END;",
    /* 5 -> 6: users' own server rosters (XEP-0356, doc/privilege.md).
     * pushed_item is what chanstatd put into a user's roster at their
     * server: only these items are ever changed or removed.  It is kept
     * when the channel goes (the item is then removed from the user's
     * roster).  roster_by_jid finds a user's rows. */
    "CREATE TABLE pushed_item ("
    "  user TEXT NOT NULL,"
    "  channel TEXT NOT NULL,"
    "  name TEXT NOT NULL,"
    "  groups TEXT NOT NULL,"
    "  subscription TEXT NOT NULL"
    "    CONSTRAINT pushed_item_subscription CHECK (subscription IN ('to', 'both')),"
    "  PRIMARY KEY (user, channel)"
    ") STRICT, WITHOUT ROWID;"
    "CREATE INDEX pushed_item_by_channel ON pushed_item(channel);"
    "CREATE INDEX roster_by_jid ON roster(jid, channel);",
    /* 6 -> 7: leases are read whole at start and kept in memory in
     * order of expiry; the index on expires served no query and cost
     * every lease write. */
    "DROP INDEX node_lease_by_expiry;",
    /* 7 -> 8: the channel directory (disco#items of the domain, see
     * cs_directory.h): the channels anyone may ask for, in name order
     * with what an item shows, and how many there are, kept by triggers
     * so that counting reads one row. */
    "CREATE INDEX channel_listed ON channel(name, display_name, policy)"
    " WHERE policy <> 'closed';"
    "CREATE TABLE directory_size (listed INTEGER NOT NULL) STRICT;"
    "INSERT INTO directory_size SELECT count(*) FROM channel WHERE policy <> 'closed';"
    "CREATE TRIGGER channel_listed_insert AFTER INSERT ON channel WHEN NEW.policy <> 'closed'"
    "  BEGIN UPDATE directory_size SET listed = listed + 1; END;"
    "CREATE TRIGGER channel_listed_delete AFTER DELETE ON channel WHEN OLD.policy <> 'closed'"
    "  BEGIN UPDATE directory_size SET listed = listed - 1; END;"
    "CREATE TRIGGER channel_listed_policy AFTER UPDATE OF policy ON channel"
    "  WHEN (OLD.policy <> 'closed') <> (NEW.policy <> 'closed')"
    "  BEGIN UPDATE directory_size SET listed = listed +"
    "    (CASE WHEN NEW.policy <> 'closed' THEN 1 ELSE -1 END); END;",
    /* 8 -> 9: a channel's properties (doc/schema.md): what its vCard
     * shows besides the display name.  The avatar is a PNG or JPEG of at
     * most 65,536 bytes whose first bytes say so, with its type. */
    "ALTER TABLE channel ADD COLUMN description TEXT"
    "  CONSTRAINT channel_description_length CHECK ("
    "    description IS NULL OR length(CAST(description AS BLOB)) BETWEEN 1 AND 4096);"
    "ALTER TABLE channel ADD COLUMN email TEXT"
    "  CONSTRAINT channel_email_shape CHECK (email IS NULL OR ("
    "    length(CAST(email AS BLOB)) <= 320 AND email GLOB '?*@?*' AND email NOT GLOB '*@*@*'"
    "    AND email NOT GLOB '*[ <>\"]*'));"
    "ALTER TABLE channel ADD COLUMN url TEXT"
    "  CONSTRAINT channel_url_shape CHECK (url IS NULL OR ("
    "    length(CAST(url AS BLOB)) <= 2048 AND (url GLOB 'http://?*' OR url GLOB 'https://?*')"
    "    AND url NOT GLOB '*[ <>\"]*'));"
    "ALTER TABLE channel ADD COLUMN avatar_type TEXT"
    "  CONSTRAINT channel_avatar_type CHECK ("
    "    avatar_type IS NULL OR avatar_type IN ('image/png', 'image/jpeg'));"
    "ALTER TABLE channel ADD COLUMN avatar BLOB"
    "  CONSTRAINT channel_avatar_image CHECK ((avatar IS NULL AND avatar_type IS NULL) OR ("
    "    typeof(avatar) = 'blob' AND length(avatar) BETWEEN 8 AND 65536 AND ("
    "      (avatar_type IS 'image/png' AND substr(avatar, 1, 8) = x'89504e470d0a1a0a') OR"
    "      (avatar_type IS 'image/jpeg' AND substr(avatar, 1, 3) = x'ffd8ff'))));",
    /* 9 -> 10: property subscriptions (XEP-0060 subscriptions to a
     * channel's PEP nodes, doc/xmpp.md): who gets the events of which
     * node until when (unix seconds).  Expired rows are purged in
     * expiry order.  No foreign key: a status service keeps local
     * users' subscriptions to remote channels here too (channel: the
     * escaped address); a local channel's rows go with it by trigger. */
    "CREATE TABLE prop_subscription ("
    "  channel TEXT NOT NULL,"
    "  node TEXT NOT NULL CONSTRAINT prop_subscription_node CHECK (node IN ("
    "    'urn:xmpp:avatar:metadata', 'urn:xmpp:avatar:data',"
    "    'http://jabber.org/protocol/nick', 'urn:xmpp:vcard4')),"
    "  jid TEXT NOT NULL,"
    "  expires INTEGER NOT NULL,"
    "  PRIMARY KEY (channel, node, jid)"
    ") STRICT, WITHOUT ROWID;"
    "CREATE INDEX prop_subscription_by_expiry ON prop_subscription(expires);"
    "CREATE TRIGGER channel_delete_propsub AFTER DELETE ON channel"
    "  BEGIN DELETE FROM prop_subscription WHERE channel = OLD.name; END;"
    "CREATE TRIGGER channel_rename_propsub AFTER UPDATE OF name ON channel"
    "  WHEN OLD.name <> NEW.name"
    "  BEGIN UPDATE prop_subscription SET channel = NEW.name WHERE channel = OLD.name; END;",
    /* 10 -> 11: the cluster's front (doc/cluster.md).  placement pins a
     * channel to one of the front's homes (a channel without a row is
     * placed by rendezvous hashing); admins edit it, and every edit
     * leaves its channel in placement_log for the running front.
     * relay_route is the front's own memory of which home last wrote
     * to a user from a relay address, so that the user's answer goes
     * back to that home. */
    "CREATE TABLE placement ("
    "  channel TEXT PRIMARY KEY CONSTRAINT placement_channel CHECK (length(channel) BETWEEN 1 AND 1023),"
    "  home TEXT NOT NULL CONSTRAINT placement_home CHECK (length(home) BETWEEN 1 AND 1023)"
    ") STRICT, WITHOUT ROWID;"
    "CREATE TABLE placement_log ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  channel TEXT NOT NULL"
    ") STRICT;"
    "CREATE TRIGGER placement_log_insert AFTER INSERT ON placement"
    "  BEGIN INSERT INTO placement_log (channel) VALUES (NEW.channel); END;"
    "CREATE TRIGGER placement_log_update AFTER UPDATE ON placement BEGIN"
    "    INSERT INTO placement_log (channel) VALUES (OLD.channel);"
    "    INSERT INTO placement_log (channel) SELECT NEW.channel WHERE NEW.channel <> OLD.channel;"
    "  END;"
    "CREATE TRIGGER placement_log_delete AFTER DELETE ON placement"
    "  BEGIN INSERT INTO placement_log (channel) VALUES (OLD.channel); END;"
    "CREATE TABLE relay_route ("
    "  jid TEXT NOT NULL,"
    "  address TEXT NOT NULL,"
    "  home TEXT NOT NULL,"
    "  PRIMARY KEY (jid, address)"
    ") STRICT, WITHOUT ROWID;",
};
/* clang-format on */

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return code;
}

/* Runs a single-value query; result copied into out (may be NULL). */
static int query_text(sqlite3 *db, const char *sql, char *out, size_t outlen)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        if (out)
            cs_strlcpy(out, t ? (const char *)t : "", outlen);
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        if (out && outlen)
            out[0] = '\0';
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

static int user_version(sqlite3 *db, int *v)
{
    char buf[32];
    int rc = query_text(db, "PRAGMA user_version", buf, sizeof(buf));
    if (rc == SQLITE_OK)
        *v = atoi(buf);
    return rc;
}

static bool is_readonly_rc(int rc)
{
    return (rc & 0xff) == SQLITE_READONLY || (rc & 0xff) == SQLITE_CANTOPEN ||
           (rc & 0xff) == SQLITE_PERM;
}

static int migrate(struct store *s, int from, char *err, size_t errlen)
{
    for (int v = from; v < (int)CS_ARRAY_SIZE(migrations); v++) {
        char *msg = NULL;
        char sql[64];
        int rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, &msg);
        if (rc == SQLITE_OK)
            rc = sqlite3_exec(s->db, migrations[v], NULL, NULL, &msg);
        if (rc == SQLITE_OK) {
            snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
            rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
        }
        if (rc == SQLITE_OK)
            rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, &msg);
        if (rc != SQLITE_OK) {
            int code = is_readonly_rc(rc) ? CS_EREADONLY : CS_EDB;
            /* Some errors roll back by themselves; then there is nothing
             * left to roll back and ROLLBACK fails harmlessly. */
            if (!sqlite3_get_autocommit(s->db) &&
                sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK)
                log_error("store: %s: rollback of migration %d failed: %s", s->path, v + 1,
                          sqlite3_errmsg(s->db));
            if (code == CS_EREADONLY)
                fail(err, errlen, code, "database '%s' is read-only", s->path);
            else
                fail(err, errlen, code, "database '%s': migration to schema version %d failed: %s",
                     s->path, v + 1, msg ? msg : sqlite3_errmsg(s->db));
            sqlite3_free(msg);
            return code;
        }
        log_info("store: %s migrated to schema version %d", s->path, v + 1);
    }
    return 0;
}

/* SQLite's busy handler: sleeps in growing steps (as its own
 * busy_timeout does) until busy_timeout_ms have passed, then gives up;
 * after that, and while store_nowait() is on, gives up at once.  count
 * is the number of earlier calls for the same lock. */
static int busy_wait(void *ud, int count)
{
    static const int steps[] = {1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100};
    const int nsteps = (int)CS_ARRAY_SIZE(steps);
    struct store *s = ud;
    int waited = 0, step;

    if (s->nowait || s->gave_up)
        return 0;
    for (int i = 0; i < count && i < nsteps; i++)
        waited += steps[i];
    if (count > nsteps)
        waited += (count - nsteps) * steps[nsteps - 1];
    step = count < nsteps ? steps[count] : steps[nsteps - 1];
    if (waited >= s->busy_timeout_ms) {
        s->gave_up = true;
        if (!s->quiet_lock)
            log_warning("store: %s is locked by another writer (waited %d ms); writes fail at once "
                        "until it is free",
                        s->path, waited);
        return 0;
    }
    sqlite3_sleep(step < s->busy_timeout_ms - waited ? step : s->busy_timeout_ms - waited);
    return 1;
}

/* A commit is about to happen: whoever held the lock let it go. */
static int on_commit(void *ud)
{
    struct store *s = ud;
    if (s->gave_up) {
        s->gave_up = false;
        if (!s->quiet_lock)
            log_info("store: %s is writable again", s->path);
    }
    return 0;
}

static int configure(struct store *s, const struct config *cfg, char *err, size_t errlen)
{
    char buf[32];
    int rc, version = 0;

    s->busy_timeout_ms = cfg->busy_timeout_ms;
    sqlite3_commit_hook(s->db, on_commit, s);
    if (sqlite3_busy_handler(s->db, busy_wait, s) != SQLITE_OK ||
        sqlite3_extended_result_codes(s->db, 1) != SQLITE_OK)
        return fail(err, errlen, CS_EDB, "database '%s': %s", s->path, sqlite3_errmsg(s->db));
    /* Reading first tells "not a database" apart from write problems. */
    rc = user_version(s->db, &version);
    /* On a read-only filesystem SQLite opens the file read-only, and a WAL
     * database then fails to read for want of its -shm file. */
    if (rc != SQLITE_OK &&
        ((rc & 0xff) == SQLITE_READONLY || sqlite3_db_readonly(s->db, "main") == 1))
        return fail(err, errlen, CS_EREADONLY, "database '%s' is read-only (%s)", s->path,
                    sqlite3_errmsg(s->db));
    if (rc != SQLITE_OK)
        return fail(err, errlen, CS_EDB, "cannot open database '%s': %s", s->path,
                    sqlite3_errmsg(s->db));
    if (version > STORE_SCHEMA_VERSION)
        return fail(err, errlen, CS_EDBVERSION,
                    "database '%s' has schema version %d, newer than this chanstat supports (%d); "
                    "upgrade chanstat",
                    s->path, version, STORE_SCHEMA_VERSION);
    if (sqlite3_db_readonly(s->db, "main") == 1)
        return fail(err, errlen, CS_EREADONLY, "database '%s' is read-only", s->path);
    rc = query_text(s->db, "PRAGMA journal_mode = WAL", buf, sizeof(buf));
    if (rc != SQLITE_OK || strcmp(buf, "wal") != 0) {
        if (rc != SQLITE_OK && is_readonly_rc(rc))
            return fail(err, errlen, CS_EREADONLY, "database '%s' is read-only", s->path);
        return fail(err, errlen, CS_EDB, "database '%s': cannot enable WAL mode: %s", s->path,
                    rc != SQLITE_OK ? sqlite3_errmsg(s->db) : buf);
    }
    snprintf(buf, sizeof(buf), "PRAGMA synchronous = %d", cfg->synchronous);
    if (sqlite3_exec(s->db, buf, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(s->db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL) != SQLITE_OK)
        return fail(err, errlen, CS_EDB, "database '%s': %s", s->path, sqlite3_errmsg(s->db));
    if (query_text(s->db, "PRAGMA foreign_keys", buf, sizeof(buf)) != SQLITE_OK ||
        strcmp(buf, "1") != 0)
        return fail(err, errlen, CS_EDB, "database '%s': foreign keys cannot be enabled", s->path);
    return migrate(s, version, err, errlen);
}

int store_open(const char *path, const struct config *cfg, struct store **store_r, char *err,
               size_t errlen)
{
    struct store *s;
    int rc, r;

    *store_r = NULL;
    s = xcalloc(1, sizeof(*s));
    s->path = xstrdup(path);
    rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        r = fail(err, errlen, CS_EDB, "cannot open database '%s': %s", path,
                 s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        store_close(&s);
        return r;
    }
    r = configure(s, cfg, err, errlen);
    if (r != 0) {
        store_close(&s);
        return r;
    }
    *store_r = s;
    return 0;
}

void store_close(struct store **sp)
{
    struct store *s = *sp;
    if (s == NULL)
        return;
    if (s->db && sqlite3_close(s->db) != SQLITE_OK)
        log_error("store: closing %s: %s", s->path, sqlite3_errmsg(s->db));
    free(s->path);
    free(s);
    *sp = NULL;
}

int store_schema_version(struct store *s)
{
    int v;
    return user_version(s->db, &v) == SQLITE_OK ? v : CS_EDB;
}

struct sqlite3 *store_handle(struct store *s)
{
    return s->db;
}

void store_log_locks(struct store *s, bool on)
{
    s->quiet_lock = !on;
}

bool store_locked(const struct store *s)
{
    return s->gave_up;
}

void store_nowait(struct store *s, bool on)
{
    if (s->nowait != on)
        quiet_busy += on ? 1 : -1;
    s->nowait = on;
}

unsigned long store_failures(void)
{
    return failures;
}

int store_prepare(struct store *store, const char *const *sql, int n, sqlite3_stmt **st,
                  const char *what, char *err, size_t errlen)
{
    for (int i = 0; i < n; i++) {
        if (sqlite3_prepare_v3(store->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &st[i], NULL) !=
            SQLITE_OK) {
            snprintf(err, errlen, "preparing %s statement %d: %s", what, i,
                     sqlite3_errmsg(store->db));
            return -1;
        }
    }
    return 0;
}

void store_finalize(sqlite3_stmt **st, int n)
{
    for (int i = 0; i < n; i++) {
        sqlite3_finalize(st[i]);
        st[i] = NULL;
    }
}

int store_end(sqlite3_stmt *st, int rc, const char *fmt, ...)
{
    int ret = 0;
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        char what[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        if (!(quiet_busy > 0 && (rc & 0xff) == SQLITE_BUSY))
            log_error("store: %s: %s", what, sqlite3_errmsg(sqlite3_db_handle(st)));
        failures++;
        ret = CS_EDB;
    }
    (void)sqlite3_reset(st);
    (void)sqlite3_clear_bindings(st);
    return ret;
}
