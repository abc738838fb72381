/* check_config.c - the configuration file: defaults, every error kind with
 * file:line:key, --check-config output, the shipped sample. */
#include "config.h"

#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cs_config.h"
#include "cs_error.h"
#include "cs_log.h"
#include "cs_util.h"
#include "testutil.h"

static char path[64];

static unsigned count_of(const char *hay, const char *needle)
{
    unsigned n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

static void write_file(const char *text)
{
    FILE *f;
    ck_assert_uint_lt(cs_strlcpy(path, "/tmp/check_config.XXXXXX", sizeof(path)), sizeof(path));
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
}

/* Loads text; returns the code and leaves the message in err. */
static int load(const char *text, struct config *cfg, char *err, size_t errlen)
{
    int r;
    write_file(text);
    config_defaults(cfg);
    r = config_load(cfg, path, err, errlen);
    unlink(path);
    return r;
}

#define MIN "[component]\ndomain = status.example.org\nsecret = s\n"

START_TEST(test_defaults_and_minimal)
{
    struct config c;
    char err[512];
    ck_assert_int_eq(load(MIN, &c, err, sizeof(err)), 0);
    ck_assert_str_eq(c.domain, "status.example.org");
    ck_assert_str_eq(c.server, "127.0.0.1");
    ck_assert_int_eq(c.port, 5347);
    ck_assert_int_eq(c.max_stanza_bytes, 262144);
    ck_assert_int_eq(c.max_depth, 32);
    ck_assert_int_eq(c.reconnect_min_ms, 500);
    ck_assert_int_eq(c.synchronous, 2);
    ck_assert_int_eq(c.log_level, LOG_LEVEL_INFO);
    ck_assert(!c.log_syslog);
    ck_assert_str_eq(c.database, "/var/lib/chanstat/chanstat.db");
    config_deinit(&c);
    config_deinit(&c); /* twice is safe */
}
END_TEST

START_TEST(test_full_file)
{
    struct config c;
    char err[512];
    ck_assert_int_eq(load("; comment\n[component]\ndomain = Status.Example.ORG\nsecret = x y\n"
                          "server = xmpp.internal\nport = 5275\nkeepalive = 0\n"
                          "[limits]\nmax_stanza_bytes = 65536\nmax_depth = 8\n"
                          "[storage]\ndatabase = /tmp/x.db\nsynchronous = normal\n"
                          "[log]\nlevel = DEBUG\nsyslog = yes\n",
                          &c, err, sizeof(err)),
                     0);
    ck_assert_str_eq(c.domain, "status.example.org");
    ck_assert_str_eq(c.secret, "x y");
    ck_assert_str_eq(c.server, "xmpp.internal");
    ck_assert_int_eq(c.port, 5275);
    ck_assert_int_eq(c.keepalive_ms, 0);
    ck_assert_int_eq(c.max_stanza_bytes, 65536);
    ck_assert_int_eq(c.synchronous, 1);
    ck_assert_int_eq(c.log_level, LOG_LEVEL_DEBUG);
    ck_assert(c.log_syslog);
    config_deinit(&c);
}
END_TEST

static const struct {
    const char *text;
    const char *want; /* expected message after "PATH" */
} errors[] = {
    /* No domain a server routes to (found by fuzz_config: ';x' printed
     * back as a comment). */
    {"[component]\ndomain =;status.a.test\nsecret = s\n",
     ": domain in [component] is not a valid domain name: ';status.a.test'"},
    {MIN "[cluster]\nrole = front\nhomes = h1.a.test (ini).\n",
     ":6: invalid value '(ini).' for homes in [cluster]: expected domain names"},
    {MIN "secrte = 1\n", ":4: unknown key 'secrte' in section [component]"},
    {MIN "[compnent]\nport = 1\n", ":4: unknown section [compnent]"},
    {MIN "; fine\n[compnent]\n", ":5: unknown section [compnent]"}, /* even when empty */
    {"port = 1\n", ":1: key 'port' outside of any section"},
    {MIN "port = abc\n", ":4: invalid value 'abc' for port in [component]: not an integer"},
    {MIN "port = 70000\n", ":4: port in [component] must be between 1 and 65535 (got 70000)"},
    {MIN "[log]\nsyslog = maybe\n",
     ":5: invalid value 'maybe' for syslog in [log]: expected true or false"},
    {MIN "[log]\nlevel = loud\n",
     ":5: invalid value 'loud' for level in [log]: expected error, warning, info or debug"},
    {MIN "[storage]\nsynchronous = off\n",
     ":5: invalid value 'off' for synchronous in [storage]: expected full or normal"},
    {MIN "port = 1\nport = 2\n",
     ":5: duplicate key 'port' in section [component] (first set on line 4)"},
    {MIN "[log]\nlevel = info\n[component]\nport = 1\n[log]\nlevel = debug\n",
     ":9: duplicate key 'level' in section [log] (first set on line 5)"},
    {MIN "server = a\n  b\n", ":5: indented line continues the value of server in [component]"},
    {MIN "; long\nserver = "
         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
     ":5: line too long (215 bytes, at most 199)"},
    {MIN "[log]\nsyslog = 1\nsyslog = 0\n", ":6: duplicate key 'syslog'"},
    {"[component]\ndomain = a.test\n", ": required key 'secret' in [component] is missing"},
    {"[component]\ndomain = \nsecret = s\n", ":2: domain in [component] must not be empty"},
    {"[component]\ndomain = a@b\nsecret = s\n",
     ": domain in [component] is not a valid domain name: 'a@b'"},
    {"[component]\ndomain = a/b\nsecret = s\n",
     ": domain in [component] is not a valid domain name: 'a/b'"},
    {"[component]\ndomain = a b.test\nsecret = s\n",
     ": domain in [component] is not a valid domain name: 'a b.test'"},
    {"[component]\ndomain = a..test\nsecret = s\n",
     ": domain in [component] is not a valid domain name: 'a..test'"},
    {"[component]\ndomain = a.test\nsecret =\n", ":3: secret in [component] must not be empty"},
    {MIN "port = 0\n", ":4: port in [component] must be between 1 and 65535 (got 0)"},
    {MIN "port = 12x\n", ":4: invalid value '12x' for port in [component]: not an integer"},
    {MIN "port = 99999999999999999999\n",
     ":4: invalid value '99999999999999999999' for port in [component]: not an integer"},
    {MIN "[limits]\nmax_depth = 3\n", ":5: max_depth in [limits] must be between 4 and 1000"},
    {MIN "reconnect_min_ms = 5000\nreconnect_max_ms = 1000\n",
     ": reconnect_max_ms (1000) in [component] must not be below reconnect_min_ms (5000)"},
    {MIN "this is not ini\n", ":4: syntax error"},
    /* Only the first error is reported, whichever kind it is. */
    {MIN "this is not ini\nsecrte = 1\n", ":4: syntax error"},
    {MIN "secrte = 1\nthis is not ini\n", ":4: unknown key 'secrte'"},
    {MIN "[log\nlevel = debug\n", ":4: syntax error"},
    {MIN "[admin]\njids = a@b.test bob\n",
     ":5: invalid value 'bob' for jids in [admin]: expected bare JIDs (user@domain)"},
    {MIN "[admin]\njids = a@b.test/res\n",
     ":5: invalid value 'a@b.test/res' for jids in [admin]: expected bare JIDs"},
    {MIN "[registration]\ndomains = a.test, x@b.test\n",
     ":5: invalid value 'x@b.test' for domains in [registration]: expected domain names"},
    {MIN "[registration]\ndomains = [::1]\n", ":5: invalid value '[::1]' for domains"},
    {MIN "[registration]\nmax_channels_per_owner = 0\n",
     ":5: max_channels_per_owner in [registration] must be between 1 and 100000 (got 0)"},
    {MIN "[registration]\nenabled = 1\nenabled = 0\n", ":6: duplicate key 'enabled'"},
    {MIN "[limits]\nmax_stanza_bytes = 4096\nmax_message_bytes = 8192\n",
     ": max_message_bytes (8192) in [limits] must not exceed max_stanza_bytes (4096)"},
    /* Durations: the range is checked on the value as written, in the
     * key's unit, before any conversion. */
    {MIN "connect_timeout = 601\n",
     ":4: connect_timeout in [component] must be between 1 and 600 (got 601)"},
    {MIN "keepalive = -1\n", ":4: keepalive in [component] must be between 0 and 3600 (got -1)"},
    {MIN "keepalive = 1s\n", ":4: invalid value '1s' for keepalive in [component]: not an integer"},
    {MIN "reconnect_min_ms = 9\n",
     ":4: reconnect_min_ms in [component] must be between 10 and 600000 (got 9)"},
    {MIN "[limits]\nstall_timeout = 4\n",
     ":5: stall_timeout in [limits] must be between 5 and 86400 (got 4)"},
    {MIN "[offline]\nexpiry_days = 3651\n",
     ":5: expiry_days in [offline] must be between 1 and 3650 (got 3651)"},
    {MIN "[offline]\nexpiry_days = 0\n",
     ":5: expiry_days in [offline] must be between 1 and 3650 (got 0)"},
    /* In days as milliseconds this would overflow: refused as written. */
    {MIN "[offline]\nexpiry_days = 9223372036854775807\n",
     ":5: expiry_days in [offline] must be between 1 and 3650 (got 9223372036854775807)"},
    {MIN "[offline]\nexpiry_days = 9223372036854775808\n",
     ":5: invalid value '9223372036854775808' for expiry_days in [offline]: not an integer"},
    {MIN "[federation]\nlease = 1\n",
     ":5: lease in [federation] must be between 2 and 604800 (got 1)"},
    {MIN "[federation]\nrequest_timeout = 601\n",
     ":5: request_timeout in [federation] must be between 1 and 600 (got 601)"},
    {MIN "[storage]\nbusy_timeout_ms = 600001\n",
     ":5: busy_timeout_ms in [storage] must be between 0 and 600000 (got 600001)"},
};

START_TEST(test_errors)
{
    struct config c;
    char err[512], want[512];
    ck_assert_int_eq(load(errors[_i].text, &c, err, sizeof(err)), CS_ECONFIG);
    snprintf(want, sizeof(want), "%s%s", path, errors[_i].want);
    ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "got '%s', want '%s'", err, want);
    config_deinit(&c);
}
END_TEST

START_TEST(test_lists)
{
    struct config c;
    char err[512];
    /* Defaults: registration off, no domain restriction, no admins. */
    ck_assert_int_eq(load(MIN, &c, err, sizeof(err)), 0);
    ck_assert(!c.registration_enabled);
    ck_assert_int_eq(c.registration_max_per_owner, 5);
    ck_assert_uint_eq(c.registration_domains.n, 0);
    ck_assert_uint_eq(c.admin_jids.n, 0);
    config_deinit(&c);
    /* Spaces and commas separate; JIDs and domains are normalised; a
     * repeated list key continues the list; duplicates count once. */
    ck_assert_msg(load(MIN "[admin]\njids = Ann@A.test,bob@b.test  carol@c.test.\n"
                           "[registration]\nenabled = yes\ndomains = A.test,,b.test\n"
                           "max_channels_per_owner = 2\n[admin]\njids = dave@d.test ann@a.test\n",
                       &c, err, sizeof(err)) == 0,
                  "%s", err);
    ck_assert(c.registration_enabled);
    ck_assert_int_eq(c.registration_max_per_owner, 2);
    ck_assert_uint_eq(c.admin_jids.n, 4);
    ck_assert_str_eq(c.admin_jids.v[0], "ann@a.test");
    ck_assert_str_eq(c.admin_jids.v[2], "carol@c.test");
    ck_assert_str_eq(c.admin_jids.v[3], "dave@d.test");
    ck_assert(config_list_has(&c.admin_jids, "bob@b.test"));
    ck_assert(!config_list_has(&c.admin_jids, "Bob@b.test"));
    ck_assert_uint_eq(c.registration_domains.n, 2);
    ck_assert_str_eq(c.registration_domains.v[0], "a.test");
    config_deinit(&c);
}
END_TEST

START_TEST(test_long_list_roundtrip)
{
    /* A list longer than a line prints as repeated keys that parse back. */
    struct config c, d;
    char err[512];
    struct strbuf text = {0};
    char *buf = NULL;
    size_t len = 0;
    FILE *f;

    strbuf_append_str(&text, MIN "[admin]\n");
    for (int i = 0; i < 40; i++)
        strbuf_printf(&text, "jids = admin%02d@example.org\n", i);
    ck_assert_msg(load(text.data, &c, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(c.admin_jids.n, 40);
    f = open_memstream(&buf, &len);
    config_print(&c, f);
    fclose(f);
    for (char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        size_t n = strchr(l, '\n') ? (size_t)(strchr(l, '\n') - l) : strlen(l);
        ck_assert_uint_le(n, 199);
    }
    ck_assert_uint_gt(count_of(buf, "jids = "), 1);
    memcpy(strstr(buf, "********"), "s\n      ", 8);
    ck_assert_msg(load(buf, &d, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(d.admin_jids.n, 40);
    for (size_t i = 0; i < 40; i++)
        ck_assert_str_eq(d.admin_jids.v[i], c.admin_jids.v[i]);
    free(buf);
    strbuf_free(&text);
    config_deinit(&c);
    config_deinit(&d);
}
END_TEST

START_TEST(test_longest_line)
{
    /* inih's line buffer holds 199 bytes: a line of exactly that length is
     * read whole, not split. */
    struct config c;
    char err[512], text[512], value[200];
    memset(value, 'x', 190);
    value[190] = '\0';
    snprintf(text, sizeof(text), MIN "server = %s\n", value);
    ck_assert_int_eq(strlen(strrchr(text, 's')), 200); /* 199 + newline */
    ck_assert_msg(load(text, &c, err, sizeof(err)) == 0, "%s", err);
    ck_assert_str_eq(c.server, value);
    config_deinit(&c);
}
END_TEST

START_TEST(test_missing_file)
{
    struct config c;
    char err[512];
    config_defaults(&c);
    ck_assert_int_eq(config_load(&c, "/nonexistent/chanstat.conf", err, sizeof(err)), CS_EIO);
    ck_assert_str_eq(err, "/nonexistent/chanstat.conf: cannot open: No such file or directory");
    config_deinit(&c);
}
END_TEST

START_TEST(test_database_given_as_config)
{
    /* A real database file where the configuration was meant: said in
     * plain words, not as a parse error. */
    struct config c;
    char err[512], want[512];
    sqlite3 *db;
    ck_assert_uint_lt(cs_strlcpy(path, "/tmp/check_config.XXXXXX", sizeof(path)), sizeof(path));
    ck_assert_int_ge(mkstemp(path), 0);
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, "CREATE TABLE t (x)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    config_defaults(&c);
    ck_assert_int_eq(config_load(&c, path, err, sizeof(err)), CS_ECONFIG);
    snprintf(want, sizeof(want),
             "%s is an SQLite database, not a configuration file; give the configuration file "
             "(for example -c /etc/chanstat/chanstat.conf), which names the database in [storage] "
             "database",
             path);
    ck_assert_str_eq(err, want);
    unlink(path);
    config_deinit(&c);
}
END_TEST

START_TEST(test_print_roundtrip)
{
    struct config c, d;
    char err[512];
    char *buf = NULL;
    size_t len = 0;
    FILE *f;

    ck_assert_int_eq(load(MIN "port = 6000\n[log]\nlevel = warning\n", &c, err, sizeof(err)), 0);
    f = open_memstream(&buf, &len);
    config_print(&c, f);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(buf, "secret = ********\n"));
    ck_assert_ptr_null(strstr(buf, "secret = s\n"));
    /* Put the secret back and the output parses to the same values. */
    char *first = xstrdup(buf);
    char *at = strstr(buf, "********");
    memcpy(at, "s\n      ", 8);
    ck_assert_msg(load(buf, &d, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(d.port, 6000);
    ck_assert_int_eq(d.log_level, LOG_LEVEL_WARNING);
    ck_assert_str_eq(d.domain, c.domain);
    ck_assert_str_eq(d.secret, "s");
    ck_assert_int_eq(d.max_depth, c.max_depth);
    free(buf);
    /* ... all of them: printing the re-parsed config gives the same text. */
    buf = NULL;
    f = open_memstream(&buf, &len);
    config_print(&d, f);
    fclose(f);
    ck_assert_str_eq(buf, first);
    free(first);
    free(buf);
    config_deinit(&c);
    config_deinit(&d);
}
END_TEST

START_TEST(test_print_roundtrip_leading_semicolon)
{
    /* "database = ;x" reads as a comment, "database =;x" as ;x: the
     * printout keeps the difference (found by fuzz_config). */
    struct config c, d;
    char err[512], *buf = NULL, *at;
    size_t len = 0;
    FILE *f;
    ck_assert_int_eq(load(MIN "[storage]\ndatabase =;x\n", &c, err, sizeof(err)), 0);
    ck_assert_str_eq(c.database, ";x");
    f = open_memstream(&buf, &len);
    config_print(&c, f);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(buf, "\ndatabase =;x\n"));
    at = strstr(buf, "********");
    memcpy(at, "s\n      ", 8);
    ck_assert_msg(load(buf, &d, err, sizeof(err)) == 0, "%s", err);
    ck_assert_str_eq(d.database, ";x");
    free(buf);
    config_deinit(&c);
    config_deinit(&d);
    /* A secret prints masked, so its own first character decides nothing. */
    ck_assert_int_eq(load("[component]\ndomain = a.test\nsecret =;s\n", &c, err, sizeof(err)), 0);
    buf = NULL;
    f = open_memstream(&buf, &len);
    config_print(&c, f);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(buf, "\nsecret = ********\n"));
    free(buf);
    config_deinit(&c);
}
END_TEST

/* A duration is written in its key's unit (seconds, days or
 * milliseconds) and held in milliseconds; --check-config prints it back
 * in the file's unit. */
START_TEST(test_durations)
{
    struct config c;
    char err[512];
    char *buf = NULL;
    size_t len = 0;
    FILE *f;

    ck_assert_int_eq(load(MIN, &c, err, sizeof(err)), 0);
    ck_assert_int_eq(c.connect_timeout_ms, 10000);
    ck_assert_int_eq(c.keepalive_ms, 60000);
    ck_assert_int_eq(c.reconnect_min_ms, 500);
    ck_assert_int_eq(c.reconnect_max_ms, 30000);
    ck_assert_int_eq(c.stall_timeout_ms, 60000);
    ck_assert_int_eq(c.offline_expiry_ms, 2592000000); /* 30 days: more than an int holds */
    ck_assert_int_eq(c.busy_timeout_ms, 5000);
    ck_assert_int_eq(c.fed_lease_ms, 3600000);
    ck_assert_int_eq(c.fed_resubscribe_delta_ms, 300000);
    ck_assert_int_eq(c.fed_min_resubscribe_ms, 60000);
    ck_assert_int_eq(c.fed_retry_ms, 60000);
    ck_assert_int_eq(c.fed_linger_ms, 30000);
    ck_assert_int_eq(c.fed_discovery_ttl_ms, 3600000);
    ck_assert_int_eq(c.fed_request_timeout_ms, 30000);
    config_deinit(&c);

    ck_assert_msg(load(MIN "connect_timeout = 600\nkeepalive = 0\nreconnect_min_ms = 10\n"
                           "reconnect_max_ms = 3600000\n[limits]\nstall_timeout = 86400\n"
                           "[offline]\nexpiry_days = 3650\n[federation]\nlease = 604800\n"
                           "resubscribe_delta = 1\nmin_resubscribe_time = 86400\n"
                           "on_error_retry_time = 7\nlinger = 0\ndiscovery_ttl = 604800\n"
                           "request_timeout = 600\n",
                       &c, err, sizeof(err)) == 0,
                  "%s", err);
    ck_assert_int_eq(c.connect_timeout_ms, 600000);
    ck_assert_int_eq(c.keepalive_ms, 0);
    ck_assert_int_eq(c.reconnect_min_ms, 10);
    ck_assert_int_eq(c.reconnect_max_ms, 3600000);
    ck_assert_int_eq(c.stall_timeout_ms, 86400000);
    ck_assert_int_eq(c.offline_expiry_ms, 315360000000);
    ck_assert_int_eq(c.fed_lease_ms, 604800000);
    ck_assert_int_eq(c.fed_resubscribe_delta_ms, 1000);
    ck_assert_int_eq(c.fed_min_resubscribe_ms, 86400000);
    ck_assert_int_eq(c.fed_retry_ms, 7000);
    ck_assert_int_eq(c.fed_linger_ms, 0);
    ck_assert_int_eq(c.fed_discovery_ttl_ms, 604800000);
    ck_assert_int_eq(c.fed_request_timeout_ms, 600000);

    f = open_memstream(&buf, &len);
    config_print(&c, f);
    fclose(f);
    static const char *const printed[] = {
        "\nconnect_timeout = 600\n",
        "\nkeepalive = 0\n",
        "\nreconnect_min_ms = 10\n",
        "\nreconnect_max_ms = 3600000\n",
        "\nstall_timeout = 86400\n",
        "; days a stored message is kept (1..3650, default 30)\nexpiry_days = 3650\n",
        "\nlease = 604800\n",
        "\nresubscribe_delta = 1\n",
        "\non_error_retry_time = 7\n",
        "\nlinger = 0\n",
        "\nrequest_timeout = 600\n",
    };
    for (size_t i = 0; i < CS_ARRAY_SIZE(printed); i++)
        ck_assert_msg(strstr(buf, printed[i]) != NULL, "no '%s' in\n%s", printed[i], buf);
    free(buf);
    config_deinit(&c);
}
END_TEST

START_TEST(test_sample_parses)
{
    /* The shipped sample, with domain and secret filled in, is valid. */
    const char *top = getenv("top_srcdir");
    char sample[1024], line[1024];
    struct strbuf sb = {0};
    struct config c;
    char err[512];
    FILE *f;

    snprintf(sample, sizeof(sample), "%s/conf/chanstat.conf.sample", top ? top : ".");
    f = fopen(sample, "r");
    ck_assert_msg(f != NULL, "cannot open %s", sample);
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, ";domain = ", 10) == 0 || strncmp(line, ";secret = ", 10) == 0)
            strbuf_append_str(&sb, line + 1);
        else
            strbuf_append_str(&sb, line);
    }
    fclose(f);
    ck_assert_int_eq(load(sb.data, &c, err, sizeof(err)), 0);
    ck_assert_str_eq(c.domain, "status.example.org");
    /* Every key the program knows appears in the sample. */
    char *buf = NULL;
    size_t len = 0;
    f = open_memstream(&buf, &len);
    config_print(&c, f);
    fclose(f);
    char *save = NULL;
    for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char name[128], key[136];
        if (l[0] == '[' || l[0] == ';' || sscanf(l, "%127s =", name) != 1)
            continue;
        snprintf(key, sizeof(key), "%s = ", name);
        ck_assert_msg(strstr(sb.data, key), "sample lacks key '%s'", key);
    }
    free(buf);
    strbuf_free(&sb);
    config_deinit(&c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_defaults_and_minimal);
    tcase_add_test(tc, test_full_file);
    tcase_add_loop_test(tc, test_errors, 0, (int)(sizeof(errors) / sizeof(errors[0])));
    tcase_add_test(tc, test_lists);
    tcase_add_test(tc, test_long_list_roundtrip);
    tcase_add_test(tc, test_longest_line);
    tcase_add_test(tc, test_missing_file);
    tcase_add_test(tc, test_database_given_as_config);
    tcase_add_test(tc, test_print_roundtrip);
    tcase_add_test(tc, test_print_roundtrip_leading_semicolon);
    tcase_add_test(tc, test_sample_parses);
    tcase_add_test(tc, test_durations);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
