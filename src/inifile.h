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
    int sec;                    /* the section's number (inif_section), -1 before indexing */
} inif_entry;

/* A hash index over (section, key) and the distinct section names, kept by the load
 * and by inif_add, so lookups do not scan the file (templates are read per message). */
typedef struct inif_index {
    size_t *slot;               /* entry index + 1 of the last (section, key); 0 empty */
    size_t nslot;
    char **secs;                /* distinct section names, in order of appearance */
    size_t *sec_slot;           /* section number + 1; 0 empty */
    size_t nsecs, nsec_slot;
    size_t n;                   /* entries indexed */
} inif_index;

typedef struct inif {
    char *path;
    inif_entry *v;
    size_t n, cap;
    inif_index ix;
} inif;

/* Parse `path`. On error names file and line ("x.ini:12: ..."). Free with inif_free. */
int inif_load(inif *f, const char *path, cherr *e);
/* Parse a string (for tests and fuzzing); `name` is used in error messages. */
int inif_load_string(inif *f, const char *name, const char *text, cherr *e);
void inif_free(inif *f);

/* Last value for section/key, or NULL. */
const inif_entry *inif_find(const inif *f, const char *section, const char *key);
/* Is the index current (it is after a load and inif_add, unless memory ran out)? */
int inif_indexed(const inif *f);
/* With the index: the number of section `name` (entries carry it in .sec), or -1 when
 * the file has no such section. */
int inif_section(const inif *f, const char *name);
/* Append an entry (copies), keeping the index. 0, or -1 out of memory. */
int inif_add(inif *f, const char *section, const char *key, const char *value, int line);

#endif
