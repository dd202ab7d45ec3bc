package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// commandHelp is what "-h" and "help CMD" print about a command.
type commandHelp struct {
	name string // "validate", "policy show"
	args string // the usage line after the name
	desc string // one line
}

// commandHelps lists every command in the order the usage shows them.
func commandHelps() []commandHelp {
	return []commandHelp{
		{"run", "[-config FILE]", "run the gateway (default config: config.hcl); SIGHUP reloads, SIGTERM drains and exits"},
		{"validate", "[-config FILE]", "check a config: file:line:col: message per problem, exit 1 if invalid"},
		{"policy show", "[-config FILE] [-name POLICY]", "print the socket policy XML exactly as served (several: each after a comment naming it)"},
		{"policy lint", "[-port N] FILE", "lint a crossdomain.xml: FILE:LINE:COL: error|warning: … per finding, exit 1 on errors"},
		{"policy check", "FILE -domain D -port P [-secure]", "would a SWF from domain D reach port P with FILE as the master policy? allow|deny and the rule"},
		{"certstatus", "[-servername N] [-ca FILE] [-revocation MODE] [-timeout D] HOST:PORT", "AIR's CertificateStatus word for a TLS server, then details; exit 0 only if trusted"},
		{"version", "", "print the version, the VCS revision, the Go version and the platform"},
		{"help", "[COMMAND]", "print this list, or a command's usage and flags"},
	}
}

// helpFor returns the help of a command by name ("policy show").
func helpFor(name string) (commandHelp, bool) {
	for _, h := range commandHelps() {
		if h.name == name {
			return h, true
		}
	}
	return commandHelp{}, false
}

// mainUsage is the usage of flashgate itself.
func mainUsage() string {
	var b strings.Builder
	b.WriteString("usage: flashgate COMMAND [flags]\n\ncommands:\n")
	for _, h := range commandHelps() {
		fmt.Fprintf(&b, "  %-13s %s\n", h.name, h.desc)
	}
	b.WriteString("\nflags may stand before or after arguments; \"flashgate help COMMAND\" shows a command's flags\n")
	return b.String()
}

// policyUsage is the usage of "flashgate policy".
func policyUsage() string {
	var b strings.Builder
	b.WriteString("usage:\n")
	for _, h := range commandHelps() {
		if strings.HasPrefix(h.name, "policy ") {
			fmt.Fprintf(&b, "  flashgate %s %s\n      %s\n", h.name, h.args, h.desc)
		}
	}
	return b.String()
}

// cmdHelp implements "flashgate help [COMMAND]": a command's usage goes to
// stdout, as with -h (which writes to stderr).
func cmdHelp(args []string, stdout, stderr io.Writer) int {
	name := strings.Join(args, " ")
	switch name {
	case "", "help":
		fmt.Fprint(stdout, mainUsage())
		return 0
	case "policy":
		fmt.Fprint(stdout, policyUsage())
		return 0
	}
	if _, ok := helpFor(name); !ok {
		fmt.Fprintf(stderr, "flashgate help: unknown command %q%s\n", name, didYouMean(name, commandNames()))
		return 2
	}
	return run(append(args, "-h"), stdout, stdout)
}

func commandNames() []string {
	var names []string
	for _, h := range commandHelps() {
		names = append(names, h.name)
	}
	return names
}

// printCommandUsage prints a command's usage line, description and flags.
func printCommandUsage(w io.Writer, h commandHelp, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: %s\n\n%s\n", strings.TrimSpace("flashgate "+h.name+" "+h.args), h.desc)
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		return
	}
	fmt.Fprint(w, "\nflags:\n")
	out := fs.Output()
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(out)
}

// cmdFlags is a command's flag set: it prints its own errors, usage and
// hints to stderr instead of exiting.
type cmdFlags struct {
	*flag.FlagSet
	help   commandHelp
	stderr io.Writer
}

// newFlagSet returns the flag set of the command name (as in commandHelps).
func newFlagSet(name string, stderr io.Writer) *cmdFlags {
	h, ok := helpFor(name)
	if !ok {
		h = commandHelp{name: name}
	}
	fs := &cmdFlags{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError), help: h, stderr: stderr}
	fs.SetOutput(io.Discard) // parse reports errors itself
	fs.Usage = func() {}     // flag calls it on every error; report prints instead
	return fs
}

// parse parses flags that may stand before or after positional arguments,
// and returns the positional arguments in order. On an error it has printed
// the error (with a did-you-mean for an unknown flag), or the usage for -h.
func (fs *cmdFlags) parse(args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			fs.report(err)
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		rest := fs.Args()
		if rest[0] == "--" && len(pos) == 0 {
			return append(pos, rest[1:]...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// report prints a parse error: the usage for -h, else the error, a
// did-you-mean for an unknown flag, and where to find the usage.
func (fs *cmdFlags) report(err error) {
	if errors.Is(err, flag.ErrHelp) {
		printCommandUsage(fs.stderr, fs.help, fs.FlagSet)
		return
	}
	hint := ""
	if name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: -"); ok {
		var flags []string
		fs.VisitAll(func(f *flag.Flag) { flags = append(flags, "-"+f.Name) })
		hint = didYouMean("-"+name, flags)
	}
	fmt.Fprintf(fs.stderr, "flashgate %s: %v%s\nusage: flashgate %s %s (flashgate help %s: the flags)\n",
		fs.help.name, err, hint, fs.help.name, fs.help.args, fs.help.name)
}

// unexpected reports a positional argument the command does not take, with
// a hint when it looks like a config file and the command has -config.
// It returns the exit code 2.
func (fs *cmdFlags) unexpected(arg string) int {
	hint := ""
	if fs.Lookup("config") != nil && looksLikeFile(arg) {
		hint = fmt.Sprintf("; did you mean -config %s?", arg)
	}
	fmt.Fprintf(fs.stderr, "flashgate %s: unexpected argument %q%s\nusage: flashgate %s %s\n",
		fs.help.name, arg, hint, fs.help.name, fs.help.args)
	return 2
}

// usageError prints what is wrong with the arguments and the usage line,
// and returns the exit code 2.
func (fs *cmdFlags) usageError(msg string) int {
	fmt.Fprintf(fs.stderr, "flashgate %s: %s\nusage: flashgate %s %s\n", fs.help.name, msg, fs.help.name, fs.help.args)
	return 2
}

// looksLikeFile reports whether a positional argument names a config file:
// it ends in .hcl or a file of that name exists.
func looksLikeFile(arg string) bool {
	if strings.HasSuffix(arg, ".hcl") {
		return true
	}
	fi, err := os.Stat(arg)
	return err == nil && fi.Mode().IsRegular()
}

// flagExit maps a flag parse error to an exit code.
func flagExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}

// didYouMean returns "; did you mean X?" for the candidate nearest to word,
// when it is near enough to be a typo, else "".
func didYouMean(word string, candidates []string) string {
	best, bestDist := "", -1
	for _, c := range candidates {
		if d := levenshtein(word, c); bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	if bestDist < 0 || bestDist > max(2, len(word)/3) {
		return ""
	}
	return fmt.Sprintf("; did you mean %s?", best)
}

// levenshtein is the edit distance between a and b (bytes; flag and
// command names are ASCII).
func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
