/* cs_store.h - the SQLite file: opening, pragmas, schema migrations.
 *
 * One file per node, WAL mode, foreign keys on, busy timeout set, schema
 * versioned with PRAGMA user_version and migrated at open by an ordered
 * array of scripts in src/store/store.c, each applied in one transaction
 * together with its user_version.  doc/schema.md documents the result.
 *
 * The schema lives in src/store/store.c; the queries on it live in the modules
 * that own the tables (src/store/roster.c: channel, roster, channel_state,
 * conversation; src/store/offline.c: offline), as statements prepared once per
 * handle with bound parameters only. */
#ifndef CS_STORE_H
#define CS_STORE_H

#include <stdbool.h>
#include <stddef.h>

struct config;
struct sqlite3;
struct store;

/* The schema version this binary writes and understands. */
#define STORE_SCHEMA_VERSION 11

/* Opens or creates path and migrates it.  On success *store_r is the
 * caller's (release with store_close()).  On failure returns
 *   CS_EDB        cannot open or create, or not a database;
 *   CS_EREADONLY  the file or its directory is read-only;
 *   CS_EDBVERSION the schema is newer than STORE_SCHEMA_VERSION;
 * with a one-line message naming the path in err, and *store_r NULL. */
int store_open(const char *path, const struct config *cfg, struct store **store_r, char *err,
               size_t errlen);
/* Closes and NULLs *store; NULL-safe. */
void store_close(struct store **store);
/* PRAGMA user_version, or a negative CS_E* code. */
int store_schema_version(struct store *store);
/* The connection, for the storage code of later modules.  Borrowed. */
struct sqlite3 *store_handle(struct store *store);
/* A lock held by another writer is waited for up to busy_timeout_ms;
 * once such a wait ran out, later writes fail at once (SQLITE_BUSY) until
 * a commit succeeds again.  With on, they fail at once anyway: for
 * writes that can simply be retried later (counters for admins). */
void store_nowait(struct store *store, bool on);
/* True from a wait that ran out until the next successful commit. */
bool store_locked(const struct store *store);
/* Whether a wait that ran out is logged (a warning, and a note when the
 * database is writable again); on by default.  A one-shot tool turns it
 * off: its own error message says the database was locked. */
void store_log_locks(struct store *store, bool on);
/* How many statements ended in an error (store_end()) in this process so
 * far: a caller compares it before and after a unit of work to learn
 * whether a write it depended on failed. */
unsigned long store_failures(void);

/* Ends a use of a prepared statement: logs "store: WHAT: <SQLite's
 * message>" unless rc is SQLITE_DONE (or SQLITE_ROW, where a reader
 * stopped early on purpose), then resets it and drops its bindings on
 * every path.  Logs first: a reset may overwrite the message of a failed
 * bind, whose code rc then carries.  Returns 0 or CS_EDB.  Every store
 * module ends its statements here. */
struct sqlite3_stmt;
int store_end(struct sqlite3_stmt *st, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prepares the n statements of a store module (sql[i] into st[i], kept
 * for the life of the handle).  0, or -1 with err naming `what` and the
 * statement; the caller then finalises with store_finalize(). */
int store_prepare(struct store *store, const char *const *sql, int n, struct sqlite3_stmt **st,
                  const char *what, char *err, size_t errlen);
void store_finalize(struct sqlite3_stmt **st, int n);

#endif
