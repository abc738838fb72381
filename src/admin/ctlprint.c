/* ctlprint.c - chanstatctl's output: aligned text tables and "key value"
 * lines for a terminal, or one JSON document (--json), and the printing
 * of each command's result and rows.  chanstatctl.c runs the commands and
 * calls in here; nothing here calls back. */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_admin.h"
#include "cs_util.h"
#include "ctl.h"

/* ---- Text output ---- */

/* s for a terminal: control characters and bytes that are no UTF-8 as
 * C-style escapes, so a hand-written value cannot break a line or the
 * terminal.  NULL gives "-".  Caller frees. */
static char *printable(const char *s)
{
    struct strbuf sb = {0};
    if (s == NULL || s[0] == '\0')
        return xstrdup("-");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\n')
            strbuf_append_str(&sb, "\\n");
        else if (*p == '\t')
            strbuf_append_str(&sb, "\\t");
        else if (*p < 0x20 || *p == 0x7f)
            strbuf_printf(&sb, "\\x%02x", *p);
        else
            strbuf_append(&sb, p, 1);
    }
    return sb.data;
}

/* Columns are aligned on characters, counted as UTF-8 lead bytes. */
static size_t width(const char *s)
{
    size_t n = 0;
    for (; *s; s++) {
        if (((unsigned char)*s & 0xc0) != 0x80)
            n++;
    }
    return n;
}

/* Adds a row of t->ncols cells (NULL: "-"). */
void ctl_table_row(struct table *t, ...)
{
    va_list ap;
    if (t->nrows == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 16;
        t->cells = xrealloc(t->cells, t->cap * t->ncols * sizeof(*t->cells));
    }
    va_start(ap, t);
    for (size_t i = 0; i < t->ncols; i++)
        t->cells[t->nrows * t->ncols + i] = printable(va_arg(ap, const char *));
    va_end(ap);
    t->nrows++;
}

void ctl_table_print(const struct table *t, const char *indent)
{
    size_t w[MAX_COLS];
    for (size_t i = 0; i < t->ncols; i++) {
        w[i] = width(t->heads[i]);
        for (size_t r = 0; r < t->nrows; r++) {
            size_t cw = width(t->cells[r * t->ncols + i]);
            w[i] = cw > w[i] ? cw : w[i];
        }
    }
    for (size_t r = 0; r <= t->nrows; r++) {
        fputs(indent, stdout);
        for (size_t i = 0; i < t->ncols; i++) {
            const char *s = r == 0 ? t->heads[i] : t->cells[(r - 1) * t->ncols + i];
            fputs(s, stdout);
            if (i + 1 < t->ncols)
                printf("%*s", (int)(w[i] - width(s) + 2), "");
        }
        putchar('\n');
    }
}

void ctl_table_free(struct table *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    t->cells = NULL;
    t->nrows = t->cap = 0;
}

/* "key   value" lines with the values aligned: a two-column table
 * without a header. */
static void pairs_init(struct table *p)
{
    memset(p, 0, sizeof(*p));
    p->ncols = 2;
}

static void pair(struct table *p, const char *key, const char *value)
{
    ctl_table_row(p, key, value);
}

static void pairs_print(struct table *p)
{
    size_t w = 0;
    for (size_t r = 0; r < p->nrows; r++) {
        size_t kw = width(p->cells[2 * r]);
        w = kw > w ? kw : w;
    }
    for (size_t r = 0; r < p->nrows; r++) {
        const char *k = p->cells[2 * r];
        printf("%s%*s%s\n", k, (int)(w - width(k) + 2), "", p->cells[2 * r + 1]);
    }
    ctl_table_free(p);
}

static const char *fmt_int(int64_t v, char *buf, size_t size)
{
    snprintf(buf, size, "%" PRId64, v);
    return buf;
}

/* A time for text output: ISO 8601 UTC, or never for 0. */
static const char *fmt_time(int64_t t, char buf[ADMIN_TIME_LEN])
{
    if (t <= 0) {
        cs_strlcpy(buf, "never", ADMIN_TIME_LEN);
        return buf;
    }
    return admin_time_iso(t, buf);
}

/* "value" in double quotes with escapes, or none. */
static char *quote_or_none(const char *s)
{
    struct strbuf sb = {0};
    char *p;
    if (s == NULL)
        return xstrdup("none");
    p = printable(s);
    strbuf_printf(&sb, "\"%s\"", p);
    free(p);
    return sb.data;
}

/* The groups of a stored value, joined with ", " for text.  Caller frees. */
static char *groups_text(const char *groups)
{
    struct strbuf sb = {0};
    const char *p = groups, *g;
    size_t len;
    while (admin_group_next(&p, &g, &len)) {
        char *one = xstrndup(g, len);
        if (sb.len > 0)
            strbuf_append_str(&sb, ", ");
        strbuf_append_str(&sb, one);
        free(one);
    }
    return sb.data ? sb.data : xstrdup("");
}

/* ---- JSON output ---- */

static void json_groups(struct admin_json *j, const char *groups)
{
    const char *p = groups, *g;
    size_t len;
    admin_json_open(j, "groups", '[');
    while (admin_group_next(&p, &g, &len)) {
        char *one = xstrndup(g, len);
        admin_json_str(j, NULL, one);
        free(one);
    }
    admin_json_close(j, ']');
}

/* Opens an object with the channel's columns; the caller may add members
 * and closes it. */
static void json_channel(struct admin_json *j, const char *key, const struct admin_channel *ch,
                         bool props)
{
    admin_json_open(j, key, '{');
    admin_json_str(j, "name", ch->name);
    admin_json_str(j, "owner", ch->owner);
    admin_json_str(j, "policy", channel_policy_name(ch->policy));
    admin_json_str(j, "display_name", ch->display_name);
    admin_json_time(j, "created", ch->created);
    if (props) {
        /* what admin_channel_get read (listings do not read them) */
        admin_json_str(j, "description", ch->description);
        admin_json_str(j, "email", ch->email);
        admin_json_str(j, "url", ch->url);
        admin_json_str(j, "avatar_type", ch->avatar_type);
        admin_json_str(j, "avatar_sha1", ch->avatar_type ? ch->avatar_sha1 : NULL);
    }
}

/* Members of a roster row, without channel (the caller adds it where it
 * is not the document's). */
static void json_item_fields(struct admin_json *j, const struct admin_item *it)
{
    admin_json_str(j, "jid", it->jid);
    admin_json_str(j, "subscription", it->subscription);
    admin_json_bool(j, "ask", it->ask);
    admin_json_bool(j, "pending_in", it->pending_in);
    admin_json_bool(j, "approved", it->approved);
    admin_json_str(j, "name", it->name);
    json_groups(j, it->groups);
}

void ctl_json_print(struct admin_json *j)
{
    fwrite(j->out.data, 1, j->out.len, stdout);
    strbuf_free(&j->out);
}

/* ---- Command results ---- */

static void print_channel_line(const char *action, const struct admin_channel *ch)
{
    char *owner = printable(ch->owner ? ch->owner : "none");
    char *display = quote_or_none(ch->display_name);
    char *name = printable(ch->name);
    printf("channel %s %s: owner %s, policy %s, display name %s\n", name, action, owner,
           channel_policy_name(ch->policy), display);
    free(name);
    free(display);
    free(owner);
}

int ctl_channel_written(struct ctl *c, enum admin_action action, struct admin_channel *ch)
{
    if (c->json) {
        struct admin_json j = {0};
        admin_json_open(&j, NULL, '{');
        admin_json_str(&j, "action", admin_action_name(action));
        json_channel(&j, "channel", ch, true);
        admin_json_close(&j, '}');
        admin_json_close(&j, '}');
        ctl_json_print(&j);
    } else {
        print_channel_line(admin_action_name(action), ch);
    }
    admin_channel_deinit(ch);
    return 0;
}

void ctl_on_channel(void *ud, const struct admin_channel *ch)
{
    struct collect *k = ud;
    char t[ADMIN_TIME_LEN];
    k->n++;
    if (k->c->json) {
        json_channel(&k->j, NULL, ch, false);
        admin_json_close(&k->j, '}');
    } else {
        ctl_table_row(&k->t, ch->name, ch->owner, channel_policy_name(ch->policy), ch->display_name,
                      admin_time_iso(ch->created, t));
    }
}

/* channel show: the channel and what it holds. */
void ctl_print_channel_info(struct ctl *c, const struct admin_channel_info *in)
{
    char a[ADMIN_TIME_LEN], b[ADMIN_TIME_LEN], n1[32], n2[32];
    if (c->json) {
        struct admin_json j = {0};
        admin_json_open(&j, NULL, '{');
        json_channel(&j, "channel", &in->ch, true);
        admin_json_int(&j, "roster_rows", in->roster_rows);
        admin_json_int(&j, "watchers", in->watchers);
        admin_json_int(&j, "pending_in", in->pending_in);
        admin_json_int(&j, "pending_out", in->pending_out);
        admin_json_int(&j, "offline_messages", in->offline_messages);
        admin_json_int(&j, "offline_bytes", in->offline_bytes);
        admin_json_time(&j, "last_seen", in->last_seen);
        admin_json_bool(&j, "shown", in->shown);
        admin_json_close(&j, '}');
        admin_json_close(&j, '}');
        ctl_json_print(&j);
    } else {
        struct table p;
        struct strbuf off = {0};
        pairs_init(&p);
        pair(&p, "name", in->ch.name);
        pair(&p, "owner", in->ch.owner ? in->ch.owner : "none");
        pair(&p, "policy", channel_policy_name(in->ch.policy));
        pair(&p, "display name", in->ch.display_name ? in->ch.display_name : "none");
        pair(&p, "description", in->ch.description ? in->ch.description : "none");
        pair(&p, "email", in->ch.email ? in->ch.email : "none");
        pair(&p, "url", in->ch.url ? in->ch.url : "none");
        if (in->ch.avatar_type) {
            struct strbuf av = {0};
            strbuf_printf(&av, "%s, %ld bytes, sha1 %s", in->ch.avatar_type, in->ch.avatar_bytes,
                          in->ch.avatar_sha1);
            pair(&p, "avatar", av.data);
            strbuf_free(&av);
        } else {
            pair(&p, "avatar", "none");
        }
        pair(&p, "created", admin_time_iso(in->ch.created, a));
        pair(&p, "roster rows", fmt_int(in->roster_rows, n1, sizeof(n1)));
        pair(&p, "watchers", fmt_int(in->watchers, n2, sizeof(n2)));
        pair(&p, "pending in", fmt_int(in->pending_in, n1, sizeof(n1)));
        pair(&p, "pending out", fmt_int(in->pending_out, n2, sizeof(n2)));
        strbuf_printf(&off, "%" PRId64 " message%s, %" PRId64 " bytes", in->offline_messages,
                      in->offline_messages == 1 ? "" : "s", in->offline_bytes);
        pair(&p, "stored", off.data);
        pair(&p, "last seen", fmt_time(in->last_seen, b));
        pair(&p, "watchers see", in->shown ? "available" : "unavailable");
        pairs_print(&p);
        strbuf_free(&off);
    }
}

/* roster add and its action. */
void ctl_print_item(struct ctl *c, enum admin_action action, const struct admin_item *it)
{
    if (c->json) {
        struct admin_json j = {0};
        admin_json_open(&j, NULL, '{');
        admin_json_str(&j, "action", admin_action_name(action));
        admin_json_open(&j, "item", '{');
        admin_json_str(&j, "channel", it->channel);
        json_item_fields(&j, it);
        admin_json_close(&j, '}');
        admin_json_close(&j, '}');
        ctl_json_print(&j);
    } else {
        char *jid = printable(it->jid), *name = quote_or_none(it->name);
        char *groups = groups_text(it->groups), *pg = printable(groups);
        printf("roster row %s %s %s: subscription %s%s%s%s, name %s, groups %s\n", it->channel, jid,
               admin_action_name(action), it->subscription, it->pending_in ? ", pending in" : "",
               it->ask ? ", pending out" : "", it->approved ? ", pre-approved" : "", name,
               groups[0] ? pg : "none");
        free(pg);
        free(groups);
        free(name);
        free(jid);
    }
}

static const char *pending_text(const struct admin_item *it)
{
    if (it->pending_in && it->ask)
        return "in+out";
    return it->pending_in ? "in" : it->ask ? "out" : NULL;
}

void ctl_on_item(void *ud, const struct admin_item *it)
{
    struct collect *k = ud;
    k->n++;
    if (k->c->json) {
        admin_json_open(&k->j, NULL, '{');
        json_item_fields(&k->j, it);
        admin_json_close(&k->j, '}');
    } else {
        char *groups = groups_text(it->groups);
        ctl_table_row(&k->t, it->jid, it->subscription, pending_text(it),
                      it->approved ? "yes" : NULL, it->name, groups);
        free(groups);
    }
}

static const char *const sub_keys[] = {"watchers", "pending_in", "pending_out"};

/* Opens the JSON arrays of the sections up to kind. */
void ctl_subs_advance(struct subs *s, int kind)
{
    while (s->open < kind) {
        if (s->open >= 0)
            admin_json_close(&s->j, ']');
        s->open++;
        admin_json_open(&s->j, sub_keys[s->open], '[');
    }
}

void ctl_on_sub(void *ud, enum admin_sub_kind kind, const struct admin_item *it)
{
    struct subs *s = ud;
    s->n[kind]++;
    if (s->c->json) {
        ctl_subs_advance(s, (int)kind);
        admin_json_open(&s->j, NULL, '{');
        admin_json_str(&s->j, "jid", it->jid);
        admin_json_str(&s->j, "subscription", it->subscription);
        admin_json_str(&s->j, "name", it->name);
        admin_json_close(&s->j, '}');
    } else {
        ctl_table_row(&s->t[kind], it->jid, it->subscription, it->name);
    }
}

/* One lease (a node's or a property subscription's): its row or object. */
static void lease_entry(struct leases *l, const char *jid, const char *node, long long expires)
{
    long long left = expires - l->now;
    char a[32];
    l->n++;
    if (left < 0)
        left = 0;
    if (l->c->json) {
        admin_json_open(l->j, NULL, '{');
        if (jid)
            admin_json_str(l->j, "jid", jid);
        admin_json_str(l->j, "node", node);
        admin_json_int(l->j, "expires", (int64_t)expires);
        admin_json_int(l->j, "remaining_s", (int64_t)left);
        admin_json_close(l->j, '}');
    } else {
        snprintf(a, sizeof(a), "%lld s", left);
        if (jid)
            ctl_table_row(&l->t, jid, node, a, NULL);
        else
            ctl_table_row(&l->t, node, a, NULL);
    }
}

void ctl_on_lease(void *ud, const char *node, long long expires)
{
    lease_entry(ud, NULL, node, expires);
}

void ctl_on_propsub(void *ud, const char *jid, const char *node, long long expires)
{
    lease_entry(ud, jid, node, expires);
}

/* status: the aggregate, then the owner's resources. */
void ctl_print_status(struct ctl *c, const struct admin_status *st)
{
    char t[ADMIN_TIME_LEN];
    if (c->json) {
        struct admin_json j = {0};
        admin_json_open(&j, NULL, '{');
        admin_json_str(&j, "channel", st->channel);
        admin_json_str(&j, "owner", st->owner);
        admin_json_bool(&j, "available", st->best != NULL);
        admin_json_str(&j, "show", st->best ? st->best->show : "unavailable");
        admin_json_str(&j, "status", st->best ? st->best->status : NULL);
        if (st->best)
            admin_json_int(&j, "priority", st->best->priority);
        else
            admin_json_str(&j, "priority", NULL);
        admin_json_str(&j, "resource", st->best ? st->best->resource : NULL);
        admin_json_time(&j, "last_seen", st->last_seen);
        admin_json_bool(&j, "shown", st->shown);
        admin_json_open(&j, "resources", '[');
        for (size_t i = 0; i < st->n_res; i++) {
            const struct admin_resource *res = &st->res[i];
            admin_json_open(&j, NULL, '{');
            admin_json_str(&j, "resource", res->resource);
            admin_json_str(&j, "show", res->show);
            admin_json_str(&j, "status", res->status);
            admin_json_int(&j, "priority", res->priority);
            admin_json_time(&j, "since", res->since);
            admin_json_close(&j, '}');
        }
        admin_json_close(&j, ']');
        admin_json_close(&j, '}');
        ctl_json_print(&j);
    } else {
        struct table p;
        struct table tab = {.ncols = 5,
                            .heads = {"RESOURCE", "SHOW", "PRIORITY", "SINCE", "STATUS"}};
        struct strbuf agg = {0};
        pairs_init(&p);
        pair(&p, "channel", st->channel);
        pair(&p, "owner", st->owner ? st->owner : "none");
        if (st->best) {
            strbuf_printf(&agg, "%s (resource %s, priority %" PRId64 ", since %s)", st->best->show,
                          st->best->resource, st->best->priority,
                          admin_time_iso(st->best->since, t));
            pair(&p, "status", agg.data);
            pair(&p, "status text", st->best->status ? st->best->status : "none");
        } else {
            pair(&p, "status", "unavailable");
        }
        pair(&p, "last seen", fmt_time(st->last_seen, t));
        pair(&p, "watchers see", st->shown ? "available" : "unavailable");
        pairs_print(&p);
        strbuf_free(&agg);
        printf("owner resources: %zu\n", st->n_res);
        for (size_t i = 0; i < st->n_res; i++) {
            const struct admin_resource *res = &st->res[i];
            char prio[32];
            ctl_table_row(&tab, res->resource, res->show,
                          fmt_int(res->priority, prio, sizeof(prio)), admin_time_iso(res->since, t),
                          res->status);
        }
        if (st->n_res > 0)
            ctl_table_print(&tab, "  ");
        ctl_table_free(&tab);
    }
}

void ctl_on_message(void *ud, const struct admin_message *m)
{
    struct collect *k = ud;
    char t[ADMIN_TIME_LEN], id[32], bytes[32];
    k->n++;
    if (k->c->json) {
        admin_json_open(&k->j, NULL, '{');
        admin_json_int(&k->j, "id", m->id);
        admin_json_str(&k->j, "channel", m->channel);
        admin_json_str(&k->j, "sender", m->sender);
        admin_json_time(&k->j, "stored", m->stored);
        admin_json_int(&k->j, "bytes", m->bytes);
        admin_json_close(&k->j, '}');
    } else {
        ctl_table_row(&k->t, fmt_int(m->id, id, sizeof(id)), m->channel, m->sender,
                      admin_time_iso(m->stored, t), fmt_int(m->bytes, bytes, sizeof(bytes)));
    }
}

void ctl_on_stat(void *ud, const char *name, int64_t value, int64_t updated)
{
    struct collect *k = ud;
    char t[ADMIN_TIME_LEN], v[32];
    k->n++;
    if (k->c->json) {
        admin_json_open(&k->j, NULL, '{');
        admin_json_str(&k->j, "name", name);
        admin_json_int(&k->j, "value", value);
        admin_json_time(&k->j, "updated", updated);
        admin_json_close(&k->j, '}');
    } else {
        ctl_table_row(&k->t, name, fmt_int(value, v, sizeof(v)), admin_time_iso(updated, t));
    }
}
