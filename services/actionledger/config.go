package main

import (
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
}

func newFlags(name string, stderr io.Writer) flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return flags{fs}
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

func (f flags) Int(p *int, name string, def int, usage string) {
	f.IntVar(p, name, def, usage+" ("+envName(name)+")")
}

func (f flags) Duration(p *time.Duration, name string, def time.Duration, usage string) {
	f.DurationVar(p, name, def, usage+" ("+envName(name)+")")
}

// parse applies the environment to every flag not given on the command line,
// then the command line.
func (f flags) parse(args []string) error {
	if err := f.Parse(args); err != nil {
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
