/* Command-line options: one table per command, from which both getopt and
 * --help are generated, plus the connection options every command shares. */
#ifndef MDLSAFE_OPTIONS_H
#define MDLSAFE_OPTIONS_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "db/db.h"
#include "util/error.h"

enum { CLI_NO_ARG = 0, CLI_REQUIRED_ARG = 1, CLI_OPTIONAL_ARG = 2 };

struct cli_opt {
	const char *long_name;
	int id;               /* the short letter, or a value >= 256 for long-only */
	int has_arg;
	const char *arg_name; /* shown in --help, e.g. "SECONDS" */
	const char *help;
};

/* Called for every command-specific option; returns 0 or fills e. */
typedef int (*cli_opt_fn)(void *ctx, int id, const char *arg, struct ms_err *e);

struct cli_command_spec {
	const char *name;       /* "locks" */
	const char *usage;      /* "mdlsafe locks [options]" */
	const char *summary;    /* one paragraph */
	const struct cli_opt *opts;  /* terminated by a zero entry */
	const char *epilog;     /* extra help text (examples), may be NULL */
	bool connects;          /* takes the connection options */
};

/*
 * Parses argv[1..] (argv[0] is the command name). Connection options fill
 * *conn; the others go to fn(ctx, ...). Positional arguments are left in
 * argv[*first_arg .. argc-1]. A password given on the command line is
 * copied and then blanked in argv so `ps` does not show it. Returns 1 when
 * --help was printed, 0 to proceed, -1 on error (MS_USAGE).
 */
int cli_parse(const struct cli_command_spec *spec, int argc, char **argv, struct db_params *conn,
	      cli_opt_fn fn, void *ctx, int *first_arg, struct ms_err *e);

void cli_print_help(FILE *out, const struct cli_command_spec *spec);

/* The exit-code table, printed by every --help and the README. */
void cli_print_exit_codes(FILE *out);

/* Strict number parsing for option values: the whole string must be a
 * number within [min, max]. */
int cli_parse_double(const char *opt, const char *arg, double min, double max, double *out,
		     struct ms_err *e);
int cli_parse_uint(const char *opt, const char *arg, unsigned min, unsigned max, unsigned *out,
		   struct ms_err *e);

/* Prompts on the terminal (never on stdin) without echo. */
int cli_read_password(const char *prompt, char **out, struct ms_err *e);

/* Reports e on stderr as "mdlsafe: <msg>" and returns its exit code. */
/* Writes lead, then line as fput_visible shows it, then a newline: how every
 * note and error line reaches the terminal, since a line may carry text
 * other sessions chose (statements, names, server messages). */
void cli_print_line(FILE *f, const char *lead, const char *line);

int cli_report_error(const char *cmd, const struct ms_err *e);

/* For the commands that run until stopped (guard, binlog): SIGTERM and
 * SIGINT set the returned flag, which the library polls. */
volatile sig_atomic_t *cli_stop_on_signals(void);

/* A note callback for them: the line on stderr led by the local time and
 * "mdlsafe <ctx>: ", ctx being the command's name. */
void cli_say_timed(void *ctx, const char *line);

/* Appends a copy of s to the list *v of *n strings (repeatable options). */
int cli_add_str(char ***v, size_t *n, const char *s, struct ms_err *e);
/* "1.5 MiB" */
void cli_human_bytes(char *out, size_t n, double b);

/* The progress line of a long command on stderr, and the notes printed
 * between its updates: on a terminal the line is rewritten in place and a
 * note replaces it; elsewhere each update is a log line, at most one every
 * 10 s unless forced. */
struct cli_progress {
	const char *lead; /* "mdlsafe backup: " */
	bool tty;         /* stderr is a terminal */
	double last_log;  /* elapsed_s of the last update shown */
};

/* lead is borrowed; tty from isatty(stderr). */
void cli_progress_init(struct cli_progress *pr, const char *lead);

/* True when an update at elapsed_s is to be shown (always on a terminal;
 * otherwise when forced or 10 s after the last one); records it as shown. */
bool cli_progress_due(struct cli_progress *pr, double elapsed_s, bool force);

/* Shows one update: lead, then the formatted text. */
void cli_progress_show(const struct cli_progress *pr, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A library's note callback: ctx is the command's struct cli_progress. The
 * line goes out through cli_print_line after the lead. */
void cli_note(void *ctx, const char *line);

/* Ends the progress line on a terminal once the command is done. */
void cli_progress_end(const struct cli_progress *pr);

/* "T" alone in --tables names a table of the one database db (--physical).
 * Rewrites every such entry of tables[0..n) as "db.T" in place; with
 * only_db, an entry "OTHER.T" of another database is refused with MS_USAGE. */
int cli_qualify_tables(char **tables, size_t n, const char *db, bool only_db, struct ms_err *e);

/* The first entry of tables[0..n) without a database ("T", not "DB.T"), or
 * NULL when every one has it. */
const char *cli_unqualified_table(char *const *tables, size_t n);
/* The schema_version of every --json summary (docs/formats.md): within a
 * version fields are only ever added, never renamed or removed. */
#define CLI_JSON_SCHEMA_VERSION 1

/* Prints doc on stdout, indented, then a newline, with schema_version as
 * its first key when it has none. doc stays the caller's. */
void cli_print_json(const json_t *doc);

/* {"status": "failed", "error": <message>, "exit_code": <status>}: what a
 * command prints with --json when it has no document of its own to show. */
json_t *cli_failed_json(const struct ms_err *e);

/* Online CPUs, the default for -j. */
unsigned cli_cpu_count(void);

#endif
