#!/usr/bin/env bash
# The bash completion offers what --help lists: every command, every option
# of each command (short and long), the words of an option that takes one of
# a few, file names for FILE and PATH values, directories for DIR ones.
#   tests/install/completion.sh COMPLETION_FILE MDLSAFE
set -euo pipefail
file=$(realpath "$1")
bin=$(realpath "$2")
src=$(cd "$(dirname "$0")/../.." && pwd)
. "$src/tests/install/lib.sh"

scratch=$(mktemp -d "${TMPDIR:-/tmp}/mdlsafe-completion.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
cd "$scratch"
mkdir a-dir
touch a-file

# shellcheck source=/dev/null
. "$file"
complete -p mdlsafe >/dev/null 2>&1 || fail "$file does not register a completion for mdlsafe"

# offered WORD...: what completing the last word offers, sorted, one a line.
offered() {
	COMP_WORDS=("$@")
	COMP_CWORD=$(($# - 1))
	COMPREPLY=()
	_mdlsafe
	printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort
}

expect() { # WHAT EXPECTED ACTUAL
	[ "$2" = "$3" ] || fail "$1: expected [$(flat "$2")], offered [$(flat "$3")]"
}

mapfile -t commands < <(mdlsafe_commands "$bin")
expect "mdlsafe <TAB>" "$(printf '%s\n' "${commands[@]}" help --help --version | sort)" "$(offered mdlsafe '')"
expect "mdlsafe help <TAB>" "$(printf '%s\n' "${commands[@]}" | sort)" "$(offered mdlsafe help '')"

for c in "${commands[@]}"; do
	# Every option, short and long, as --help shows it, not one more.
	want=$(help_option_lines "$bin" "$c" | sed 's/, / /' | tr ' ' '\n' | sed -n 's/\[=.*//; /^-/p' | sort)
	[ -n "$want" ] || fail "no options read from 'mdlsafe $c --help'"
	expect "mdlsafe $c -<TAB>" "$want" "$(offered mdlsafe "$c" -)"
	expect "mdlsafe $c --<TAB>" "$(grep -- '^--' <<<"$want")" "$(offered mdlsafe "$c" --)"

	# Values: OPTION a|b|c offers a, b, c (also as --option=); FILE/PATH files; DIR directories.
	while read -r names arg; do
		opt=${names##* }
		case $arg in
		*'|'*)
			expect "mdlsafe $c $opt <TAB>" "$(tr '|' '\n' <<<"$arg" | sort)" "$(offered mdlsafe "$c" "$opt" '')"
			expect "mdlsafe $c $opt=<TAB>" "$(tr '|' '\n' <<<"$arg" | sort)" "$(offered mdlsafe "$c" "$opt" = '')"
			;;
		FILE | PATH) expect "mdlsafe $c $opt <TAB>" "$(printf 'a-dir\na-file')" "$(offered mdlsafe "$c" "$opt" a)" ;;
		DIR) expect "mdlsafe $c $opt <TAB>" "a-dir" "$(offered mdlsafe "$c" "$opt" a)" ;;
		'') ;;
		*) expect "mdlsafe $c $opt <TAB> (a $arg)" "" "$(offered mdlsafe "$c" "$opt" '')" ;;
		esac
	done < <(help_option_lines "$bin" "$c" | grep -v '\[=' | sed 's/^\(-., \)\{0,1\}\(--[^ ]*\)\( \(.*\)\)\{0,1\}$/\2 \4/')
	echo "mdlsafe $c: $(wc -l <<<"$want") options complete"
done
echo "completion: ok"
