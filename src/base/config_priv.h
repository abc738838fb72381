/* config_priv.h - what config.c shares with configlist.c. */
#ifndef CS_CONFIG_PRIV_H
#define CS_CONFIG_PRIV_H

#include <stdbool.h>
#include <stddef.h>

#include "cs_config.h"

/* A DNS name as servers route to it (see configlist.c). */
bool config_domain_name_ok(const char *s);
/* Appends the items of v (separated by spaces, tabs or commas) to l,
 * each a bare JID with a localpart (jids) or a domain, normalised;
 * duplicates kept once.  0, or CS_EINVAL with the reason (naming key and
 * section) in why and nothing of v added. */
int config_list_add(struct config_list *l, bool jids, const char *key, const char *section,
                    const char *v, char *why, size_t whylen);

#endif
