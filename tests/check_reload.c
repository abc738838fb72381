/* check_reload.c - SIGHUP's reload: which keys a running node takes
 * (config_reload), and reload_run() with a real log file: reopened after
 * a move, kept when the file cannot be reopened, a broken file changing
 * nothing, restart-only keys named and kept. */
#include "config.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cs_config.h"
#include "cs_error.h"
#include "cs_log.h"
#include "cs_reload.h"
#include "cs_util.h"
#include "testutil.h"

static char dir[64];
static char conf[128];

static void setup(void)
{
    cs_strlcpy(dir, "/tmp/check_reload.XXXXXX", sizeof(dir));
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(conf, sizeof(conf), "%s/chanstat.conf", dir);
}

static void teardown(void)
{
    char cmd[128];
    log_set_file(NULL, NULL, 0);
    log_set_level(LOG_LEVEL_ERROR);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static void write_conf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void write_conf(const char *fmt, ...)
{
    va_list ap;
    FILE *f = fopen(conf, "w");
    ck_assert_ptr_nonnull(f);
    fputs("[component]\ndomain = status.example.org\nsecret = s\n", f);
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    ck_assert_int_eq(fclose(f), 0);
}

static void load(struct config *cfg)
{
    char err[512];
    config_defaults(cfg);
    ck_assert_msg(config_load(cfg, conf, err, sizeof(err)) == 0, "%s", err);
}

/* The whole file, "" when missing.  Caller frees. */
static char *slurp(const char *path)
{
    struct strbuf sb = {0};
    char buf[4096];
    size_t n;
    FILE *f = fopen(path, "r");
    strbuf_reserve(&sb, 1);
    if (f == NULL)
        return sb.data;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        strbuf_append(&sb, buf, n);
    fclose(f);
    return sb.data;
}

static unsigned count_of(const char *hay, const char *needle)
{
    unsigned n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

struct seen {
    char text[1024];
    int n;
};

static void on_change(void *ud, const char *section, const char *key, enum config_change what)
{
    struct seen *s = ud;
    size_t len = strlen(s->text);
    snprintf(s->text + len, sizeof(s->text) - len, "[%s] %s %s;", section, key,
             what == CONFIG_APPLIED ? "applied" : "restart");
    s->n++;
}

START_TEST(test_unchanged)
{
    struct config live, fresh;
    struct seen s = {0};
    write_conf("[admin]\njids = a@example.org\n[log]\nfile = %s/log\n", dir);
    load(&live);
    load(&fresh);
    ck_assert_int_eq(config_reload(&live, &fresh, on_change, &s), 0);
    ck_assert_int_eq(s.n, 0);
    config_deinit(&fresh);
    config_deinit(&live);
}
END_TEST

START_TEST(test_safe_applied_others_kept)
{
    struct config live, fresh;
    struct seen s = {0};
    const struct config_list *admins = &live.admin_jids;
    write_conf("[admin]\njids = a@example.org\n");
    load(&live);
    write_conf("port = 5348\nreconnect_max_ms = 60000\n[limits]\nsubscription_burst = 3\n"
               "max_depth = 40\n[offline]\nexpiry_days = 2\n[admin]\n"
               "jids = b@example.org c@example.org\n[storage]\ndatabase = /elsewhere.db\n"
               "[log]\nlevel = debug\nsyslog = true\nfile = %s/x.log\n",
               dir);
    load(&fresh);
    ck_assert_int_eq(config_reload(&live, &fresh, on_change, &s), 7);
    /* Table order, every changed key named once. */
    ck_assert_str_eq(s.text, "[component] port restart;[component] reconnect_max_ms applied;"
                             "[limits] max_depth restart;[limits] subscription_burst applied;"
                             "[offline] expiry_days applied;[admin] jids applied;"
                             "[storage] database restart;[log] level applied;"
                             "[log] syslog applied;[log] file applied;");
    ck_assert_int_eq(live.port, 5347);
    ck_assert_int_eq(live.max_depth, 32);
    ck_assert_str_eq(live.database, "/var/lib/chanstat/chanstat.db");
    ck_assert_int_eq(live.reconnect_max_ms, 60000);
    ck_assert_int_eq(live.subscription_burst, 3);
    ck_assert_int_eq(live.offline_expiry_ms, 2 * MS_PER_DAY);
    ck_assert_int_eq(live.log_level, LOG_LEVEL_DEBUG);
    ck_assert(live.log_syslog);
    ck_assert_ptr_nonnull(strstr(live.log_file, "/x.log"));
    /* Whoever borrowed &live.admin_jids reads the new list. */
    ck_assert(config_list_has(admins, "c@example.org"));
    ck_assert(!config_list_has(admins, "a@example.org"));
    /* fresh holds the old values now, and frees them. */
    ck_assert(config_list_has(&fresh.admin_jids, "a@example.org"));
    ck_assert_ptr_null(fresh.log_file);
    ck_assert_int_eq(fresh.subscription_burst, 10);
    config_deinit(&fresh);
    config_deinit(&live);
}
END_TEST

/* max_message_bytes fits the new max_stanza_bytes, which waits for a
 * restart, but not the running one: it waits too. */
START_TEST(test_message_size_within_running_stanza_size)
{
    struct config live, fresh;
    struct seen s = {0};
    write_conf("[limits]\nmax_stanza_bytes = 100000\n");
    load(&live);
    write_conf("[limits]\nmax_stanza_bytes = 300000\nmax_message_bytes = 200000\n");
    load(&fresh);
    ck_assert_int_eq(config_reload(&live, &fresh, on_change, &s), 0);
    ck_assert_str_eq(s.text,
                     "[limits] max_stanza_bytes restart;[limits] max_message_bytes restart;");
    ck_assert_int_eq(live.max_message_bytes, 65536);
    config_deinit(&fresh);
    /* Within it: taken. */
    memset(&s, 0, sizeof(s));
    write_conf("[limits]\nmax_stanza_bytes = 100000\nmax_message_bytes = 1000\n");
    load(&fresh);
    ck_assert_int_eq(config_reload(&live, &fresh, on_change, &s), 1);
    ck_assert_int_eq(live.max_message_bytes, 1000);
    config_deinit(&fresh);
    config_deinit(&live);
}
END_TEST

START_TEST(test_reloadable_list)
{
    ck_assert(config_reloadable("log", "level"));
    ck_assert(config_reloadable("log", "file"));
    ck_assert(config_reloadable("limits", "subscriptions_per_minute"));
    ck_assert(!config_reloadable("component", "port"));
    ck_assert(!config_reloadable("limits", "send_buffer_bytes"));
    ck_assert(!config_reloadable("storage", "database"));
    ck_assert(!config_reloadable("log", "nonsense"));
}
END_TEST

/* logrotate's create rotation: the file moved away, SIGHUP, a new file. */
START_TEST(test_run_reopens_moved_file)
{
    struct config live;
    struct reload_result res;
    char logp[160], moved[160], err[256];
    char *a, *b;
    snprintf(logp, sizeof(logp), "%s/chanstatd.log", dir);
    snprintf(moved, sizeof(moved), "%s/chanstatd.log.1", dir);
    write_conf("[log]\nlevel = info\nfile = %s\n", logp);
    load(&live);
    log_set_level((enum log_level)live.log_level);
    ck_assert_int_eq(log_set_file(live.log_file, err, sizeof(err)), 0);
    log_info("before the move");
    ck_assert_int_eq(rename(logp, moved), 0);
    reload_run(&live, conf, NULL, &res);
    ck_assert_int_eq(res.failed, 0);
    ck_assert_int_eq(res.applied, 0);
    log_info("after the move");
    a = slurp(moved);
    b = slurp(logp);
    ck_assert_uint_eq(count_of(a, "before the move"), 1);
    ck_assert_uint_eq(count_of(a, "after the move"), 0);
    ck_assert_uint_eq(count_of(b, "after the move"), 1);
    ck_assert_uint_eq(count_of(b, "reload: "), 1);
    ck_assert_uint_eq(count_of(b, "applied: nothing changed; 0 changed key(s) need a restart"), 1);
    free(a);
    free(b);
    config_deinit(&live);
}
END_TEST

/* The file cannot be opened again: lines go on to the old descriptor. */
START_TEST(test_run_keeps_descriptor_when_reopen_fails)
{
    struct config live;
    struct reload_result res;
    char sub[96], logp[160], moved[160], err[256];
    char *a;
    snprintf(sub, sizeof(sub), "%s/logs", dir);
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    snprintf(logp, sizeof(logp), "%s/chanstatd.log", sub);
    snprintf(moved, sizeof(moved), "%s/kept.log", dir);
    write_conf("[log]\nlevel = info\nfile = %s\n", logp);
    load(&live);
    log_set_level(LOG_LEVEL_INFO);
    ck_assert_int_eq(log_set_file(live.log_file, err, sizeof(err)), 0);
    ck_assert_int_eq(rename(logp, moved), 0);
    ck_assert_int_eq(rmdir(sub), 0);
    reload_run(&live, conf, NULL, &res);
    log_info("still here");
    a = slurp(moved);
    ck_assert_uint_eq(count_of(a, "error: reload: cannot open log file"), 1);
    ck_assert_uint_eq(count_of(a, "still here"), 1);
    free(a);
    config_deinit(&live);
}
END_TEST

START_TEST(test_run_broken_file_changes_nothing)
{
    struct config live;
    struct reload_result res;
    char logp[160], err[256];
    char *a;
    snprintf(logp, sizeof(logp), "%s/chanstatd.log", dir);
    write_conf("[limits]\nsubscription_burst = 7\n[log]\nlevel = info\nfile = %s\n", logp);
    load(&live);
    log_set_level(LOG_LEVEL_INFO);
    ck_assert_int_eq(log_set_file(live.log_file, err, sizeof(err)), 0);
    write_conf("[limits]\nsubscription_burst = 8\nsubscription_brust = 9\n[log]\nlevel = debug\n");
    reload_run(&live, conf, NULL, &res);
    ck_assert_int_eq(res.failed, CS_ECONFIG);
    ck_assert_int_eq(live.subscription_burst, 7);
    ck_assert_int_eq(live.log_level, LOG_LEVEL_INFO);
    ck_assert(!log_enabled(LOG_LEVEL_DEBUG));
    ck_assert_str_eq(log_file(), logp);
    a = slurp(logp);
    ck_assert_msg(count_of(a, "chanstat.conf:6: unknown key 'subscription_brust' in section "
                              "[limits]; the running configuration is kept") == 1,
                  "%s", a);
    free(a);
    /* A file that went missing is no different. */
    ck_assert_int_eq(unlink(conf), 0);
    reload_run(&live, conf, NULL, &res);
    ck_assert_int_eq(res.failed, CS_EIO);
    config_deinit(&live);
}
END_TEST

START_TEST(test_run_level_restart_keys_and_new_file)
{
    struct config live;
    struct reload_result res;
    char logp[160], newp[160], badp[160], err[256];
    char *a, *b;
    snprintf(logp, sizeof(logp), "%s/chanstatd.log", dir);
    snprintf(newp, sizeof(newp), "%s/other.log", dir);
    snprintf(badp, sizeof(badp), "%s/no/such/dir.log", dir);
    write_conf("[log]\nlevel = info\nfile = %s\n", logp);
    load(&live);
    log_set_level(LOG_LEVEL_INFO);
    ck_assert_int_eq(log_set_file(live.log_file, err, sizeof(err)), 0);
    /* Debug on, a restart-only key, a file that cannot be opened. */
    write_conf("port = 6000\n[log]\nlevel = debug\nfile = %s\n", badp);
    reload_run(&live, conf, NULL, &res);
    ck_assert_int_eq(res.failed, 0);
    ck_assert_int_eq(res.applied, 1);
    ck_assert_int_eq(res.needs_restart, 1);
    ck_assert_int_eq(live.port, 5347);
    ck_assert(log_enabled(LOG_LEVEL_DEBUG));
    ck_assert_str_eq(live.log_file, logp);
    ck_assert_str_eq(log_file(), logp);
    log_debug("a debug line");
    a = slurp(logp);
    ck_assert_uint_eq(count_of(a, "warning: reload: [component] port changed; needs a restart"), 1);
    ck_assert_uint_eq(count_of(a, "[log] file stays "), 1);
    ck_assert_uint_eq(count_of(a, "applied: [log] level; 1 changed key(s) need a restart"), 1);
    ck_assert_uint_eq(count_of(a, "debug: a debug line"), 1);
    free(a);
    /* Down to warning, to another file: the summary still shows, there. */
    write_conf("[log]\nlevel = warning\nfile = %s\n", newp);
    reload_run(&live, conf, NULL, &res);
    ck_assert_int_eq(res.applied, 2);
    ck_assert_str_eq(log_file(), newp);
    log_info("not shown");
    log_warning("shown");
    a = slurp(logp);
    b = slurp(newp);
    ck_assert_uint_eq(count_of(a, "shown"), 0);
    ck_assert_uint_eq(count_of(b, "applied: [log] level, [log] file"), 1);
    ck_assert_uint_eq(count_of(b, "not shown"), 0);
    ck_assert_uint_eq(count_of(b, "warning: shown"), 1);
    free(a);
    free(b);
    config_deinit(&live);
}
END_TEST

/* [log] file is created 0640 less the umask, and appended to. */
START_TEST(test_file_mode_and_append)
{
    char logp[160], err[256];
    struct stat st;
    char *a;
    mode_t old = umask(022);
    snprintf(logp, sizeof(logp), "%s/m.log", dir);
    FILE *f = fopen(logp, "w");
    ck_assert_ptr_nonnull(f);
    fputs("earlier\n", f);
    fclose(f);
    ck_assert_int_eq(unlink(logp), 0);
    ck_assert_int_eq(log_set_file(logp, err, sizeof(err)), 0);
    ck_assert_int_eq(stat(logp, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0640);
    log_error("one");
    ck_assert_int_eq(log_set_file(logp, err, sizeof(err)), 0);
    log_error("two");
    a = slurp(logp);
    ck_assert_uint_eq(count_of(a, "error: one\n"), 1);
    ck_assert_uint_eq(count_of(a, "error: two\n"), 1);
    free(a);
    ck_assert_int_eq(log_set_file("/nonexistent-dir/x.log", err, sizeof(err)), CS_EIO);
    ck_assert_ptr_nonnull(strstr(err, "cannot open log file /nonexistent-dir/x.log"));
    ck_assert_str_eq(log_file(), logp);
    umask(old);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("reload");
    TCase *tc = tcase_create("core");
    log_init(LOG_LEVEL_ERROR, false, "check_reload");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_unchanged);
    tcase_add_test(tc, test_safe_applied_others_kept);
    tcase_add_test(tc, test_message_size_within_running_stanza_size);
    tcase_add_test(tc, test_reloadable_list);
    tcase_add_test(tc, test_run_reopens_moved_file);
    tcase_add_test(tc, test_run_keeps_descriptor_when_reopen_fails);
    tcase_add_test(tc, test_run_broken_file_changes_nothing);
    tcase_add_test(tc, test_run_level_restart_keys_and_new_file);
    tcase_add_test(tc, test_file_mode_and_append);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
