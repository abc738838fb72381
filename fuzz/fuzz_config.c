/* fuzz_config.c - the configuration file parser: any file is either
 * accepted (and then prints back to a file that is accepted with the same
 * printout) or refused with a message. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cs_config.h"
#include "cs_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64], path2[64];

static char *printed(const struct config *cfg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    config_print(cfg, f);
    fclose(f);
    return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct config cfg;
    char err[512];
    FILE *f;
    if (path[0] == '\0') {
        int fd;
        log_init(LOG_LEVEL_ERROR, false, "fuzz_config");
        snprintf(path, sizeof(path), "/tmp/fuzz_config.XXXXXX");
        fd = mkstemp(path);
        close(fd);
        snprintf(path2, sizeof(path2), "%s.again", path);
    }
    f = fopen(path, "w");
    fwrite(data, 1, size, f);
    fclose(f);
    config_defaults(&cfg);
    if (config_load(&cfg, path, err, sizeof(err)) == 0) {
        char *one = printed(&cfg), *two;
        struct config again;
        f = fopen(path2, "w");
        fputs(one, f);
        fclose(f);
        config_defaults(&again);
        /* --check-config's output is a configuration file in its own
         * right (the secret prints masked, which is a secret too). */
        if (config_load(&again, path2, err, sizeof(err)) != 0)
            abort();
        two = printed(&again);
        if (strcmp(one, two) != 0)
            abort();
        free(two);
        config_deinit(&again);
        free(one);
    } else if (err[0] == '\0') {
        abort(); /* a refusal always says why */
    }
    config_deinit(&cfg);
    return 0;
}
