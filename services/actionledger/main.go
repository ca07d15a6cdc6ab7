// Command actionledger runs the actionledger server and its operator tools.
//
//	actionledger serve [--addr 127.0.0.1:8080] [--data-dir ./data] [--demo]
//
// Every flag can also be set as an ACTIONLEDGER_* environment variable
// (--data-dir is ACTIONLEDGER_DATA_DIR); a flag wins over the variable.
// "actionledger <command> --help" says what a command does, with an
// example, and exits 0.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "actionledger:", err)
		}
		os.Exit(1)
	}
}

const usage = `actionledger — event-sourced case management for community action plans

Usage:
  actionledger serve [flags]            run the API server (--demo loads a demo data set)
  actionledger projections rebuild      rebuild the read models from the first event
  actionledger audit history|as-of|verify|export   the auditor's tools (--data-dir DIR or --server URL)
  actionledger relay --nats-url URL     publish domain events to NATS JetStream, once per event id
  actionledger generate [--scale S]     write a CLEA-shaped history as a backlog (NDJSON)
  actionledger import --file F          load a backlog into the store through the command handlers
  actionledger sync --file F --token T  send a backlog to a server through POST /v1/sync

Example:
  actionledger serve --demo --data-dir ./demo-data     a server with demo data; prints tokens and curl lines

Run "actionledger <command> --help" for what a command does, an example and its flags.
`

// run runs one command. A command asked for its --help answers
// flag.ErrHelp after printing it; that is a success (exit 0).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	err := runCommand(ctx, args, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

func runCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr)
	case "projections":
		return projectionsCmd(ctx, args[1:], stdout, stderr)
	case "audit":
		return auditCmd(ctx, args[1:], stdout, stderr)
	case "relay":
		return relayCmd(ctx, args[1:], stdout, stderr)
	case "generate":
		return generateCmd(ctx, args[1:], stdout, stderr)
	case "import":
		return importCmd(ctx, args[1:], stdout, stderr)
	case "sync":
		return syncCmd(ctx, args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}
