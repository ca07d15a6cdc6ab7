package tests_test

import (
	"regexp"
	"strings"
	"testing"
)

// A newcomer learns each command from its --help: it must say what the
// command does, show a command line to copy, and exit 0 (asking for help is
// not a failure that stops a script).
func TestEveryCommandHelpSaysWhatItDoesWithAnExample(t *testing.T) {
	commands := [][]string{
		{},
		{"serve"},
		{"generate"},
		{"import"},
		{"sync"},
		{"relay"},
		{"projections"},
		{"projections", "rebuild"},
		{"audit"},
		{"audit", "history"},
		{"audit", "as-of"},
		{"audit", "verify"},
		{"audit", "export"},
	}
	// Every command the top-level usage lists is in the table above, so a
	// new command cannot ship without its help.
	usage, _, code := runCLI(t, nil, "help")
	if code != 0 {
		t.Fatalf("actionledger help exited %d", code)
	}
	covered := map[string]bool{}
	for _, c := range commands {
		if len(c) > 0 {
			covered[c[0]] = true
		}
	}
	listed := regexp.MustCompile(`(?m)^  actionledger ([a-z-]+)`).FindAllStringSubmatch(usage, -1)
	if len(listed) == 0 {
		t.Fatalf("the usage lists no command:\n%s", usage)
	}
	for _, m := range listed {
		if !covered[m[1]] {
			t.Errorf("the usage lists %q, which this test does not check", m[1])
		}
	}

	for _, c := range commands {
		for _, flag := range []string{"--help", "-h"} {
			args := append(append([]string{}, c...), flag)
			name := strings.Join(args, " ")
			t.Run(name, func(t *testing.T) {
				stdout, stderr, code := runCLI(t, nil, args...)
				if code != 0 {
					t.Fatalf("actionledger %s exited %d; stderr:\n%s", name, code, stderr)
				}
				example := regexp.MustCompile(`(?m)^Example:\n  (?:\w+=(?:"[^"]*"|'[^']*'|\S+) )*actionledger \S`)
				if !example.MatchString(stdout) {
					t.Errorf("actionledger %s shows no example command line on stdout:\n%s", name, stdout)
				}
				// What it does: a sentence before the example, beyond the usage line.
				before, _, _ := strings.Cut(stdout, "Example:")
				lines := 0
				for _, l := range strings.Split(before, "\n") {
					if strings.TrimSpace(l) != "" {
						lines++
					}
				}
				if lines < 2 {
					t.Errorf("actionledger %s says nothing about what it does before the example:\n%s", name, stdout)
				}
			})
		}
	}
}

// A mistyped flag is a failure, and the message points at the help.
func TestUnknownFlagFailsAndPointsAtTheHelp(t *testing.T) {
	for _, args := range [][]string{{"serve", "--no-such-flag"}, {"sync", "--no-such-flag"}, {"audit", "verify", "--no-such-flag"}} {
		name := strings.Join(args, " ")
		t.Run(name, func(t *testing.T) {
			_, stderr, code := runCLI(t, nil, args...)
			if code == 0 {
				t.Fatalf("actionledger %s exited 0", name)
			}
			if !strings.Contains(stderr, "no-such-flag") || !strings.Contains(stderr, "--help") {
				t.Errorf("stderr names neither the flag nor the help:\n%s", stderr)
			}
		})
	}
}
