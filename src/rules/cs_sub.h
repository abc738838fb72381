/* cs_sub.h - the subscription state machine of RFC 6121 Appendix A.
 *
 * The "user" is a channel, the "contact" any JID in its roster.  The
 * state of one (channel, contact) pair is one of the nine states of
 * Appendix A plus the pre-approval flag of section 3.4.  Transitions are
 * one table (src/rules/sub.c), each row citing the section it implements; the
 * caller commits the new state before sending anything that depends on it. */
#ifndef CS_SUB_H
#define CS_SUB_H

#include <stdbool.h>

enum sub_state {
    SUB_NONE = 0,
    SUB_NONE_OUT,    /* None + Pending Out: the channel asked the contact */
    SUB_NONE_IN,     /* None + Pending In: the contact asked the channel */
    SUB_NONE_OUT_IN, /* None + Pending Out/In */
    SUB_TO,          /* the channel receives the contact's presence */
    SUB_TO_IN,       /* To + Pending In */
    SUB_FROM,        /* the contact receives the channel's presence: a watcher */
    SUB_FROM_OUT,    /* From + Pending Out */
    SUB_BOTH,
    SUB_STATE_COUNT
};

/* Subscription stanzas, by direction seen from the channel. */
enum sub_event {
    SUB_IN_SUBSCRIBE = 0, /* contact -> channel (A.2.1) */
    SUB_IN_UNSUBSCRIBE,   /* A.2.2 */
    SUB_IN_SUBSCRIBED,    /* A.2.3 */
    SUB_IN_UNSUBSCRIBED,  /* A.2.4 */
    SUB_OUT_SUBSCRIBE,    /* channel -> contact (A.1.1) */
    SUB_OUT_UNSUBSCRIBE,  /* A.1.2 */
    SUB_OUT_SUBSCRIBED,   /* A.1.3: approve (or pre-approve) */
    SUB_OUT_UNSUBSCRIBED, /* A.1.4: deny or revoke */
    SUB_EVENT_COUNT
};

/* What must happen besides the state change. */
enum sub_action {
    SUB_ACT_NONE = 0,
    /* Inbound: hand the request to the channel's policy/owner (A.2.1
     * "deliver to the user"); inbound answers: the channel learns of it. */
    SUB_ACT_DELIVER = 1 << 0,
    /* Outbound: the stanza goes to the contact. */
    SUB_ACT_SEND = 1 << 1,
    /* Inbound subscribe while the contact is already subscribed: answer
     * 'subscribed' on the channel's behalf (RFC 6121 3.1.3). */
    SUB_ACT_AUTO_SUBSCRIBED = 1 << 2,
    /* Inbound subscribe matched a pre-approval: approved at once (3.4). */
    SUB_ACT_PREAPPROVED = 1 << 3,
    /* The contact became a watcher: send it the channel's current status. */
    SUB_ACT_SEND_STATUS = 1 << 4,
    /* The contact stopped being a watcher: send it 'unavailable'. */
    SUB_ACT_SEND_UNAVAILABLE = 1 << 5,
};

struct sub_row {
    enum sub_state state;
    bool approved; /* pre-approval (RFC 6121 3.4) */
};

/* Applies ev to *row; returns the actions (enum sub_action bits).  When
 * the result has no bit set the stanza is redundant and nothing is sent
 * or delivered, as Appendix A prescribes for "no state change" rows. */
unsigned sub_apply(struct sub_row *row, enum sub_event ev);

/* Roster row columns <-> state.  Returns 0, or CS_EINVAL for a
 * combination the schema's CHECKs would reject. */
int sub_from_columns(const char *subscription, bool ask, bool pending_in, struct sub_row *row_r);
void sub_to_columns(enum sub_state state, const char **subscription_r, bool *ask_r,
                    bool *pending_in_r);

bool sub_is_watcher(enum sub_state state); /* from or both (+ pending out) */
bool sub_has_to(enum sub_state state);     /* to or both */
const char *sub_state_name(enum sub_state state);
const char *sub_event_name(enum sub_event ev);

#endif
