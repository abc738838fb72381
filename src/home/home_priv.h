/* home_priv.h - what home.c shares with homeadmin.c on the home's floor
 * (not a public API: the rest of the program sees cs_home.h). */
#ifndef CS_HOME_PRIV_H
#define CS_HOME_PRIV_H

#include "cs_federation.h"
#include "cs_home.h"
#include "cs_homestate.h"

/* The channel approves (subscribed) or refuses (unsubscribed) contact. */
void home_decide(struct home *h, struct channel *c, const char *contact, struct sub_row *row,
                 bool approve);
/* The owner's resources are gone (revoked, link lost, unbound). */
void home_owner_lost(struct home *h, struct channel *c, int64_t now_ms);

#endif
