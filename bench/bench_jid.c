/* bench_jid.c - the cost of preparing a JID (jidprep.c), which every
 * inbound stanza pays for its from and to: ns per jid_parse() of a full
 * JID and per jidprep() of one part, for pure ASCII (prepared without
 * ICU) and for non-ASCII (through ICU's usprep), and ICU on ASCII for
 * comparison.
 *
 *   bench_jid [N]      (default 1000000 per line) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cs_jid.h"

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void parse(const char *what, const char *s, long n)
{
    struct jid j;
    double t = now_ns();
    for (long i = 0; i < n; i++) {
        if (jid_parse(s, &j) != 0) {
            fprintf(stderr, "bench_jid: '%s' does not parse\n", s);
            exit(1);
        }
        jid_deinit(&j);
    }
    printf("jid_parse %-28s %7.1f ns\n", what, (now_ns() - t) / (double)n);
}

static void prep(const char *what, int icu, enum jidprep_profile p, const char *s, long n)
{
    char out[JID_PART_MAX + 1];
    size_t len;
    double t = now_ns();
    for (long i = 0; i < n; i++) {
        int r = icu ? jidprep_icu(p, s, strlen(s), out, &len) : jidprep(p, s, strlen(s), out, &len);
        if (r != 0) {
            fprintf(stderr, "bench_jid: '%s' cannot be prepared\n", s);
            exit(1);
        }
    }
    printf("%-9s %-28s %7.1f ns\n", icu ? "usprep" : "jidprep", what, (now_ns() - t) / (double)n);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    if (n <= 0) {
        fprintf(stderr, "usage: bench_jid [N]\n");
        return 2;
    }
    parse("alice@a.example/laptop", "alice@a.example/laptop", n);
    parse("Alice@A.Example/Laptop", "Alice@A.Example/Laptop", n);
    parse("müller@a.example/laptop", "m\xc3\xbcller@a.example/laptop", n);
    parse("MÜLLER@a.example/Laptop", "M\xc3\x9cLLER@a.example/Laptop", n);
    prep("nodeprep alice", 0, JIDPREP_NODE, "alice", n);
    prep("nodeprep alice", 1, JIDPREP_NODE, "alice", n);
    prep("nodeprep müller", 0, JIDPREP_NODE, "m\xc3\xbcller", n);
    prep("nameprep status.a.example", 0, JIDPREP_NAME, "status.a.example", n);
    prep("nameprep status.a.example", 1, JIDPREP_NAME, "status.a.example", n);
    return 0;
}
