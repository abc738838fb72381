/* configlist.c - list values of the configuration (DT_JIDS and
 * DT_DOMAINS in config.c) and what counts as a domain name there. */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_priv.h"
#include "cs_error.h"
#include "cs_jid.h"
#include "cs_util.h"

bool config_list_has(const struct config_list *l, const char *item)
{
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->v[i], item) == 0)
            return true;
    }
    return false;
}

/* A DNS name as servers route to it: letters, digits, '-' and '.', or
 * any non-ASCII byte (IDN, checked as UTF-8 by the JID rules).  Anything
 * else (';', '#', '!'...) is no domain a server serves, and some of it
 * would not read back from config_print()'s output. */
bool config_domain_name_ok(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (!(c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '.'))
            return false;
    }
    return true;
}

/* Appends the items of v (separated by spaces, tabs or commas), each
 * validated and normalised: a bare JID with a localpart (DT_JIDS) or a
 * domain (DT_DOMAINS).  Duplicates are kept once.  On error nothing of v
 * is added. */
int config_list_add(struct config_list *l, bool jids, const char *key, const char *section,
                    const char *v, char *why, size_t whylen)
{
    static const char seps[] = " \t,";
    char *copy = xstrdup(v), *save = NULL;
    size_t n0 = l->n;
    for (char *it = strtok_r(copy, seps, &save); it; it = strtok_r(NULL, seps, &save)) {
        struct jid j;
        char *norm;
        bool ok = jid_parse(it, &j) == 0;
        if (ok) {
            /* A domain list takes names only: no localpart, resource or IP
             * literal; a JID list takes user@domain. */
            ok = j.resource == NULL && config_domain_name_ok(j.domain) && it[0] != ';' &&
                 it[0] != '#' && (jids ? j.local != NULL : j.local == NULL && !strchr(it, '['));
            if (!ok)
                jid_deinit(&j);
        }
        if (!ok) {
            snprintf(why, whylen, "invalid value '%s' for %s in [%s]: expected %s", it, key,
                     section, jids ? "bare JIDs (user@domain)" : "domain names");
            while (l->n > n0)
                free(l->v[--l->n]);
            free(copy);
            return CS_EINVAL;
        }
        norm = jid_bare(&j);
        jid_deinit(&j);
        if (config_list_has(l, norm)) {
            free(norm);
            continue;
        }
        l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
        l->v[l->n++] = norm;
    }
    free(copy);
    return 0;
}
