/* status.c - owner resources and the channel's aggregate status. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_error.h"
#include "cs_status.h"
#include "cs_util.h"

static const char *const show_names[] = {"unavailable", "available", "chat", "away", "xa", "dnd"};

const char *status_show_name(enum status_show show)
{
    return (unsigned)show < CS_ARRAY_SIZE(show_names) ? show_names[show] : "?";
}

int status_update_parse(const struct xml_node *p, const char *resource, struct status_update *u)
{
    const char *type = xml_attr(p, "type");
    struct xml_node *show = xml_child(p, "show", NULL);
    struct xml_node *prio = xml_child(p, "priority", NULL);
    struct xml_node *text;

    memset(u, 0, sizeof(*u));
    u->resource = resource;
    u->available = type == NULL;
    u->show = u->available ? SHOW_AVAILABLE : SHOW_UNAVAILABLE;
    if (!u->available)
        return 0;
    if (show) {
        char *s = xml_text_dup(show);
        int r = 0;
        if (strcmp(s, "chat") == 0)
            u->show = SHOW_CHAT;
        else if (strcmp(s, "away") == 0)
            u->show = SHOW_AWAY;
        else if (strcmp(s, "xa") == 0)
            u->show = SHOW_XA;
        else if (strcmp(s, "dnd") == 0)
            u->show = SHOW_DND;
        else
            r = CS_EINVAL; /* RFC 6121 4.7.2.1: only these four values */
        free(s);
        if (r != 0)
            return r;
    }
    if (prio) {
        char *s = xml_text_dup(prio);
        int64_t n;
        int bad = cs_parse_int(s, -128, 127, &n);
        free(s);
        if (bad)
            return CS_EINVAL; /* 4.7.2.3: an integer in -128..127 */
        u->priority = (int)n;
    }
    /* The first <status/> without xml:lang, else the first one. */
    text = NULL;
    for (struct xml_node *c = xml_first_elem(p); c; c = xml_next_elem(c)) {
        if (strcmp(c->name, "status") != 0)
            continue;
        if (text == NULL || (xml_attr(text, "xml:lang") && !xml_attr(c, "xml:lang")))
            text = c;
    }
    if (text) {
        u->text = xml_text_dup(text);
        if (strlen(u->text) > STATUS_TEXT_MAX) {
            /* Cut on a UTF-8 boundary. */
            size_t n = STATUS_TEXT_MAX;
            while (n > 0 && ((unsigned char)u->text[n] & 0xc0) == 0x80)
                n--;
            u->text[n] = '\0';
        }
    }
    return 0;
}

void status_update_deinit(struct status_update *u)
{
    free(u->text);
    u->text = NULL;
}

static int find(const struct status_set *set, const char *resource)
{
    for (unsigned i = 0; i < set->n; i++) {
        if (strcmp(set->res[i].resource, resource) == 0)
            return (int)i;
    }
    return -1;
}

static void remove_at(struct status_set *set, unsigned i)
{
    free(set->res[i].resource);
    free(set->res[i].text);
    set->res[i] = set->res[--set->n];
}

bool status_set_apply(struct status_set *set, const struct status_update *u, int64_t now)
{
    struct status_view before, after;
    char *before_text;
    bool changed;
    int i = find(set, u->resource);

    status_set_view(set, &before);
    /* The winner's text may be replaced below: keep a copy to compare. */
    before_text = before.text ? xstrdup(before.text) : NULL;
    before.text = before_text;
    if (!u->available) {
        if (i >= 0) {
            remove_at(set, (unsigned)i);
            if (set->n == 0)
                set->last_seen = now;
        }
    } else {
        struct status_resource *r;
        if (i < 0) {
            if (set->n == set->cap) {
                set->cap = set->cap ? set->cap * 2 : 4;
                set->res = xrealloc(set->res, set->cap * sizeof(*set->res));
            }
            r = &set->res[set->n++];
            memset(r, 0, sizeof(*r));
            r->resource = xstrdup(u->resource);
        } else {
            r = &set->res[i];
        }
        if (i < 0 || r->show != u->show || r->priority != u->priority ||
            (r->text == NULL) != (u->text == NULL) || (r->text && strcmp(r->text, u->text) != 0)) {
            free(r->text);
            r->text = u->text ? xstrdup(u->text) : NULL;
            r->show = u->show;
            r->priority = u->priority;
            r->since = now;
            r->seq = ++set->next_seq;
        }
    }
    status_set_view(set, &after);
    changed = !status_view_equal(&before, &after);
    free(before_text);
    return changed;
}

bool status_set_clear(struct status_set *set, int64_t now)
{
    bool had = set->n > 0;
    while (set->n > 0)
        remove_at(set, set->n - 1);
    if (had)
        set->last_seen = now;
    return had;
}

void status_set_view(const struct status_set *set, struct status_view *v)
{
    const struct status_resource *best = NULL;
    for (unsigned i = 0; i < set->n; i++) {
        const struct status_resource *r = &set->res[i];
        if (best == NULL || r->priority > best->priority ||
            (r->priority == best->priority && r->seq > best->seq))
            best = r;
    }
    memset(v, 0, sizeof(*v));
    v->last_seen = set->last_seen;
    if (best == NULL) {
        v->show = SHOW_UNAVAILABLE;
        return;
    }
    v->show = best->show;
    v->text = best->text;
    v->priority = best->priority;
    v->since = best->since;
}

const char *status_set_message_target(const struct status_set *set)
{
    const struct status_resource *best = NULL;
    for (unsigned i = 0; i < set->n; i++) {
        const struct status_resource *r = &set->res[i];
        if (r->priority < 0)
            continue;
        if (best == NULL || r->priority > best->priority ||
            (r->priority == best->priority && r->seq > best->seq))
            best = r;
    }
    return best ? best->resource : NULL;
}

void status_set_deinit(struct status_set *set)
{
    status_set_clear(set, 0);
    free(set->res);
    memset(set, 0, sizeof(*set));
}

bool status_view_equal(const struct status_view *a, const struct status_view *b)
{
    if (a->show != b->show || a->priority != b->priority)
        return false;
    if ((a->text == NULL) != (b->text == NULL))
        return false;
    return a->text == NULL || strcmp(a->text, b->text) == 0;
}

struct xml_node *status_presence(const struct status_view *v, const char *from)
{
    struct xml_node *p = xml_elem_new("presence", NULL);
    xml_set_attr(p, "from", from);
    if (v->show == SHOW_UNAVAILABLE) {
        xml_set_attr(p, "type", "unavailable");
        return p;
    }
    if (v->show != SHOW_AVAILABLE)
        xml_add_text(xml_add_child(p, "show", NULL), status_show_name(v->show));
    if (v->text)
        xml_add_text(xml_add_child(p, "status", NULL), v->text);
    if (v->priority != 0) {
        char buf[8];
        snprintf(buf, sizeof(buf), "%d", v->priority);
        xml_add_text(xml_add_child(p, "priority", NULL), buf);
    }
    return p;
}
