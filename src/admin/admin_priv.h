/* admin_priv.h - what admin.c shares with adminroster.c: the error
 * message, the SQLite helpers and the channel lookups (not a public API:
 * the rest of the program sees cs_admin.h).  adminroster.c calls these;
 * admin.c calls nothing of adminroster.c. */
#ifndef CS_ADMIN_PRIV_H
#define CS_ADMIN_PRIV_H

#include <stdbool.h>
#include <stddef.h>

#include <sqlite3.h>

#include "cs_admin.h"

/* Formats the message into err and returns code. */
int admin_fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The length of the well-formed UTF-8 sequence at s (n bytes left), or
 * 0 (cs_text.h). */
size_t admin_utf8_seq(const unsigned char *s, size_t n);

/* Prepares sql and binds the n text arguments that follow it (a NULL one
 * binds NULL).  0 with *st_r the caller's (sqlite3_finalize()), or a
 * CS_E* code with *st_r NULL. */
int admin_query(sqlite3 *db, sqlite3_stmt **st_r, char *err, size_t errlen, const char *sql, int n,
                ...);
/* Ends a statement stepped until rc: 0 after SQLITE_DONE, else the
 * error.  Finalizes it either way. */
int admin_done(sqlite3 *db, sqlite3_stmt *st, int rc, char *err, size_t errlen);
/* Runs a statement that returns no rows. */
int admin_exec_stmt(sqlite3 *db, sqlite3_stmt *st, char *err, size_t errlen);
/* Column i of the current row as text (borrowed), or an owned copy. */
const char *admin_col_text(sqlite3_stmt *st, int i);
char *admin_col_dup(sqlite3_stmt *st, int i);

/* adminprops.c: a channel's properties.  Validates e's (the avatar file
 * is read); 0 or CS_EINVAL. */
int admin_props_check(const struct admin_channel_edit *e, char *err, size_t errlen);
/* Writes e's properties to channel name where they differ from old
 * (NULL: a new channel), inside the caller's transaction. */
int admin_props_write(sqlite3 *db, const char *name, const struct admin_channel_edit *e,
                      const struct admin_channel *old, bool *changed, char *err, size_t errlen);
/* Fills c's properties from the row of channel name. */
int admin_props_read(sqlite3 *db, const char *name, struct admin_channel *c, char *err,
                     size_t errlen);

/* BEGIN IMMEDIATE for a write, BEGIN for a read. */
int admin_tx_begin(sqlite3 *db, bool write, char *err, size_t errlen);
/* Commits when r is 0, else rolls back; returns r, or the commit's
 * error (rolled back too).  err keeps the first error's message. */
int admin_tx_end(sqlite3 *db, int r, char *err, size_t errlen);

/* Reads channel name into *c_r (owned copies).  0, CS_ENOTFOUND or a
 * database error. */
int admin_channel_get(sqlite3 *db, const char *name, struct admin_channel *c_r, char *err,
                      size_t errlen);
/* Is there a channel name?  0 (yes), CS_ENOTFOUND or a database error. */
int admin_channel_exists(sqlite3 *db, const char *name, char *err, size_t errlen);

/* Are a and b equal strings, or both NULL? */
bool admin_str_eq(const char *a, const char *b);

#endif
