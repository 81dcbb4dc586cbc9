# shellcheck shell=bash
# Shared by the install tests: what an installation of mdlsafe holds.

fail() {
	echo "${0##*/}: $*" >&2
	exit 1
}

# The commands 'mdlsafe --help' lists, one per line.
mdlsafe_commands() {
	"$1" --help | awk '/^Commands:/ { on = 1; next } on && /^$/ { exit } on { print $1 }'
}

# A list, one item a line, on one line: for messages.
flat() {
	tr '\n' ' ' <<<"$1" | sed 's/ $//'
}

# The files an install under PREFIX holds, sorted, for the binary BIN.
expected_files() {
	local prefix=$1 bin=$2 c
	{
		echo "$prefix/bin/mdlsafe"
		echo "$prefix/share/man/man1/mdlsafe.1.gz"
		for c in $(mdlsafe_commands "$bin"); do
			echo "$prefix/share/man/man1/mdlsafe-$c.1.gz"
		done
		echo "$prefix/share/bash-completion/completions/mdlsafe"
		echo "$prefix/lib/systemd/system/mdlsafe-guard.service"
		echo "$prefix/lib/systemd/system/mdlsafe-backup.service"
		echo "$prefix/lib/systemd/system/mdlsafe-backup.timer"
		echo "$prefix/lib/systemd/system/mdlsafe-binlog.service"
		echo "$prefix/share/doc/mdlsafe/README.md"
		for c in design formats operations benchmarks pitr; do
			echo "$prefix/share/doc/mdlsafe/docs/$c.md"
		done
	} | sort
}

# The left column of every option line of 'mdlsafe CMD --help' ("-o, --output DIR").
help_option_lines() {
	"$1" "$2" --help | sed -n 's/^ \{2,\}\(-[A-Za-z0-9], \)\{0,1\}\(--[a-z0-9][^ ]*\( [^ ]\{1,\}\)\{0,1\}\)\( \{2,\}.*\)\{0,1\}$/\1\2/p'
}
