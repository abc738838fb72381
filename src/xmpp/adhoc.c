/* adhoc.c - XEP-0050 ad-hoc commands (the steps are in adhocsteps.c): channel owners manage their
 * channel at its address, admins ([admin] jids) any channel and the
 * counters at the component domain.
 *
 *   node                        at a channel       at the domain (admins)
 *   urn:chanstat:cmd:watchers   1 step: the lists  channel form, the lists
 *   urn:chanstat:cmd:pending    form, apply        channel form, form, apply
 *   urn:chanstat:cmd:revoke     form, apply        channel form, form, apply
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
#include "cs_pep.h"
#include "cs_log.h"
#include "cs_stats.h"
#include "adhoc_priv.h"

/* clang-format off */
const struct command adhoc_commands[] = {
    {CMD_WATCHERS, "urn:chanstat:cmd:watchers", "List watchers and pending requests", true, false},
    {CMD_PENDING,  "urn:chanstat:cmd:pending",  "Approve or deny pending requests",   true, false},
    {CMD_REVOKE,   "urn:chanstat:cmd:revoke",   "Revoke watchers",                    true, false},
    {CMD_POLICY,   "urn:chanstat:cmd:policy",   "Set the subscription policy",        true, false},
    {CMD_STATS,    "urn:chanstat:cmd:stats",    "Show the counters",                  false, true},
};
/* clang-format on */

struct adhoc *adhoc_new(void)
{
    return xcalloc(1, sizeof(struct adhoc));
}

void adhoc_session_free(struct session *s)
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
            adhoc_session_free(&a->s[i]);
    }
    free(a);
    *ap = NULL;
}

/* A session id: unique in this process, not guessable enough to matter
 * (a session answers only its own full JID). */
void adhoc_new_id(struct adhoc *a, char *id, size_t len)
{
    snprintf(id, len, "%08x-%lu", (unsigned)cs_random_below(0xffffffffu), ++a->serial);
}

/* The address the iq was sent to, normalised (caller frees). */
char *adhoc_address_of(const struct service *svc, const struct iq_ctx *q)
{
    return q->channel ? service_channel_jid(svc, q->channel) : xstrdup(svc->domain);
}

/* A new session for q's sender, or NULL when the table is full of live
 * sessions.  O(ADHOC_MAX_SESSIONS). */
struct session *adhoc_session_open(struct service *svc, const struct iq_ctx *q,
                                   const struct command *cmd)
{
    struct adhoc *a = svc->adhoc;
    struct session *free_slot = NULL, *oldest_mine = NULL;
    unsigned mine = 0;

    for (size_t i = 0; i < ADHOC_MAX_SESSIONS; i++) {
        struct session *s = &a->s[i];
        if (s->used && s->expires_ms <= q->now_ms)
            adhoc_session_free(s); /* expired: reclaimed here */
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
        adhoc_session_free(oldest_mine);
        free_slot = oldest_mine;
    }
    if (free_slot == NULL)
        return NULL;
    free_slot->used = true;
    adhoc_new_id(a, free_slot->id, sizeof(free_slot->id));
    free_slot->requester = jid_full(q->from);
    free_slot->bare = xstrdup(q->requester);
    free_slot->at = adhoc_address_of(svc, q);
    free_slot->cmd = cmd;
    free_slot->opened_ms = q->now_ms;
    free_slot->expires_ms = q->now_ms + ADHOC_SESSION_MS;
    return free_slot;
}

/* Was id given out by adhoc_new_id()?  Its serial tells, without keeping
 * ended sessions. */
bool adhoc_issued(const struct adhoc *a, const char *id)
{
    int64_t serial;
    /* adhoc_new_id(): eight hex digits, '-', the serial. */
    if (strlen(id) < 10 || strspn(id, "0123456789abcdef") != 8 || id[8] != '-')
        return false;
    return cs_parse_int(id + 9, 1, INT64_MAX, &serial) == 0 && (uint64_t)serial <= a->serial;
}

struct session *adhoc_session_find(struct adhoc *a, const char *id)
{
    for (size_t i = 0; i < ADHOC_MAX_SESSIONS; i++) {
        if (a->s[i].used && strcmp(a->s[i].id, id) == 0)
            return &a->s[i];
    }
    return NULL;
}

/* ---- Who may run what ---- */

const struct command *adhoc_command_by_node(const char *node)
{
    for (size_t i = 0; i < CS_ARRAY_SIZE(adhoc_commands); i++) {
        if (strcmp(adhoc_commands[i].node, node) == 0)
            return &adhoc_commands[i];
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
bool adhoc_may_run(struct service *svc, const struct iq_ctx *q, const struct command *cmd)
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
struct xml_node *adhoc_answer(const struct service *svc, const struct iq_ctx *q,
                              const struct command *cmd, const char *sid, const char *status,
                              struct xml_node **cmd_r)
{
    struct xml_node *r = stanza_iq_result(q->in, svc->domain);
    struct xml_node *c = xml_add_child(r, "command", NS_COMMANDS);
    xml_set_attr(c, "node", cmd->node);
    xml_set_attr(c, "sessionid", sid);
    xml_set_attr(c, "status", status);
    *cmd_r = c;
    return r;
}

void adhoc_note(struct xml_node *command, const char *type, const char *text)
{
    struct xml_node *n = xml_add_child(command, "note", NULL);
    xml_set_attr(n, "type", type);
    xml_add_text(n, text);
}

/* <actions execute=ACTION><ACTION/></actions>: the one way on. */
void adhoc_actions(struct xml_node *command, const char *action)
{
    struct xml_node *a = xml_add_child(command, "actions", NULL);
    xml_set_attr(a, "execute", action);
    xml_add_child(a, action, NULL);
}

struct xml_node *adhoc_form(struct xml_node *parent, const char *type, const char *title,
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

struct xml_node *adhoc_field(struct xml_node *x, const char *var, const char *type,
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

void adhoc_value(struct xml_node *f, const char *v)
{
    xml_add_text(xml_add_child(f, "value", NULL), v);
}

void adhoc_option(struct xml_node *f, const char *v)
{
    struct xml_node *o = xml_add_child(f, "option", NULL);
    xml_set_attr(o, "label", v);
    adhoc_value(o, v);
}

/* ---- Reading submitted forms ---- */

/* The <x type='submit'/> in the command, or NULL. */
const struct xml_node *adhoc_submitted(const struct xml_node *command)
{
    const struct xml_node *x = xml_child(command, "x", NS_DATA);
    const char *type = x ? xml_attr(x, "type") : NULL;
    return type && strcmp(type, "submit") == 0 ? x : NULL;
}

const struct xml_node *adhoc_form_field(const struct xml_node *x, const char *var)
{
    for (const struct xml_node *f = xml_first_elem(x); f; f = xml_next_elem(f)) {
        const char *v = xml_attr(f, "var");
        if (strcmp(f->name, "field") == 0 && v && strcmp(v, var) == 0)
            return f;
    }
    return NULL;
}

/* The first value of field var (caller frees), or NULL. */
char *adhoc_form_value(const struct xml_node *x, const char *var)
{
    const struct xml_node *f = adhoc_form_field(x, var);
    const struct xml_node *v = f ? xml_child(f, "value", NULL) : NULL;
    return v ? xml_text_dup(v) : NULL;
}

/* ---- Channel lists ---- */

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

void adhoc_list_free(struct jidlist *l)
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
int adhoc_entries_of(struct service *svc, const char *channel, struct entries *e)
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

struct propsubs {
    struct jidlist *l;
    int64_t now;
};

static void on_propsub(void *ud, const char *node, const char *jid, int64_t expires)
{
    struct propsubs *ps = ud;
    struct strbuf sb = {0};
    if (!channel_jid_ok(jid))
        return; /* a row edited by hand into nonsense */
    strbuf_printf(&sb, "%s %s %lld s", jid, node, (long long)(expires - ps->now));
    list_add(ps->l, sb.data);
    strbuf_free(&sb);
}

int adhoc_propsubs_of(struct service *svc, const char *channel, int64_t now_ms, struct jidlist *l)
{
    struct pep *pep = svc->home ? home_pep(svc->home) : NULL;
    struct propsubs ps = {l, pep ? pep_wall_s(pep, now_ms) : 0};
    memset(l, 0, sizeof(*l));
    return pep ? pep_each_subscription(pep, channel, now_ms, on_propsub, &ps) : 0;
}

void adhoc_entries_free(struct entries *e)
{
    adhoc_list_free(&e->watchers);
    adhoc_list_free(&e->pending);
}

/* A note saying l was cut, if it was.  XEP-0050's schema puts notes
 * before the payload. */
void adhoc_cut_note(struct xml_node *command, const char *what, const struct jidlist *l)
{
    struct strbuf sb = {0};
    if (l->total == l->n)
        return;
    strbuf_printf(&sb, "%s: the first %zu of %zu are shown; chanstatctl lists all", what, l->n,
                  l->total);
    adhoc_note(command, "info", sb.data);
    strbuf_free(&sb);
}

/* A jid-multi field of l. */
void adhoc_list_field(struct xml_node *x, const char *var, const char *what,
                      const struct jidlist *l)
{
    struct strbuf sb = {0};
    struct xml_node *f;
    strbuf_printf(&sb, "%s (%zu)", what, l->total);
    f = adhoc_field(x, var, "jid-multi", sb.data);
    for (size_t i = 0; i < l->n; i++)
        adhoc_value(f, l->v[i]);
    strbuf_free(&sb);
}

/* ---- The steps ---- */
