#!/bin/sh
# Writes the man pages and the bash completion from the binary's own --help
# text, so that neither can drift from it:
#   dist/generate.sh MDLSAFE OUTDIR
# makes OUTDIR/man/mdlsafe.1 and mdlsafe-COMMAND.1 for every command that
# 'mdlsafe --help' lists (each also gzipped for installing), and
# OUTDIR/mdlsafe.bash. Needs only sh, awk and gzip. SOURCE_DATE_EPOCH, when
# set, dates the pages (reproducible builds); otherwise they carry no date.
set -eu

[ $# -eq 2 ] || { echo "usage: dist/generate.sh MDLSAFE OUTDIR" >&2; exit 2; }
bin=$1
out=$2
dist=$(cd "$(dirname "$0")" && pwd)
AWK=${AWK:-awk}
tmp="$out/.generate.$$"
trap 'rm -rf "$tmp"' EXIT
rm -rf "$tmp"
mkdir -p "$tmp/man"

parse() { "$AWK" -f "$dist/helpparse.awk"; }
field() { "$AWK" -F '\t' -v k="$1" -v n="$2" '$1 == k { print $n }'; }

source=$("$bin" --version | "$AWK" '{ print $1 " " $2; exit }')
date=
if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
	date=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)
fi

"$bin" --help | parse >"$tmp/top"
commands=$(field cmd 2 <"$tmp/top")
[ -n "$commands" ] || { echo "dist/generate.sh: '$bin --help' lists no commands" >&2; exit 1; }

pages=
for c in $commands; do
	pages="$pages mdlsafe-$c(1)"
done

roff() { # PAGE SUMMARY SEE_ALSO [FILES_NAME FILES_TEXT] < records > page
	"$AWK" -F '\t' -f "$dist/help2roff.awk" -v page="$1" -v summary="$2" -v see_also="$3" \
		-v source="$source" -v date="$date" -v files_name="${4:-}" -v files_text="${5:-}"
}

# mdlsafe(1): its NAME line is the first sentence of the description.
summary=$(field para 2 <"$tmp/top" | "$AWK" 'NR == 1 { sub(/\.$/, ""); print tolower(substr($0, 1, 1)) substr($0, 2) }')
roff mdlsafe "$summary" "${pages# } mariadb(1)" <"$tmp/top" >"$tmp/man/mdlsafe.1"

unit_text="a systemd unit that runs the guard as a service, installed with mdlsafe in lib/systemd/system under its prefix (/usr for the Debian package, /usr/local for make install) and not enabled. Its comments list the server account, privileges and option file it needs; it reports only until a kill option is added to its ExecStart."
for c in $commands; do
	"$bin" "$c" --help | parse >"$tmp/$c"
	summary=$("$AWK" -F '\t' -v c="$c" '$1 == "cmd" && $2 == c { print $3 }' "$tmp/top")
	see="mdlsafe(1)"
	for o in $commands; do
		[ "$o" = "$c" ] || see="$see mdlsafe-$o(1)"
	done
	if [ "$c" = guard ]; then
		roff "mdlsafe-$c" "$summary" "$see mariadb(1) systemd.service(5)" mdlsafe-guard.service "$unit_text"
	else
		roff "mdlsafe-$c" "$summary" "$see mariadb(1)"
	fi <"$tmp/$c" >"$tmp/man/mdlsafe-$c.1"
done
for p in "$tmp"/man/*.1; do
	gzip -9n <"$p" >"$p.gz"
done

{
	cat "$tmp/top"
	for c in $commands; do
		printf 'command\t%s\n' "$c"
		cat "$tmp/$c"
	done
} | "$AWK" -F '\t' -f "$dist/help2bash.awk" -v source="$source" >"$tmp/mdlsafe.bash"

rm -rf "$out/man"
mv "$tmp/man" "$out/man"
mv "$tmp/mdlsafe.bash" "$out/mdlsafe.bash"
