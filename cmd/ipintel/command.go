package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
)

// Exit codes (docs/design.md §7).
const (
	exitOK      = 0
	exitRuntime = 1
	exitUsage   = 2
)

// env is what a command may touch: its streams. Commands never use the os
// package's streams directly, so tests can run them in-process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

// command is one subcommand, in the manner of cmd/go's base.Command.
type command struct {
	Name      string
	UsageLine string // "ipintel lookup [-db file] [addr ...]"
	Short     string // one line for "ipintel help"
	Long      string // printed by "ipintel help NAME" and -h
	// Flags registers the command's flags on fs and returns the function
	// that runs it with the remaining arguments. It returns an exit code.
	Flags func(fs *flag.FlagSet) func(ctx context.Context, e *env, args []string) int
}

// commands is filled by each command's file in its init function.
var commands []*command

func register(c *command) { commands = append(commands, c) }

// errUsage marks an error as a usage error (exit 2).
var errUsage = errors.New("usage")

// usageError formats a usage error that maps to exit code 2.
func usageError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}

func findCommand(name string) *command {
	for _, c := range commands {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func sortedCommands() []*command {
	cs := slices.Clone(commands)
	slices.SortFunc(cs, func(a, b *command) int { return strings.Compare(a.Name, b.Name) })
	return cs
}

func mainUsage(w io.Writer) {
	fmt.Fprintf(w, "ipintel builds an IP-intelligence database from public feeds and answers lookups from it.\n\nusage: ipintel <command> [arguments]\n\ncommands:\n")
	for _, c := range sortedCommands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.Name, c.Short)
	}
	fmt.Fprintf(w, "\nRun 'ipintel help <command>' for details.\n")
}

// run is the whole program, minus process exit; tests call it directly.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		mainUsage(stderr)
		return exitUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(rest) == 0 {
			mainUsage(stdout)
			return exitOK
		}
		c := findCommand(rest[0])
		if c == nil {
			fmt.Fprintf(stderr, "ipintel help %s: unknown command\n", rest[0])
			return exitUsage
		}
		printCommandUsage(stdout, c, nil)
		return exitOK
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "ipintel", version())
		return exitOK
	}
	c := findCommand(name)
	if c == nil {
		fmt.Fprintf(stderr, "ipintel %s: unknown command\nRun 'ipintel help' for usage.\n", name)
		return exitUsage
	}
	fs := flag.NewFlagSet("ipintel "+c.Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	runFn := c.Flags(fs)
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printCommandUsage(stdout, c, fs)
			return exitOK
		}
		fmt.Fprintf(stderr, "ipintel %s: %v\n", c.Name, err)
		fmt.Fprintf(stderr, "usage: %s\n", c.UsageLine)
		return exitUsage
	}
	return runFn(ctx, e, fs.Args())
}

func printCommandUsage(w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: %s\n", c.UsageLine)
	if c.Long != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.Long))
	}
	if fs == nil {
		fs = flag.NewFlagSet(c.Name, flag.ContinueOnError)
		c.Flags(fs)
	}
	hasFlags := false
	fs.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		fmt.Fprintf(w, "\nflags:\n")
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
}

// report prints err for command name on stderr and returns its exit code:
// exitUsage for usage errors, exitRuntime otherwise, exitOK for nil.
func report(e *env, name string, err error) int {
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(e.stderr, "ipintel %s: %v\n", name, err)
	if errors.Is(err, errUsage) {
		if c := findCommand(name); c != nil {
			fmt.Fprintf(e.stderr, "usage: %s\n", c.UsageLine)
		}
		return exitUsage
	}
	return exitRuntime
}

// openError names path in an error from opening it, unless the error (an
// *fs.PathError) already does.
func openError(path string, err error) error {
	if _, ok := errors.AsType[*fs.PathError](err); ok {
		return err
	}
	return fmt.Errorf("open %s: %w", path, err)
}
