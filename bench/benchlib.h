/* benchlib.h - a fake XEP-0114 server that starts and drives chanstatd,
 * for the benchmarks in bench/.
 *
 * Every function exits the benchmark with a message on failure: a
 * benchmark that cannot do what it measures must not print a figure. */
#ifndef BENCHLIB_H
#define BENCHLIB_H

#include <stddef.h>
#include <sys/types.h>

#include <sqlite3.h>

/* How long a read may wait for chanstatd before the benchmark gives up
 * (a lost answer must end the run, not hang it). */
#define BENCH_READ_TIMEOUT_S 120

struct bench {
    char dir[64];   /* scratch directory */
    char conf[128]; /* chanstatd's config */
    char log[128];  /* chanstatd's standard error */
    char db[512];   /* its database */
    int own_db;     /* db lies in dir and goes with it */
    pid_t pid;      /* chanstatd, 0 when not running */
    double t_exec;  /* bench_now() just before its exec */
    int fd;         /* the component connection, after bench_handshake() */
    int lfd;
};

/* Creates the scratch dir, a listener, the config (extra_ini appended) and
 * the database (chanstatd --init-db).  Exits on failure. */
void bench_init(struct bench *b, const char *chanstatd, const char *extra_ini);
/* The same with the database at db_path (created or migrated there, never
 * removed by bench_finish); NULL: in the scratch dir. */
void bench_init_db(struct bench *b, const char *chanstatd, const char *extra_ini,
                   const char *db_path);
/* Opens the database for direct setup; caller closes. */
sqlite3 *bench_db(struct bench *b);
void bench_sql(sqlite3 *db, const char *sql);
/* Starts chanstatd (its standard error goes to b->log) without waiting
 * for anything. */
void bench_spawn(struct bench *b, const char *chanstatd);
/* Accepts chanstatd's connection and completes its handshake. */
void bench_handshake(struct bench *b);
/* bench_spawn() and bench_handshake(). */
void bench_start(struct bench *b, const char *chanstatd);
/* Reads until token was seen (discarding what came before it). */
void bench_read_until(struct bench *b, const char *token);
/* Counts occurrences of pat in what chanstatd sends until want were seen. */
long bench_count(struct bench *b, const char *pat, long want);
void bench_send(struct bench *b, const char *data, size_t len);
double bench_now(void);
double bench_cpu(const struct bench *b); /* chanstatd's CPU seconds */
long bench_rss_kib(const struct bench *b);
/* Sends SIGTERM and plays the server's part of the close: reads on until
 * chanstatd's </stream:stream>, answers it and closes.  Returns the
 * seconds from the signal until chanstatd had exited. */
double bench_stop(struct bench *b);
/* Stops chanstatd (if running) and removes the scratch dir; the log is
 * kept, and its path printed on standard error, when chanstatd wrote
 * anything to it. */
void bench_finish(struct bench *b);

#endif
