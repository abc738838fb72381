/* cs_log.h - the one logging module.
 *
 * Lines go to stderr, or to the file of log_set_file(), as
 * "2026-11-22T15:52:01.123Z chanstatd[1234] info: ..." (one write(2) per
 * line), and, when enabled, to syslog(3) as well.  Debug calls are always compiled and
 * filtered at run time: log_debug() evaluates its arguments only when the
 * debug level is on. */
#ifndef CS_LOG_H
#define CS_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum log_level { LOG_LEVEL_ERROR = 0, LOG_LEVEL_WARNING, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* ident (e.g. "chanstatd") is copied; may be called again to reconfigure.
 * Before the first call: level info, stderr only, ident "chanstat". */
void log_init(enum log_level level, bool use_syslog, const char *ident);
void log_set_level(enum log_level level);
/* Opens or closes the connection to syslog(3). */
void log_set_syslog(bool use_syslog);
/* Lines go to path (appended, O_APPEND | O_CLOEXEC, created 0640 less
 * the umask) instead of stderr; NULL: back to stderr.  0, or CS_EIO with
 * the reason in err, the previous destination kept. */
int log_set_file(const char *path, char *err, size_t errlen);
/* Opens the file of log_set_file() again, by its path (after logrotate
 * moved it away).  0 (also with no file), or CS_EIO with the reason in
 * err: lines go on to the descriptor held before. */
int log_reopen(char *err, size_t errlen);
/* The path of log_set_file(), NULL: stderr.  Borrowed until the next
 * log_set_file(). */
const char *log_file(void);
bool log_enabled(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (log_enabled(LOG_LEVEL_DEBUG))                                                          \
            log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__);                                                 \
    } while (0)

/* "error", "warning", "info", "debug" (any case).  0 or CS_EINVAL. */
int log_level_parse(const char *s, enum log_level *level_r);
const char *log_level_name(enum log_level level);

#endif
