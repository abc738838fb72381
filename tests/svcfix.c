/* svcfix.c - see svcfix.h. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cs_changes.h"
#include "cs_chanprops.h"
#include "cs_federation.h"
#include "cs_iqwait.h"
#include "cs_propsub.h"
#include "cs_log.h"
#include "svcfix.h"
#include "testutil.h"

struct svcfix F;

static const struct stats *counters(void *ud)
{
    return &((struct svcfix *)ud)->counters;
}

void svcfix_setup(void)
{
    char err[256], path[128];
    struct home_limits lim = {
        .sub_burst = 1000, .sub_per_minute = 6000, .max_pending = 100, .retry_ms = 60000};
    memset(&F, 0, sizeof(F));
    log_init(LOG_LEVEL_ERROR, false, "check");
    cs_strlcpy(F.dir, "/tmp/check_svc.XXXXXX", sizeof(F.dir));
    ck_assert_ptr_nonnull(mkdtemp(F.dir));
    snprintf(path, sizeof(path), "%s/db", F.dir);
    config_defaults(&F.cfg);
    ck_assert_int_eq(store_open(path, &F.cfg, &F.store, err, sizeof(err)), 0);
    F.roster = roster_new(F.store, err, sizeof(err));
    ck_assert_ptr_nonnull(F.roster);
    F.props = chanprops_new(F.store, err, sizeof(err));
    ck_assert_ptr_nonnull(F.props);
    testout_init(&F.out);
    F.home = home_new(FIX_DOMAIN, F.roster, &lim, &F.out.path);
    service_init(&F.svc, FIX_DOMAIN, F.home, NULL, &F.out.path);
    F.opts = (struct service_opts){
        .registration = false,
        .max_channels_per_owner = 5,
        .counters = counters,
        .counters_ud = &F,
        .props = F.props,
    };
    F.counters.v[STAT_IN_IQ] = 7;
    F.counters.v[STAT_DELIVERIES] = 12345;
    svcfix_configure(NULL, NULL);
    F.now_ms = 1000000;
}

static void list_free(struct config_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static void list_set(struct config_list *l, const char *items)
{
    char *copy, *save = NULL;
    list_free(l);
    if (items == NULL)
        return;
    copy = xstrdup(items);
    for (char *it = strtok_r(copy, " ", &save); it; it = strtok_r(NULL, " ", &save)) {
        l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
        l->v[l->n++] = xstrdup(it);
    }
    free(copy);
}

void svcfix_configure(const char *admins, const char *domains)
{
    list_set(&F.admins, admins);
    list_set(&F.domains, domains);
    F.opts.admins = &F.admins;
    F.opts.registration_domains = &F.domains;
    service_configure(&F.svc, &F.opts);
}

static const char *finish(void);

void svcfix_use_props(const struct pep_limits *limits)
{
    char err[256];
    F.subs = propsub_new(F.store, err, sizeof(err));
    ck_assert_ptr_nonnull(F.subs);
    F.iqwait = iqwait_new();
    F.svc.iqwait = F.iqwait;
    fed_use_iqwait(F.home, F.iqwait);
    home_use_props(F.home, F.props, F.subs, limits);
}

const char *svcfix_channel_edited(const char *name)
{
    struct change ch = {.channel = name};
    F.out.buf.len = 0;
    home_apply_change(F.home, &ch, F.now_ms);
    return finish();
}

void svcfix_teardown(void)
{
    char cmd[128];
    service_deinit(&F.svc);
    home_free(&F.home);
    iqwait_free(&F.iqwait);
    propsub_free(&F.subs);
    chanprops_free(&F.props);
    roster_free(&F.roster);
    store_close(&F.store);
    config_deinit(&F.cfg);
    testout_deinit(&F.out);
    list_free(&F.admins);
    list_free(&F.domains);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", F.dir);
    ck_assert_int_eq(system(cmd), 0);
}

void svcfix_sql(const char *q)
{
    char *msg = NULL;
    ck_assert_msg(sqlite3_exec(store_handle(F.store), q, NULL, NULL, &msg) == SQLITE_OK, "%s: %s",
                  q, msg);
}

int svcfix_int(const char *q)
{
    sqlite3_stmt *st;
    int n = -1;
    ck_assert_int_eq(sqlite3_prepare_v2(store_handle(F.store), q, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return n;
}

const char *svcfix_text(const char *q)
{
    static struct strbuf sb;
    sqlite3_stmt *st;
    sb.len = 0;
    ck_assert_int_eq(sqlite3_prepare_v2(store_handle(F.store), q, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        strbuf_append_str(&sb, t ? t : "");
    } else {
        strbuf_append_str(&sb, "absent");
    }
    sqlite3_finalize(st);
    return sb.data;
}

static const char *finish(void)
{
    static struct strbuf last;
    ck_assert_int_eq(roster_tx_commit(F.roster), 0);
    while (home_pump(F.home, F.now_ms))
        ;
    ck_assert_int_eq(roster_tx_commit(F.roster), 0);
    last.len = 0;
    strbuf_append(&last, "", 0);
    if (F.out.buf.data)
        strbuf_append(&last, F.out.buf.data, F.out.buf.len);
    F.out.buf.len = 0;
    return last.data;
}

const char *svcfix_in(const char *xml)
{
    struct xml_node *st = test_parse_stanza(xml);
    F.out.buf.len = 0;
    service_handle(&F.svc, st, F.now_ms);
    xml_free(st);
    return finish();
}

const char *svcfix_online(void)
{
    F.out.buf.len = 0;
    home_online(F.home, F.now_ms);
    return finish();
}
