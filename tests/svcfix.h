/* svcfix.h - a service with a real home on a temporary SQLite file, for
 * the suites that drive the service stanza by stanza (check_service,
 * check_adhoc, check_register).  One fixture per process (the suites run
 * each test in a fork). */
#ifndef SVCFIX_H
#define SVCFIX_H

#include <stdint.h>

#include "cs_config.h"
#include "cs_home.h"
#include "cs_roster.h"
#include "cs_service.h"
#include "cs_stats.h"
#include "cs_store.h"
#include "testout.h"

#define FIX_DOMAIN "status.a.test"

struct svcfix {
    char dir[64];
    struct config cfg;
    struct store *store;
    struct roster *roster;
    struct chanprops *props;
    struct propsub *subs;  /* with svcfix_use_props() */
    struct iqwait *iqwait; /* with svcfix_use_props() */
    struct home *home;
    struct testout out;
    struct service svc;
    struct service_opts opts; /* applied by svcfix_configure() */
    struct config_list admins, domains;
    struct stats counters; /* what the stats command shows */
    int64_t now_ms;
};

extern struct svcfix F;

/* Creates the database (schema only) and a service on it: no admins,
 * registration off (see svcfix_configure). */
void svcfix_setup(void);
void svcfix_teardown(void);
/* Channel properties on (cs_pep.h): the avatar hash in presence, PEP
 * nodes and events, property subscriptions with these limits; answers to
 * our own iqs go to F.iqwait. */
struct pep_limits;
void svcfix_use_props(const struct pep_limits *limits);
/* Applies an edit of channel name's row, as the change log reports it. */
const char *svcfix_channel_edited(const char *name);
/* Sets F.admins / F.domains from space-separated JIDs (NULL: empty) and
 * applies F.opts with them. */
void svcfix_configure(const char *admins, const char *domains);
void svcfix_sql(const char *q);
/* The first column of the first row of q as an integer (-1: no row). */
int svcfix_int(const char *q);
/* The first column of the first row of q as text ("" for NULL, "absent"
 * for no row); valid until the next call. */
const char *svcfix_text(const char *q);
/* Feeds one stanza to the service, commits, runs the producers; returns
 * what was sent, one stanza per line (valid until the next call). */
const char *svcfix_in(const char *xml);
/* The link came up: the owners are bound (subscribe or probe). */
const char *svcfix_online(void);

#endif
