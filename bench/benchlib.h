/* benchlib.h - a fake XEP-0114 server that starts and drives chanstatd,
 * for the benchmarks in bench/. */
#ifndef BENCHLIB_H
#define BENCHLIB_H

#include <stddef.h>
#include <sys/types.h>

#include <sqlite3.h>

struct bench {
    char dir[64];   /* scratch directory */
    char conf[128]; /* chanstatd's config */
    char db[128];   /* its database */
    pid_t pid;      /* chanstatd */
    int fd;         /* the component connection, after bench_accept() */
    int lfd;
};

/* Creates the scratch dir, a listener, the config (extra_ini appended) and
 * the database (chanstatd --init-db).  Exits on failure. */
void bench_init(struct bench *b, const char *chanstatd, const char *extra_ini);
/* Opens the database for direct setup; caller closes. */
sqlite3 *bench_db(struct bench *b);
void bench_sql(sqlite3 *db, const char *sql);
/* Starts chanstatd and completes its handshake. */
void bench_start(struct bench *b, const char *chanstatd);
/* Reads until token was seen (discarding what came before it). */
void bench_read_until(struct bench *b, const char *token);
/* Counts occurrences of pat in what chanstatd sends until want were seen. */
long bench_count(struct bench *b, const char *pat, long want);
void bench_send(struct bench *b, const char *data, size_t len);
double bench_now(void);
double bench_cpu(const struct bench *b); /* chanstatd's CPU seconds */
long bench_rss_kib(const struct bench *b);
/* Stops chanstatd and removes the scratch dir. */
void bench_finish(struct bench *b);

#endif
