/* cs_federation.h - the federation floor of the home: the status
 * service for remote channels (fed.c: one upstream subscription per
 * remote channel, fanned out locally) and the home's side of node
 * subscriptions with leases (homefed.c).  Above the channel core
 * (cs_homestate.h), below the home's entry points (cs_home.h) and
 * routing, which call in here. */
#ifndef CS_FEDERATION_H
#define CS_FEDERATION_H

#include <stdbool.h>
#include <stdint.h>

#include "cs_fed.h"
#include "cs_homestate.h"
#include "cs_iqwait.h"
#include "cs_jid.h"
#include "cs_xml.h"

/* ---- fed.c: the status service ---- */
/* Presence from a local user to escape(remote)@DOMAIN.  false: not ours
 * (not a local user, or no remote channel for an answer). */
bool fed_presence(struct home *h, const struct xml_node *p, const struct jid *from,
                  const struct jid *to, const struct jid *remote, int64_t now_ms);
/* Presence from a remote channel to our bare domain.  false: not one we
 * watch. */
bool fed_from_home(struct home *h, const struct xml_node *p, const struct jid *from,
                   int64_t now_ms);
/* A presence error in from a watched remote channel to
 * escape(user)@DOMAIN: the home refused a request made for that user.
 * false: not ours. */
bool fed_vouch_error(struct home *h, const struct stanza_in *in);
/* Is from a remote channel this node watches? */
bool fed_watching(struct home *h, const struct jid *from);
/* Presence from a remote channel to escape(user)@DOMAIN with <vouch/>:
 * the home's decision on a user we vouched for.  false: not ours. */
bool fed_vouched_answer(struct home *h, const struct xml_node *p, const struct jid *from,
                        const struct jid *user, int64_t now_ms);
/* Where the disco#info requests to remote domains wait for their answers
 * (borrowed: the node's registry, set once at wiring time; it must
 * outlive the home).  Without one, remote domains are not asked. */
void fed_use_iqwait(struct home *h, struct iqwait *w);
/* The remote channel whose address (decoded from a relay address) is
 * remote, if this node holds it; NULL otherwise. */
struct channel *fed_remote_at(struct home *h, const struct jid *remote);
/* A message to the domain with a XEP-0060 event: from a remote channel's
 * home, its items are kept and fanned out locally (cs_pep.h); from
 * anybody else it is dropped.  false when it is no event (routing
 * handles it). */
bool fed_remote_event(struct home *h, const struct stanza_in *in);
void fed_tick(struct home *h, int64_t now_ms);
void fed_online(struct home *h, int64_t now_ms);
void fed_offline(struct home *h, int64_t now_ms);
int fed_load(struct home *h);
/* Frees a remote channel's state (the cache's free_remote hook). */
void remote_free(struct remote *r);
void fed_forget_all(struct home *h);
void fed_free_disco(struct home *h);
/* ---- homefed.c: the home's side ---- */
bool homefed_presence(struct home *h, struct channel *c, const struct xml_node *p,
                      const struct jid *from, const char *contact, int64_t now_ms);
/* Forgets the leases held in memory (home_reload, home_free): read from
 * node_lease again at the next tick. */
void homefed_forget_leases(struct home *h);
void homefed_tick(struct home *h, int64_t now_ms);
/* Gives node c's status, or stops doing so, as it may have it now (its
 * lease row, and for approve/closed channels an approved user). */
void homefed_refresh_node(struct home *h, struct channel *c, const char *node);
/* Presence in to c from escape(user)@node with <vouch/>: the user's bare JID
 * (caller frees) when node may speak for the user's domain, recorded as
 * the user's node; NULL when refused (answered and logged) or malformed. */
char *homefed_vouched(struct home *h, struct channel *c, const struct stanza_in *in);

/* Is jid a channel on another chanstat node (one we watch, or on a
 * domain that answered as a chanstat node)? */
bool fed_knows_remote(struct home *home, const char *jid);
/* Is jid a channel homed on another chanstat node?  1 yes, 0 no, or
 * CS_EAGAIN while its domain is being asked (the answer comes through
 * the callback below, within [federation] request_timeout). */
int fed_remote_channel(struct home *home, const char *jid, int64_t now_ms);
void fed_on_remote_known(struct home *home, home_remote_known_cb *cb, void *ud);

/* ---- fedcluster.c: the status service at a cluster's front ---- */
/* Makes this node the front of homes (borrowed): place(ud, channel)
 * names the home a channel lives on now (NULL: unknown for now).  Loads
 * the front's watchers held under public addresses.  0 or CS_EDB. */
int fed_use_cluster(struct home *h, const struct config_list *homes,
                    const char *(*place)(void *ud, const char *channel), void *ud);
/* Channel name now lives on home: a subscription held at another home
 * is cancelled there and taken at home; watchers keep their status
 * until the new home gives one. */
void fed_rehome(struct home *h, const char *name, const char *home, int64_t now_ms);
/* A home stopped answering: its channels' watchers see unavailable. */
void fed_home_down(struct home *h, const char *home, int64_t now_ms);
/* It answers again: its channels are subscribed at once. */
void fed_home_up(struct home *h, const char *home, int64_t now_ms);

#endif
