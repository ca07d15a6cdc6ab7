package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// flags is a flag set whose every flag falls back to ACTIONLEDGER_<NAME>.
type flags struct {
	*flag.FlagSet
	help *helpText
}

// helpText is what `actionledger <command> --help` prints: what the command
// does and how to call it, before the flags.
type helpText struct {
	stdout   io.Writer
	summary  string
	examples []string
}

func newFlags(name string, stderr io.Writer) flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	// parse prints the help itself: on stdout when asked for, on stderr
	// (after the flag package's own line) when a flag was wrong.
	fs.Usage = func() {}
	return flags{fs, &helpText{stdout: stderr}}
}

// describe sets what --help says: what the command does (a sentence or
// two) and one or more examples, each a command line a user can paste.
func (f flags) describe(stdout io.Writer, summary string, examples ...string) {
	*f.help = helpText{stdout: stdout, summary: summary, examples: examples}
}

// printHelp writes the command's description, examples and flags.
func (f flags) printHelp(w io.Writer) {
	fmt.Fprintf(w, "usage: actionledger %s [flags]\n\n", f.Name())
	if f.help.summary != "" {
		fmt.Fprintf(w, "%s\n\n", strings.TrimSpace(f.help.summary))
	}
	if len(f.help.examples) > 0 {
		fmt.Fprintln(w, "Example:")
		for _, e := range f.help.examples {
			fmt.Fprintf(w, "  %s\n", e)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "Flags (each --name also reads the environment variable ACTIONLEDGER_NAME; a flag wins):")
	out := f.Output()
	f.SetOutput(w)
	f.PrintDefaults()
	f.SetOutput(out)
}

func envName(flagName string) string {
	return "ACTIONLEDGER_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func (f flags) String(p *string, name, def, usage string) {
	f.StringVar(p, name, def, usage+" ("+envName(name)+")")
}

func (f flags) Bool(p *bool, name string, def bool, usage string) {
	f.BoolVar(p, name, def, usage+" ("+envName(name)+")")
}

func (f flags) Duration(p *time.Duration, name string, def time.Duration, usage string) {
	f.DurationVar(p, name, def, usage+" ("+envName(name)+")")
}

// parse applies the environment to every flag not given on the command line,
// then the command line.
//
// --help prints the help on stdout and returns flag.ErrHelp, which run turns
// into success: asking for help is not a failure.
func (f flags) parse(args []string) error {
	if err := f.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			f.printHelp(f.help.stdout)
			return err
		}
		fmt.Fprintf(f.Output(), "run \"actionledger %s --help\" for its flags and an example\n", f.Name())
		return err
	}
	given := map[string]bool{}
	f.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	var err error
	f.VisitAll(func(fl *flag.Flag) {
		if given[fl.Name] || err != nil {
			return
		}
		if v, ok := os.LookupEnv(envName(fl.Name)); ok {
			if e := fl.Value.Set(v); e != nil {
				err = fmt.Errorf("%s=%q: %w", envName(fl.Name), v, e)
			}
		}
	})
	if err == nil && f.NArg() > 0 {
		err = fmt.Errorf("unexpected arguments: %v", f.Args())
	}
	return err
}

// newLogger returns a JSON logger on w at level ("debug", "info", "warn").
func newLogger(w io.Writer, level string) (*zap.Logger, error) {
	var lvl zapcore.Level
	if err := lvl.Set(level); err != nil {
		return nil, fmt.Errorf("log level: %w", err)
	}
	enc := zap.NewProductionEncoderConfig()
	enc.TimeKey = "ts"
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	core := zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.AddSync(w), lvl)
	return zap.New(core), nil
}
