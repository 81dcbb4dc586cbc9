/* mdlsafe: back up and change the schema of a live MariaDB/MySQL server
 * without freezing it. This file maps argv to a command; nothing else. */
#include <mysql.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/options.h"

#ifndef MDLSAFE_VERSION
#define MDLSAFE_VERSION "0.0.0-dev"
#endif

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{ "locks", cmd_locks, "show the metadata-lock wait graph: who freezes whom, and what to kill" },
	{ "backup", cmd_backup, "consistent logical backup that steps aside for DDL instead of freezing it" },
	{ "restore", cmd_restore, "put a backup back: verified first, parallel, resumable, bounded lock requests" },
	{ "ddl", cmd_ddl, "schema changes whose lock waits never freeze a table longer than the budget" },
	{ "guard", cmd_guard, "watch for pile-ups other clients cause; record them, end them by policy" },
	{ "binlog", cmd_binlog, "archive the binary log continuously, for restores to any second (--until)" },
	{ "prune", cmd_prune, "remove old backups and the archived binlog files no kept backup needs" },
	{ "verify", cmd_verify, "check a backup's files against its manifest (no server needed)" },
};

static void usage(FILE *out)
{
	fputs("Usage: mdlsafe COMMAND [options] [connection options]\n\n"
	      "Back up and change the schema of a live MariaDB/MySQL server without freezing it,\n"
	      "and find the sessions that freeze it.\n\nCommands:\n",
	      out);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fputs("\n'mdlsafe COMMAND --help' shows a command's options, including the connection\n"
	      "options (-h -P -S -u -p --defaults-file ...), which every command accepts.\n"
	      "'mdlsafe --version' prints the version.\n\n",
	      out);
	cli_print_exit_codes(out);
}

int main(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : NULL;
	int rc;

	if (!name || !strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
		if (name && !strcmp(name, "help") && argc > 2) {
			char *sub[] = { argv[2], "--help", NULL };
			for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
				if (!strcmp(commands[i].name, argv[2]))
					return commands[i].run(2, sub);
		}
		usage(name ? stdout : stderr);
		return name ? 0 : 2;
	}
	if (!strcmp(name, "--version") || !strcmp(name, "version")) {
		printf("mdlsafe %s (MariaDB Connector/C %s)\n", MDLSAFE_VERSION, mysql_get_client_info());
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(commands[i].name, name))
			continue;
		mysql_library_init(0, NULL, NULL);
		rc = commands[i].run(argc - 1, argv + 1);
		mysql_library_end();
		return rc;
	}
	fprintf(stderr, "mdlsafe: unknown command '%s'; run 'mdlsafe --help' for the list\n", name);
	return 2;
}
