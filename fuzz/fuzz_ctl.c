/* fuzz_ctl.c - chanstatctl's command line, run whole: the input is its
 * argument list (NUL separates arguments), run against a fresh copy of a
 * small database with a few channels.  Every run must end with one of the
 * documented exit statuses (chanstatctl(1)): 0, 2 usage, 3 invalid input
 * or 4 no such row.  Status 1 (database or system error) never has a
 * cause here, so it counts as a failure too. */
#include "config.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cs_config.h"
#include "cs_log.h"
#include "cs_store.h"

/* chanstatctl.c's main, under another name. */
#define main chanstatctl_main
#include "../src/admin/chanstatctl.c"
#undef main

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FUZZ_ARGS 24

static char dir[64], conf[96], db[96], tmpl[96];

static const char *const seed_sql =
    "INSERT INTO channel (name, owner, policy) VALUES ('alpha', 'alice@a.test', 'open'),"
    " ('desk', 'bob@a.test', 'approve'), ('vault', NULL, 'closed');"
    "INSERT INTO roster (channel, jid, subscription) VALUES ('alpha', 'alice@a.test', 'to'),"
    " ('alpha', 'carol@a.test', 'from'), ('desk', 'dave@b.test', 'both');";

static void write_file(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "w");
    if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0)
        abort();
}

static void copy_file(const char *from, const char *to)
{
    char buf[65536];
    size_t n;
    FILE *in = fopen(from, "r"), *out = fopen(to, "w");
    if (in == NULL || out == NULL)
        abort();
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            abort();
    fclose(in);
    if (fclose(out) != 0)
        abort();
}

/* The config file and a template database, once. */
static void setup(void)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    struct config cfg;
    struct store *st;
    char err[256], text[256];
    snprintf(dir, sizeof(dir), "%s/fuzz_ctl.XXXXXX", base);
    if (mkdtemp(dir) == NULL)
        abort();
    snprintf(conf, sizeof(conf), "%s/chanstat.conf", dir);
    snprintf(db, sizeof(db), "%s/db", dir);
    snprintf(tmpl, sizeof(tmpl), "%s/template", dir);
    snprintf(text, sizeof(text),
             "[component]\ndomain = status.a.test\nsecret = s\n"
             "[storage]\ndatabase = %s\nsynchronous = normal\n",
             db);
    write_file(conf, text, strlen(text));
    config_defaults(&cfg);
    if (config_load(&cfg, conf, err, sizeof(err)) != 0)
        abort();
    if (store_open(tmpl, &cfg, &st, err, sizeof(err)) != 0)
        abort();
    if (sqlite3_exec(store_handle(st), seed_sql, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(store_handle(st), "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL) !=
            SQLITE_OK)
        abort();
    store_close(&st);
    config_deinit(&cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy, *argv[MAX_FUZZ_ARGS + 4], path[128];
    int argc = 0, status;
    size_t at = 0;
    FILE *real_stderr;
    if (dir[0] == '\0') {
        setup();
        /* chanstatctl's own output is not what is checked. */
        if (freopen("/dev/null", "w", stdout) == NULL)
            abort();
    }
    copy_file(tmpl, db);
    snprintf(path, sizeof(path), "%s-wal", db);
    unlink(path);
    snprintf(path, sizeof(path), "%s-shm", db);
    unlink(path);

    copy = malloc(size + 1);
    memcpy(copy, data, size);
    copy[size] = '\0';
    argv[argc++] = "chanstatctl";
    argv[argc++] = "-c";
    argv[argc++] = conf;
    while (at <= size && argc < MAX_FUZZ_ARGS + 3) {
        argv[argc++] = copy + at;
        at += strlen(copy + at) + 1;
    }
    argv[argc] = NULL;

    /* Its messages go nowhere; sanitizer reports still reach fd 2. */
    real_stderr = stderr;
    stderr = fopen("/dev/null", "w");
    optind = 0;
    status = chanstatctl_main(argc, argv);
    fclose(stderr);
    stderr = real_stderr;
    free(copy);
    if (status != 0 && status != 2 && status != 3 && status != 4) {
        fprintf(stderr, "fuzz_ctl: exit status %d\n", status);
        abort();
    }
    return 0;
}
