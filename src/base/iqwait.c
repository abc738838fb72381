/* iqwait.c - our own iq requests awaiting an answer, matched by id and
 * sender in one place (see cs_iqwait.h).
 *
 * Each request is in the hash by id and in one of two lists, both in
 * order of deadline: `pending`, and `due` for the requests iqwait_expire()
 * took off the front and is calling back one by one (a callback may
 * cancel one of them, or add new requests, which go to `pending`). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_hash.h"
#include "cs_iqwait.h"
#include "cs_jid.h"
#include "cs_util.h"
#include "cs_xml.h"

struct wait {
    char id[IQWAIT_ID_MAX]; /* the key in byid */
    char *to;               /* the address asked, normalised */
    int64_t deadline;       /* ms */
    iqwait_cb *cb;
    void *ud;
    bool due; /* in `due`, else in `pending` */
    struct wait *prev, *next;
};

struct wlist {
    struct wait *head, *tail;
};

struct iqwait {
    struct hash byid; /* id -> struct wait * */
    struct wlist pending, due;
    uint64_t seq;
};

struct iqwait *iqwait_new(void)
{
    return xcalloc(1, sizeof(struct iqwait));
}

static void wait_free(struct wait *e)
{
    free(e->to);
    free(e);
}

void iqwait_free(struct iqwait **wp)
{
    struct iqwait *w = *wp;
    size_t pos = 0;
    const char *k;
    void *v;
    if (w == NULL)
        return;
    while (hash_next(&w->byid, &pos, &k, &v))
        wait_free(v);
    hash_clear(&w->byid);
    free(w);
    *wp = NULL;
}

static void unlink_wait(struct iqwait *w, struct wait *e)
{
    struct wlist *l = e->due ? &w->due : &w->pending;
    if (e->prev)
        e->prev->next = e->next;
    else
        l->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        l->tail = e->prev;
    e->prev = e->next = NULL;
}

/* Into `pending` after the last request due no later than e. */
static void insert_pending(struct iqwait *w, struct wait *e)
{
    struct wait *after = w->pending.tail;
    while (after && after->deadline > e->deadline)
        after = after->prev;
    e->prev = after;
    e->next = after ? after->next : w->pending.head;
    if (e->next)
        e->next->prev = e;
    else
        w->pending.tail = e;
    if (after)
        after->next = e;
    else
        w->pending.head = e;
}

/* addr parsed and written back: case-folded, without a trailing dot. */
static char *normalised(const char *addr)
{
    struct jid j;
    char *s;
    if (addr == NULL || jid_parse(addr, &j) != 0)
        return NULL;
    s = jid_full(&j);
    jid_deinit(&j);
    return s;
}

const char *iqwait_add(struct iqwait *w, const char *prefix, const char *to, int64_t deadline_ms,
                       iqwait_cb *cb, void *ud)
{
    struct wait *e;
    char *norm;
    if (strlen(prefix) > IQWAIT_PREFIX_MAX || (norm = normalised(to)) == NULL)
        return NULL;
    e = xcalloc(1, sizeof(*e));
    e->to = norm;
    e->deadline = deadline_ms;
    e->cb = cb;
    e->ud = ud;
    /* A number never used before: no answer to an earlier request can
     * match this one. */
    snprintf(e->id, sizeof(e->id), "%s%llx", prefix, (unsigned long long)++w->seq);
    hash_put(&w->byid, e->id, e);
    insert_pending(w, e);
    return e->id;
}

bool iqwait_cancel(struct iqwait *w, const char *id)
{
    struct wait *e = id ? hash_del(&w->byid, id) : NULL;
    if (e == NULL)
        return false;
    unlink_wait(w, e);
    wait_free(e);
    return true;
}

bool iqwait_answer(struct iqwait *w, const struct stanza_in *in)
{
    const struct xml_node *iq = in->xml;
    const char *type = in->type, *id = xml_attr(iq, "id");
    struct wait *e;
    char *from;
    bool match;

    if (in->kind != STANZA_IQ || type == NULL ||
        (strcmp(type, "result") != 0 && strcmp(type, "error") != 0) || id == NULL)
        return false;
    e = hash_get(&w->byid, id);
    if (e == NULL)
        return false; /* not ours, answered already, expired or cancelled */
    /* Only the address asked answers: anyone may send an iq with a
     * guessed id. */
    from = in->from_ok ? jid_full(&in->from) : NULL; /* parsed, so normalised */
    match = from && strcmp(from, e->to) == 0;
    free(from);
    if (!match)
        return false;
    hash_del(&w->byid, id);
    unlink_wait(w, e);
    e->cb(e->ud, iq, in->now_ms);
    wait_free(e);
    return true;
}

void iqwait_expire(struct iqwait *w, int64_t now_ms)
{
    struct wait *e;
    /* Take the due ones off the front first: what the callbacks add waits
     * for the next call. */
    while ((e = w->pending.head) != NULL && e->deadline <= now_ms) {
        unlink_wait(w, e);
        e->due = true;
        e->prev = w->due.tail;
        if (w->due.tail)
            w->due.tail->next = e;
        else
            w->due.head = e;
        w->due.tail = e;
    }
    while ((e = w->due.head) != NULL) {
        hash_del(&w->byid, e->id);
        unlink_wait(w, e);
        e->cb(e->ud, NULL, now_ms);
        wait_free(e);
    }
}

size_t iqwait_pending(const struct iqwait *w)
{
    return w->byid.n;
}
