/* Entry points of the subcommands; each parses its own options and returns
 * the process exit code. */
#ifndef MDLSAFE_COMMANDS_H
#define MDLSAFE_COMMANDS_H

int cmd_locks(int argc, char **argv);
int cmd_backup(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_ddl(int argc, char **argv);
int cmd_guard(int argc, char **argv);
int cmd_binlog(int argc, char **argv);
int cmd_prune(int argc, char **argv);

#endif
