# Reads the --help text of mdlsafe or of one command (as usage() in src/main.c
# and cli_print_help() in src/cli/options.c print it) and writes one record
# per line, fields separated by tabs, for help2roff.awk and help2bash.awk:
#   usage    TEXT                        the "Usage:" line without "Usage: "
#   para     TEXT                        a paragraph of prose, joined into one line
#   section  TITLE  INTRO                a heading ("Options:"); INTRO is the part in
#                                        parentheses of a long one, or empty
#   opt      SHORT  LONG  FORM  ARG  HELP  an option; FORM is none, required or optional
#   cmd      NAME  SUMMARY               a line of the "Commands:" list
#   code     N  TEXT                     a line of the "Exit codes:" list
#   pre      TEXT                        any other indented line, kept as it is
#   gap                                  a blank line inside a section
# Option lines have the option, then two or more spaces, then its text; an
# option too wide for the column has its text on the next line.

function trim(s) {
	sub(/^ +/, "", s)
	sub(/ +$/, "", s)
	return s
}

function flush_code() {
	if (code_n != "")
		print "code\t" code_n "\t" code_text
	code_n = ""
}

function flush_para() {
	if (para != "")
		print "para\t" para
	para = ""
}

# "-o, --output DIR", "--password[=PASSWORD]", "--json"
function emit_opt(left, help,    short, rest, long, form, arg) {
	short = ""
	rest = left
	if (rest ~ /^-[A-Za-z0-9], --/) {
		short = substr(rest, 1, 2)
		rest = substr(rest, 5)
	}
	if (!match(rest, /^--[A-Za-z0-9][A-Za-z0-9-]*/)) {
		printf "helpparse: cannot read the option line '%s'\n", left > "/dev/stderr"
		failed = 1
		exit 1
	}
	long = substr(rest, 1, RLENGTH)
	rest = substr(rest, RLENGTH + 1)
	form = "none"
	arg = ""
	if (rest ~ /^\[=.*\]$/) {
		form = "optional"
		arg = substr(rest, 3, length(rest) - 3)
	} else if (rest ~ /^ [^ ]/) {
		form = "required"
		arg = substr(rest, 2)
	} else if (rest != "") {
		printf "helpparse: cannot read the option line '%s'\n", left > "/dev/stderr"
		failed = 1
		exit 1
	}
	print "opt\t" short "\t" long "\t" form "\t" arg "\t" help
}

function start_section(heading,    title, intro, i) {
	sub(/:$/, "", heading)
	title = heading
	intro = ""
	i = index(heading, " (")
	if (i > 0 && heading ~ /\)$/) {
		title = substr(heading, 1, i - 1)
		intro = substr(heading, i + 2, length(heading) - i - 2)
	}
	section = title
	print "section\t" title "\t" intro
}

BEGIN {
	section = ""
	para = ""
	heading = ""
	code_n = ""
	pending_opt = ""
	blank = 0
}

{
	sub(/\r$/, "")
}

pending_opt != "" {
	if ($0 !~ /^  +[^ ]/) {
		printf "helpparse: the option '%s' has no text\n", pending_opt > "/dev/stderr"
		failed = 1
		exit 1
	}
	emit_opt(pending_opt, trim($0))
	pending_opt = ""
	next
}

/^Usage: / {
	print "usage\t" substr($0, 8)
	next
}

/^$/ {
	flush_code()
	if (heading != "") { # a paragraph that ended in ':' and no list: prose
		para = heading
		heading = ""
	}
	flush_para()
	if (section != "")
		blank = 1
	next
}

/^[^ ]/ { # prose, or a heading: a line ending in ':' that a list follows
	flush_code()
	if (heading != "") {
		para = heading
		heading = ""
	}
	para = para == "" ? $0 : para " " $0
	if ($0 ~ /:$/) {
		heading = para
		para = ""
	}
	next
}

{ # an indented line: an item of the current list
	if (heading != "") {
		start_section(heading)
		heading = ""
		blank = 0
	} else if (para != "") {
		flush_para()
	}
	if (blank) {
		print "gap"
		blank = 0
	}
	line = trim($0)
	if (section == "Exit codes" && line ~ /^[0-9]+  /) {
		flush_code()
		code_n = line
		sub(/ .*/, "", code_n)
		code_text = trim(substr(line, length(code_n) + 1))
	} else if (section == "Exit codes" && code_n != "") {
		code_text = code_text " " line
	} else if (section == "Commands") {
		name = line
		sub(/ .*/, "", name)
		print "cmd\t" name "\t" trim(substr(line, length(name) + 1))
	} else if (line ~ /^-/) {
		i = index(line, "  ")
		if (i == 0)
			pending_opt = line
		else
			emit_opt(substr(line, 1, i - 1), trim(substr(line, i)))
	} else {
		sub(/^  /, "", $0)
		print "pre\t" $0
	}
}

END {
	if (failed)
		exit 1
	if (pending_opt != "") {
		printf "helpparse: the option '%s' has no text\n", pending_opt > "/dev/stderr"
		exit 1
	}
	flush_code()
	if (heading != "")
		para = heading
	flush_para()
}
