/* config.h — the operator's config file (INI), validated against the known keys.
 *
 * Every key chuda reads is listed in config.c's schema and documented in
 * etc/chuda.conf.example; an unknown section or key is an error naming file:line.
 * Relative paths are resolved against the config file's directory. Secrets are
 * never in this file: a `secret_env` key names the environment variable that holds
 * one, or a `secret_file` key names a file readable by its owner only. */
#ifndef CHUDA_CONFIG_H
#define CHUDA_CONFIG_H

#include <stdint.h>

#include "err.h"
#include "inifile.h"

typedef struct config {
    inif ini;          /* empty when no config file was given */
    char *dir;         /* directory of the config file, for relative paths ("." if none) */
} config;

/* Load and validate `path` (NULL: no file, every key at its default). */
int cfg_load(config *c, const char *path, cherr *e);
/* The same from text (tests, fuzzing): `name` is used in messages, paths are relative to
 * the working directory. */
int cfg_load_string(config *c, const char *name, const char *text, cherr *e);
void cfg_free(config *c);

/* Raw value or `def`. */
const char *cfg_str(const config *c, const char *section, const char *key, const char *def);
/* A path, resolved against the config's directory; malloc'd, or NULL when unset and def NULL. */
char *cfg_path(const config *c, const char *section, const char *key, const char *def);
/* Integer in [min, max]; errors name file:line. */
int cfg_int(const config *c, const char *section, const char *key, long def, long min, long max,
            long *out, cherr *e);
/* Number (double) in [min, max]. */
int cfg_num(const config *c, const char *section, const char *key, double def, double min,
            double max, double *out, cherr *e);
/* Duration ("30m", "7d") in ms. */
int cfg_duration(const config *c, const char *section, const char *key, const char *def,
                 int64_t *out, cherr *e);
/* Line number of a key, 0 when absent (for error messages). */
int cfg_line(const config *c, const char *section, const char *key);
/* Section names that start with `prefix` ("channel."), in file order, without repeats.
 * Calls fn for each; stops and returns -1 if fn does. */
int cfg_each_section(const config *c, const char *prefix,
                     int (*fn)(const char *section, void *arg), void *arg);

/* Read the secret named by `[section] secret_env` (environment) or `secret_file`
 * (a file that must be mode 0600 or stricter). `what` is the key prefix
 * ("secret" or "key"). Errors never include the secret. */
int cfg_secret(const config *c, const char *section, const char *what, char *out, size_t outlen,
               cherr *e);

#endif
