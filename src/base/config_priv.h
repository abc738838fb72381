/* config_priv.h - what config.c shares with configlist.c and
 * configreload.c: the directive table's rows and list helpers. */
#ifndef CS_CONFIG_PRIV_H
#define CS_CONFIG_PRIV_H

#include <stdbool.h>
#include <stddef.h>

#include "cs_config.h"

/* DT_PATH is a string that may be empty, stored NULL when it is.
 *
 * DT_JIDS and DT_DOMAINS are lists (struct config_list): items separated
 * by spaces or commas; the key may be repeated to continue a list that
 * does not fit on one line.
 *
 * DT_MS, DT_SECONDS and DT_DAYS are durations: an integer in the file in
 * the key's unit, range-checked as written, stored as int64_t milliseconds
 * (converted here, once) and printed back in the file's unit. */
enum directive_type {
    DT_STRING,
    DT_PATH,
    DT_INT,
    DT_MS,
    DT_SECONDS,
    DT_DAYS,
    DT_BOOL,
    DT_LOGLEVEL,
    DT_SYNC,
    DT_AUTO_OFF,
    DT_ROLE,
    DT_JIDS,
    DT_DOMAINS
};

struct directive {
    const char *section;
    const char *key;
    enum directive_type type;
    size_t offset;
    const char *def; /* default as written in the file; NULL = required */
    long min, max;   /* DT_INT and duration range, in the file's unit */
    const char *doc; /* one line, printed above the key by config_print() */
};

/* The one table of keys (config.c), *n_r rows. */
const struct directive *config_directives(size_t *n_r);

/* A DNS name as servers route to it (see configlist.c). */
bool config_domain_name_ok(const char *s);
/* Appends the items of v (separated by spaces, tabs or commas) to l,
 * each a bare JID with a localpart (jids) or a domain, normalised;
 * duplicates kept once.  0, or CS_EINVAL with the reason (naming key and
 * section) in why and nothing of v added. */
int config_list_add(struct config_list *l, bool jids, const char *key, const char *section,
                    const char *v, char *why, size_t whylen);

#endif
