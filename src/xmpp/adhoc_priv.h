/* adhoc_priv.h - what the two files of the XEP-0050 commands share (not a
 * public API): the command table, sessions, and the helpers that build
 * and read data forms.  adhoc.c holds them; adhocsteps.c runs the steps
 * with them and never the reverse. */
#ifndef CS_ADHOC_PRIV_H
#define CS_ADHOC_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "cs_hash.h"
#include "service_priv.h"

#define ADHOC_MAX_SESSIONS 64
#define ADHOC_MAX_PER_REQUESTER 4
#define ADHOC_SESSION_MS (10 * 60 * 1000)
#define ADHOC_LIST_MAX 500
#define ADHOC_LIST_BYTES 65536

#define NS_COMMANDS_ERR NS_COMMANDS /* XEP-0050 section 4.4: errors in the same namespace */

enum cmd_id { CMD_WATCHERS, CMD_PENDING, CMD_REVOKE, CMD_POLICY, CMD_STATS };

struct command {
    enum cmd_id id;
    const char *node;
    const char *name;
    bool channel;    /* acts on one channel (at the domain: named in a first form) */
    bool admin_only; /* only at the domain */
};

/* The form a session waits for. */
enum stage { STAGE_CHANNEL = 1, STAGE_FORM };

struct session {
    bool used;
    char id[40];
    char *requester; /* full JID that opened it */
    char *bare;      /* its bare JID: the per-requester cap */
    char *at;        /* the address it runs at (normalised bare JID) */
    const struct command *cmd;
    char *channel; /* the channel it acts on, once known */
    enum stage stage;
    int64_t expires_ms;
    int64_t opened_ms;
};

struct adhoc {
    struct session s[ADHOC_MAX_SESSIONS];
    unsigned long serial;
};

struct jidlist {
    char **v;
    size_t n, total, bytes;
};

struct entries {
    struct jidlist watchers, pending;
};

extern const struct command adhoc_commands[5];

void adhoc_session_free(struct session *s);
/* A session id: unique in this process, not guessable enough to matter
 * (a session answers only its own full JID). */
void adhoc_new_id(struct adhoc *a, char *id, size_t len);
/* The address the iq was sent to, normalised (caller frees). */
char *adhoc_address_of(const struct service *svc, const struct iq_ctx *q);
/* A new session for q's sender, or NULL when the table is full of live
 * sessions.  O(ADHOC_MAX_SESSIONS). */
struct session *adhoc_session_open(struct service *svc, const struct iq_ctx *q,
                                   const struct command *cmd);
/* Was id given out by adhoc_new_id()?  Its serial tells, without keeping
 * ended sessions. */
bool adhoc_issued(const struct adhoc *a, const char *id);
struct session *adhoc_session_find(struct adhoc *a, const char *id);
const struct command *adhoc_command_by_node(const char *node);
/* At a channel: its owner and the admins, the channel commands.  At the
 * domain: the admins, every command (stats only when counters exist). */
bool adhoc_may_run(struct service *svc, const struct iq_ctx *q, const struct command *cmd);
/* <iq type='result'><command node sessionid status/></iq>; *cmd_r is the
 * <command/> to fill. */
struct xml_node *adhoc_answer(const struct service *svc, const struct iq_ctx *q,
                              const struct command *cmd, const char *sid, const char *status,
                              struct xml_node **cmd_r);
void adhoc_note(struct xml_node *command, const char *type, const char *text);
/* <actions execute=ACTION><ACTION/></actions>: the one way on. */
void adhoc_actions(struct xml_node *command, const char *action);
struct xml_node *adhoc_form(struct xml_node *parent, const char *type, const char *title,
                            const char *instructions);
struct xml_node *adhoc_field(struct xml_node *x, const char *var, const char *type,
                             const char *label);
void adhoc_value(struct xml_node *f, const char *v);
void adhoc_option(struct xml_node *f, const char *v);
/* The <x type='submit'/> in the command, or NULL. */
const struct xml_node *adhoc_submitted(const struct xml_node *command);
const struct xml_node *adhoc_form_field(const struct xml_node *x, const char *var);
/* The first value of field var (caller frees), or NULL. */
char *adhoc_form_value(const struct xml_node *x, const char *var);
void adhoc_list_free(struct jidlist *l);
/* The channel's roster rows, those kept sorted by JID: one indexed query,
 * O(rows of the channel), plus the sort of at most ADHOC_LIST_MAX. */
int adhoc_entries_of(struct service *svc, const char *channel, struct entries *e);
void adhoc_entries_free(struct entries *e);
/* The channel's property subscriptions whose lease runs, as lines "JID
 * NODE N s" (seconds left), at most ADHOC_LIST_MAX of them.  Release
 * with adhoc_list_free(). */
int adhoc_propsubs_of(struct service *svc, const char *channel, int64_t now_ms, struct jidlist *l);
/* A note saying l was cut, if it was.  XEP-0050's schema puts notes
 * before the payload. */
void adhoc_cut_note(struct xml_node *command, const char *what, const struct jidlist *l);
/* A jid-multi field of l. */
void adhoc_list_field(struct xml_node *x, const char *var, const char *what,
                      const struct jidlist *l);

#endif
