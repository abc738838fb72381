/* error.c - cs_strerror(): the one switch over enum cs_error. */
#include "config.h"

#include "cs_error.h"

const char *cs_strerror(int err)
{
    switch ((enum cs_error)err) {
    case CS_OK: return "success";
    case CS_ENOMEM: return "out of memory";
    case CS_EINVAL: return "invalid argument or input";
    case CS_EIO: return "input/output error";
    case CS_ECONFIG: return "invalid configuration";
    case CS_EDB: return "database error";
    case CS_EDBVERSION: return "database schema is newer than this program";
    case CS_EREADONLY: return "database is read-only";
    case CS_ELIMIT: return "limit exceeded";
    case CS_EPROTO: return "protocol violation";
    case CS_ENOTCONN: return "component link is not online";
    case CS_ENOTFOUND: return "not found";
    case CS_EEXIST: return "already exists";
    case CS_EAGAIN: return "resource temporarily busy";
    case CS_ECLOSED: return "connection closed";
    }
    return "unknown error";
}
