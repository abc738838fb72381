/* util.c - allocation helpers (abort on OOM, see cs_util.h), clocks, SHA-1. */
#include "config.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "cs_error.h"
#include "cs_log.h"
#include "cs_util.h"

static void oom(size_t size)
{
    log_error("out of memory allocating %zu bytes; aborting", size);
    abort();
}

void *xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (p == NULL)
        oom(size);
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL)
        oom(n * size);
    return p;
}

void *xrealloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);
    if (p == NULL)
        oom(size);
    return p;
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

int64_t cs_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t cs_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t cs_wall_of(const struct cs_clock *clock, int64_t mono_ms)
{
    return clock ? mono_ms + clock->wall_minus_mono_ms(clock->ud) : mono_ms;
}

int64_t cs_system_wall_minus_mono(void *unused)
{
    (void)unused;
    return cs_wall_ms() - cs_now_ms();
}

char *cs_base64(const void *data, size_t len)
{
    /* EVP_EncodeBlock takes an int length: blocks of 3 MiB, a multiple of
     * 3, so that only the last one is padded. */
    const size_t block = (size_t)3 << 20;
    const unsigned char *in = data;
    char *out = xmalloc(4 * ((len + 2) / 3) + 1);
    size_t at = 0;
    for (size_t done = 0; done < len;) {
        size_t n = len - done > block ? block : len - done;
        at += (size_t)EVP_EncodeBlock((unsigned char *)out + at, in + done, (int)n);
        done += n;
    }
    out[at] = '\0';
    return out;
}

void cs_sha1(const void *data, size_t len, unsigned char out[20])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    if (EVP_Digest(data, len, md, &mdlen, EVP_sha1(), NULL) != 1 || mdlen != 20) {
        log_error("SHA-1 digest failed in OpenSSL; aborting");
        abort();
    }
    memcpy(out, md, 20);
}

void cs_sha1_hex(const void *data, size_t len, char out[41])
{
    unsigned char md[20];
    static const char hex[] = "0123456789abcdef";

    cs_sha1(data, len, md);
    for (unsigned int i = 0; i < 20; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0xf];
    }
    out[40] = '\0';
}

/* Days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t era;
    unsigned yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (unsigned)((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1);
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* n ASCII digits at s into *v; false when any is not a digit. */
static bool digits(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        *v = *v * 10 + (s[i] - '0');
    }
    return true;
}

int cs_parse_utc(const char *s, int64_t *secs_r)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
    const char *p = s + 19;

    if (strlen(s) < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) ||
        s[7] != '-' || !digits(s + 8, 2, &d) || s[10] != 'T' || !digits(s + 11, 2, &h) ||
        s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &sec))
        return CS_EINVAL;
    if (*p == '.') {
        const char *f = ++p;
        while (*p >= '0' && *p <= '9')
            p++;
        if (p == f || p - f > 9)
            return CS_EINVAL;
    }
    if (*p == '+' || *p == '-') {
        sign = *p == '+' ? 1 : -1;
        if (!digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om) || p[6] != '\0' ||
            oh > 23 || om > 59)
            return CS_EINVAL;
    } else if (!(p[0] == 'Z' && p[1] == '\0')) {
        return CS_EINVAL;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 60)
        return CS_EINVAL;
    if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
        return CS_EINVAL;
    *secs_r = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + (sec > 59 ? 59 : sec) -
              sign * (oh * 3600 + om * 60);
    return 0;
}

void cs_format_utc(int64_t secs, char *out)
{
    time_t t = (time_t)secs;
    struct tm tm;
    if ((int64_t)t != secs || gmtime_r(&t, &tm) == NULL ||
        strftime(out, CS_UTC_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        cs_strlcpy(out, "1970-01-01T00:00:00Z", CS_UTC_LEN);
}

size_t cs_strlcpy(char *dst, const char *src, size_t size)
{
    size_t n = strlen(src);
    if (size > 0) {
        size_t c = n < size - 1 ? n : size - 1;
        memcpy(dst, src, c);
        dst[c] = '\0';
    }
    return n;
}

uint32_t cs_random_below(uint32_t bound)
{
    static int seeded;
    if (!seeded) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        srandom((unsigned)(ts.tv_nsec ^ ts.tv_sec));
        seeded = 1;
    }
    return (uint32_t)((uint64_t)(uint32_t)random() * bound / ((uint64_t)RAND_MAX + 1));
}

void strbuf_reserve(struct strbuf *sb, size_t extra)
{
    size_t need = sb->len + extra + 1;
    if (need <= sb->cap)
        return;
    size_t cap = sb->cap ? sb->cap : 256;
    while (cap < need)
        cap *= 2;
    sb->data = xrealloc(sb->data, cap);
    sb->cap = cap;
}

void strbuf_append(struct strbuf *sb, const void *data, size_t len)
{
    strbuf_reserve(sb, len);
    memcpy(sb->data + sb->len, data, len);
    sb->len += len;
    sb->data[sb->len] = '\0';
}

void strbuf_append_str(struct strbuf *sb, const char *s)
{
    strbuf_append(sb, s, strlen(s));
}

void strbuf_printf(struct strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    strbuf_reserve(sb, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb->len += (size_t)n;
}

void strbuf_consume(struct strbuf *sb, size_t n)
{
    if (n >= sb->len) {
        sb->len = 0;
    } else {
        memmove(sb->data, sb->data + n, sb->len - n);
        sb->len -= n;
    }
    if (sb->data)
        sb->data[sb->len] = '\0';
}

void strbuf_free(struct strbuf *sb)
{
    free(sb->data);
    sb->data = NULL;
    sb->len = sb->cap = 0;
}

int cs_parse_int(const char *s, int64_t min, int64_t max, int64_t *v_r)
{
    /* The magnitude allowed on each side, as unsigned: -INT64_MIN does
     * not fit an int64_t. */
    uint64_t limit, acc = 0;
    bool neg = false;

    if (s == NULL)
        return CS_EINVAL;
    if (*s == '-' && min < 0) {
        neg = true;
        s++;
    }
    if (*s == '\0')
        return CS_EINVAL;
    limit = neg ? (uint64_t)(-(min + 1)) + 1 : (max < 0 ? 0 : (uint64_t)max);
    for (; *s; s++) {
        unsigned d = (unsigned)(unsigned char)*s - '0';
        if (d > 9)
            return CS_EINVAL;
        if (acc > (limit - d) / 10 || d > limit) {
            /* Out of range already; the rest must still be digits. */
            while (*++s)
                if ((unsigned)(unsigned char)*s - '0' > 9)
                    return CS_EINVAL;
            return CS_ELIMIT;
        }
        acc = acc * 10 + d;
    }
    if (neg) {
        int64_t v = acc == 0 ? 0 : -(int64_t)(acc - 1) - 1;
        if (v > max)
            return CS_ELIMIT;
        *v_r = v;
        return 0;
    }
    if ((int64_t)acc < min)
        return CS_ELIMIT;
    *v_r = (int64_t)acc;
    return 0;
}
