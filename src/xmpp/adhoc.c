/* adhoc.c - XEP-0050 ad-hoc commands: channel owners manage their
 * channel at its address, admins ([admin] jids) any channel and the
 * counters at the component domain.
 *
 *   node                        at a channel       at the domain (admins)
 *   urn:chanstat:cmd:watchers   1 step: the lists  channel form, the lists
 *   urn:chanstat:cmd:pending    form, apply        channel form, form, apply
 *   urn:chanstat:cmd:policy     form, apply        channel form, form, apply
 *   urn:chanstat:cmd:stats      -                  1 step: the counters
 *
 * At a channel its owner and the admins may run the channel commands;
 * at the domain only admins; anybody else gets forbidden, and discovery
 * (disco#items of the commands node) lists only what the asker may run.
 *
 * A command that takes more than one step keeps a session: a slot of a
 * fixed table (ADHOC_MAX_SESSIONS), bound to the requester's full JID and
 * the address, expiring ADHOC_SESSION_MS after its last step.  One bare
 * JID holds at most ADHOC_MAX_PER_REQUESTER sessions (opening another
 * drops its oldest, since clients abandon sessions without cancelling);
 * a full table of live sessions answers resource-constraint.  Every scan
 * is over the fixed table: O(ADHOC_MAX_SESSIONS) per step.
 *
 * Lists in answers stop at ADHOC_LIST_MAX entries or ADHOC_LIST_BYTES of
 * JIDs, with a note saying how many there are (chanstatctl lists all):
 * one stanza stays far below what servers accept. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_error.h"
#include "cs_hash.h"
#include "cs_home.h"
#include "cs_log.h"
#include "cs_stats.h"
#include "service_priv.h"

#define ADHOC_MAX_SESSIONS 64
#define ADHOC_MAX_PER_REQUESTER 4
#define ADHOC_SESSION_MS (10 * 60 * 1000)
#define ADHOC_LIST_MAX 500
#define ADHOC_LIST_BYTES 65536

#define NS_COMMANDS_ERR NS_COMMANDS /* XEP-0050 section 4.4: errors in the same namespace */

enum cmd_id { CMD_WATCHERS, CMD_PENDING, CMD_POLICY, CMD_STATS };

struct command {
    enum cmd_id id;
    const char *node;
    const char *name;
    bool channel;    /* acts on one channel (at the domain: named in a first form) */
    bool admin_only; /* only at the domain */
};

/* clang-format off */
static const struct command commands[] = {
    {CMD_WATCHERS, "urn:chanstat:cmd:watchers", "List watchers and pending requests", true, false},
    {CMD_PENDING,  "urn:chanstat:cmd:pending",  "Approve or deny pending requests",   true, false},
    {CMD_POLICY,   "urn:chanstat:cmd:policy",   "Set the subscription policy",        true, false},
    {CMD_STATS,    "urn:chanstat:cmd:stats",    "Show the counters",                  false, true},
};
/* clang-format on */

/* The form a session waits for. */
enum stage { STAGE_CHANNEL = 1, STAGE_FORM };

struct session {
    bool used;
    char id[40];
    char *requester; /* full JID that opened it */
    char *bare;      /* its bare JID: the per-requester cap */
    char *at;        /* the address it runs at (normalised bare JID) */
    const struct command *cmd;
    char *channel; /* the channel it acts on, once known */
    enum stage stage;
    int64_t expires_ms;
    int64_t opened_ms;
};

struct adhoc {
    struct session s[ADHOC_MAX_SESSIONS];
    unsigned long serial;
};

struct adhoc *adhoc_new(void)
{
    return xcalloc(1, sizeof(struct adhoc));
}

static void session_free(struct session *s)
{
    free(s->requester);
    free(s->bare);
    free(s->at);
    free(s->channel);
    memset(s, 0, sizeof(*s));
}

void adhoc_free(struct adhoc **ap)
{
    struct adhoc *a = *ap;
    if (a == NULL)
        return;
    for (size_t i = 0; i < ADHOC_MAX_SESSIONS; i++) {
        if (a->s[i].used)
            session_free(&a->s[i]);
    }
    free(a);
    *ap = NULL;
}

/* A session id: unique in this process, not guessable enough to matter
 * (a session answers only its own full JID). */
static void new_id(struct adhoc *a, char *id, size_t len)
{
    snprintf(id, len, "%08x-%lu", (unsigned)cs_random_below(0xffffffffu), ++a->serial);
}

/* The address the iq was sent to, normalised (caller frees). */
static char *address_of(const struct service *svc, const struct iq_ctx *q)
{
    return q->channel ? service_channel_jid(svc, q->channel) : xstrdup(svc->domain);
}

/* A new session for q's sender, or NULL when the table is full of live
 * sessions.  O(ADHOC_MAX_SESSIONS). */
static struct session *session_open(struct service *svc, const struct iq_ctx *q,
                                    const struct command *cmd)
{
    struct adhoc *a = svc->adhoc;
    struct session *free_slot = NULL, *oldest_mine = NULL;
    unsigned mine = 0;

    for (size_t i = 0; i < ADHOC_MAX_SESSIONS; i++) {
        struct session *s = &a->s[i];
        if (s->used && s->expires_ms <= q->now_ms)
            session_free(s); /* expired: reclaimed here */
        if (!s->used) {
            if (free_slot == NULL)
                free_slot = s;
            continue;
        }
        if (strcmp(s->bare, q->requester) == 0) {
            mine++;
            if (oldest_mine == NULL || s->opened_ms < oldest_mine->opened_ms)
                oldest_mine = s;
        }
    }
    if (mine >= ADHOC_MAX_PER_REQUESTER) {
        log_info("service: %s has %u command sessions open; dropping the oldest", q->requester,
                 mine);
        session_free(oldest_mine);
        free_slot = oldest_mine;
    }
    if (free_slot == NULL)
        return NULL;
    free_slot->used = true;
    new_id(a, free_slot->id, sizeof(free_slot->id));
    free_slot->requester = jid_full(q->from);
    free_slot->bare = xstrdup(q->requester);
    free_slot->at = address_of(svc, q);
    free_slot->cmd = cmd;
    free_slot->opened_ms = q->now_ms;
    free_slot->expires_ms = q->now_ms + ADHOC_SESSION_MS;
    return free_slot;
}

/* Was id given out by new_id()?  Its serial tells, without keeping
 * ended sessions. */
static bool issued(const struct adhoc *a, const char *id)
{
    int64_t serial;
    /* new_id(): eight hex digits, '-', the serial. */
    if (strlen(id) < 10 || strspn(id, "0123456789abcdef") != 8 || id[8] != '-')
        return false;
    return cs_parse_int(id + 9, 1, INT64_MAX, &serial) == 0 && (uint64_t)serial <= a->serial;
}

static struct session *session_find(struct adhoc *a, const char *id)
{
    for (size_t i = 0; i < ADHOC_MAX_SESSIONS; i++) {
        if (a->s[i].used && strcmp(a->s[i].id, id) == 0)
            return &a->s[i];
    }
    return NULL;
}

/* ---- Who may run what ---- */

static const struct command *command_by_node(const char *node)
{
    for (size_t i = 0; i < CS_ARRAY_SIZE(commands); i++) {
        if (strcmp(commands[i].node, node) == 0)
            return &commands[i];
    }
    return NULL;
}

static bool is_owner(struct service *svc, const char *channel, const char *bare)
{
    const char *owner, *policy, *display;
    return home_channel_info(svc->home, channel, &owner, &policy, &display) == 0 && owner &&
           strcmp(owner, bare) == 0;
}

/* At a channel: its owner and the admins, the channel commands.  At the
 * domain: the admins, every command (stats only when counters exist). */
static bool may_run(struct service *svc, const struct iq_ctx *q, const struct command *cmd)
{
    if (q->channel == NULL) {
        if (!service_is_admin(svc, q->requester))
            return false;
        return cmd->id != CMD_STATS || svc->opts.counters != NULL;
    }
    if (cmd->admin_only)
        return false;
    return service_is_admin(svc, q->requester) || is_owner(svc, q->channel, q->requester);
}

/* ---- Building answers ---- */

/* <iq type='result'><command node sessionid status/></iq>; *cmd_r is the
 * <command/> to fill. */
static struct xml_node *answer(const struct service *svc, const struct iq_ctx *q,
                               const struct command *cmd, const char *sid, const char *status,
                               struct xml_node **cmd_r)
{
    struct xml_node *r = stanza_iq_result(q->iq, svc->domain);
    struct xml_node *c = xml_add_child(r, "command", NS_COMMANDS);
    xml_set_attr(c, "node", cmd->node);
    xml_set_attr(c, "sessionid", sid);
    xml_set_attr(c, "status", status);
    *cmd_r = c;
    return r;
}

static void note(struct xml_node *command, const char *type, const char *text)
{
    struct xml_node *n = xml_add_child(command, "note", NULL);
    xml_set_attr(n, "type", type);
    xml_add_text(n, text);
}

/* <actions execute=ACTION><ACTION/></actions>: the one way on. */
static void actions(struct xml_node *command, const char *action)
{
    struct xml_node *a = xml_add_child(command, "actions", NULL);
    xml_set_attr(a, "execute", action);
    xml_add_child(a, action, NULL);
}

static struct xml_node *form(struct xml_node *parent, const char *type, const char *title,
                             const char *instructions)
{
    struct xml_node *x = xml_add_child(parent, "x", NS_DATA);
    xml_set_attr(x, "type", type);
    if (title)
        xml_add_text(xml_add_child(x, "title", NULL), title);
    if (instructions)
        xml_add_text(xml_add_child(x, "instructions", NULL), instructions);
    return x;
}

static struct xml_node *field(struct xml_node *x, const char *var, const char *type,
                              const char *label)
{
    struct xml_node *f = xml_add_child(x, "field", NULL);
    xml_set_attr(f, "var", var);
    if (type)
        xml_set_attr(f, "type", type);
    if (label)
        xml_set_attr(f, "label", label);
    return f;
}

static void value(struct xml_node *f, const char *v)
{
    xml_add_text(xml_add_child(f, "value", NULL), v);
}

static void option(struct xml_node *f, const char *v)
{
    struct xml_node *o = xml_add_child(f, "option", NULL);
    xml_set_attr(o, "label", v);
    value(o, v);
}

/* ---- Reading submitted forms ---- */

/* The <x type='submit'/> in the command, or NULL. */
static const struct xml_node *submitted(const struct xml_node *command)
{
    const struct xml_node *x = xml_child(command, "x", NS_DATA);
    const char *type = x ? xml_attr(x, "type") : NULL;
    return type && strcmp(type, "submit") == 0 ? x : NULL;
}

static const struct xml_node *form_field(const struct xml_node *x, const char *var)
{
    for (const struct xml_node *f = xml_first_elem(x); f; f = xml_next_elem(f)) {
        const char *v = xml_attr(f, "var");
        if (strcmp(f->name, "field") == 0 && v && strcmp(v, var) == 0)
            return f;
    }
    return NULL;
}

/* The first value of field var (caller frees), or NULL. */
static char *form_value(const struct xml_node *x, const char *var)
{
    const struct xml_node *f = form_field(x, var);
    const struct xml_node *v = f ? xml_child(f, "value", NULL) : NULL;
    return v ? xml_text_dup(v) : NULL;
}

/* ---- Channel lists ---- */

struct jidlist {
    char **v;
    size_t n, total, bytes;
};

struct entries {
    struct jidlist watchers, pending;
};

static void list_add(struct jidlist *l, const char *jid)
{
    size_t len = strlen(jid);
    l->total++;
    if (l->n >= ADHOC_LIST_MAX || l->bytes + len > ADHOC_LIST_BYTES)
        return;
    l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
    l->v[l->n++] = xstrdup(jid);
    l->bytes += len;
}

static void list_free(struct jidlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

static void on_entry(void *ud, const char *jid, const char *what)
{
    struct entries *e = ud;
    if (strcmp(what, "watcher") == 0)
        list_add(&e->watchers, jid);
    else if (strcmp(what, "pending") == 0)
        list_add(&e->pending, jid);
}

static int by_jid(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The channel's roster rows, those kept sorted by JID: one indexed query,
 * O(rows of the channel), plus the sort of at most ADHOC_LIST_MAX. */
static int entries_of(struct service *svc, const char *channel, struct entries *e)
{
    int r;
    memset(e, 0, sizeof(*e));
    r = home_list_entries(svc->home, channel, on_entry, e);
    if (e->watchers.n > 1)
        qsort(e->watchers.v, e->watchers.n, sizeof(char *), by_jid);
    if (e->pending.n > 1)
        qsort(e->pending.v, e->pending.n, sizeof(char *), by_jid);
    return r;
}

static void entries_free(struct entries *e)
{
    list_free(&e->watchers);
    list_free(&e->pending);
}

/* A note saying l was cut, if it was.  XEP-0050's schema puts notes
 * before the payload. */
static void cut_note(struct xml_node *command, const char *what, const struct jidlist *l)
{
    struct strbuf sb = {0};
    if (l->total == l->n)
        return;
    strbuf_printf(&sb, "%s: the first %zu of %zu are shown; chanstatctl lists all", what, l->n,
                  l->total);
    note(command, "info", sb.data);
    strbuf_free(&sb);
}

/* A jid-multi field of l. */
static void list_field(struct xml_node *x, const char *var, const char *what,
                       const struct jidlist *l)
{
    struct strbuf sb = {0};
    struct xml_node *f;
    strbuf_printf(&sb, "%s (%zu)", what, l->total);
    f = field(x, var, "jid-multi", sb.data);
    for (size_t i = 0; i < l->n; i++)
        value(f, l->v[i]);
    strbuf_free(&sb);
}

/* ---- The steps ---- */

static void internal_error(struct service *svc, const struct iq_ctx *q)
{
    service_error(svc, q->iq, "wait", "internal-server-error", NULL);
}

static void bad_payload(struct service *svc, const struct iq_ctx *q, const char *text)
{
    service_error_app(svc, q->iq, "modify", "bad-request", "bad-payload", NS_COMMANDS_ERR, text);
}

/* The form asking an admin at the domain which channel; note: an error
 * to show with it (the channel named before did not exist). */
static void ask_channel(struct service *svc, const struct iq_ctx *q, struct session *s,
                        const char *error_note)
{
    struct xml_node *c, *x, *f;
    struct xml_node *r = answer(svc, q, s->cmd, s->id, "executing", &c);
    actions(c, "next");
    if (error_note)
        note(c, "error", error_note);
    x = form(c, "form", s->cmd->name, "Name the channel (NAME or NAME@domain).");
    f = field(x, "channel", "text-single", "Channel");
    xml_add_child(f, "required", NULL);
    service_send(svc, r);
}

static void watchers_result(struct service *svc, const struct iq_ctx *q, const char *channel,
                            const char *sid)
{
    const struct command *cmd = &commands[CMD_WATCHERS];
    struct entries e;
    struct xml_node *c, *x, *r;
    char *jid = service_channel_jid(svc, channel);
    struct strbuf title = {0};

    if (entries_of(svc, channel, &e) != 0) {
        internal_error(svc, q);
        entries_free(&e);
        free(jid);
        return;
    }
    r = answer(svc, q, cmd, sid, "completed", &c);
    strbuf_printf(&title, "Watchers of %s", jid);
    cut_note(c, "Watchers", &e.watchers);
    cut_note(c, "Pending requests", &e.pending);
    x = form(c, "result", title.data, NULL);
    list_field(x, "watchers", "Watchers", &e.watchers);
    list_field(x, "pending", "Pending requests", &e.pending);
    service_send(svc, r);
    strbuf_free(&title);
    entries_free(&e);
    free(jid);
}

struct stats_form {
    struct xml_node *x;
};

static void on_counter(void *ud, const char *name, uint64_t v)
{
    struct stats_form *sf = ud;
    char num[32];
    snprintf(num, sizeof(num), "%llu", (unsigned long long)v);
    value(field(sf->x, name, "text-single", name), num);
}

static void stats_result(struct service *svc, const struct iq_ctx *q, const char *sid)
{
    struct xml_node *c;
    struct xml_node *r = answer(svc, q, &commands[CMD_STATS], sid, "completed", &c);
    struct stats_form sf;
    struct strbuf title = {0};
    strbuf_printf(&title, "Counters of %s", svc->domain);
    sf.x = form(c, "result", title.data, NULL);
    stats_each(svc->opts.counters(svc->opts.counters_ud), on_counter, &sf);
    service_send(svc, r);
    strbuf_free(&title);
}

/* The pending form, or completed at once when nothing is pending. */
static void pending_form(struct service *svc, const struct iq_ctx *q, struct session *s)
{
    struct entries e;
    struct xml_node *c, *x, *fa, *fd, *r;
    struct strbuf title = {0};
    char *jid;

    if (entries_of(svc, s->channel, &e) != 0) {
        internal_error(svc, q);
        entries_free(&e);
        session_free(s);
        return;
    }
    jid = service_channel_jid(svc, s->channel);
    if (e.pending.total == 0) {
        r = answer(svc, q, s->cmd, s->id, "completed", &c);
        strbuf_printf(&title, "No requests are pending at %s.", jid);
        note(c, "info", title.data);
        session_free(s);
    } else {
        r = answer(svc, q, s->cmd, s->id, "executing", &c);
        actions(c, "complete");
        if (e.pending.total > e.pending.n) {
            strbuf_printf(&title, "The first %zu of %zu requests are shown.", e.pending.n,
                          e.pending.total);
            note(c, "info", title.data);
            title.len = 0;
        }
        strbuf_printf(&title, "Pending requests of %s", jid);
        x = form(c, "form", title.data,
                 "Select the requests to approve and those to deny; the others stay pending.");
        fa = field(x, "approve", "list-multi", "Approve");
        fd = field(x, "deny", "list-multi", "Deny");
        for (size_t i = 0; i < e.pending.n; i++) {
            option(fa, e.pending.v[i]);
            option(fd, e.pending.v[i]);
        }
        s->stage = STAGE_FORM;
    }
    service_send(svc, r);
    strbuf_free(&title);
    entries_free(&e);
    free(jid);
}

static void policy_form(struct service *svc, const struct iq_ctx *q, struct session *s)
{
    static const char *const policies[] = {"open", "approve", "closed"};
    const char *owner, *policy, *display;
    struct xml_node *c, *x, *f, *r;
    struct strbuf title = {0};
    char *jid;

    if (home_channel_info(svc->home, s->channel, &owner, &policy, &display) != 0) {
        service_error(svc, q->iq, "cancel", "item-not-found", "no such channel");
        session_free(s);
        return;
    }
    jid = service_channel_jid(svc, s->channel);
    r = answer(svc, q, s->cmd, s->id, "executing", &c);
    actions(c, "complete");
    strbuf_printf(&title, "Policy of %s", jid);
    x = form(c, "form", title.data,
             "open: anyone may watch; approve: the owner decides each request; closed: only "
             "those an admin added.  Applies to requests from now on.");
    f = field(x, "policy", "list-single", "Policy");
    value(f, policy);
    for (size_t i = 0; i < CS_ARRAY_SIZE(policies); i++)
        option(f, policies[i]);
    s->stage = STAGE_FORM;
    service_send(svc, r);
    strbuf_free(&title);
    free(jid);
}

/* The channel is known: the command's first answer.  s is the session if
 * one is open (it is closed when the command completes here). */
static void first_step(struct service *svc, const struct iq_ctx *q, const struct command *cmd,
                       const char *channel, struct session *s)
{
    char sid[40];
    if (cmd->id == CMD_WATCHERS || cmd->id == CMD_STATS) {
        /* One step: a session id for the answer, nothing kept. */
        if (s)
            cs_strlcpy(sid, s->id, sizeof(sid));
        else
            new_id(svc->adhoc, sid, sizeof(sid));
        if (cmd->id == CMD_WATCHERS)
            watchers_result(svc, q, channel, sid);
        else
            stats_result(svc, q, sid);
        if (s)
            session_free(s); /* channel may point into it: freed last */
        return;
    }
    if (s == NULL) {
        s = session_open(svc, q, cmd);
        if (s == NULL) {
            service_error(svc, q->iq, "wait", "resource-constraint",
                          "too many command sessions are open; try again later");
            return;
        }
        s->channel = xstrdup(channel);
    }
    if (cmd->id == CMD_PENDING)
        pending_form(svc, q, s);
    else
        policy_form(svc, q, s);
}

/* The channel an admin named: NAME or NAME@DOMAIN, a channel that exists.
 * NULL otherwise (caller frees). */
static char *named_channel(struct service *svc, const char *text)
{
    struct jid j;
    char *name = NULL;
    const char *owner, *policy, *display;
    if (strchr(text, '@') == NULL) {
        char *jid = service_channel_jid(svc, text);
        int r = jid_parse(jid, &j);
        free(jid);
        if (r != 0)
            return NULL;
    } else if (jid_parse(text, &j) != 0) {
        return NULL;
    }
    if (j.local && j.resource == NULL && strcmp(j.domain, svc->domain) == 0 &&
        home_channel_info(svc->home, j.local, &owner, &policy, &display) == 0)
        name = xstrdup(j.local);
    jid_deinit(&j);
    return name;
}

/* The values of a list field as normalised bare JIDs into l (which owns
 * them), marking each in seen with mark.  0, or CS_EINVAL with the
 * reason in why: a value that is no bare JID, a JID already marked with
 * another mark (in both lists), or more values than an answer lists. */
static int read_jids(const struct xml_node *f, struct jidlist *l, struct hash *seen, void *mark,
                     struct strbuf *why)
{
    for (const struct xml_node *v = f ? xml_first_elem(f) : NULL; v; v = xml_next_elem(v)) {
        struct jid j;
        char *t, *bare;
        void *old;
        if (strcmp(v->name, "value") != 0)
            continue;
        t = xml_text_dup(v);
        if (jid_parse(t, &j) != 0) {
            strbuf_printf(why, "not a JID: %s", t);
            free(t);
            return CS_EINVAL;
        }
        free(t);
        bare = jid_bare(&j);
        jid_deinit(&j);
        if (l->n >= 2 * ADHOC_LIST_MAX) {
            strbuf_printf(why, "at most %d JIDs per list", 2 * ADHOC_LIST_MAX);
            free(bare);
            return CS_EINVAL;
        }
        l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
        l->v[l->n++] = bare;
        old = hash_put(seen, bare, mark);
        if (old && old != mark) {
            strbuf_printf(why, "%s is both approved and denied", bare);
            return CS_EINVAL;
        }
    }
    return 0;
}

/* Reads the approve and deny lists and answers each request; a list
 * that does not validate changes nothing. */
static void pending_apply(struct service *svc, const struct iq_ctx *q, struct session *s,
                          const struct xml_node *x)
{
    static char approve_mark, deny_mark;
    struct jidlist lists[2] = {{0}, {0}};
    struct hash seen = {0};
    unsigned done[2] = {0, 0}, gone = 0;
    struct strbuf text = {0};
    struct xml_node *c, *r;
    int rc = read_jids(form_field(x, "approve"), &lists[0], &seen, &approve_mark, &text);

    if (rc == 0)
        rc = read_jids(form_field(x, "deny"), &lists[1], &seen, &deny_mark, &text);
    hash_clear(&seen);
    for (int l = 0; l < 2 && rc == 0; l++) {
        for (size_t i = 0; i < lists[l].n && rc == 0; i++) {
            int a = home_answer_request(svc->home, s->channel, lists[l].v[i], l == 0, q->now_ms);
            if (a == 0)
                done[l]++;
            else if (a == CS_ENOTFOUND)
                gone++; /* answered meanwhile, or never pending */
            else
                rc = a;
        }
    }
    list_free(&lists[0]);
    list_free(&lists[1]);
    if (rc == CS_EINVAL) {
        bad_payload(svc, q, text.data); /* the session stays: submit again */
    } else if (rc != 0) {
        internal_error(svc, q);
        session_free(s);
    } else {
        r = answer(svc, q, s->cmd, s->id, "completed", &c);
        strbuf_printf(&text, "Approved %u, denied %u.", done[0], done[1]);
        if (gone)
            strbuf_printf(&text, " %u were not pending.", gone);
        note(c, "info", text.data);
        log_info("service: %s answered requests at channel %s: %u approved, %u denied",
                 q->requester, s->channel, done[0], done[1]);
        session_free(s);
        service_send(svc, r);
    }
    strbuf_free(&text);
}

static void policy_apply(struct service *svc, const struct iq_ctx *q, struct session *s,
                         const struct xml_node *x)
{
    char *p = form_value(x, "policy");
    struct xml_node *c, *r;
    struct strbuf text = {0};
    int rc;

    if (p == NULL) {
        bad_payload(svc, q, "the policy field is missing");
        return;
    }
    rc = home_set_policy(svc->home, s->channel, p, q->now_ms);
    if (rc == CS_EINVAL) {
        bad_payload(svc, q, "policy must be open, approve or closed");
        free(p);
        return;
    }
    if (rc == CS_ENOTFOUND)
        service_error(svc, q->iq, "cancel", "item-not-found", "no such channel");
    else if (rc != 0)
        internal_error(svc, q);
    if (rc != 0) {
        session_free(s);
        free(p);
        return;
    }
    r = answer(svc, q, s->cmd, s->id, "completed", &c);
    strbuf_printf(&text, "The policy of %s@%s is now %s.", s->channel, svc->domain, p);
    note(c, "info", text.data);
    log_info("service: %s set the policy of %s to %s", q->requester, s->channel, p);
    session_free(s);
    service_send(svc, r);
    strbuf_free(&text);
    free(p);
}

/* A form submitted to a session. */
static void next_step(struct service *svc, const struct iq_ctx *q, struct session *s)
{
    const struct xml_node *x = submitted(q->payload);
    if (x == NULL) {
        bad_payload(svc, q, "a submitted data form (jabber:x:data, type submit) is expected");
        return;
    }
    s->expires_ms = q->now_ms + ADHOC_SESSION_MS;
    if (s->stage == STAGE_CHANNEL) {
        char *text = form_value(x, "channel");
        char *name = text ? named_channel(svc, text) : NULL;
        if (name == NULL) {
            struct strbuf sb = {0};
            strbuf_printf(&sb, "No channel named '%s'.", text ? text : "");
            ask_channel(svc, q, s, sb.data);
            strbuf_free(&sb);
            free(text);
            return;
        }
        free(text);
        s->channel = name;
        first_step(svc, q, s->cmd, s->channel, s);
        return;
    }
    if (s->cmd->id == CMD_PENDING)
        pending_apply(svc, q, s, x);
    else
        policy_apply(svc, q, s, x);
}

void adhoc_command(struct service *svc, const struct iq_ctx *q)
{
    static const char *const known[] = {"execute", "next", "prev", "complete", "cancel"};
    const char *node = xml_attr(q->payload, "node");
    const char *action = xml_attr(q->payload, "action");
    const char *sid = xml_attr(q->payload, "sessionid");
    const struct command *cmd;
    struct session *s;
    bool valid = false;

    if (action == NULL)
        action = "execute"; /* XEP-0050 section 3: the default */
    for (size_t i = 0; i < CS_ARRAY_SIZE(known); i++)
        valid = valid || strcmp(action, known[i]) == 0;
    if (node == NULL || !valid) {
        service_error_app(svc, q->iq, "modify", "bad-request", node ? "malformed-action" : NULL,
                          NS_COMMANDS_ERR, node ? NULL : "a command needs a node");
        return;
    }
    cmd = command_by_node(node);
    if (cmd == NULL) {
        service_error(svc, q->iq, "cancel", "item-not-found", NULL);
        return;
    }
    if (!may_run(svc, q, cmd)) {
        log_info("service: %s may not run %s at %s", q->requester, node,
                 q->channel ? q->channel : svc->domain);
        /* XEP-0050 section 4.4 gives forbidden the type cancel. */
        service_error(svc, q->iq, "cancel", "forbidden", NULL);
        return;
    }
    svc->stats.commands++;
    if (sid == NULL) {
        if (strcmp(action, "execute") != 0) {
            service_error_app(svc, q->iq, "modify", "bad-request", "bad-sessionid", NS_COMMANDS_ERR,
                              "no session to continue");
            return;
        }
        if (cmd->channel && q->channel == NULL) {
            s = session_open(svc, q, cmd);
            if (s == NULL) {
                service_error(svc, q->iq, "wait", "resource-constraint",
                              "too many command sessions are open; try again later");
                return;
            }
            s->stage = STAGE_CHANNEL;
            ask_channel(svc, q, s, NULL);
            return;
        }
        first_step(svc, q, cmd, q->channel, NULL);
        return;
    }
    s = session_find(svc->adhoc, sid);
    if (s) {
        /* Bound to whoever opened it, where, for which command. */
        char *full = jid_full(q->from), *at = address_of(svc, q);
        if (strcmp(s->requester, full) != 0 || strcmp(s->at, at) != 0 || s->cmd != cmd)
            s = NULL;
        free(full);
        free(at);
    }
    if (s && s->expires_ms <= q->now_ms) {
        session_free(s);
        s = NULL;
    }
    if (s == NULL) {
        /* XEP-0050 section 4.4: a session that ended (completed,
         * canceled, timed out, or dropped for a newer one) has expired;
         * an id we never gave out, or another's, is a bad one. */
        if (issued(svc->adhoc, sid) && !session_find(svc->adhoc, sid))
            service_error_app(svc, q->iq, "cancel", "not-allowed", "session-expired",
                              NS_COMMANDS_ERR, NULL);
        else
            service_error_app(svc, q->iq, "modify", "bad-request", "bad-sessionid", NS_COMMANDS_ERR,
                              NULL);
        return;
    }
    if (strcmp(action, "cancel") == 0) {
        struct xml_node *c;
        struct xml_node *r = answer(svc, q, cmd, s->id, "canceled", &c);
        session_free(s);
        service_send(svc, r);
        return;
    }
    if (strcmp(action, "prev") == 0) {
        /* Never offered: every form has one way on. */
        service_error_app(svc, q->iq, "modify", "bad-request", "bad-action", NS_COMMANDS_ERR, NULL);
        return;
    }
    next_step(svc, q, s); /* execute, next or complete: the form's one way on */
}

/* ---- Discovery ---- */

void adhoc_items(struct service *svc, const struct iq_ctx *q)
{
    struct xml_node *r = stanza_iq_result(q->iq, svc->domain);
    struct xml_node *rq = xml_add_child(r, "query", NS_DISCO_ITEMS);
    char *at = address_of(svc, q);
    xml_set_attr(rq, "node", NS_COMMANDS);
    for (size_t i = 0; i < CS_ARRAY_SIZE(commands); i++) {
        struct xml_node *it;
        if (!may_run(svc, q, &commands[i]))
            continue;
        it = xml_add_child(rq, "item", NULL);
        xml_set_attr(it, "jid", at);
        xml_set_attr(it, "node", commands[i].node);
        xml_set_attr(it, "name", commands[i].name);
    }
    free(at);
    service_send(svc, r);
}

bool adhoc_node_info(struct service *svc, const struct iq_ctx *q, const char *node)
{
    const struct command *cmd = command_by_node(node);
    struct xml_node *r, *rq, *id;
    if (cmd == NULL || !may_run(svc, q, cmd))
        return false;
    /* XEP-0050 section 2.2: a command node's identity and features. */
    r = stanza_iq_result(q->iq, svc->domain);
    rq = xml_add_child(r, "query", NS_DISCO_INFO);
    xml_set_attr(rq, "node", node);
    id = xml_add_child(rq, "identity", NULL);
    xml_set_attr(id, "category", "automation");
    xml_set_attr(id, "type", "command-node");
    xml_set_attr(id, "name", cmd->name);
    xml_set_attr(xml_add_child(rq, "feature", NULL), "var", NS_COMMANDS);
    xml_set_attr(xml_add_child(rq, "feature", NULL), "var", NS_DATA);
    service_send(svc, r);
    return true;
}
