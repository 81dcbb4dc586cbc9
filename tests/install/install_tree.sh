#!/usr/bin/env bash
# `make install` into a scratch DESTDIR, under a prefix of its own: exactly
# the expected files, a binary that runs, a systemd unit naming it, man
# pages that `man` finds and that show every option --help shows, and
# uninstall removing it all again.
#   tests/install/install_tree.sh BUILD_DIR MDLSAFE
set -euo pipefail
build=$1
bin=$2
src=$(cd "$(dirname "$0")/../.." && pwd)
. "$src/tests/install/lib.sh"

scratch=$(mktemp -d "${TMPDIR:-/tmp}/mdlsafe-install.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
prefix=/opt/mdlsafe-test
root=$scratch$prefix
# The component's own manifest, so a real `make install` record is untouched.
manifest=$build/install_manifest_mdlsafe.txt

DESTDIR=$scratch cmake --install "$build" --prefix "$prefix" --component mdlsafe >"$scratch/install.log" ||
	fail "cmake --install failed: $(cat "$scratch/install.log")"

# 1. Exactly the expected files, and the manifest lists them.
expected=$(expected_files "$prefix" "$bin")
actual=$(cd "$scratch" && find . -type f ! -name '*.log' | sed 's/^\.//' | sort)
[ "$actual" = "$expected" ] ||
	fail "installed files differ from the expected list:$(diff <(echo "$expected") <(echo "$actual") | sed 's/^/\n  /')"
[ "$(sort "$manifest")" = "$expected" ] || fail "$manifest does not list the installed files"
[ -x "$root/bin/mdlsafe" ] || fail "bin/mdlsafe is not executable"

# 2. The installed binary runs.
version=$("$root/bin/mdlsafe" --version) || fail "the installed binary does not run: $version"
[ "$version" = "$("$bin" --version)" ] || fail "installed --version says '$version'"
echo "installed binary: $version"

# 3. The unit starts the installed binary, nothing else.
unit=$root/lib/systemd/system/mdlsafe-guard.service
grep -q "^ExecStart=$prefix/bin/mdlsafe guard " "$unit" || fail "the unit's ExecStart is not $prefix/bin/mdlsafe"
! grep -n '/usr/local/bin' "$unit" || fail "the unit still names /usr/local/bin"
if command -v systemd-analyze >/dev/null; then # systemd's own check, with the binary where it is now
	sed "s#$prefix/bin/mdlsafe#$root/bin/mdlsafe#" "$unit" >"$scratch/mdlsafe-guard.service"
	problems=$(systemd-analyze verify "$scratch/mdlsafe-guard.service" 2>&1) || fail "systemd-analyze verify: $problems"
	[ -z "$problems" ] || fail "systemd-analyze verify: $problems"
	rm "$scratch/mdlsafe-guard.service"
fi
# The nightly backup's unit runs the installed binary too (backup and verify).
bunit=$root/lib/systemd/system/mdlsafe-backup.service
[ "$(grep -c "$prefix/bin/mdlsafe \(backup\|verify\) " "$bunit")" -eq 2 ] ||
	fail "mdlsafe-backup.service does not run $prefix/bin/mdlsafe backup and verify"
! grep -n '/usr/local/bin' "$bunit" || fail "mdlsafe-backup.service still names /usr/local/bin"

# 4. Man pages: found by man, valid roff, every option of --help shown.
command -v man >/dev/null || fail "man is not installed (scripts/install-deps.sh installs man-db)"
for page in mdlsafe $(mdlsafe_commands "$bin" | sed 's/^/mdlsafe-/'); do
	found=$(MANPATH=$root/share/man man -w "$page" 2>&1) || fail "man -w $page: $found"
	[ "$found" = "$root/share/man/man1/$page.1.gz" ] || fail "man -w $page found $found"
	text=$scratch/$page.txt
	# Plain ASCII, wide lines: an option's left column stays on one line.
	zcat "$found" | groff -man -Tascii -P-cbou -rLL=250n -ww 2>"$scratch/warnings" | sed 's/^ *//' >"$text"
	[ ! -s "$scratch/warnings" ] || fail "groff warns about $page: $(cat "$scratch/warnings")"
	{ grep -q "^NAME" "$text" && grep -q "^EXIT STATUS" "$text"; } || fail "$page has no NAME or EXIT STATUS section"
done
for c in $(mdlsafe_commands "$bin"); do
	grep -q "mdlsafe-$c(1)" "$scratch/mdlsafe.txt" || fail "mdlsafe(1) does not point to mdlsafe-$c(1)"
	n=0
	while IFS= read -r opt; do
		# The option's line; a short one has its text on the same line.
		awk -v o="$opt" '$0 == o || index($0, o " ") == 1 { f = 1 } END { exit !f }' \
			"$scratch/mdlsafe-$c.txt" || fail "mdlsafe-$c(1) does not show '$opt' (from 'mdlsafe $c --help')"
		n=$((n + 1))
	done < <(help_option_lines "$bin" "$c")
	[ "$n" -eq "$("$bin" "$c" --help | grep -c '^ \{2,8\}-')" ] || fail "could not read every option line of 'mdlsafe $c --help'"
	echo "mdlsafe-$c(1): all $n options of --help"
done

# 5. Uninstall removes every file, and the directory only mdlsafe uses.
DESTDIR=$scratch cmake -DMANIFEST="$manifest" -P "$src/dist/uninstall.cmake" >/dev/null
left=$(cd "$scratch" && find . -type f ! -name '*.log' ! -name '*.txt' ! -name warnings)
[ -z "$left" ] || fail "uninstall left: $left"
[ ! -e "$root/share/doc/mdlsafe" ] || fail "uninstall left share/doc/mdlsafe"
echo "install_tree: ok"
