/* sub.c - RFC 6121 Appendix A as one table.
 *
 * Rows: (state, event) -> (new state, actions), with the section each
 * implements.  "no change" rows carry no action: a redundant or
 * unsolicited subscription stanza is neither stored, delivered nor
 * answered, except where the RFC asks for an automatic reply. */
#include "config.h"

#include <string.h>

#include "cs_error.h"
#include "cs_sub.h"

struct sub_transition {
    enum sub_state to;
    unsigned actions;
    const char *rfc;
};

#define DELIVER SUB_ACT_DELIVER
#define SEND SUB_ACT_SEND
#define STATUS SUB_ACT_SEND_STATUS
#define UNAVAIL SUB_ACT_SEND_UNAVAILABLE
#define AUTO SUB_ACT_AUTO_SUBSCRIBED

/* Indexed [event][state].  The "to" of a no-change row equals its state. */
/* clang-format off */
static const struct sub_transition table[SUB_EVENT_COUNT][SUB_STATE_COUNT] = {
    [SUB_IN_SUBSCRIBE] = {
        [SUB_NONE] = {SUB_NONE_IN, DELIVER, "A.2.1"},
        [SUB_NONE_OUT] = {SUB_NONE_OUT_IN, DELIVER, "A.2.1"},
        [SUB_NONE_IN] = {SUB_NONE_IN, 0, "A.2.1 (already pending)"},
        [SUB_NONE_OUT_IN] = {SUB_NONE_OUT_IN, 0, "A.2.1 (already pending)"},
        [SUB_TO] = {SUB_TO_IN, DELIVER, "A.2.1"},
        [SUB_TO_IN] = {SUB_TO_IN, 0, "A.2.1 (already pending)"},
        /* Already subscribed: answer for the channel (3.1.3); the status
         * is re-sent so a contact that lost it converges. */
        [SUB_FROM] = {SUB_FROM, AUTO | STATUS, "A.2.1, 3.1.3"},
        [SUB_FROM_OUT] = {SUB_FROM_OUT, AUTO | STATUS, "A.2.1, 3.1.3"},
        [SUB_BOTH] = {SUB_BOTH, AUTO | STATUS, "A.2.1, 3.1.3"},
    },
    [SUB_IN_UNSUBSCRIBE] = {
        [SUB_NONE] = {SUB_NONE, 0, "A.2.2"},
        [SUB_NONE_OUT] = {SUB_NONE_OUT, 0, "A.2.2"},
        [SUB_NONE_IN] = {SUB_NONE, DELIVER, "A.2.2"},
        [SUB_NONE_OUT_IN] = {SUB_NONE_OUT, DELIVER, "A.2.2"},
        [SUB_TO] = {SUB_TO, 0, "A.2.2"},
        [SUB_TO_IN] = {SUB_TO, DELIVER, "A.2.2"},
        /* A watcher cancels: it gets unavailable (3.3.3). */
        [SUB_FROM] = {SUB_NONE, DELIVER | UNAVAIL, "A.2.2, 3.3.3"},
        [SUB_FROM_OUT] = {SUB_NONE_OUT, DELIVER | UNAVAIL, "A.2.2, 3.3.3"},
        [SUB_BOTH] = {SUB_TO, DELIVER | UNAVAIL, "A.2.2, 3.3.3"},
    },
    [SUB_IN_SUBSCRIBED] = {
        [SUB_NONE] = {SUB_NONE, 0, "A.2.3 (unsolicited)"},
        [SUB_NONE_OUT] = {SUB_TO, DELIVER, "A.2.3"},
        [SUB_NONE_IN] = {SUB_NONE_IN, 0, "A.2.3 (unsolicited)"},
        [SUB_NONE_OUT_IN] = {SUB_TO_IN, DELIVER, "A.2.3"},
        [SUB_TO] = {SUB_TO, 0, "A.2.3 (redundant)"},
        [SUB_TO_IN] = {SUB_TO_IN, 0, "A.2.3 (redundant)"},
        [SUB_FROM] = {SUB_FROM, 0, "A.2.3 (unsolicited)"},
        [SUB_FROM_OUT] = {SUB_BOTH, DELIVER, "A.2.3"},
        [SUB_BOTH] = {SUB_BOTH, 0, "A.2.3 (redundant)"},
    },
    [SUB_IN_UNSUBSCRIBED] = {
        [SUB_NONE] = {SUB_NONE, 0, "A.2.4"},
        [SUB_NONE_OUT] = {SUB_NONE, DELIVER, "A.2.4"},
        [SUB_NONE_IN] = {SUB_NONE_IN, 0, "A.2.4"},
        [SUB_NONE_OUT_IN] = {SUB_NONE_IN, DELIVER, "A.2.4"},
        [SUB_TO] = {SUB_NONE, DELIVER, "A.2.4"},
        [SUB_TO_IN] = {SUB_NONE_IN, DELIVER, "A.2.4"},
        [SUB_FROM] = {SUB_FROM, 0, "A.2.4"},
        [SUB_FROM_OUT] = {SUB_FROM, DELIVER, "A.2.4"},
        [SUB_BOTH] = {SUB_FROM, DELIVER, "A.2.4"},
    },
    /* Outbound subscribe and unsubscribe are always routed (3.1.2,
     * 3.3.2); a repeated subscribe also makes the contact's server answer
     * with current presence, which is how the home re-learns an owner. */
    [SUB_OUT_SUBSCRIBE] = {
        [SUB_NONE] = {SUB_NONE_OUT, SEND, "A.1.1"},
        [SUB_NONE_OUT] = {SUB_NONE_OUT, SEND, "A.1.1"},
        [SUB_NONE_IN] = {SUB_NONE_OUT_IN, SEND, "A.1.1"},
        [SUB_NONE_OUT_IN] = {SUB_NONE_OUT_IN, SEND, "A.1.1"},
        [SUB_TO] = {SUB_TO, SEND, "A.1.1"},
        [SUB_TO_IN] = {SUB_TO_IN, SEND, "A.1.1"},
        [SUB_FROM] = {SUB_FROM_OUT, SEND, "A.1.1"},
        [SUB_FROM_OUT] = {SUB_FROM_OUT, SEND, "A.1.1"},
        [SUB_BOTH] = {SUB_BOTH, SEND, "A.1.1"},
    },
    [SUB_OUT_UNSUBSCRIBE] = {
        [SUB_NONE] = {SUB_NONE, SEND, "A.1.2"},
        [SUB_NONE_OUT] = {SUB_NONE, SEND, "A.1.2"},
        [SUB_NONE_IN] = {SUB_NONE_IN, SEND, "A.1.2"},
        [SUB_NONE_OUT_IN] = {SUB_NONE_IN, SEND, "A.1.2"},
        [SUB_TO] = {SUB_NONE, SEND, "A.1.2"},
        [SUB_TO_IN] = {SUB_NONE_IN, SEND, "A.1.2"},
        [SUB_FROM] = {SUB_FROM, SEND, "A.1.2"},
        [SUB_FROM_OUT] = {SUB_FROM, SEND, "A.1.2"},
        [SUB_BOTH] = {SUB_FROM, SEND, "A.1.2"},
    },
    /* Approval.  Without a pending request it is a pre-approval (3.4),
     * recorded by sub_apply() and not routed. */
    [SUB_OUT_SUBSCRIBED] = {
        [SUB_NONE] = {SUB_NONE, 0, "A.1.3, 3.4 (pre-approval)"},
        [SUB_NONE_OUT] = {SUB_NONE_OUT, 0, "A.1.3, 3.4 (pre-approval)"},
        [SUB_NONE_IN] = {SUB_FROM, SEND | STATUS, "A.1.3, 3.1.5"},
        [SUB_NONE_OUT_IN] = {SUB_FROM_OUT, SEND | STATUS, "A.1.3, 3.1.5"},
        [SUB_TO] = {SUB_TO, 0, "A.1.3, 3.4 (pre-approval)"},
        [SUB_TO_IN] = {SUB_BOTH, SEND | STATUS, "A.1.3, 3.1.5"},
        [SUB_FROM] = {SUB_FROM, 0, "A.1.3 (redundant)"},
        [SUB_FROM_OUT] = {SUB_FROM_OUT, 0, "A.1.3 (redundant)"},
        [SUB_BOTH] = {SUB_BOTH, 0, "A.1.3 (redundant)"},
    },
    /* Denial of a request, or revocation of a watcher. */
    [SUB_OUT_UNSUBSCRIBED] = {
        [SUB_NONE] = {SUB_NONE, 0, "A.1.4"},
        [SUB_NONE_OUT] = {SUB_NONE_OUT, 0, "A.1.4"},
        [SUB_NONE_IN] = {SUB_NONE, SEND, "A.1.4, 3.2"},
        [SUB_NONE_OUT_IN] = {SUB_NONE_OUT, SEND, "A.1.4, 3.2"},
        [SUB_TO] = {SUB_TO, 0, "A.1.4"},
        [SUB_TO_IN] = {SUB_TO, SEND, "A.1.4, 3.2"},
        [SUB_FROM] = {SUB_NONE, SEND | UNAVAIL, "A.1.4, 3.2.3"},
        [SUB_FROM_OUT] = {SUB_NONE_OUT, SEND | UNAVAIL, "A.1.4, 3.2.3"},
        [SUB_BOTH] = {SUB_TO, SEND | UNAVAIL, "A.1.4, 3.2.3"},
    },
};
/* clang-format on */

unsigned sub_apply(struct sub_row *row, enum sub_event ev)
{
    const struct sub_transition *t;

    if ((unsigned)ev >= SUB_EVENT_COUNT || (unsigned)row->state >= SUB_STATE_COUNT)
        return SUB_ACT_NONE;
    /* 3.4: an inbound request matching a pre-approval is approved at once,
     * without bothering the owner; the approval is used up. */
    if (ev == SUB_IN_SUBSCRIBE && row->approved &&
        (row->state == SUB_NONE || row->state == SUB_NONE_OUT || row->state == SUB_TO)) {
        row->state = row->state == SUB_NONE       ? SUB_FROM
                     : row->state == SUB_NONE_OUT ? SUB_FROM_OUT
                                                  : SUB_BOTH;
        row->approved = false;
        return SUB_ACT_PREAPPROVED | SUB_ACT_SEND_STATUS;
    }
    t = &table[ev][row->state];
    if (ev == SUB_OUT_SUBSCRIBED &&
        (row->state == SUB_NONE || row->state == SUB_NONE_OUT || row->state == SUB_TO))
        row->approved = true;
    if (ev == SUB_OUT_UNSUBSCRIBED)
        row->approved = false; /* 3.4: cancels a pre-approval too */
    row->state = t->to;
    if (sub_is_watcher(row->state) || row->state == SUB_NONE_IN || row->state == SUB_TO_IN ||
        row->state == SUB_NONE_OUT_IN)
        row->approved = false; /* the schema allows approval only before a request */
    return t->actions;
}

bool sub_is_watcher(enum sub_state s)
{
    return s == SUB_FROM || s == SUB_FROM_OUT || s == SUB_BOTH;
}

bool sub_has_to(enum sub_state s)
{
    return s == SUB_TO || s == SUB_TO_IN || s == SUB_BOTH;
}

int sub_from_columns(const char *subscription, bool ask, bool pending_in, struct sub_row *row_r)
{
    enum sub_state s;
    if (strcmp(subscription, "none") == 0)
        s = ask ? (pending_in ? SUB_NONE_OUT_IN : SUB_NONE_OUT)
                : (pending_in ? SUB_NONE_IN : SUB_NONE);
    else if (strcmp(subscription, "to") == 0 && !ask)
        s = pending_in ? SUB_TO_IN : SUB_TO;
    else if (strcmp(subscription, "from") == 0 && !pending_in)
        s = ask ? SUB_FROM_OUT : SUB_FROM;
    else if (strcmp(subscription, "both") == 0 && !ask && !pending_in)
        s = SUB_BOTH;
    else
        return CS_EINVAL;
    row_r->state = s;
    return 0;
}

void sub_to_columns(enum sub_state s, const char **subscription_r, bool *ask_r, bool *pending_in_r)
{
    static const char *const names[SUB_STATE_COUNT] = {
        "none", "none", "none", "none", "to", "to", "from", "from", "both",
    };
    *subscription_r = names[s];
    *ask_r = s == SUB_NONE_OUT || s == SUB_NONE_OUT_IN || s == SUB_FROM_OUT;
    *pending_in_r = s == SUB_NONE_IN || s == SUB_NONE_OUT_IN || s == SUB_TO_IN;
}

const char *sub_state_name(enum sub_state s)
{
    static const char *const names[SUB_STATE_COUNT] = {
        "None",
        "None + Pending Out",
        "None + Pending In",
        "None + Pending Out/In",
        "To",
        "To + Pending In",
        "From",
        "From + Pending Out",
        "Both",
    };
    return (unsigned)s < SUB_STATE_COUNT ? names[s] : "?";
}

const char *sub_event_name(enum sub_event ev)
{
    static const char *const names[SUB_EVENT_COUNT] = {
        "inbound subscribe",    "inbound unsubscribe",   "inbound subscribed",
        "inbound unsubscribed", "outbound subscribe",    "outbound unsubscribe",
        "outbound subscribed",  "outbound unsubscribed",
    };
    return (unsigned)ev < SUB_EVENT_COUNT ? names[ev] : "?";
}
