/* adhocsteps.c - the XEP-0050 commands step by step: the entry point for
 * an iq <command/>, the form each step sends and what its answer applies
 * (watchers, pending, revoke, policy, stats), and their discovery.  Sessions,
 * permissions and form building are adhoc.c's. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_error.h"
#include "cs_hash.h"
#include "cs_home.h"
#include "cs_log.h"
#include "cs_stats.h"
#include "adhoc_priv.h"

static void internal_error(struct service *svc, const struct iq_ctx *q)
{
    service_error(svc, q->in, "wait", "internal-server-error", NULL);
}

static void bad_payload(struct service *svc, const struct iq_ctx *q, const char *text)
{
    service_error_app(svc, q->in, "modify", "bad-request", "bad-payload", NS_COMMANDS_ERR, text);
}

/* The form asking an admin at the domain which channel; note: an error
 * to show with it (the channel named before did not exist). */
static void ask_channel(struct service *svc, const struct iq_ctx *q, struct session *s,
                        const char *error_note)
{
    struct xml_node *c, *x, *f;
    struct xml_node *r = adhoc_answer(svc, q, s->cmd, s->id, "executing", &c);
    adhoc_actions(c, "next");
    if (error_note)
        adhoc_note(c, "error", error_note);
    x = adhoc_form(c, "form", s->cmd->name, "Name the channel (NAME or NAME@domain).");
    f = adhoc_field(x, "channel", "text-single", "Channel");
    xml_add_child(f, "required", NULL);
    service_send(svc, r);
}

static void watchers_result(struct service *svc, const struct iq_ctx *q, const char *channel,
                            const char *sid)
{
    const struct command *cmd = &adhoc_commands[CMD_WATCHERS];
    struct entries e;
    struct jidlist props;
    struct xml_node *c, *x, *r;
    char *jid = service_channel_jid(svc, channel);
    struct strbuf title = {0};

    if (adhoc_entries_of(svc, channel, &e) != 0) {
        internal_error(svc, q);
        adhoc_entries_free(&e);
        free(jid);
        return;
    }
    if (adhoc_propsubs_of(svc, channel, q->now_ms, &props) != 0) {
        internal_error(svc, q);
        adhoc_entries_free(&e);
        adhoc_list_free(&props);
        free(jid);
        return;
    }
    r = adhoc_answer(svc, q, cmd, sid, "completed", &c);
    strbuf_printf(&title, "Watchers of %s", jid);
    adhoc_cut_note(c, "Watchers", &e.watchers);
    adhoc_cut_note(c, "Pending requests", &e.pending);
    adhoc_cut_note(c, "Property subscriptions", &props);
    x = adhoc_form(c, "result", title.data, NULL);
    adhoc_list_field(x, "watchers", "Watchers", &e.watchers);
    adhoc_list_field(x, "pending", "Pending requests", &e.pending);
    /* XEP-0060 subscriptions to the channel's properties, with the
     * seconds left of their leases. */
    if (home_pep(svc->home)) {
        struct strbuf label = {0};
        struct xml_node *f;
        strbuf_printf(&label, "Property subscriptions (%zu): JID, node, seconds left", props.total);
        f = adhoc_field(x, "property-subscriptions", "text-multi", label.data);
        for (size_t i = 0; i < props.n; i++)
            adhoc_value(f, props.v[i]);
        strbuf_free(&label);
    }
    adhoc_list_free(&props);
    service_send(svc, r);
    strbuf_free(&title);
    adhoc_entries_free(&e);
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
    adhoc_value(adhoc_field(sf->x, name, "text-single", name), num);
}

static void stats_result(struct service *svc, const struct iq_ctx *q, const char *sid)
{
    struct xml_node *c;
    struct xml_node *r = adhoc_answer(svc, q, &adhoc_commands[CMD_STATS], sid, "completed", &c);
    struct stats_form sf;
    struct strbuf title = {0};
    strbuf_printf(&title, "Counters of %s", service_shown_domain(svc));
    sf.x = adhoc_form(c, "result", title.data, NULL);
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

    if (adhoc_entries_of(svc, s->channel, &e) != 0) {
        internal_error(svc, q);
        adhoc_entries_free(&e);
        adhoc_session_free(s);
        return;
    }
    jid = service_channel_jid(svc, s->channel);
    if (e.pending.total == 0) {
        r = adhoc_answer(svc, q, s->cmd, s->id, "completed", &c);
        strbuf_printf(&title, "No requests are pending at %s.", jid);
        adhoc_note(c, "info", title.data);
        adhoc_session_free(s);
    } else {
        r = adhoc_answer(svc, q, s->cmd, s->id, "executing", &c);
        adhoc_actions(c, "complete");
        if (e.pending.total > e.pending.n) {
            strbuf_printf(&title, "The first %zu of %zu requests are shown.", e.pending.n,
                          e.pending.total);
            adhoc_note(c, "info", title.data);
            title.len = 0;
        }
        strbuf_printf(&title, "Pending requests of %s", jid);
        x = adhoc_form(
            c, "form", title.data,
            "Select the requests to approve and those to deny; the others stay pending.");
        fa = adhoc_field(x, "approve", "list-multi", "Approve");
        fd = adhoc_field(x, "deny", "list-multi", "Deny");
        for (size_t i = 0; i < e.pending.n; i++) {
            adhoc_option(fa, e.pending.v[i]);
            adhoc_option(fd, e.pending.v[i]);
        }
        s->stage = STAGE_FORM;
    }
    service_send(svc, r);
    strbuf_free(&title);
    adhoc_entries_free(&e);
    free(jid);
}

/* Watchers the owner may revoke: people, not the owner, not a node
 * (a domain watching for all its users). */
static bool revocable(const char *jid, const char *owner)
{
    return strchr(jid, '@') != NULL && (owner == NULL || strcmp(jid, owner) != 0);
}

/* The revoke form, or completed at once when nobody could be revoked. */
static void revoke_form(struct service *svc, const struct iq_ctx *q, struct session *s)
{
    const char *owner, *policy, *display;
    struct entries e = {0};
    struct xml_node *c, *x, *f = NULL, *r;
    struct strbuf title = {0};
    char *jid;
    size_t n = 0;

    if (home_channel_info(svc->home, s->channel, &owner, &policy, &display) != 0 ||
        adhoc_entries_of(svc, s->channel, &e) != 0) {
        internal_error(svc, q);
        adhoc_entries_free(&e);
        adhoc_session_free(s);
        return;
    }
    jid = service_channel_jid(svc, s->channel);
    r = adhoc_answer(svc, q, s->cmd, s->id, "executing", &c);
    adhoc_cut_note(c, "Watchers", &e.watchers);
    strbuf_printf(&title, "Watchers of %s", jid);
    x = adhoc_form(c, "form", title.data,
                   "Select the watchers to revoke: each is told, sees the channel unavailable, "
                   "and a later request is put to the owner again.");
    for (size_t i = 0; i < e.watchers.n; i++) {
        if (!revocable(e.watchers.v[i], owner))
            continue;
        if (f == NULL)
            f = adhoc_field(x, "revoke", "list-multi", "Revoke");
        adhoc_option(f, e.watchers.v[i]);
        n++;
    }
    if (n == 0) {
        xml_free(r);
        r = adhoc_answer(svc, q, s->cmd, s->id, "completed", &c);
        title.len = 0;
        strbuf_printf(&title, "Nobody watches %s who could be revoked.", jid);
        adhoc_note(c, "info", title.data);
        adhoc_session_free(s);
    } else {
        adhoc_actions(c, "complete");
        s->stage = STAGE_FORM;
    }
    service_send(svc, r);
    strbuf_free(&title);
    adhoc_entries_free(&e);
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
        service_error(svc, q->in, "cancel", "item-not-found", "no such channel");
        adhoc_session_free(s);
        return;
    }
    jid = service_channel_jid(svc, s->channel);
    r = adhoc_answer(svc, q, s->cmd, s->id, "executing", &c);
    adhoc_actions(c, "complete");
    strbuf_printf(&title, "Policy of %s", jid);
    x = adhoc_form(c, "form", title.data,
                   "open: anyone may watch; approve: the owner decides each request; closed: only "
                   "those an admin added.  Applies to requests from now on.");
    f = adhoc_field(x, "policy", "list-single", "Policy");
    adhoc_value(f, policy);
    for (size_t i = 0; i < CS_ARRAY_SIZE(policies); i++)
        adhoc_option(f, policies[i]);
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
            adhoc_new_id(svc->adhoc, sid, sizeof(sid));
        if (cmd->id == CMD_WATCHERS)
            watchers_result(svc, q, channel, sid);
        else
            stats_result(svc, q, sid);
        if (s)
            adhoc_session_free(s); /* channel may point into it: freed last */
        return;
    }
    if (s == NULL) {
        s = adhoc_session_open(svc, q, cmd);
        if (s == NULL) {
            service_error(svc, q->in, "wait", "resource-constraint",
                          "too many command sessions are open; try again later");
            return;
        }
        s->channel = xstrdup(channel);
    }
    if (cmd->id == CMD_PENDING)
        pending_form(svc, q, s);
    else if (cmd->id == CMD_REVOKE)
        revoke_form(svc, q, s);
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
    if (j.local && j.resource == NULL &&
        (strcmp(j.domain, svc->domain) == 0 || strcmp(j.domain, service_shown_domain(svc)) == 0) &&
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

/* The end of a form's apply step: rc CS_EINVAL answers bad-payload with
 * text (the session stays: submit again), another error
 * internal-server-error; 0 completes the command with text as its note. */
static void finish_apply(struct service *svc, const struct iq_ctx *q, struct session *s, int rc,
                         const char *text)
{
    struct xml_node *c, *r;
    if (rc == CS_EINVAL) {
        bad_payload(svc, q, text);
    } else if (rc != 0) {
        internal_error(svc, q);
        adhoc_session_free(s);
    } else {
        r = adhoc_answer(svc, q, s->cmd, s->id, "completed", &c);
        adhoc_note(c, "info", text);
        adhoc_session_free(s);
        service_send(svc, r);
    }
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
    int rc = read_jids(adhoc_form_field(x, "approve"), &lists[0], &seen, &approve_mark, &text);

    if (rc == 0)
        rc = read_jids(adhoc_form_field(x, "deny"), &lists[1], &seen, &deny_mark, &text);
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
    adhoc_list_free(&lists[0]);
    adhoc_list_free(&lists[1]);
    if (rc == 0) {
        strbuf_printf(&text, "Approved %u, denied %u.", done[0], done[1]);
        if (gone)
            strbuf_printf(&text, " %u were not pending.", gone);
        log_info("service: %s answered requests at channel %s: %u approved, %u denied",
                 q->requester, s->channel, done[0], done[1]);
    }
    finish_apply(svc, q, s, rc, text.data);
    strbuf_free(&text);
}

/* Revokes the watchers listed; a list that does not validate changes
 * nothing. */
static void revoke_apply(struct service *svc, const struct iq_ctx *q, struct session *s,
                         const struct xml_node *x)
{
    static char revoke_mark;
    const char *owner, *policy, *display;
    struct jidlist list = {0};
    struct hash seen = {0};
    unsigned done = 0, gone = 0;
    struct strbuf text = {0};
    int rc = home_channel_info(svc->home, s->channel, &owner, &policy, &display) != 0
                 ? CS_EDB
                 : read_jids(adhoc_form_field(x, "revoke"), &list, &seen, &revoke_mark, &text);

    hash_clear(&seen);
    for (size_t i = 0; i < list.n && rc == 0; i++) {
        int a = revocable(list.v[i], owner) ? home_revoke(svc->home, s->channel, list.v[i])
                                            : CS_ENOTFOUND;
        if (a == 0)
            done++;
        else if (a == CS_ENOTFOUND)
            gone++; /* gone meanwhile, never a watcher, the owner or a node */
        else
            rc = a;
    }
    adhoc_list_free(&list);
    if (rc == 0) {
        strbuf_printf(&text, "Revoked %u.", done);
        if (gone)
            strbuf_printf(&text, " %u were not watchers that could be revoked.", gone);
        log_info("service: %s revoked %u watchers of channel %s", q->requester, done, s->channel);
    }
    finish_apply(svc, q, s, rc, text.data);
    strbuf_free(&text);
}

static void policy_apply(struct service *svc, const struct iq_ctx *q, struct session *s,
                         const struct xml_node *x)
{
    char *p = adhoc_form_value(x, "policy");
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
        service_error(svc, q->in, "cancel", "item-not-found", "no such channel");
    else if (rc != 0)
        internal_error(svc, q);
    if (rc != 0) {
        adhoc_session_free(s);
        free(p);
        return;
    }
    r = adhoc_answer(svc, q, s->cmd, s->id, "completed", &c);
    strbuf_printf(&text, "The policy of %s@%s is now %s.", s->channel, service_shown_domain(svc),
                  p);
    adhoc_note(c, "info", text.data);
    log_info("service: %s set the policy of %s to %s", q->requester, s->channel, p);
    adhoc_session_free(s);
    service_send(svc, r);
    strbuf_free(&text);
    free(p);
}

/* A form submitted to a session. */
static void next_step(struct service *svc, const struct iq_ctx *q, struct session *s)
{
    const struct xml_node *x = adhoc_submitted(q->payload);
    if (x == NULL) {
        bad_payload(svc, q, "a submitted data form (jabber:x:data, type submit) is expected");
        return;
    }
    s->expires_ms = q->now_ms + ADHOC_SESSION_MS;
    if (s->stage == STAGE_CHANNEL) {
        char *text = adhoc_form_value(x, "channel");
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
    else if (s->cmd->id == CMD_REVOKE)
        revoke_apply(svc, q, s, x);
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
        service_error_app(svc, q->in, "modify", "bad-request", node ? "malformed-action" : NULL,
                          NS_COMMANDS_ERR, node ? NULL : "a command needs a node");
        return;
    }
    cmd = adhoc_command_by_node(node);
    if (cmd == NULL) {
        service_error(svc, q->in, "cancel", "item-not-found", NULL);
        return;
    }
    if (!adhoc_may_run(svc, q, cmd)) {
        log_info("service: %s may not run %s at %s", q->requester, node,
                 q->channel ? q->channel : svc->domain);
        /* XEP-0050 section 4.4 gives forbidden the type cancel. */
        service_error(svc, q->in, "cancel", "forbidden", NULL);
        return;
    }
    svc->stats.commands++;
    if (sid == NULL) {
        if (strcmp(action, "execute") != 0) {
            service_error_app(svc, q->in, "modify", "bad-request", "bad-sessionid", NS_COMMANDS_ERR,
                              "no session to continue");
            return;
        }
        if (cmd->channel && q->channel == NULL) {
            s = adhoc_session_open(svc, q, cmd);
            if (s == NULL) {
                service_error(svc, q->in, "wait", "resource-constraint",
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
    s = adhoc_session_find(svc->adhoc, sid);
    if (s) {
        /* Bound to whoever opened it, where, for which command. */
        char *full = jid_full(q->from), *at = adhoc_address_of(svc, q);
        if (strcmp(s->requester, full) != 0 || strcmp(s->at, at) != 0 || s->cmd != cmd)
            s = NULL;
        free(full);
        free(at);
    }
    if (s && s->expires_ms <= q->now_ms) {
        adhoc_session_free(s);
        s = NULL;
    }
    if (s == NULL) {
        /* XEP-0050 section 4.4: a session that ended (completed,
         * canceled, timed out, or dropped for a newer one) has expired;
         * an id we never gave out, or another's, is a bad one. */
        if (adhoc_issued(svc->adhoc, sid) && !adhoc_session_find(svc->adhoc, sid))
            service_error_app(svc, q->in, "cancel", "not-allowed", "session-expired",
                              NS_COMMANDS_ERR, NULL);
        else
            service_error_app(svc, q->in, "modify", "bad-request", "bad-sessionid", NS_COMMANDS_ERR,
                              NULL);
        return;
    }
    if (strcmp(action, "cancel") == 0) {
        struct xml_node *c;
        struct xml_node *r = adhoc_answer(svc, q, cmd, s->id, "canceled", &c);
        adhoc_session_free(s);
        service_send(svc, r);
        return;
    }
    if (strcmp(action, "prev") == 0) {
        /* Never offered: every form has one way on. */
        service_error_app(svc, q->in, "modify", "bad-request", "bad-action", NS_COMMANDS_ERR, NULL);
        return;
    }
    next_step(svc, q, s); /* execute, next or complete: the form's one way on */
}

/* ---- Discovery ---- */

void adhoc_items(struct service *svc, const struct iq_ctx *q)
{
    struct xml_node *r = stanza_iq_result(q->in, svc->domain);
    struct xml_node *rq = xml_add_child(r, "query", NS_DISCO_ITEMS);
    char *at = adhoc_address_of(svc, q);
    xml_set_attr(rq, "node", NS_COMMANDS);
    for (size_t i = 0; i < CS_ARRAY_SIZE(adhoc_commands); i++) {
        struct xml_node *it;
        if (!adhoc_may_run(svc, q, &adhoc_commands[i]))
            continue;
        it = xml_add_child(rq, "item", NULL);
        xml_set_attr(it, "jid", at);
        xml_set_attr(it, "node", adhoc_commands[i].node);
        xml_set_attr(it, "name", adhoc_commands[i].name);
    }
    free(at);
    service_send(svc, r);
}

bool adhoc_node_info(struct service *svc, const struct iq_ctx *q, const char *node)
{
    const struct command *cmd = adhoc_command_by_node(node);
    struct xml_node *r, *rq, *id;
    if (cmd == NULL || !adhoc_may_run(svc, q, cmd))
        return false;
    /* XEP-0050 section 2.2: a command node's identity and features. */
    r = stanza_iq_result(q->in, svc->domain);
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
