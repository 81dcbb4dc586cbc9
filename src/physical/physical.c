/* Names shared by the physical backup and restore. */
#include "physical/physical.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[PHYS_KIND_COUNT] = { "innodb", "myisam", "aria", "logical" };

const char *phys_kind_name(enum phys_kind k)
{
	return (unsigned)k < PHYS_KIND_COUNT ? kind_names[k] : "unknown";
}

int phys_kind_parse(const char *s)
{
	for (int k = 0; k < PHYS_KIND_COUNT; k++)
		if (s && !strcmp(s, kind_names[k]))
			return k;
	return -1;
}

const char *const *phys_suffixes(enum phys_kind k, size_t *n)
{
	static const char *const innodb[] = { ".ibd", ".cfg" };
	static const char *const myisam[] = { ".MYD", ".MYI" };
	static const char *const aria[] = { ".MAD", ".MAI" };

	*n = 2;
	switch (k) {
	case PHYS_INNODB: return innodb;
	case PHYS_MYISAM: return myisam;
	case PHYS_ARIA: return aria;
	case PHYS_LOGICAL: break;
	}
	*n = 0;
	return NULL;
}

char *phys_fs_name(const char *name)
{
	size_t len = strlen(name);
	char *out = malloc(len * 5 + 1), *p = out;

	if (!out)
		return NULL;
	for (const unsigned char *s = (const unsigned char *)name; *s; s++) {
		if (*s >= 0x80 || *s < 0x20) {
			free(out);
			return NULL;
		}
		if ((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_')
			*p++ = (char)*s;
		else
			p += sprintf(p, "@%04x", *s);
	}
	*p = '\0';
	return out;
}
