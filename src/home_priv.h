/* home_priv.h - what the files of the home share (not a public API).
 * See cs_home.h for the split. */
#ifndef CS_HOME_PRIV_H
#define CS_HOME_PRIV_H

#include "cs_channel.h"
#include "cs_fed.h"
#include "cs_jid.h"
#include "cs_home.h"
#include "cs_out.h"
#include "cs_rate.h"
#include "cs_roster.h"
#include "cs_util.h"

struct home {
    const char *domain;
    struct roster *roster;
    struct home_limits limits;
    const struct out *out;
    struct chancache cache;
    struct rate_limiter rate;
    struct home_stats stats;
    int64_t now_ms;        /* the time of the current entry point (passed in) */
    unsigned online_epoch; /* counts link (re)connects */
    struct strbuf scratch; /* one fan-out stanza */
    home_deliverable_cb *deliverable;
    void *deliverable_ud;

    /* fanout.c: channels whose watchers are owed their current status. */
    struct channel *fan_head, *fan_tail;
    /* fanout.c: the resync cursor: loaded channels by index, then the
     * channels the database says were shown available. */
    bool resync_active;
    size_t resync_index;
    char *resync_after; /* name cursor of the database phase, NULL = loaded phase */
    /* bind.c: the owner binding cursor after a (re)connect. */
    bool bind_active;
    char *bind_after;
    /* bind.c: channels whose binding is retried after an error. */
    struct channel *retry_head;
    /* fed.c: the status service's remote channels, and what domains said
     * to "are you a chanstat node?". */
    struct fed_limits fed;
    struct channel *fed_head;
    struct hash fed_disco; /* domain -> struct disco * */
    unsigned fed_seq;
    int64_t fed_next_check; /* ms */
    home_remote_known_cb *remote_known;
    void *remote_known_ud;
    /* XEP-0356: grants, and the roster sync told of unsubscriptions. */
    const struct privileges *priv;
    home_unsubscribed_cb *unsubscribed;
    void *unsubscribed_ud;
    int64_t bind_at; /* ms: owner binding starts (0: not waiting) */
};

/* tell.c */
void home_send_presence(struct home *h, const char *from, const char *to, const char *type,
                        const char *status_text);
void home_send_status_to(struct home *h, struct channel *c, const char *to);
void home_reply_error(struct home *h, const struct xml_node *st, const char *type,
                      const char *cond);
/* Presence from c to contact, redirected for vouched contacts. */
void home_tell(struct home *h, struct channel *c, const char *contact, const char *type);
void home_tell_status(struct home *h, struct channel *c, const char *contact);
/* Applies ev to (channel, contact): stores the row, keeps the watchers in
 * step.  c may be NULL for a channel not loaded.  Returns the actions, or
 * -1 when storing failed. */
int home_change(struct home *h, const char *channel, struct channel *c, const char *contact,
                struct sub_row *row, enum sub_event ev);

/* Are owner's presences given to us by their server's grant (no
 * binding needed)? */
bool home_owner_privileged(const struct home *h, const char *owner);

/* home.c */
/* The channel approves (subscribed) or refuses (unsubscribed) contact. */
void home_decide(struct home *h, struct channel *c, const char *contact, struct sub_row *row,
                 bool approve);
/* The owner's resources are gone (revoked, link lost, unbound). */
void home_owner_lost(struct home *h, struct channel *c, int64_t now_ms);

/* fanout.c: c's status changed (or its watchers must be told again). */
void fanout_queue(struct home *h, struct channel *c);
bool fanout_pump(struct home *h);
void fanout_stop(struct home *h);
/* c is being freed or the cache forgotten: take it off the queue. */
void fanout_forget_all(struct home *h);
void fanout_unqueue(struct home *h, struct channel *c);

/* fed.c: the status service */
/* Presence from a local user to escape(remote)@DOMAIN.  false: not ours
 * (not a local user, or no remote channel for an answer). */
bool fed_presence(struct home *h, const struct xml_node *p, const struct jid *from,
                  const struct jid *to, const struct jid *remote);
/* Presence from a remote channel to our bare domain.  false: not one we
 * watch. */
bool fed_from_home(struct home *h, const struct xml_node *p, const struct jid *from);
/* A presence error from a watched remote channel to escape(user)@DOMAIN:
 * the home refused a request made for that user.  false: not ours. */
bool fed_vouch_error(struct home *h, const struct jid *from, const struct jid *to);
/* Is from a remote channel this node watches? */
bool fed_watching(struct home *h, const struct jid *from);
/* Presence from a remote channel to escape(user)@DOMAIN with <vouch/>:
 * the home's decision on a user we vouched for.  false: not ours. */
bool fed_vouched_answer(struct home *h, const struct xml_node *p, const struct jid *from,
                        const struct jid *user);
/* An iq result or error for a request of ours (discovery).  false: not
 * ours. */
bool fed_iq_answer(struct home *h, const struct xml_node *iq, const struct jid *from);
void fed_tick(struct home *h, int64_t now_ms);
void fed_online(struct home *h, int64_t now_ms);
void fed_offline(struct home *h, int64_t now_ms);
int fed_load(struct home *h);
/* Frees a remote channel's state (the cache's free_remote hook). */
void remote_free(struct remote *r);
void fed_forget_all(struct home *h);
void fed_free_disco(struct home *h);
/* homefed.c: the home's side */
bool homefed_presence(struct home *h, struct channel *c, const struct xml_node *p,
                      const struct jid *from, const char *contact);
void homefed_tick(struct home *h, int64_t now_ms);
/* Gives node c's status, or stops doing so, as it may have it now (its
 * lease row, and for approve/closed channels an approved user). */
void homefed_refresh_node(struct home *h, struct channel *c, const char *node);
/* Presence to c from escape(user)@node with <vouch/>: the user's bare JID
 * (caller frees) when node may speak for the user's domain, recorded as
 * the user's node; NULL when refused (answered and logged) or malformed. */
char *homefed_vouched(struct home *h, struct channel *c, const struct xml_node *p,
                      const struct jid *from);

/* bind.c */
void bind_start(struct home *h);
bool bind_pump(struct home *h, int64_t now_ms);
void bind_stop(struct home *h);
/* Binds one channel's owner now: probe when approved, else subscribe. */
void bind_channel(struct home *h, const char *name, const char *owner, struct channel *c);
void bind_retry_later(struct home *h, struct channel *c, int64_t now_ms);
void bind_tick(struct home *h, int64_t now_ms);
void bind_forget_all(struct home *h);
void bind_unqueue(struct home *h, struct channel *c);

#endif
