# Turns the records of helpparse.awk into a man page (roff, man macros).
# Variables (-v): page ("mdlsafe-backup"), summary (the NAME line), source
# ("mdlsafe 0.1.0"), date (may be empty), see_also ("mdlsafe(1) ..."), and
# files_name/files_text for an optional FILES section.

function esc(s,    out, c, i) {
	out = ""
	for (i = 1; i <= length(s); i++) {
		c = substr(s, i, 1)
		if (c == "\\")
			c = "\\e"
		else if (c == "-")
			c = "\\-"
		out = out c
	}
	return out
}

# A line of text: option names (--max-stall, -B) in bold, nothing read as a
# roff request.
function prose(s,    out, pre, name, after) {
	out = ""
	while (match(s, /(^|[^A-Za-z0-9-])-(-[a-z][a-z0-9-]*|[A-Za-z])/)) {
		pre = RSTART > 1 || substr(s, 1, 1) != "-" ? 1 : 0
		out = out esc(substr(s, 1, RSTART - 1 + pre))
		name = substr(s, RSTART + pre, RLENGTH - pre)
		s = substr(s, RSTART + RLENGTH)
		after = substr(s, 1, 1)
		if (length(name) == 2 && after ~ /[A-Za-z0-9]/) # "-x1", not an option
			out = out esc(name)
		else
			out = out "\\fB" esc(name) "\\fR"
	}
	return line_safe(out esc(s))
}

function line_safe(s) {
	return s ~ /^[.']/ ? "\\&" s : s
}

# "zstd|none" -> each word in bold; "DIR" -> italic.
function arg_words(a,    n, w, i, out) {
	if (index(a, "|") == 0)
		return "\\fI" esc(a) "\\fR"
	n = split(a, w, "|")
	out = ""
	for (i = 1; i <= n; i++)
		out = out (i > 1 ? "|" : "") "\\fB" esc(w[i]) "\\fR"
	return out
}

function end_pre() {
	if (in_pre)
		print ".fi\n.RE"
	in_pre = 0
}

function heading(title) {
	end_pre()
	print ".SH " title
	fresh = 1
}

function paragraph(text) {
	end_pre()
	if (!fresh)
		print ".PP"
	print prose(text)
	fresh = 0
}

function upper_title(t) {
	if (t == "Exit codes")
		return "EXIT STATUS"
	return toupper(t)
}

BEGIN {
	FS = "\t"
	cmd = page
	sub(/^mdlsafe-?/, "", cmd)
	print ".\\\" Generated from 'mdlsafe" (cmd == "" ? "" : " " cmd) " --help' by dist/help2roff.awk;"
	print ".\\\" change the help text in src/, not this file."
	printf ".TH %s 1 \"%s\" \"%s\" \"mdlsafe manual\"\n", esc(toupper(page)), date, source
	print ".nh" # no hyphenation: option and page names stay whole
	print ".SH NAME"
	print esc(page) " \\- " esc(summary)
	in_pre = 0
	described = 0
}

$1 == "usage" {
	heading("SYNOPSIS")
	word = "mdlsafe" (cmd == "" ? "" : " " cmd)
	rest = substr($2, length(word) + 1)
	if (substr($2, 1, length(word)) != word) {
		word = ""
		rest = $2
	}
	print line_safe("\\fB" esc(word) "\\fR" esc(rest))
	fresh = 0
	next
}

$1 == "para" {
	if (!described) {
		heading("DESCRIPTION")
		described = 1
	}
	paragraph($2)
	next
}

$1 == "section" {
	described = 1
	heading(upper_title($2))
	if ($3 != "")
		paragraph(toupper(substr($3, 1, 1)) substr($3, 2) ".")
	next
}

$1 == "opt" {
	end_pre()
	print ".TP"
	line = ""
	if ($2 != "")
		line = "\\fB" esc($2) "\\fR, "
	line = line "\\fB" esc($3) "\\fR"
	if ($4 == "required")
		line = line " " arg_words($5)
	else if ($4 == "optional")
		line = line "[=" arg_words($5) "]"
	print line
	print prose($6)
	fresh = 0
	next
}

$1 == "cmd" {
	end_pre()
	print ".TP"
	print "\\fB" esc($2) "\\fR"
	print prose($3) "; see"
	print ".BR mdlsafe\\-" esc($2) " (1)."
	fresh = 0
	next
}

$1 == "code" {
	end_pre()
	print ".TP"
	print "\\fB" $2 "\\fR"
	print prose($3)
	fresh = 0
	next
}

$1 == "pre" {
	if (!in_pre) {
		if (!fresh)
			print ".PP"
		print ".RS 4\n.nf"
		in_pre = 1
	}
	print line_safe(esc($2))
	fresh = 0
	next
}

$1 == "gap" {
	end_pre()
	next
}

END {
	end_pre()
	if (files_name != "") {
		print ".SH FILES"
		print ".TP"
		print "\\fI" esc(files_name) "\\fR"
		print prose(files_text)
	}
	if (see_also != "") {
		print ".SH SEE ALSO"
		n = split(see_also, refs, " ")
		for (i = 1; i <= n; i++) {
			p = refs[i]
			sub(/\(.*/, "", p)
			s = refs[i]
			sub(/^[^(]*/, "", s)
			print ".BR " esc(p) " " s (i < n ? "," : "")
		}
	}
}
