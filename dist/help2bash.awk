# Turns the records of helpparse.awk for 'mdlsafe --help', followed by a
# "command NAME" line and the records of 'mdlsafe NAME --help' for each
# command, into a bash completion script. Variable (-v): source ("mdlsafe 0.1.0").
#
# How an option's value completes follows from its name in --help: words
# joined by '|' are offered, FILE and PATH complete file names, DIR
# directories; anything else (numbers, names) is left to the user.

function value_kind(arg) {
	if (index(arg, "|")) {
		gsub(/\|/, " ", arg)
		return "words " arg
	}
	if (arg ~ /(^|[^A-Z])(FILE|PATH)$/)
		return "file"
	if (arg ~ /(^|[^A-Z])DIR$/)
		return "dir"
	return "none"
}

# Single-quoted for the shell.
function q(s) {
	gsub(/'/, "'\\''", s)
	return "'" s "'"
}

BEGIN {
	FS = "\t"
	ncmd = 0
	cur = ""
}

$1 == "cmd" && cur == "" {
	commands = commands (ncmd++ ? " " : "") $2
	next
}

$1 == "command" {
	cur = $2
	opts[cur] = ""
	next
}

$1 == "usage" && cur != "" { # "mdlsafe verify DIR ...": the operand's kind
	n = split($2, w, " ")
	if (n >= 3 && w[3] !~ /^[-\[]/)
		positional[cur] = value_kind(w[3])
	next
}

$1 == "opt" && cur != "" {
	names = ($2 != "" ? $2 " " : "") $3
	opts[cur] = opts[cur] (opts[cur] != "" ? " " : "") names
	if ($4 == "required") {
		pat = "'" cur " " $3 "'"
		if ($2 != "")
			pat = "'" cur " " $2 "'|" pat
		values = values "\t" pat ") echo " q(value_kind($5)) " ;;\n"
	}
	next
}

END {
	if (ncmd == 0) {
		print "help2bash: no commands in 'mdlsafe --help'" > "/dev/stderr"
		exit 1
	}
	print "# bash completion for " source ", generated from 'mdlsafe --help' and"
	print "# 'mdlsafe COMMAND --help' by dist/help2bash.awk: change the help text in src/."
	print ""
	print "_mdlsafe_commands=" q(commands)
	print ""
	print "# _mdlsafe_options COMMAND: its options, short and long"
	print "_mdlsafe_options()"
	print "{"
	print "\tcase $1 in"
	split(commands, cl, " ")
	for (i = 1; i <= ncmd; i++)
		print "\t" cl[i] ") echo " q(opts[cl[i]]) " ;;"
	print "\tesac"
	print "}"
	print ""
	print "# _mdlsafe_value COMMAND OPTION: how the value of an option that takes one"
	print "# completes (words ..., file, dir or none); nothing for other options"
	print "_mdlsafe_value()"
	print "{"
	print "\tcase \"$1 $2\" in"
	printf "%s", values
	print "\tesac"
	print "}"
	print ""
	print "# _mdlsafe_operand COMMAND: how its operands complete"
	print "_mdlsafe_operand()"
	print "{"
	print "\tcase $1 in"
	for (i = 1; i <= ncmd; i++)
		if (positional[cl[i]] != "")
			print "\t" cl[i] ") echo " q(positional[cl[i]]) " ;;"
	print "\tesac"
	print "}"
	print ""
	print "# _mdlsafe_reply KIND WORD: COMPREPLY for a value or operand of that kind"
	print "_mdlsafe_reply()"
	print "{"
	print "\tcase $1 in"
	print "\tfile)"
	print "\t\tcompopt -o filenames 2>/dev/null"
	print "\t\tmapfile -t COMPREPLY < <(compgen -f -- \"$2\")"
	print "\t\t;;"
	print "\tdir)"
	print "\t\tcompopt -o filenames 2>/dev/null"
	print "\t\tmapfile -t COMPREPLY < <(compgen -d -- \"$2\")"
	print "\t\t;;"
	print "\twords\\ *) mapfile -t COMPREPLY < <(compgen -W \"${1#words }\" -- \"$2\") ;;"
	print "\tesac"
	print "}"
	print ""
	print "_mdlsafe()"
	print "{"
	print "\tlocal cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]} cmd kind i"
	print "\tCOMPREPLY=()"
	print "\tif ((COMP_CWORD == 1)); then"
	print "\t\tmapfile -t COMPREPLY < <(compgen -W \"$_mdlsafe_commands help --help --version\" -- \"$cur\")"
	print "\t\treturn"
	print "\tfi"
	print "\tcmd=${COMP_WORDS[1]}"
	print "\tif [[ $cmd == help ]]; then"
	print "\t\t((COMP_CWORD == 2)) && mapfile -t COMPREPLY < <(compgen -W \"$_mdlsafe_commands\" -- \"$cur\")"
	print "\t\treturn"
	print "\tfi"
	print "\t# --option=value: bash usually splits the word at '=' (COMP_WORDBREAKS)"
	print "\tif [[ $cur == = ]]; then"
	print "\t\tcur="
	print "\telif [[ $prev == = ]]; then"
	print "\t\tprev=${COMP_WORDS[COMP_CWORD - 2]}"
	print "\telif [[ $cur == --*=* ]]; then"
	print "\t\tkind=$(_mdlsafe_value \"$cmd\" \"${cur%%=*}\")"
	print "\t\t[[ -n $kind ]] && _mdlsafe_reply \"$kind\" \"${cur#*=}\""
	print "\t\tfor i in \"${!COMPREPLY[@]}\"; do COMPREPLY[i]=${cur%%=*}=${COMPREPLY[i]}; done"
	print "\t\treturn"
	print "\tfi"
	print "\tkind=$(_mdlsafe_value \"$cmd\" \"$prev\")"
	print "\tif [[ -n $kind ]]; then"
	print "\t\t_mdlsafe_reply \"$kind\" \"$cur\""
	print "\telif [[ $cur == -* ]]; then"
	print "\t\tmapfile -t COMPREPLY < <(compgen -W \"$(_mdlsafe_options \"$cmd\")\" -- \"$cur\")"
	print "\telse"
	print "\t\t_mdlsafe_reply \"$(_mdlsafe_operand \"$cmd\")\" \"$cur\""
	print "\tfi"
	print "}"
	print "complete -F _mdlsafe mdlsafe"
}
