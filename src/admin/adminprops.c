/* adminprops.c - a channel's properties as chanstatctl writes and shows
 * them: description, e-mail address, web address, avatar (schema 9).
 * The checks here are those of the columns' CHECKs (doc/schema.md), so
 * that bad input is refused with a message before anything is written. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "cs_admin.h"
#include "cs_error.h"
#include "cs_store.h"
#include "cs_text.h"
#include "cs_util.h"
#include "admin_priv.h"

#define EMAIL_MAX 320
#define URL_MAX 2048

static const unsigned char png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
static const unsigned char jpeg_magic[3] = {0xff, 0xd8, 0xff};

/* The avatar file: its bytes (*data_r, caller frees) and type from its
 * first bytes.  0 or CS_EINVAL with err filled. */
static int read_avatar(const char *path, unsigned char **data_r, size_t *len_r, const char **type_r,
                       char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    size_t n;

    *data_r = NULL;
    if (f == NULL)
        return admin_fail(err, errlen, CS_EINVAL, "cannot read avatar '%s': %s", path,
                          strerror(errno));
    buf = xmalloc(ADMIN_AVATAR_MAX + 1);
    n = fread(buf, 1, ADMIN_AVATAR_MAX + 1, f);
    if (ferror(f)) {
        int e = errno;
        fclose(f);
        free(buf);
        return admin_fail(err, errlen, CS_EINVAL, "cannot read avatar '%s': %s", path, strerror(e));
    }
    fclose(f);
    if (n > ADMIN_AVATAR_MAX) {
        free(buf);
        return admin_fail(err, errlen, CS_EINVAL, "avatar '%s' is larger than %d bytes", path,
                          ADMIN_AVATAR_MAX);
    }
    if (n >= sizeof(png_magic) && memcmp(buf, png_magic, sizeof(png_magic)) == 0)
        *type_r = "image/png";
    else if (n >= 8 && memcmp(buf, jpeg_magic, sizeof(jpeg_magic)) == 0)
        *type_r = "image/jpeg";
    else {
        free(buf);
        return admin_fail(err, errlen, CS_EINVAL, "avatar '%s' is not a PNG or JPEG image", path);
    }
    *data_r = buf;
    *len_r = n;
    return 0;
}

static bool has_space_or_markup(const char *s)
{
    return strpbrk(s, " <>\"") != NULL;
}

int admin_props_check(const struct admin_channel_edit *e, char *err, size_t errlen)
{
    const char *d = e->description, *m = e->email, *u = e->url;
    if (e->avatar_file != NULL && e->no_avatar)
        return admin_fail(err, errlen, CS_EINVAL, "an avatar and no avatar at once");
    if (d != NULL && (strlen(d) > ADMIN_DESCRIPTION_MAX || !text_ok(d, strlen(d))))
        return admin_fail(err, errlen, CS_EINVAL,
                          "a description is UTF-8 text without control characters, at most %d "
                          "bytes",
                          ADMIN_DESCRIPTION_MAX);
    if (m != NULL && *m != '\0' &&
        (strlen(m) > EMAIL_MAX || !text_ok(m, strlen(m)) || strchr(m, '@') == NULL || m[0] == '@' ||
         m[strlen(m) - 1] == '@' || strchr(m, '@') != strrchr(m, '@') || has_space_or_markup(m)))
        return admin_fail(err, errlen, CS_EINVAL,
                          "'%s' is not an e-mail address (one '@', no spaces, at most %d bytes)", m,
                          EMAIL_MAX);
    if (u != NULL && *u != '\0' &&
        (strlen(u) > URL_MAX || !text_ok(u, strlen(u)) || has_space_or_markup(u) ||
         !((strncmp(u, "http://", 7) == 0 && u[7] != '\0') ||
           (strncmp(u, "https://", 8) == 0 && u[8] != '\0'))))
        return admin_fail(err, errlen, CS_EINVAL,
                          "'%s' is not a web address (http:// or https://, no spaces, at most %d "
                          "bytes)",
                          u, URL_MAX);
    if (e->avatar_file != NULL) {
        unsigned char *data;
        size_t len;
        const char *type;
        int r = read_avatar(e->avatar_file, &data, &len, &type, err, errlen);
        free(data);
        return r;
    }
    return 0;
}

/* One text column: "" stores NULL. */
static int set_text(sqlite3 *db, const char *sql, const char *name, const char *v, char *err,
                    size_t errlen)
{
    sqlite3_stmt *st;
    int r = admin_query(db, &st, err, errlen, sql, 2, name, *v ? v : NULL);
    return r == 0 ? admin_exec_stmt(db, st, err, errlen) : r;
}

int admin_props_write(sqlite3 *db, const char *name, const struct admin_channel_edit *e,
                      const struct admin_channel *old, bool *changed, char *err, size_t errlen)
{
    int r = 0;
    struct {
        const char *value, *was, *sql;
    } texts[] = {
        {e->description, old ? old->description : NULL,
         "UPDATE channel SET description = ?2 WHERE name = ?1"},
        {e->email, old ? old->email : NULL, "UPDATE channel SET email = ?2 WHERE name = ?1"},
        {e->url, old ? old->url : NULL, "UPDATE channel SET url = ?2 WHERE name = ?1"},
    };
    for (size_t i = 0; i < CS_ARRAY_SIZE(texts) && r == 0; i++) {
        const char *v = texts[i].value;
        if (v == NULL || admin_str_eq(*v ? v : NULL, texts[i].was))
            continue;
        r = set_text(db, texts[i].sql, name, v, err, errlen);
        *changed = *changed || r == 0;
    }
    if (r == 0 && e->no_avatar && old && old->avatar_type) {
        r = set_text(db, "UPDATE channel SET avatar = NULL, avatar_type = ?2 WHERE name = ?1", name,
                     "", err, errlen);
        *changed = *changed || r == 0;
    }
    if (r == 0 && e->avatar_file != NULL) {
        unsigned char *data;
        size_t len;
        const char *type;
        char sha1[41];
        sqlite3_stmt *st;
        r = read_avatar(e->avatar_file, &data, &len, &type, err, errlen);
        if (r != 0)
            return r;
        cs_sha1_hex(data, len, sha1);
        if (old == NULL || strcmp(sha1, old->avatar_sha1) != 0) {
            r = admin_query(db, &st, err, errlen,
                            "UPDATE channel SET avatar_type = ?2, avatar = ?3 WHERE name = ?1", 2,
                            name, type);
            if (r == 0 && sqlite3_bind_blob(st, 3, data, (int)len, SQLITE_TRANSIENT) != SQLITE_OK) {
                sqlite3_finalize(st);
                r = admin_fail(err, errlen, CS_EDB, "binding the avatar: %s", sqlite3_errmsg(db));
            } else if (r == 0) {
                r = admin_exec_stmt(db, st, err, errlen);
            }
            *changed = *changed || r == 0;
        }
        free(data);
    }
    return r;
}

int admin_props_read(sqlite3 *db, const char *name, struct admin_channel *c, char *err,
                     size_t errlen)
{
    sqlite3_stmt *st;
    int rc, r = admin_query(db, &st, err, errlen,
                            "SELECT description, email, url, avatar_type, avatar FROM channel"
                            " WHERE name = ?1",
                            1, name);
    if (r != 0)
        return r;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        c->description = admin_col_dup(st, 0);
        c->email = admin_col_dup(st, 1);
        c->url = admin_col_dup(st, 2);
        c->avatar_type = admin_col_dup(st, 3);
        if (c->avatar_type && sqlite3_column_type(st, 4) == SQLITE_BLOB) {
            const void *b = sqlite3_column_blob(st, 4);
            c->avatar_bytes = sqlite3_column_bytes(st, 4);
            cs_sha1_hex(b, (size_t)c->avatar_bytes, c->avatar_sha1);
        }
        rc = SQLITE_DONE;
    }
    return admin_done(db, st, rc, err, errlen);
}

int admin_prop_subscriptions(struct store *store, const char *channel_in, long long now,
                             admin_propsub_cb *cb, void *ud, char *err, size_t errlen)
{
    sqlite3 *db = store_handle(store);
    sqlite3_stmt *st;
    char *channel, when[32];
    int r, rc;

    if ((r = admin_channel_name(channel_in, &channel, err, errlen)) != 0)
        return r;
    snprintf(when, sizeof(when), "%lld", now);
    if ((r = admin_tx_begin(db, false, err, errlen)) == 0) {
        r = admin_channel_exists(db, channel, err, errlen);
        if (r == 0)
            r = admin_query(db, &st, err, errlen,
                            "SELECT jid, node, expires FROM prop_subscription"
                            " WHERE channel = ?1 AND expires > CAST(?2 AS INTEGER)"
                            " ORDER BY jid, node",
                            2, channel, when);
        if (r == 0) {
            while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                const char *jid = admin_col_text(st, 0), *node = admin_col_text(st, 1);
                if (jid && node)
                    cb(ud, jid, node, (long long)sqlite3_column_int64(st, 2));
            }
            r = admin_done(db, st, rc, err, errlen);
        }
        r = admin_tx_end(db, r, err, errlen);
    }
    free(channel);
    return r;
}
