/* chanstatctl.c - the admin tool: command line, output as aligned text or
 * one JSON document.  What each command does to the database is in
 * src/admin/admin.c; this file parses, opens and prints. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <sys/stat.h>

#include "cs_admin.h"
#include "cs_config.h"
#include "cs_error.h"
#include "cs_log.h"
#include "cs_store.h"
#include "cs_util.h"

/* chanstatd has no default configuration path; this one is documented in
 * chanstatctl(1) and is where the README's examples keep the file. */
#define DEFAULT_CONFIG "/etc/chanstat/chanstat.conf"

static void usage(FILE *f)
{
    fprintf(f, "usage: chanstatctl [-c FILE] [--json] COMMAND ...\n"
               "\n"
               "  channel add NAME [--owner JID] [--policy open|approve|closed] "
               "[--display-name TEXT]\n"
               "  channel set NAME [--owner JID | --no-owner] [--policy P] [--display-name TEXT]\n"
               "  channel remove NAME | channel list | channel show NAME\n"
               "  roster add CHANNEL JID [--subscription none|to|from|both] [--name TEXT] "
               "[--group G]...\n"
               "  roster remove CHANNEL JID | roster list CHANNEL\n"
               "  subscriptions CHANNEL   watchers, pending requests, node subscriptions\n"
               "  status CHANNEL          aggregate status and owner resources, last seen\n"
               "  offline list [CHANNEL] | offline purge CHANNEL\n"
               "  stats\n"
               "\n"
               "  -c, --config FILE  chanstatd's configuration (default " DEFAULT_CONFIG ")\n"
               "      --json         print one JSON document\n"
               "  -V, --version      print the version\n"
               "  -h, --help         this text\n"
               "\n"
               "Exit status: 0 ok, 1 database or system error, 2 usage or configuration\n"
               "error, 3 invalid input, 4 no such channel or roster row.  See chanstatctl(1).\n");
}

/* ---- The command line ---- */

enum opt_flag {
    O_OWNER = 1 << 0,
    O_NO_OWNER = 1 << 1,
    O_POLICY = 1 << 2,
    O_DISPLAY = 1 << 3,
    O_SUB = 1 << 4,
    O_NAME = 1 << 5,
    O_GROUP = 1 << 6,
};

/* What a positional argument is, for validation before the database is
 * opened: bad input is exit status 3 whatever the state of the database. */
enum arg_kind { A_CHANNEL, A_JID };

#define MAX_ARGS 2
#define MAX_GROUPS 64

struct ctl {
    struct store *store;
    bool json;
    const struct command *cmd;
    const char *args[MAX_ARGS];
    int nargs;
    unsigned given; /* enum opt_flag */
    struct admin_channel_edit ch;
    const char *subscription, *name;
    const char *groups[MAX_GROUPS];
    size_t n_groups;
    char err[512];
};

struct command {
    const char *word, *sub; /* sub NULL: a one-word command */
    int min_args, max_args;
    enum arg_kind kinds[MAX_ARGS];
    int (*run)(struct ctl *c);
    const char *args_doc; /* for "needs ..." */
    unsigned opts;        /* the enum opt_flag options it takes */
};

static int cmd_channel_add(struct ctl *c);
static int cmd_channel_set(struct ctl *c);
static int cmd_channel_remove(struct ctl *c);
static int cmd_channel_list(struct ctl *c);
static int cmd_channel_show(struct ctl *c);
static int cmd_roster_add(struct ctl *c);
static int cmd_roster_remove(struct ctl *c);
static int cmd_roster_list(struct ctl *c);
static int cmd_subscriptions(struct ctl *c);
static int cmd_status(struct ctl *c);
static int cmd_offline_list(struct ctl *c);
static int cmd_offline_purge(struct ctl *c);
static int cmd_stats(struct ctl *c);

/* clang-format off */
static const struct command commands[] = {
    {"channel",       "add",    1, 1, {A_CHANNEL},        cmd_channel_add,    "NAME",
     O_OWNER | O_POLICY | O_DISPLAY},
    {"channel",       "set",    1, 1, {A_CHANNEL},        cmd_channel_set,    "NAME",
     O_OWNER | O_NO_OWNER | O_POLICY | O_DISPLAY},
    {"channel",       "remove", 1, 1, {A_CHANNEL},        cmd_channel_remove, "NAME",        0},
    {"channel",       "list",   0, 0, {A_CHANNEL},        cmd_channel_list,   "",            0},
    {"channel",       "show",   1, 1, {A_CHANNEL},        cmd_channel_show,   "NAME",        0},
    {"roster",        "add",    2, 2, {A_CHANNEL, A_JID}, cmd_roster_add,     "CHANNEL JID",
     O_SUB | O_NAME | O_GROUP},
    {"roster",        "remove", 2, 2, {A_CHANNEL, A_JID}, cmd_roster_remove,  "CHANNEL JID", 0},
    {"roster",        "list",   1, 1, {A_CHANNEL},        cmd_roster_list,    "CHANNEL",     0},
    {"subscriptions", NULL,     1, 1, {A_CHANNEL},        cmd_subscriptions,  "CHANNEL",     0},
    {"status",        NULL,     1, 1, {A_CHANNEL},        cmd_status,         "CHANNEL",     0},
    {"offline",       "list",   0, 1, {A_CHANNEL},        cmd_offline_list,   "[CHANNEL]",   0},
    {"offline",       "purge",  1, 1, {A_CHANNEL},        cmd_offline_purge,  "CHANNEL",     0},
    {"stats",         NULL,     0, 0, {A_CHANNEL},        cmd_stats,          "",            0},
};
/* clang-format on */

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs("chanstatctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" (see chanstatctl --help)\n", stderr);
    return ADMIN_EXIT_USAGE;
}

/* Reports a failure of the admin module; returns its exit status. */
static int report(struct ctl *c, int r)
{
    fprintf(stderr, "chanstatctl: %s\n", c->err);
    return admin_exit_code(r);
}

/* The command named by words (at least one), or NULL after a usage
 * error; *used_r how many words it took. */
static const struct command *find_command(char **words, int n, int *used_r, int *status_r)
{
    bool known = false;
    for (size_t i = 0; i < CS_ARRAY_SIZE(commands); i++) {
        const struct command *cmd = &commands[i];
        if (strcmp(words[0], cmd->word) != 0)
            continue;
        known = true;
        if (cmd->sub == NULL) {
            *used_r = 1;
            return cmd;
        }
        if (n > 1 && strcmp(words[1], cmd->sub) == 0) {
            *used_r = 2;
            return cmd;
        }
    }
    if (!known)
        *status_r = usage_error("unknown command '%s'", words[0]);
    else if (n < 2)
        *status_r = usage_error("'%s' needs a subcommand", words[0]);
    else
        *status_r = usage_error("unknown command '%s %s'", words[0], words[1]);
    return NULL;
}

enum {
    OPT_JSON = 256,
    OPT_OWNER,
    OPT_NO_OWNER,
    OPT_POLICY,
    OPT_DISPLAY,
    OPT_SUB,
    OPT_NAME,
    OPT_GROUP
};

/* The option getopt just refused, as typed: a short one from optopt (a
 * cluster such as -xy leaves optind on it), a long one from the argument
 * before optind. */
static const char *opt_text(char **argv, int ind, char shortbuf[3])
{
    if (optopt > 0 && optopt < 256) {
        shortbuf[0] = '-';
        shortbuf[1] = (char)optopt;
        shortbuf[2] = '\0';
        return shortbuf;
    }
    return argv[ind > 0 ? ind - 1 : 0];
}

/* Sets a single-valued option once. */
static int set_once(struct ctl *c, unsigned flag, const char **slot, const char *value,
                    const char *name)
{
    if (c->given & flag)
        return usage_error("option --%s given twice", name);
    c->given |= flag;
    *slot = value;
    return 0;
}

/* Parses argv: global options, the command, its options and arguments.
 * 0, or the exit status of a usage error (already reported); *done_r
 * is true after --help or --version, which need nothing more. */
static int parse(struct ctl *c, int argc, char **argv, const char **config_r, bool *done_r)
{
    static const struct option global[] = {
        {"config", required_argument, NULL, 'c'},
        {"json", no_argument, NULL, OPT_JSON},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const struct option local[] = {
        {"config", required_argument, NULL, 'c'},
        {"json", no_argument, NULL, OPT_JSON},
        {"owner", required_argument, NULL, OPT_OWNER},
        {"no-owner", no_argument, NULL, OPT_NO_OWNER},
        {"policy", required_argument, NULL, OPT_POLICY},
        {"display-name", required_argument, NULL, OPT_DISPLAY},
        {"subscription", required_argument, NULL, OPT_SUB},
        {"name", required_argument, NULL, OPT_NAME},
        {"group", required_argument, NULL, OPT_GROUP},
        {NULL, 0, NULL, 0},
    };
    static const struct {
        int opt;
        unsigned flag;
    } flags[] = {
        {OPT_OWNER, O_OWNER},     {OPT_NO_OWNER, O_NO_OWNER}, {OPT_POLICY, O_POLICY},
        {OPT_DISPLAY, O_DISPLAY}, {OPT_SUB, O_SUB},           {OPT_NAME, O_NAME},
        {OPT_GROUP, O_GROUP},
    };
    const struct command *cmd;
    int opt, used, status = 0, sargc;
    char **sargv, sb[3];

    *done_r = false;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "+:c:Vh", global, NULL)) != -1) {
        switch (opt) {
        case 'c': *config_r = optarg; break;
        case OPT_JSON: c->json = true; break;
        case 'V':
            printf("chanstatctl %s\n", PACKAGE_VERSION);
            *done_r = true;
            return 0;
        case 'h':
            usage(stdout);
            *done_r = true;
            return 0;
        case ':': return usage_error("option '%s' needs a value", opt_text(argv, optind, sb));
        default: return usage_error("unknown option '%s'", opt_text(argv, optind, sb));
        }
    }
    if (optind >= argc)
        return usage_error("missing command");
    cmd = find_command(argv + optind, argc - optind, &used, &status);
    if (cmd == NULL)
        return status;
    c->cmd = cmd;

    /* The command's own options, anywhere after it (and the global ones
     * again).  getopt sees a private argv whose [0] is the program. */
    sargc = argc - optind - used + 1;
    sargv = xcalloc((size_t)sargc + 1, sizeof(*sargv));
    sargv[0] = argv[0];
    for (int i = 1; i < sargc; i++)
        sargv[i] = argv[optind + used + i - 1];
    optind = 0; /* glibc: start afresh on another argv */
    while (status == 0 && (opt = getopt_long(sargc, sargv, ":c:", local, NULL)) != -1) {
        unsigned flag = 0;
        for (size_t i = 0; i < CS_ARRAY_SIZE(flags); i++) {
            if (flags[i].opt == opt)
                flag = flags[i].flag;
        }
        if (flag != 0 && (cmd->opts & flag) == 0) {
            const char *name = "?";
            for (size_t i = 0; local[i].name != NULL; i++) {
                if (local[i].val == opt)
                    name = local[i].name;
            }
            status = usage_error("option '--%s' does not apply to '%s%s%s'", name, cmd->word,
                                 cmd->sub ? " " : "", cmd->sub ? cmd->sub : "");
            break;
        }
        switch (opt) {
        case 'c': *config_r = optarg; break;
        case OPT_JSON: c->json = true; break;
        case OPT_OWNER: status = set_once(c, O_OWNER, &c->ch.owner, optarg, "owner"); break;
        case OPT_NO_OWNER: c->ch.no_owner = true; break;
        case OPT_POLICY: status = set_once(c, O_POLICY, &c->ch.policy, optarg, "policy"); break;
        case OPT_DISPLAY:
            status = set_once(c, O_DISPLAY, &c->ch.display_name, optarg, "display-name");
            break;
        case OPT_SUB: status = set_once(c, O_SUB, &c->subscription, optarg, "subscription"); break;
        case OPT_NAME: status = set_once(c, O_NAME, &c->name, optarg, "name"); break;
        case OPT_GROUP:
            if (c->n_groups == MAX_GROUPS)
                status = usage_error("more than %d groups", MAX_GROUPS);
            else
                c->groups[c->n_groups++] = optarg;
            break;
        case ':':
            status = usage_error("option '%s' needs a value", opt_text(sargv, optind, sb));
            break;
        default: status = usage_error("unknown option '%s'", opt_text(sargv, optind, sb)); break;
        }
        c->given |= flag;
    }
    if (status == 0 && c->ch.owner != NULL && c->ch.no_owner)
        status = usage_error("--owner and --no-owner exclude each other");
    if (status == 0 && cmd->run == cmd_channel_set &&
        (c->given & (O_OWNER | O_NO_OWNER | O_POLICY | O_DISPLAY)) == 0)
        status = usage_error("'channel set' needs --owner, --no-owner, --policy or --display-name");
    for (int i = optind; status == 0 && i < sargc; i++) {
        if (c->nargs == cmd->max_args)
            status = usage_error("unexpected argument '%s'", sargv[i]);
        else
            c->args[c->nargs++] = sargv[i];
    }
    if (status == 0 && c->nargs < cmd->min_args)
        status = usage_error("'%s%s%s' needs %s", cmd->word, cmd->sub ? " " : "",
                             cmd->sub ? cmd->sub : "", cmd->args_doc);
    free(sargv);
    return status;
}

/* Validates the arguments and options before the database is opened. */
static int validate(struct ctl *c)
{
    struct admin_item_edit ie = {c->subscription, c->name, c->groups, c->n_groups};
    int r = 0;
    for (int i = 0; i < c->nargs && r == 0; i++) {
        char *norm = NULL;
        if (c->cmd->kinds[i] == A_CHANNEL)
            r = admin_channel_name(c->args[i], &norm, c->err, sizeof(c->err));
        else
            r = admin_bare_jid(c->args[i], false, &norm, c->err, sizeof(c->err));
        free(norm);
    }
    if (r == 0)
        r = admin_channel_edit_check(&c->ch, c->err, sizeof(c->err));
    if (r == 0)
        r = admin_item_edit_check(&ie, c->err, sizeof(c->err));
    return r == 0 ? 0 : report(c, r);
}

/* ---- Text output ---- */

/* s for a terminal: control characters and bytes that are no UTF-8 as
 * C-style escapes, so a hand-written value cannot break a line or the
 * terminal.  NULL gives "-".  Caller frees. */
static char *printable(const char *s)
{
    struct strbuf sb = {0};
    if (s == NULL || s[0] == '\0')
        return xstrdup("-");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\n')
            strbuf_append_str(&sb, "\\n");
        else if (*p == '\t')
            strbuf_append_str(&sb, "\\t");
        else if (*p < 0x20 || *p == 0x7f)
            strbuf_printf(&sb, "\\x%02x", *p);
        else
            strbuf_append(&sb, p, 1);
    }
    return sb.data;
}

/* Columns are aligned on characters, counted as UTF-8 lead bytes. */
static size_t width(const char *s)
{
    size_t n = 0;
    for (; *s; s++) {
        if (((unsigned char)*s & 0xc0) != 0x80)
            n++;
    }
    return n;
}

#define MAX_COLS 8

/* A table of text cells, printed with aligned columns. */
struct table {
    size_t ncols;
    const char *heads[MAX_COLS];
    char **cells; /* nrows * ncols, owned */
    size_t nrows, cap;
};

/* Adds a row of t->ncols cells (NULL: "-"). */
static void table_row(struct table *t, ...)
{
    va_list ap;
    if (t->nrows == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 16;
        t->cells = xrealloc(t->cells, t->cap * t->ncols * sizeof(*t->cells));
    }
    va_start(ap, t);
    for (size_t i = 0; i < t->ncols; i++)
        t->cells[t->nrows * t->ncols + i] = printable(va_arg(ap, const char *));
    va_end(ap);
    t->nrows++;
}

static void table_print(const struct table *t, const char *indent)
{
    size_t w[MAX_COLS];
    for (size_t i = 0; i < t->ncols; i++) {
        w[i] = width(t->heads[i]);
        for (size_t r = 0; r < t->nrows; r++) {
            size_t cw = width(t->cells[r * t->ncols + i]);
            w[i] = cw > w[i] ? cw : w[i];
        }
    }
    for (size_t r = 0; r <= t->nrows; r++) {
        fputs(indent, stdout);
        for (size_t i = 0; i < t->ncols; i++) {
            const char *s = r == 0 ? t->heads[i] : t->cells[(r - 1) * t->ncols + i];
            fputs(s, stdout);
            if (i + 1 < t->ncols)
                printf("%*s", (int)(w[i] - width(s) + 2), "");
        }
        putchar('\n');
    }
}

static void table_free(struct table *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    t->cells = NULL;
    t->nrows = t->cap = 0;
}

/* "key   value" lines with the values aligned: a two-column table
 * without a header. */
static void pairs_init(struct table *p)
{
    memset(p, 0, sizeof(*p));
    p->ncols = 2;
}

static void pair(struct table *p, const char *key, const char *value)
{
    table_row(p, key, value);
}

static void pairs_print(struct table *p)
{
    size_t w = 0;
    for (size_t r = 0; r < p->nrows; r++) {
        size_t kw = width(p->cells[2 * r]);
        w = kw > w ? kw : w;
    }
    for (size_t r = 0; r < p->nrows; r++) {
        const char *k = p->cells[2 * r];
        printf("%s%*s%s\n", k, (int)(w - width(k) + 2), "", p->cells[2 * r + 1]);
    }
    table_free(p);
}

static const char *fmt_int(int64_t v, char *buf, size_t size)
{
    snprintf(buf, size, "%" PRId64, v);
    return buf;
}

/* A time for text output: ISO 8601 UTC, or never for 0. */
static const char *fmt_time(int64_t t, char buf[ADMIN_TIME_LEN])
{
    if (t <= 0) {
        cs_strlcpy(buf, "never", ADMIN_TIME_LEN);
        return buf;
    }
    return admin_time_iso(t, buf);
}

/* "value" in double quotes with escapes, or none. */
static char *quote_or_none(const char *s)
{
    struct strbuf sb = {0};
    char *p;
    if (s == NULL)
        return xstrdup("none");
    p = printable(s);
    strbuf_printf(&sb, "\"%s\"", p);
    free(p);
    return sb.data;
}

/* The groups of a stored value, joined with ", " for text.  Caller frees. */
static char *groups_text(const char *groups)
{
    struct strbuf sb = {0};
    const char *p = groups, *g;
    size_t len;
    while (admin_group_next(&p, &g, &len)) {
        char *one = xstrndup(g, len);
        if (sb.len > 0)
            strbuf_append_str(&sb, ", ");
        strbuf_append_str(&sb, one);
        free(one);
    }
    return sb.data ? sb.data : xstrdup("");
}

/* ---- JSON output ---- */

static void json_groups(struct admin_json *j, const char *groups)
{
    const char *p = groups, *g;
    size_t len;
    admin_json_open(j, "groups", '[');
    while (admin_group_next(&p, &g, &len)) {
        char *one = xstrndup(g, len);
        admin_json_str(j, NULL, one);
        free(one);
    }
    admin_json_close(j, ']');
}

/* Opens an object with the channel's columns; the caller may add members
 * and closes it. */
static void json_channel(struct admin_json *j, const char *key, const struct admin_channel *ch)
{
    admin_json_open(j, key, '{');
    admin_json_str(j, "name", ch->name);
    admin_json_str(j, "owner", ch->owner);
    admin_json_str(j, "policy", channel_policy_name(ch->policy));
    admin_json_str(j, "display_name", ch->display_name);
    admin_json_time(j, "created", ch->created);
}

/* Members of a roster row, without channel (the caller adds it where it
 * is not the document's). */
static void json_item_fields(struct admin_json *j, const struct admin_item *it)
{
    admin_json_str(j, "jid", it->jid);
    admin_json_str(j, "subscription", it->subscription);
    admin_json_bool(j, "ask", it->ask);
    admin_json_bool(j, "pending_in", it->pending_in);
    admin_json_bool(j, "approved", it->approved);
    admin_json_str(j, "name", it->name);
    json_groups(j, it->groups);
}

static void json_print(struct admin_json *j)
{
    fwrite(j->out.data, 1, j->out.len, stdout);
    strbuf_free(&j->out);
}

/* ---- Commands ---- */

static void print_channel_line(const char *action, const struct admin_channel *ch)
{
    char *owner = printable(ch->owner ? ch->owner : "none");
    char *display = quote_or_none(ch->display_name);
    char *name = printable(ch->name);
    printf("channel %s %s: owner %s, policy %s, display name %s\n", name, action, owner,
           channel_policy_name(ch->policy), display);
    free(name);
    free(display);
    free(owner);
}

static int channel_written(struct ctl *c, enum admin_action action, struct admin_channel *ch)
{
    if (c->json) {
        struct admin_json j = {0};
        admin_json_open(&j, NULL, '{');
        admin_json_str(&j, "action", admin_action_name(action));
        json_channel(&j, "channel", ch);
        admin_json_close(&j, '}');
        admin_json_close(&j, '}');
        json_print(&j);
    } else {
        print_channel_line(admin_action_name(action), ch);
    }
    admin_channel_deinit(ch);
    return 0;
}

static int cmd_channel_add(struct ctl *c)
{
    struct admin_channel ch;
    int r = admin_channel_add(c->store, c->args[0], &c->ch, &ch, c->err, sizeof(c->err));
    return r != 0 ? report(c, r) : channel_written(c, ADMIN_ADDED, &ch);
}

static int cmd_channel_set(struct ctl *c)
{
    struct admin_channel ch;
    enum admin_action action;
    int r = admin_channel_set(c->store, c->args[0], &c->ch, &ch, &action, c->err, sizeof(c->err));
    return r != 0 ? report(c, r) : channel_written(c, action, &ch);
}

static int cmd_channel_remove(struct ctl *c)
{
    struct admin_removed rm;
    char *name;
    int r = admin_channel_remove(c->store, c->args[0], &rm, c->err, sizeof(c->err));
    if (r != 0)
        return report(c, r);
    admin_channel_name(c->args[0], &name, c->err, sizeof(c->err));
    if (c->json) {
        struct admin_json j = {0};
        admin_json_open(&j, NULL, '{');
        admin_json_str(&j, "action", "removed");
        admin_json_str(&j, "channel", name);
        admin_json_int(&j, "roster_rows", rm.roster_rows);
        admin_json_int(&j, "offline_messages", rm.offline_messages);
        admin_json_close(&j, '}');
        json_print(&j);
    } else {
        printf("channel %s removed, with %" PRId64 " roster row%s and %" PRId64
               " stored message%s\n",
               name, rm.roster_rows, rm.roster_rows == 1 ? "" : "s", rm.offline_messages,
               rm.offline_messages == 1 ? "" : "s");
    }
    free(name);
    return 0;
}

/* Collects rows for either output. */
struct collect {
    struct ctl *c;
    struct admin_json j;
    struct table t;
    size_t n;
};

static void on_channel(void *ud, const struct admin_channel *ch)
{
    struct collect *k = ud;
    char t[ADMIN_TIME_LEN];
    k->n++;
    if (k->c->json) {
        json_channel(&k->j, NULL, ch);
        admin_json_close(&k->j, '}');
    } else {
        table_row(&k->t, ch->name, ch->owner, channel_policy_name(ch->policy), ch->display_name,
                  admin_time_iso(ch->created, t));
    }
}

/* Prints a collected table, or none_text when it has no rows. */
static void table_or_none(struct collect *k, const char *none_text, const char *indent)
{
    if (k->n == 0)
        printf("%s%s\n", indent, none_text);
    else
        table_print(&k->t, indent);
    table_free(&k->t);
}

static int finish(struct collect *k, int r)
{
    if (r != 0) {
        strbuf_free(&k->j.out);
        table_free(&k->t);
        return report(k->c, r);
    }
    return 0;
}

/* A listing command's frame: a JSON document {"key": [...]} or a table. */
static void list_begin(struct collect *k, const char *key)
{
    if (k->c->json) {
        admin_json_open(&k->j, NULL, '{');
        admin_json_open(&k->j, key, '[');
    }
}

static int list_end(struct collect *k, int r, const char *none_text)
{
    if (r != 0)
        return finish(k, r);
    if (k->c->json) {
        admin_json_close(&k->j, ']');
        admin_json_close(&k->j, '}');
        json_print(&k->j);
    } else {
        table_or_none(k, none_text, "");
    }
    return 0;
}

static int cmd_channel_list(struct ctl *c)
{
    struct collect k = {
        .c = c, .t = {.ncols = 5, .heads = {"NAME", "OWNER", "POLICY", "DISPLAY NAME", "CREATED"}}};
    int r;
    list_begin(&k, "channels");
    r = admin_channel_list(c->store, on_channel, &k, c->err, sizeof(c->err));
    return list_end(&k, r, "no channels");
}

static int cmd_channel_show(struct ctl *c)
{
    struct admin_channel_info in;
    char a[ADMIN_TIME_LEN], b[ADMIN_TIME_LEN], n1[32], n2[32];
    int r = admin_channel_show(c->store, c->args[0], &in, c->err, sizeof(c->err));
    if (r != 0)
        return report(c, r);
    if (c->json) {
        struct admin_json j = {0};
        admin_json_open(&j, NULL, '{');
        json_channel(&j, "channel", &in.ch);
        admin_json_int(&j, "roster_rows", in.roster_rows);
        admin_json_int(&j, "watchers", in.watchers);
        admin_json_int(&j, "pending_in", in.pending_in);
        admin_json_int(&j, "pending_out", in.pending_out);
        admin_json_int(&j, "offline_messages", in.offline_messages);
        admin_json_int(&j, "offline_bytes", in.offline_bytes);
        admin_json_time(&j, "last_seen", in.last_seen);
        admin_json_bool(&j, "shown", in.shown);
        admin_json_close(&j, '}');
        admin_json_close(&j, '}');
        json_print(&j);
    } else {
        struct table p;
        struct strbuf off = {0};
        pairs_init(&p);
        pair(&p, "name", in.ch.name);
        pair(&p, "owner", in.ch.owner ? in.ch.owner : "none");
        pair(&p, "policy", channel_policy_name(in.ch.policy));
        pair(&p, "display name", in.ch.display_name ? in.ch.display_name : "none");
        pair(&p, "created", admin_time_iso(in.ch.created, a));
        pair(&p, "roster rows", fmt_int(in.roster_rows, n1, sizeof(n1)));
        pair(&p, "watchers", fmt_int(in.watchers, n2, sizeof(n2)));
        pair(&p, "pending in", fmt_int(in.pending_in, n1, sizeof(n1)));
        pair(&p, "pending out", fmt_int(in.pending_out, n2, sizeof(n2)));
        strbuf_printf(&off, "%" PRId64 " message%s, %" PRId64 " bytes", in.offline_messages,
                      in.offline_messages == 1 ? "" : "s", in.offline_bytes);
        pair(&p, "stored", off.data);
        pair(&p, "last seen", fmt_time(in.last_seen, b));
        pair(&p, "watchers see", in.shown ? "available" : "unavailable");
        pairs_print(&p);
        strbuf_free(&off);
    }
    admin_channel_deinit(&in.ch);
    return 0;
}

static int cmd_roster_add(struct ctl *c)
{
    struct admin_item_edit e = {c->subscription, c->name, c->groups, c->n_groups};
    enum admin_action action;
    struct admin_item it;
    int r = admin_roster_add(c->store, c->args[0], c->args[1], &e, &it, &action, c->err,
                             sizeof(c->err));
    if (r != 0)
        return report(c, r);
    if (c->json) {
        struct admin_json j = {0};
        admin_json_open(&j, NULL, '{');
        admin_json_str(&j, "action", admin_action_name(action));
        admin_json_open(&j, "item", '{');
        admin_json_str(&j, "channel", it.channel);
        json_item_fields(&j, &it);
        admin_json_close(&j, '}');
        admin_json_close(&j, '}');
        json_print(&j);
    } else {
        char *jid = printable(it.jid), *name = quote_or_none(it.name);
        char *groups = groups_text(it.groups), *pg = printable(groups);
        printf("roster row %s %s %s: subscription %s%s%s%s, name %s, groups %s\n", it.channel, jid,
               admin_action_name(action), it.subscription, it.pending_in ? ", pending in" : "",
               it.ask ? ", pending out" : "", it.approved ? ", pre-approved" : "", name,
               groups[0] ? pg : "none");
        free(pg);
        free(groups);
        free(name);
        free(jid);
    }
    admin_item_deinit(&it);
    return 0;
}

static int cmd_roster_remove(struct ctl *c)
{
    char *channel = NULL, *jid = NULL;
    int r = admin_roster_remove(c->store, c->args[0], c->args[1], c->err, sizeof(c->err));
    if (r != 0)
        return report(c, r);
    admin_channel_name(c->args[0], &channel, c->err, sizeof(c->err));
    admin_bare_jid(c->args[1], false, &jid, c->err, sizeof(c->err));
    if (c->json) {
        struct admin_json j = {0};
        admin_json_open(&j, NULL, '{');
        admin_json_str(&j, "action", "removed");
        admin_json_str(&j, "channel", channel);
        admin_json_str(&j, "jid", jid);
        admin_json_close(&j, '}');
        json_print(&j);
    } else {
        printf("roster row %s %s removed\n", channel, jid);
    }
    free(jid);
    free(channel);
    return 0;
}

static const char *pending_text(const struct admin_item *it)
{
    if (it->pending_in && it->ask)
        return "in+out";
    return it->pending_in ? "in" : it->ask ? "out" : NULL;
}

static void on_item(void *ud, const struct admin_item *it)
{
    struct collect *k = ud;
    k->n++;
    if (k->c->json) {
        admin_json_open(&k->j, NULL, '{');
        json_item_fields(&k->j, it);
        admin_json_close(&k->j, '}');
    } else {
        char *groups = groups_text(it->groups);
        table_row(&k->t, it->jid, it->subscription, pending_text(it), it->approved ? "yes" : NULL,
                  it->name, groups);
        free(groups);
    }
}

static int cmd_roster_list(struct ctl *c)
{
    struct collect k = {
        .c = c,
        .t = {.ncols = 6,
              .heads = {"JID", "SUBSCRIPTION", "PENDING", "APPROVED", "NAME", "GROUPS"}}};
    char *channel = NULL;
    int r;
    admin_channel_name(c->args[0], &channel, c->err, sizeof(c->err));
    if (c->json) {
        admin_json_open(&k.j, NULL, '{');
        admin_json_str(&k.j, "channel", channel);
        admin_json_open(&k.j, "items", '[');
    }
    r = admin_roster_list(c->store, c->args[0], on_item, &k, c->err, sizeof(c->err));
    if (r == 0 && c->json) {
        admin_json_close(&k.j, ']');
        admin_json_close(&k.j, '}');
        json_print(&k.j);
    } else if (r == 0) {
        printf("roster of channel %s: %zu row%s\n", channel, k.n, k.n == 1 ? "" : "s");
        if (k.n > 0)
            table_print(&k.t, "");
        table_free(&k.t);
    }
    free(channel);
    return finish(&k, r);
}

/* subscriptions: admin_subscriptions() passes the sections in order, so
 * JSON streams into one document (each section's array opened when its
 * turn comes, also when it has no rows); text keeps a table per section. */
struct subs {
    struct ctl *c;
    struct admin_json j;
    int open; /* the section whose array is open, -1: none yet */
    struct table t[3];
    size_t n[3];
};

static const char *const sub_keys[] = {"watchers", "pending_in", "pending_out"};

/* Opens the JSON arrays of the sections up to kind. */
static void subs_advance(struct subs *s, int kind)
{
    while (s->open < kind) {
        if (s->open >= 0)
            admin_json_close(&s->j, ']');
        s->open++;
        admin_json_open(&s->j, sub_keys[s->open], '[');
    }
}

static void on_sub(void *ud, enum admin_sub_kind kind, const struct admin_item *it)
{
    struct subs *s = ud;
    s->n[kind]++;
    if (s->c->json) {
        subs_advance(s, (int)kind);
        admin_json_open(&s->j, NULL, '{');
        admin_json_str(&s->j, "jid", it->jid);
        admin_json_str(&s->j, "subscription", it->subscription);
        admin_json_str(&s->j, "name", it->name);
        admin_json_close(&s->j, '}');
    } else {
        table_row(&s->t[kind], it->jid, it->subscription, it->name);
    }
}

struct leases {
    struct ctl *c;
    struct admin_json *j;
    struct table t;
    size_t n;
    long long now;
};

static void on_lease(void *ud, const char *node, long long expires)
{
    struct leases *l = ud;
    long long left = expires - l->now;
    char a[32];
    l->n++;
    if (left < 0)
        left = 0;
    if (l->c->json) {
        admin_json_open(l->j, NULL, '{');
        admin_json_str(l->j, "node", node);
        admin_json_int(l->j, "expires", (int64_t)expires);
        admin_json_int(l->j, "remaining_s", (int64_t)left);
        admin_json_close(l->j, '}');
    } else {
        snprintf(a, sizeof(a), "%lld s", left);
        table_row(&l->t, node, a, NULL);
    }
}

static int cmd_subscriptions(struct ctl *c)
{
    static const char *const titles[] = {"watchers", "pending requests in", "pending requests out"};
    struct subs s = {.c = c, .open = -1};
    char *channel = NULL;
    int r;

    admin_channel_name(c->args[0], &channel, c->err, sizeof(c->err));
    for (int i = 0; i < 3; i++)
        s.t[i] = (struct table){.ncols = 3, .heads = {"JID", "SUBSCRIPTION", "NAME"}};
    if (c->json) {
        admin_json_open(&s.j, NULL, '{');
        admin_json_str(&s.j, "channel", channel);
    }
    struct leases l = {.c = c, .j = &s.j, .now = (long long)time(NULL)};
    l.t = (struct table){.ncols = 2, .heads = {"NODE", "LEASE LEFT"}};
    r = admin_subscriptions(c->store, c->args[0], on_sub, &s, c->err, sizeof(c->err));
    if (r == 0 && c->json) {
        subs_advance(&s, ADMIN_PENDING_OUT);
        admin_json_close(&s.j, ']');
        /* Node-to-node subscriptions with their remaining leases. */
        admin_json_open(&s.j, "nodes", '[');
        r = admin_node_leases(c->store, c->args[0], on_lease, &l, c->err, sizeof(c->err));
        admin_json_close(&s.j, ']');
        admin_json_close(&s.j, '}');
        if (r == 0)
            json_print(&s.j);
    } else if (r == 0) {
        printf("subscriptions of channel %s\n", channel);
        for (int i = 0; i < 3; i++) {
            printf("%s: %zu\n", titles[i], s.n[i]);
            if (s.n[i] > 0)
                table_print(&s.t[i], "  ");
        }
        r = admin_node_leases(c->store, c->args[0], on_lease, &l, c->err, sizeof(c->err));
        if (r == 0) {
            printf("node subscriptions (remaining lease): %zu\n", l.n);
            if (l.n > 0)
                table_print(&l.t, "  ");
        }
    }
    table_free(&l.t);
    for (int i = 0; i < 3; i++)
        table_free(&s.t[i]);
    strbuf_free(&s.j.out);
    free(channel);
    return r == 0 ? 0 : report(c, r);
}

static int cmd_status(struct ctl *c)
{
    struct admin_status st;
    char t[ADMIN_TIME_LEN];
    int r = admin_status(c->store, c->args[0], &st, c->err, sizeof(c->err));
    if (r != 0)
        return report(c, r);
    if (c->json) {
        struct admin_json j = {0};
        admin_json_open(&j, NULL, '{');
        admin_json_str(&j, "channel", st.channel);
        admin_json_str(&j, "owner", st.owner);
        admin_json_bool(&j, "available", st.best != NULL);
        admin_json_str(&j, "show", st.best ? st.best->show : "unavailable");
        admin_json_str(&j, "status", st.best ? st.best->status : NULL);
        if (st.best)
            admin_json_int(&j, "priority", st.best->priority);
        else
            admin_json_str(&j, "priority", NULL);
        admin_json_str(&j, "resource", st.best ? st.best->resource : NULL);
        admin_json_time(&j, "last_seen", st.last_seen);
        admin_json_bool(&j, "shown", st.shown);
        admin_json_open(&j, "resources", '[');
        for (size_t i = 0; i < st.n_res; i++) {
            const struct admin_resource *res = &st.res[i];
            admin_json_open(&j, NULL, '{');
            admin_json_str(&j, "resource", res->resource);
            admin_json_str(&j, "show", res->show);
            admin_json_str(&j, "status", res->status);
            admin_json_int(&j, "priority", res->priority);
            admin_json_time(&j, "since", res->since);
            admin_json_close(&j, '}');
        }
        admin_json_close(&j, ']');
        admin_json_close(&j, '}');
        json_print(&j);
    } else {
        struct table p;
        struct table tab = {.ncols = 5,
                            .heads = {"RESOURCE", "SHOW", "PRIORITY", "SINCE", "STATUS"}};
        struct strbuf agg = {0};
        pairs_init(&p);
        pair(&p, "channel", st.channel);
        pair(&p, "owner", st.owner ? st.owner : "none");
        if (st.best) {
            strbuf_printf(&agg, "%s (resource %s, priority %" PRId64 ", since %s)", st.best->show,
                          st.best->resource, st.best->priority, admin_time_iso(st.best->since, t));
            pair(&p, "status", agg.data);
            pair(&p, "status text", st.best->status ? st.best->status : "none");
        } else {
            pair(&p, "status", "unavailable");
        }
        pair(&p, "last seen", fmt_time(st.last_seen, t));
        pair(&p, "watchers see", st.shown ? "available" : "unavailable");
        pairs_print(&p);
        strbuf_free(&agg);
        printf("owner resources: %zu\n", st.n_res);
        for (size_t i = 0; i < st.n_res; i++) {
            const struct admin_resource *res = &st.res[i];
            char prio[32];
            table_row(&tab, res->resource, res->show, fmt_int(res->priority, prio, sizeof(prio)),
                      admin_time_iso(res->since, t), res->status);
        }
        if (st.n_res > 0)
            table_print(&tab, "  ");
        table_free(&tab);
    }
    admin_status_deinit(&st);
    return 0;
}

static void on_message(void *ud, const struct admin_message *m)
{
    struct collect *k = ud;
    char t[ADMIN_TIME_LEN], id[32], bytes[32];
    k->n++;
    if (k->c->json) {
        admin_json_open(&k->j, NULL, '{');
        admin_json_int(&k->j, "id", m->id);
        admin_json_str(&k->j, "channel", m->channel);
        admin_json_str(&k->j, "sender", m->sender);
        admin_json_time(&k->j, "stored", m->stored);
        admin_json_int(&k->j, "bytes", m->bytes);
        admin_json_close(&k->j, '}');
    } else {
        table_row(&k->t, fmt_int(m->id, id, sizeof(id)), m->channel, m->sender,
                  admin_time_iso(m->stored, t), fmt_int(m->bytes, bytes, sizeof(bytes)));
    }
}

static int cmd_offline_list(struct ctl *c)
{
    struct collect k = {.c = c,
                        .t = {.ncols = 5, .heads = {"ID", "CHANNEL", "SENDER", "STORED", "BYTES"}}};
    const char *channel = c->nargs > 0 ? c->args[0] : NULL;
    int r;
    list_begin(&k, "messages");
    r = admin_offline_list(c->store, channel, on_message, &k, c->err, sizeof(c->err));
    return list_end(&k, r, "no stored messages");
}

static int cmd_offline_purge(struct ctl *c)
{
    char *channel = NULL;
    int64_t n;
    int r = admin_offline_purge(c->store, c->args[0], &n, c->err, sizeof(c->err));
    if (r != 0)
        return report(c, r);
    admin_channel_name(c->args[0], &channel, c->err, sizeof(c->err));
    if (c->json) {
        struct admin_json j = {0};
        admin_json_open(&j, NULL, '{');
        admin_json_str(&j, "action", "purged");
        admin_json_str(&j, "channel", channel);
        admin_json_int(&j, "messages", n);
        admin_json_close(&j, '}');
        json_print(&j);
    } else {
        printf("purged %" PRId64 " stored message%s of channel %s\n", n, n == 1 ? "" : "s",
               channel);
    }
    free(channel);
    return 0;
}

static void on_stat(void *ud, const char *name, int64_t value, int64_t updated)
{
    struct collect *k = ud;
    char t[ADMIN_TIME_LEN], v[32];
    k->n++;
    if (k->c->json) {
        admin_json_open(&k->j, NULL, '{');
        admin_json_str(&k->j, "name", name);
        admin_json_int(&k->j, "value", value);
        admin_json_time(&k->j, "updated", updated);
        admin_json_close(&k->j, '}');
    } else {
        table_row(&k->t, name, fmt_int(value, v, sizeof(v)), admin_time_iso(updated, t));
    }
}

static int cmd_stats(struct ctl *c)
{
    struct collect k = {.c = c, .t = {.ncols = 3, .heads = {"NAME", "VALUE", "UPDATED"}}};
    int r;
    list_begin(&k, "stats");
    r = admin_stats(c->store, on_stat, &k, c->err, sizeof(c->err));
    return list_end(&k, r, "no statistics yet (chanstatd writes them)");
}

/* ---- main ---- */

/* Opens the database the configuration names.  0 or an exit status
 * (reported).  store_open() would create a missing file: that is
 * chanstatd's job (--init-db), and a missing file here is most likely a
 * wrong -c or a wrong [storage] database. */
static int open_db(struct ctl *c, const struct config *cfg)
{
    struct stat sb;
    int r;
    if (stat(cfg->database, &sb) != 0 && errno == ENOENT) {
        fprintf(stderr,
                "chanstatctl: database '%s' does not exist (chanstatd -c FILE --init-db "
                "creates it)\n",
                cfg->database);
        return ADMIN_EXIT_RUNTIME;
    }
    r = store_open(cfg->database, cfg, &c->store, c->err, sizeof(c->err));
    return r == 0 ? 0 : report(c, r);
}

int main(int argc, char **argv)
{
    struct ctl c = {0};
    struct config cfg;
    const char *config = DEFAULT_CONFIG;
    bool done;
    int status;

    /* Warnings and errors only: store_open() notes migrations at info. */
    log_init(LOG_LEVEL_WARNING, false, "chanstatctl");
    status = parse(&c, argc, argv, &config, &done);
    if (status != 0 || done)
        return status;
    status = validate(&c);
    if (status != 0)
        return status;

    config_defaults(&cfg);
    if (config_load(&cfg, config, c.err, sizeof(c.err)) != 0) {
        fprintf(stderr, "chanstatctl: %s\n", c.err);
        config_deinit(&cfg);
        return ADMIN_EXIT_USAGE;
    }
    status = open_db(&c, &cfg);
    if (status == 0)
        status = c.cmd->run(&c);
    store_close(&c.store);
    config_deinit(&cfg);
    if (fflush(stdout) != 0 && status == 0) {
        fprintf(stderr, "chanstatctl: writing the output: %s\n", strerror(errno));
        status = ADMIN_EXIT_RUNTIME;
    }
    return status;
}
