/* convmem.c - conversation memory: which channel a contact last wrote to,
 * per owner and contact, so that the owner's reply comes from that
 * channel; held in memory and written to the database once a second.
 *
 * Owns the convs, ndirty and conv_failing fields of struct route; calls
 * nothing of route.c or flush.c. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cs_error.h"
#include "cs_hash.h"
#include "cs_home.h"
#include "cs_log.h"
#include "cs_roster.h"
#include "cs_util.h"
#include "route_priv.h"

/* Conversation memory kept in memory; the database keeps all of it. */
#define CONV_CACHE_MAX 100000

struct conv {
    bool dirty; /* not yet in the database */
    char *channel;
    char *via;  /* the node the contact wrote through, or NULL */
    char key[]; /* owner '\n' contact */
};

void conv_free_all(struct route *r)
{
    size_t pos = 0;
    const char *k;
    void *v;
    while (hash_next(&r->convs, &pos, &k, &v)) {
        struct conv *c = v;
        free(c->channel);
        free(c->via);
        free(c);
    }
    hash_clear(&r->convs);
    r->ndirty = 0;
}

static char *conv_key(const char *owner, const char *contact)
{
    struct strbuf sb = {0};
    strbuf_printf(&sb, "%s\n%s", owner, contact);
    return sb.data;
}

static bool same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* A database error is logged when writing conversations starts to fail
 * and once more when it works again, not at every retry. */
static void conv_write_failed(struct route *r)
{
    if (!r->conv_failing)
        log_error("route: cannot store conversations; retried until it works");
    r->conv_failing = true;
}

static void conv_write_ok(struct route *r)
{
    if (r->conv_failing)
        log_info("route: conversations are stored again");
    r->conv_failing = false;
}

/* Writes one conversation in the open transaction (started if none is).
 * 0, CS_ENOTFOUND when its channel is gone (logged here: the caller
 * forgets it, nothing else of the transaction is undone) or CS_EDB. */
static int put_conv(struct route *r, const char *owner, const char *contact, const char *channel,
                    const char *via)
{
    int rc = roster_conv_put(r->roster, owner, contact, channel, via);
    if (rc == CS_ENOTFOUND)
        log_warning("route: forgetting the conversation of %s with %s: channel %s no longer exists",
                    owner, contact, channel);
    return rc;
}

void conv_note(struct route *r, const char *owner, const char *contact, const char *channel,
               const char *via)
{
    char *key = conv_key(owner, contact);
    struct conv *c = hash_get(&r->convs, key);
    if (c && strcmp(c->channel, channel) == 0 && same_str(c->via, via)) {
        free(key);
        return;
    }
    if (c == NULL) {
        size_t len = strlen(key);
        if (r->convs.n >= CONV_CACHE_MAX && r->ndirty == 0)
            conv_free_all(r); /* all in the database: start afresh */
        if (r->convs.n >= CONV_CACHE_MAX) {
            /* Dirty ones not yet written: write this one directly, in
             * the batch's transaction. */
            if (put_conv(r, owner, contact, channel, via) == CS_EDB)
                conv_write_failed(r);
            free(key);
            return;
        }
        c = xcalloc(1, sizeof(*c) + len + 1);
        memcpy(c->key, key, len + 1);
        hash_put(&r->convs, c->key, c);
    } else {
        free(c->channel);
        free(c->via);
    }
    c->channel = xstrdup(channel);
    c->via = via ? xstrdup(via) : NULL;
    if (!c->dirty) {
        c->dirty = true;
        r->ndirty++;
    }
    free(key);
}

struct first_ctx {
    char *name;
};

static void on_first(void *ud, const char *name, const char *owner, enum channel_policy p)
{
    struct first_ctx *f = ud;
    if (f->name == NULL)
        f->name = xstrdup(name);
}

/* The address a reply from owner to contact comes from; NULL when owner
 * owns no channel.  *via_r: the node the contact wrote through (a reply
 * goes back there), or NULL.  *known_r: there was a conversation.  Caller
 * frees both strings. */
char *conv_reply_channel(struct route *r, const char *owner, const char *contact, char **via_r,
                         bool *known_r)
{
    char *key = conv_key(owner, contact);
    struct conv *c = hash_get(&r->convs, key);
    char *name = NULL;
    const char *o, *res, *jid;
    struct first_ctx f = {0};

    free(key);
    *via_r = NULL;
    *known_r = false;
    if (c) {
        name = xstrdup(c->channel);
        *via_r = c->via ? xstrdup(c->via) : NULL;
    } else if (roster_conv_get(r->roster, owner, contact, &name, via_r) != 0) {
        name = NULL;
    }
    if (name && home_message_target(r->home, name, &o, &res, &jid) == 0 && o &&
        strcmp(o, owner) == 0) {
        char *out = xstrdup(jid);
        free(name);
        *known_r = true;
        return out;
    }
    free(name);
    free(*via_r);
    *via_r = NULL;
    if (roster_channels_of_owner(r->roster, owner, 1, on_first, &f) != 0 || f.name == NULL)
        return NULL;
    if (home_message_target(r->home, f.name, &o, &res, &jid) != 0) {
        free(f.name);
        return NULL;
    }
    free(f.name);
    return xstrdup(jid);
}

/* Writes the dirty conversations in one transaction.  One whose channel
 * is gone is forgotten (its row could never be written) and the others
 * commit; a database error rolls back and all are retried at the next
 * tick. */
void conv_persist(struct route *r)
{
    struct conv **gone = NULL;
    size_t pos = 0, ngone = 0, capgone = 0;
    const char *k;
    void *v;
    bool failed = false;
    if (r->ndirty == 0)
        return;
    if (roster_tx_begin(r->roster) != 0) {
        conv_write_failed(r);
        return;
    }
    while (!failed && hash_next(&r->convs, &pos, &k, &v)) {
        struct conv *c = v;
        const char *nl = strchr(c->key, '\n');
        char *owner;
        int rc;
        if (!c->dirty)
            continue;
        owner = xstrndup(c->key, (size_t)(nl - c->key));
        rc = put_conv(r, owner, nl + 1, c->channel, c->via);
        free(owner);
        if (rc == CS_ENOTFOUND) {
            if (ngone == capgone) {
                capgone = capgone ? 2 * capgone : 16;
                gone = xrealloc(gone, capgone * sizeof(*gone));
            }
            gone[ngone++] = c;
        } else if (rc != 0) {
            failed = true;
        }
    }
    /* Not while iterating: a deletion moves entries of the table. */
    for (size_t i = 0; i < ngone; i++) {
        hash_del(&r->convs, gone[i]->key);
        free(gone[i]->channel);
        free(gone[i]->via);
        free(gone[i]);
        r->ndirty--;
    }
    free(gone);
    if (failed) {
        roster_tx_rollback(r->roster);
        conv_write_failed(r);
        return;
    }
    if (!route_commit(r, "conversations")) {
        conv_write_failed(r);
        return;
    }
    pos = 0;
    while (hash_next(&r->convs, &pos, &k, &v))
        ((struct conv *)v)->dirty = false;
    r->ndirty = 0;
    conv_write_ok(r);
}
