/* fuzz_jid.c - JID parsing, XEP-0106 escaping and relay addresses.
 *
 * Beyond "no crash": a parsed JID prints back to a string that parses to
 * the same parts; unescape(escape(s)) gives s back; a relay address built
 * for a contact reads back as that contact. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cs_jid.h"
#include "cs_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_same(const struct jid *a, const struct jid *b)
{
    if ((a->local == NULL) != (b->local == NULL) || (a->local && strcmp(a->local, b->local)) ||
        strcmp(a->domain, b->domain) || (a->resource == NULL) != (b->resource == NULL) ||
        (a->resource && strcmp(a->resource, b->resource)))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = xstrndup((const char *)data, size);
    struct jid j, again, contact;
    char *esc = jid_escape_local(s), *back = jid_unescape_local(esc);
    if (strlen(s) == size && strcmp(back, s) != 0)
        abort(); /* escaping must be reversible */
    free(esc);
    free(back);
    if (jid_parse(s, &j) == 0) {
        char *full = jid_full(&j), *bare = jid_bare(&j);
        if (jid_parse(full, &again) != 0)
            abort(); /* what we print parses */
        check_same(&j, &again);
        jid_deinit(&again);
        if (j.local) {
            char *relay = jid_relay_address(bare, "status.a.test");
            struct jid r;
            if (jid_parse(relay, &r) == 0) {
                if (jid_relay_parse(r.local, &contact) != 0)
                    abort(); /* a relay address we built reads back */
                char *cbare = jid_bare(&contact);
                if (strcmp(cbare, bare) != 0)
                    abort();
                free(cbare);
                jid_deinit(&contact);
                jid_deinit(&r);
            }
            free(relay);
        }
        free(full);
        free(bare);
        jid_deinit(&j);
    }
    if (jid_relay_parse(s, &contact) == 0)
        jid_deinit(&contact);
    free(s);
    return 0;
}
