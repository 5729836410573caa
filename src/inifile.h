/* inifile.h — reading an INI file into an ordered list of (section, key, value, line).
 *
 * Both the config file and the templates are INI, parsed by libinih. This module adds
 * what inih leaves out: the line number of each entry (so later errors can say
 * "cart.ini:7"), continuation lines joined into one value (an indented line continues
 * the previous key; `\n` in a value is a newline), and a clear error for a line longer
 * than inih's 200-byte limit instead of a silent split. */
#ifndef CHUDA_INIFILE_H
#define CHUDA_INIFILE_H

#include <stddef.h>

#include "err.h"

typedef struct inif_entry {
    char *section;
    char *key;
    char *value;
    int line;
} inif_entry;

typedef struct inif {
    char *path;
    inif_entry *v;
    size_t n, cap;
} inif;

/* Parse `path`. On error names file and line ("x.ini:12: ..."). Free with inif_free. */
int inif_load(inif *f, const char *path, cherr *e);
/* Parse a string (for tests and fuzzing); `name` is used in error messages. */
int inif_load_string(inif *f, const char *name, const char *text, cherr *e);
void inif_free(inif *f);

/* Last value for section/key, or NULL. */
const inif_entry *inif_find(const inif *f, const char *section, const char *key);

#endif
