/* stats.c - counter names and counting outbound stanzas by kind. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cs_stats.h"
#include "cs_util.h"
#include "cs_xml.h"

/* clang-format off */
static const char *const names[STAT_COUNT] = {
    [STAT_IN_MESSAGE]       = "stanzas_in.message",
    [STAT_IN_PRESENCE]      = "stanzas_in.presence",
    [STAT_IN_IQ]            = "stanzas_in.iq",
    [STAT_OUT_MESSAGE]      = "stanzas_out.message",
    [STAT_OUT_PRESENCE]     = "stanzas_out.presence",
    [STAT_OUT_IQ]           = "stanzas_out.iq",
    [STAT_SUBSCRIPTIONS]    = "subscriptions",
    [STAT_DELIVERIES]       = "fanout_deliveries",
    [STAT_ROUTED]           = "messages_routed",
    [STAT_STORED]           = "messages_stored",
    [STAT_FLUSHED]          = "messages_flushed",
    [STAT_ERRORS_SENT]      = "errors_sent",
    [STAT_LINK_RECONNECTS]  = "link_reconnects",
    [STAT_COMMITS]          = "db_commits",
    [STAT_COMMIT_US_TOTAL]  = "db_commit_us_total",
    [STAT_COMMIT_US_MAX]    = "db_commit_us_max",
    [STAT_COMMIT_FAILURES]  = "db_commit_failures",
    [STAT_EDITS_APPLIED]    = "edits_applied",
    [STAT_ROSTER_ITEMS_SET] = "roster_items_set",
    [STAT_ROSTER_ITEMS_REMOVED] = "roster_items_removed",
    [STAT_ROSTER_USERS_SYNCED] = "roster_users_synced",
    [STAT_BINDS_SKIPPED]    = "binds_skipped",
    [STAT_RATE_LIMITED]     = "subscriptions_rate_limited",
    [STAT_PRESENCE_REFUSED] = "presence_refused",
    [STAT_OWNER_PROBES]     = "owner_probes",
    [STAT_REPLIES]          = "messages_replied",
    [STAT_EXPIRED]          = "messages_expired",
    [STAT_MIRRORED]         = "messages_mirrored",
    [STAT_DROPPED]          = "stanzas_dropped",
    [STAT_REGISTRATIONS]    = "channels_registered",
    [STAT_COMMAND_STEPS]    = "command_steps",
    [STAT_LINK_BYTES_IN]    = "link_bytes_in",
    [STAT_LINK_BYTES_OUT]   = "link_bytes_out",
    [STAT_LINK_INPUT_REJECTS] = "link_input_rejects",
    [STAT_MCAST_BATCHES]    = "multicast_batches",
    [STAT_MCAST_BATCHED]    = "multicast_deliveries",
    [STAT_MCAST_REFUSED]    = "multicast_refused",
    [STAT_MCAST_FALLBACKS]  = "multicast_fallbacks",
};

/* RFC 6120 section 8.3.3. */
static const char *const conditions[] = {
    "bad-request", "conflict", "feature-not-implemented", "forbidden", "gone",
    "internal-server-error", "item-not-found", "jid-malformed", "not-acceptable",
    "not-allowed", "not-authorized", "policy-violation", "recipient-unavailable",
    "redirect", "registration-required", "remote-server-not-found",
    "remote-server-timeout", "resource-constraint", "service-unavailable",
    "subscription-required", "undefined-condition", "unexpected-request",
};
/* clang-format on */

static void count_error(struct stats *s, const char *xml, size_t len)
{
    static const char marker[] = " xmlns='" XML_NS_STANZAS "'";
    const char *end = xml + len, *m = NULL, *lt;
    size_t ml = sizeof(marker) - 1;
    for (const char *p = xml; p + ml <= end; p++) {
        if (memcmp(p, marker, ml) == 0) {
            m = p;
            break;
        }
    }
    s->v[STAT_ERRORS_SENT]++;
    if (m == NULL)
        return;
    for (lt = m; lt > xml && *lt != '<'; lt--)
        ;
    lt++;
    for (size_t i = 0; i < CS_ARRAY_SIZE(conditions); i++) {
        size_t n = strlen(conditions[i]);
        if ((size_t)(m - lt) != n || memcmp(lt, conditions[i], n) != 0)
            continue;
        for (size_t j = 0; j < STATS_MAX_CONDITIONS; j++) {
            if (s->errors[j].name == NULL)
                s->errors[j].name = conditions[i];
            if (s->errors[j].name == conditions[i]) {
                s->errors[j].count++;
                return;
            }
        }
    }
}

/* Looks only at the first tag: cheap enough for every stanza. */
void stats_count_out(struct stats *s, const char *xml, size_t len)
{
    const char *gt;
    if (s == NULL || len < 4)
        return;
    if (len > 16 && memcmp(xml, "<presence id='fo", 16) == 0) {
        /* The fan-out's form (fanout.c): never an error; the hot path
         * costs one compare. */
        s->v[STAT_OUT_PRESENCE]++;
        return;
    }
    if (strncmp(xml, "<presence", 9) == 0)
        s->v[STAT_OUT_PRESENCE]++;
    else if (strncmp(xml, "<message", 8) == 0)
        s->v[STAT_OUT_MESSAGE]++;
    else if (strncmp(xml, "<iq", 3) == 0)
        s->v[STAT_OUT_IQ]++;
    gt = memchr(xml, '>', len);
    if (gt && memmem(xml, (size_t)(gt - xml), "type='error'", 12))
        count_error(s, xml, len);
}

void stats_each(const struct stats *s, stats_cb *cb, void *ud)
{
    char name[64];
    for (int i = 0; i < STAT_COUNT; i++)
        cb(ud, names[i], s->v[i]);
    for (size_t j = 0; j < STATS_MAX_CONDITIONS && s->errors[j].name; j++) {
        snprintf(name, sizeof(name), "errors.%s", s->errors[j].name);
        cb(ud, name, s->errors[j].count);
    }
}
