/* chanstatctl.c - the admin tool: the command line, the commands and
 * main.  What each command does to the database is in admin.c and
 * adminroster.c (cs_admin.h); how its result is printed, as aligned text
 * or one JSON document, is in ctlprint.c (ctl.h). */
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
#include "ctl.h"

/* chanstatd has no default configuration path; this one is documented in
 * chanstatctl(1) and is where the README's examples keep the file. */
#define DEFAULT_CONFIG "/etc/chanstat/chanstat.conf"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: chanstatctl [-c FILE] [--json] COMMAND ...\n"
            "\n"
            "  channel add NAME [--owner JID] [--policy open|approve|closed] "
            "[--display-name TEXT] [PROPERTIES]\n"
            "  channel set NAME [--owner JID | --no-owner] [--policy P] [--display-name TEXT]\n"
            "                   [PROPERTIES] [--no-avatar]\n"
            "      PROPERTIES: [--description TEXT] [--email ADDR] [--url URL] "
            "[--avatar FILE]\n"
            "      (FILE: PNG or JPEG, at most 65536 bytes; \"\" removes a text)\n"
            "  channel remove NAME | channel list | channel show NAME\n"
            "  roster add CHANNEL JID [--subscription none|to|from|both] [--name TEXT] "
            "[--group G]...\n"
            "  roster remove CHANNEL JID | roster list CHANNEL\n"
            "  subscriptions CHANNEL   watchers, requests, node and property leases\n"
            "  status CHANNEL          aggregate status and owner resources, last seen\n"
            "  offline list [CHANNEL] | offline purge CHANNEL\n"
            "  stats [--format text|json|prometheus]\n"
            "  placement set CHANNEL HOME | placement remove CHANNEL | placement list [CHANNEL]\n"
            "                          at a cluster's front: which home holds a channel\n"
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
    O_AVATAR = 1 << 7,
    O_NO_AVATAR = 1 << 8,
    O_DESC = 1 << 9,
    O_EMAIL = 1 << 10,
    O_URL = 1 << 11,
    O_TO = 1 << 12,
    O_FORMAT = 1 << 13,
};
#define O_PROPS (O_AVATAR | O_DESC | O_EMAIL | O_URL)

/* What a positional argument is, for validation before the database is
 * opened: bad input is exit status 3 whatever the state of the database. */
enum arg_kind { A_CHANNEL, A_JID, A_HOME };

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
     O_OWNER | O_POLICY | O_DISPLAY | O_PROPS},
    {"channel",       "set",    1, 1, {A_CHANNEL},        cmd_channel_set,    "NAME",
     O_OWNER | O_NO_OWNER | O_POLICY | O_DISPLAY | O_PROPS | O_NO_AVATAR},
    {"channel",       "remove", 1, 1, {A_CHANNEL},        cmd_channel_remove, "NAME",        0},
    {"channel",       "list",   0, 0, {A_CHANNEL},        cmd_channel_list,   "",            0},
    {"channel",       "show",   1, 1, {A_CHANNEL},        cmd_channel_show,   "NAME",        0},
    {"channel",       "move",   1, 1, {A_CHANNEL},        ctl_channel_move,   "NAME",        O_TO},
    {"roster",        "add",    2, 2, {A_CHANNEL, A_JID}, cmd_roster_add,     "CHANNEL JID",
     O_SUB | O_NAME | O_GROUP},
    {"roster",        "remove", 2, 2, {A_CHANNEL, A_JID}, cmd_roster_remove,  "CHANNEL JID", 0},
    {"roster",        "list",   1, 1, {A_CHANNEL},        cmd_roster_list,    "CHANNEL",     0},
    {"subscriptions", NULL,     1, 1, {A_CHANNEL},        cmd_subscriptions,  "CHANNEL",     0},
    {"status",        NULL,     1, 1, {A_CHANNEL},        cmd_status,         "CHANNEL",     0},
    {"offline",       "list",   0, 1, {A_CHANNEL},        cmd_offline_list,   "[CHANNEL]",   0},
    {"offline",       "purge",  1, 1, {A_CHANNEL},        cmd_offline_purge,  "CHANNEL",     0},
    {"stats",         NULL,     0, 0, {A_CHANNEL},        cmd_stats,          "",            O_FORMAT},
    {"placement",     "set",    2, 2, {A_CHANNEL, A_HOME}, ctl_placement_set, "CHANNEL HOME", 0},
    {"placement",     "remove", 1, 1, {A_CHANNEL},        ctl_placement_remove, "CHANNEL",   0},
    {"placement",     "list",   0, 1, {A_CHANNEL},        ctl_placement_list, "[CHANNEL]",   0},
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
    OPT_GROUP,
    OPT_AVATAR,
    OPT_NO_AVATAR,
    OPT_DESC,
    OPT_EMAIL,
    OPT_URL,
    OPT_TO,
    OPT_FORMAT
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
        {"avatar", required_argument, NULL, OPT_AVATAR},
        {"no-avatar", no_argument, NULL, OPT_NO_AVATAR},
        {"description", required_argument, NULL, OPT_DESC},
        {"email", required_argument, NULL, OPT_EMAIL},
        {"url", required_argument, NULL, OPT_URL},
        {"to", required_argument, NULL, OPT_TO},
        {"format", required_argument, NULL, OPT_FORMAT},
        {NULL, 0, NULL, 0},
    };
    static const struct {
        int opt;
        unsigned flag;
    } flags[] = {
        {OPT_OWNER, O_OWNER},     {OPT_NO_OWNER, O_NO_OWNER}, {OPT_POLICY, O_POLICY},
        {OPT_DISPLAY, O_DISPLAY}, {OPT_SUB, O_SUB},           {OPT_NAME, O_NAME},
        {OPT_GROUP, O_GROUP},     {OPT_AVATAR, O_AVATAR},     {OPT_NO_AVATAR, O_NO_AVATAR},
        {OPT_DESC, O_DESC},       {OPT_EMAIL, O_EMAIL},       {OPT_URL, O_URL},
        {OPT_TO, O_TO},           {OPT_FORMAT, O_FORMAT},
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
        case OPT_AVATAR:
            status = set_once(c, O_AVATAR, &c->ch.avatar_file, optarg, "avatar");
            break;
        case OPT_NO_AVATAR: c->ch.no_avatar = true; break;
        case OPT_DESC:
            status = set_once(c, O_DESC, &c->ch.description, optarg, "description");
            break;
        case OPT_EMAIL: status = set_once(c, O_EMAIL, &c->ch.email, optarg, "email"); break;
        case OPT_URL: status = set_once(c, O_URL, &c->ch.url, optarg, "url"); break;
        case OPT_TO: status = set_once(c, O_TO, &c->move_to, optarg, "to"); break;
        case OPT_FORMAT: status = set_once(c, O_FORMAT, &c->format, optarg, "format"); break;
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
    if (status == 0 && c->format != NULL) {
        if (strcmp(c->format, "json") == 0)
            c->json = true;
        else if (strcmp(c->format, "text") != 0 && strcmp(c->format, "prometheus") != 0)
            status = usage_error("unknown format '%s' (text, json or prometheus)", c->format);
        else if (c->json)
            status = usage_error("--json and --format=%s exclude each other", c->format);
    }
    if (status == 0 && c->ch.avatar_file != NULL && c->ch.no_avatar)
        status = usage_error("--avatar and --no-avatar exclude each other");
    if (status == 0 && cmd->run == cmd_channel_set &&
        (c->given & (O_OWNER | O_NO_OWNER | O_POLICY | O_DISPLAY | O_PROPS | O_NO_AVATAR)) == 0)
        status = usage_error("'channel set' needs --owner, --no-owner, --policy, --display-name, "
                             "--description, --email, --url, --avatar or --no-avatar");
    for (int i = optind; status == 0 && i < sargc; i++) {
        if (c->nargs == cmd->max_args)
            status = usage_error("unexpected argument '%s'", sargv[i]);
        else
            c->args[c->nargs++] = sargv[i];
    }
    if (status == 0 && cmd->run == ctl_channel_move && c->move_to == NULL)
        status = usage_error("'channel move' needs --to FILE (the other home's configuration)");
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
        else if (c->cmd->kinds[i] == A_HOME)
            ; /* checked against [cluster] homes once the file is read */
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

/* ---- Commands ---- */

static int cmd_channel_add(struct ctl *c)
{
    struct admin_channel ch;
    int r = admin_channel_add(c->store, c->args[0], &c->ch, &ch, c->err, sizeof(c->err));
    return r != 0 ? report(c, r) : ctl_channel_written(c, ADMIN_ADDED, &ch);
}

static int cmd_channel_set(struct ctl *c)
{
    struct admin_channel ch;
    enum admin_action action;
    int r = admin_channel_set(c->store, c->args[0], &c->ch, &ch, &action, c->err, sizeof(c->err));
    return r != 0 ? report(c, r) : ctl_channel_written(c, action, &ch);
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
        ctl_json_print(&j);
    } else {
        printf("channel %s removed, with %" PRId64 " roster row%s and %" PRId64
               " stored message%s\n",
               name, rm.roster_rows, rm.roster_rows == 1 ? "" : "s", rm.offline_messages,
               rm.offline_messages == 1 ? "" : "s");
    }
    free(name);
    return 0;
}

/* Prints a collected table, or none_text when it has no rows. */
static void table_or_none(struct collect *k, const char *none_text, const char *indent)
{
    if (k->n == 0)
        printf("%s%s\n", indent, none_text);
    else
        ctl_table_print(&k->t, indent);
    ctl_table_free(&k->t);
}

static int finish(struct collect *k, int r)
{
    if (r != 0) {
        strbuf_free(&k->j.out);
        ctl_table_free(&k->t);
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
        ctl_json_print(&k->j);
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
    r = admin_channel_list(c->store, ctl_on_channel, &k, c->err, sizeof(c->err));
    return list_end(&k, r, "no channels");
}

static int cmd_channel_show(struct ctl *c)
{
    struct admin_channel_info in;
    int r = admin_channel_show(c->store, c->args[0], &in, c->err, sizeof(c->err));
    if (r != 0)
        return report(c, r);
    ctl_print_channel_info(c, &in);
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
    ctl_print_item(c, action, &it);
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
        ctl_json_print(&j);
    } else {
        printf("roster row %s %s removed\n", channel, jid);
    }
    free(jid);
    free(channel);
    return 0;
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
    r = admin_roster_list(c->store, c->args[0], ctl_on_item, &k, c->err, sizeof(c->err));
    if (r == 0 && c->json) {
        admin_json_close(&k.j, ']');
        admin_json_close(&k.j, '}');
        ctl_json_print(&k.j);
    } else if (r == 0) {
        printf("roster of channel %s: %zu row%s\n", channel, k.n, k.n == 1 ? "" : "s");
        if (k.n > 0)
            ctl_table_print(&k.t, "");
        ctl_table_free(&k.t);
    }
    free(channel);
    return finish(&k, r);
}

static int cmd_subscriptions(struct ctl *c)
{
    static const char *const titles[] = {"watchers", "pending requests in", "pending requests out"};
    struct subs s = {.c = c, .open = -1};
    char *channel = NULL;
    int r;

    if (c->cfg->cluster_role == CLUSTER_FRONT)
        return ctl_front_subscriptions(c); /* its watchers; the channel is at its home */

    admin_channel_name(c->args[0], &channel, c->err, sizeof(c->err));
    for (int i = 0; i < 3; i++)
        s.t[i] = (struct table){.ncols = 3, .heads = {"JID", "SUBSCRIPTION", "NAME"}};
    if (c->json) {
        admin_json_open(&s.j, NULL, '{');
        admin_json_str(&s.j, "channel", channel);
    }
    struct leases l = {.c = c, .j = &s.j, .now = (long long)time(NULL)};
    l.t = (struct table){.ncols = 2, .heads = {"NODE", "LEASE LEFT"}};
    struct leases p = {.c = c, .j = &s.j, .now = l.now};
    p.t = (struct table){.ncols = 3, .heads = {"JID", "NODE", "LEASE LEFT"}};
    r = admin_subscriptions(c->store, c->args[0], ctl_on_sub, &s, c->err, sizeof(c->err));
    if (r == 0 && c->json) {
        ctl_subs_advance(&s, ADMIN_PENDING_OUT);
        admin_json_close(&s.j, ']');
        /* Node-to-node subscriptions with their remaining leases. */
        admin_json_open(&s.j, "nodes", '[');
        r = admin_node_leases(c->store, c->args[0], ctl_on_lease, &l, c->err, sizeof(c->err));
        admin_json_close(&s.j, ']');
        /* Property subscriptions (XEP-0060), their leases running. */
        admin_json_open(&s.j, "properties", '[');
        if (r == 0)
            r = admin_prop_subscriptions(c->store, c->args[0], p.now, ctl_on_propsub, &p, c->err,
                                         sizeof(c->err));
        admin_json_close(&s.j, ']');
        admin_json_close(&s.j, '}');
        if (r == 0)
            ctl_json_print(&s.j);
    } else if (r == 0) {
        printf("subscriptions of channel %s\n", channel);
        for (int i = 0; i < 3; i++) {
            printf("%s: %zu\n", titles[i], s.n[i]);
            if (s.n[i] > 0)
                ctl_table_print(&s.t[i], "  ");
        }
        r = admin_node_leases(c->store, c->args[0], ctl_on_lease, &l, c->err, sizeof(c->err));
        if (r == 0) {
            printf("node subscriptions (remaining lease): %zu\n", l.n);
            if (l.n > 0)
                ctl_table_print(&l.t, "  ");
            r = admin_prop_subscriptions(c->store, c->args[0], p.now, ctl_on_propsub, &p, c->err,
                                         sizeof(c->err));
        }
        if (r == 0) {
            printf("property subscriptions (remaining lease): %zu\n", p.n);
            if (p.n > 0)
                ctl_table_print(&p.t, "  ");
        }
    }
    ctl_table_free(&l.t);
    ctl_table_free(&p.t);
    for (int i = 0; i < 3; i++)
        ctl_table_free(&s.t[i]);
    strbuf_free(&s.j.out);
    free(channel);
    return r == 0 ? 0 : report(c, r);
}

static int cmd_status(struct ctl *c)
{
    struct admin_status st;
    int r = admin_status(c->store, c->args[0], &st, c->err, sizeof(c->err));
    if (r != 0)
        return report(c, r);
    ctl_print_status(c, &st);
    admin_status_deinit(&st);
    return 0;
}

static int cmd_offline_list(struct ctl *c)
{
    struct collect k = {.c = c,
                        .t = {.ncols = 5, .heads = {"ID", "CHANNEL", "SENDER", "STORED", "BYTES"}}};
    const char *channel = c->nargs > 0 ? c->args[0] : NULL;
    int r;
    list_begin(&k, "messages");
    r = admin_offline_list(c->store, channel, ctl_on_message, &k, c->err, sizeof(c->err));
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
        ctl_json_print(&j);
    } else {
        printf("purged %" PRId64 " stored message%s of channel %s\n", n, n == 1 ? "" : "s",
               channel);
    }
    free(channel);
    return 0;
}

static int cmd_stats(struct ctl *c)
{
    struct collect k = {.c = c, .t = {.ncols = 3, .heads = {"NAME", "VALUE", "UPDATED"}}};
    int r;
    if (c->format && strcmp(c->format, "prometheus") == 0)
        return ctl_stats_prometheus(c);
    list_begin(&k, "stats");
    r = admin_stats(c->store, ctl_on_stat, &k, c->err, sizeof(c->err));
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
    if (r != 0)
        return report(c, r);
    store_log_locks(c->store, false); /* a lock is the command's own error */
    return 0;
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
    c.cfg = &cfg;
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
