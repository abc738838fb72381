/* log.c - stderr or file, and syslog, logging with a run-time level. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "cs_error.h"
#include "cs_log.h"
#include "cs_util.h"

static enum log_level current_level = LOG_LEVEL_INFO;
static bool to_syslog;
static char ident[64] = "chanstat";
/* [log] file: its path (owned) and descriptor; -1 and NULL: stderr. */
static int file_fd = -1;
static char *file_path;

static const char *const level_names[] = {"error", "warning", "info", "debug"};

void log_init(enum log_level level, bool use_syslog, const char *id)
{
    current_level = level;
    cs_strlcpy(ident, id ? id : "chanstat", sizeof(ident));
    /* openlog() keeps the ident pointer: close before rewriting it. */
    if (to_syslog)
        closelog();
    to_syslog = false;
    log_set_syslog(use_syslog);
}

void log_set_level(enum log_level level)
{
    current_level = level;
}

void log_set_syslog(bool use_syslog)
{
    if (use_syslog == to_syslog)
        return;
    if (to_syslog)
        closelog();
    to_syslog = use_syslog;
    if (to_syslog)
        openlog(ident, LOG_PID, LOG_DAEMON);
}

bool log_enabled(enum log_level level)
{
    return level <= current_level;
}

/* Appends to path, created 0640 (less the umask).  The descriptor, or -1
 * with the reason in err. */
static int open_file(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
    if (fd < 0)
        snprintf(err, errlen, "cannot open log file %s: %s", path, strerror(errno));
    return fd;
}

int log_set_file(const char *path, char *err, size_t errlen)
{
    int fd = -1;
    if (errlen > 0)
        err[0] = '\0';
    if (path != NULL && (fd = open_file(path, err, errlen)) < 0)
        return CS_EIO;
    if (file_fd >= 0)
        close(file_fd);
    free(file_path);
    file_fd = fd;
    file_path = path ? xstrdup(path) : NULL;
    return 0;
}

int log_reopen(char *err, size_t errlen)
{
    int fd;
    if (errlen > 0)
        err[0] = '\0';
    if (file_path == NULL)
        return 0;
    fd = open_file(file_path, err, errlen);
    if (fd < 0)
        return CS_EIO; /* the old descriptor stays */
    close(file_fd);
    file_fd = fd;
    return 0;
}

const char *log_file(void)
{
    return file_path;
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
    static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
    char msg[2048], line[2200];
    struct timespec ts;
    struct tm tm;
    int n;

    if ((unsigned)level > LOG_LEVEL_DEBUG)
        level = LOG_LEVEL_DEBUG; /* an out-of-range level is treated as debug */
    if (!log_enabled(level))
        return;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%ld] %s: %s\n",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 ts.tv_nsec / 1000000, ident, (long)getpid(), level_names[level], msg);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(line)) {
        n = (int)sizeof(line) - 1;
        line[n - 1] = '\n';
    }
    /* One write per line: with O_APPEND, concurrent writers (and a file
     * rotated underneath) never interleave parts of lines.  A failed
     * write has nowhere to be reported. */
    if (write(file_fd >= 0 ? file_fd : STDERR_FILENO, line, (size_t)n) < 0) {
        /* nothing to do */
    }
    if (to_syslog)
        syslog(prio[level], "%s", msg);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, fmt, ap);
    va_end(ap);
}

int log_level_parse(const char *s, enum log_level *level_r)
{
    for (size_t i = 0; i < CS_ARRAY_SIZE(level_names); i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *level_r = (enum log_level)i;
            return 0;
        }
    }
    return CS_EINVAL;
}

const char *log_level_name(enum log_level level)
{
    return (unsigned)level < CS_ARRAY_SIZE(level_names) ? level_names[level] : "?";
}
