/* cs_error.h - the one error enum of chanstat.
 *
 * Every fallible function returns 0 (CS_OK) or one of these negative codes.
 * Human detail, where useful, goes through a caller-supplied buffer
 * (char *err, size_t errlen), which is what the logs and chanstatctl
 * show. */
#ifndef CS_ERROR_H
#define CS_ERROR_H

enum cs_error {
    CS_OK = 0,
    CS_ENOMEM = -1,     /* allocation failed */
    CS_EINVAL = -2,     /* bad argument or malformed input */
    CS_EIO = -3,        /* system call failed (errno has detail) */
    CS_ECONFIG = -4,    /* configuration file invalid */
    CS_EDB = -5,        /* SQLite error */
    CS_EDBVERSION = -6, /* database schema newer than this binary */
    CS_EREADONLY = -7,  /* database is read-only */
    CS_ELIMIT = -8,     /* a configured limit was exceeded */
    CS_EPROTO = -9,     /* protocol violation by the peer */
    CS_ENOTCONN = -10,  /* the component link is not online */
    CS_ENOTFOUND = -11, /* no such object */
    CS_EEXIST = -12,    /* object already exists */
    CS_EAGAIN = -13,    /* try again later (busy, would block) */
    CS_ECLOSED = -14,   /* peer closed the connection or stream */
};

#endif
