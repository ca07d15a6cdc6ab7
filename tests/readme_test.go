package tests_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// readRepoFile reads a file of the repository (the tests run in tests/).
func readRepoFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", path))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// shBlocks are the README's shell blocks, in order.
func shBlocks(readme string) []string {
	var out []string
	for _, m := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(readme, -1) {
		out = append(out, m[1])
	}
	return out
}

// What a newcomer reads first on a fresh clone: the README opens with the
// command that starts a demo server and the command that runs the tests,
// the very one CI runs; it says how to get the binary before any example
// uses it; and it points at nothing outside the repository.
func TestReadmeOpensWithWhatANewcomerRuns(t *testing.T) {
	readme := readRepoFile(t, "README.md")
	blocks := shBlocks(readme)
	if len(blocks) < 2 {
		t.Fatalf("the README has %d shell blocks", len(blocks))
	}
	if got := strings.TrimSpace(blocks[0]); !strings.HasPrefix(got, "go run ./services/actionledger serve --demo") {
		t.Errorf("the first command is %q, want the demo server", got)
	}
	ci := readRepoFile(t, ".ci/run")
	testCmd := regexp.MustCompile(`(?m)^go test .*$`).FindAllString(ci, -1)
	if len(testCmd) == 0 {
		t.Fatal(".ci/run runs no go test")
	}
	if got, want := strings.TrimSpace(blocks[1]), testCmd[len(testCmd)-1]; got != want {
		t.Errorf("the README's test command is %q; .ci/run runs %q", got, want)
	}

	install := strings.Index(readme, "go install ./services/actionledger")
	firstCLI := regexp.MustCompile(`(?m)^(?:\S+=\S+ )*actionledger [a-z]`).FindStringIndex(readme)
	switch {
	case install < 0:
		t.Error("the README does not say how to install the actionledger binary")
	case firstCLI != nil && firstCLI[0] < install:
		t.Errorf("the README uses the actionledger command (%q) before saying how to get it",
			readme[firstCLI[0]:firstCLI[0]+40])
	}

	if i := strings.Index(readme, "../"); i >= 0 {
		t.Errorf("the README points outside the repository: %q", readme[max(0, i-40):min(len(readme), i+40)])
	}
	// Files of the repository it names exist.
	for _, m := range regexp.MustCompile("`((?:scripts|deploy|tests|services|api|domain|projections)/[A-Za-z0-9_./-]*[A-Za-z0-9_])`").FindAllStringSubmatch(readme, -1) {
		if _, err := os.Stat(filepath.Join("..", m[1])); err != nil {
			t.Errorf("the README names %s, which does not exist", m[1])
		}
	}
	for _, p := range regexp.MustCompile(`\bscripts/[A-Za-z0-9_.-]+`).FindAllString(readme, -1) {
		if _, err := os.Stat(filepath.Join("..", p)); err != nil {
			t.Errorf("the README names %s, which does not exist", p)
		}
	}
}

// Clients branch on the code of a problem: the README lists every code the
// API can answer (those declared in domain/ and api/).
func TestReadmeListsEveryErrorCode(t *testing.T) {
	readme := readRepoFile(t, "README.md")
	decl := regexp.MustCompile(`(?m)^\s*(?:const\s+)?\w+\s+(?:domain\.)?Code\s*=\s*"([a-z_]+)"`)
	var codes []string
	for _, dir := range []string{"domain", "api"} {
		files, err := filepath.Glob(filepath.Join("..", dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range decl.FindAllStringSubmatch(string(b), -1) {
				codes = append(codes, m[1])
			}
		}
	}
	if len(codes) < 10 {
		t.Fatalf("found only %d error codes in domain/ and api/: %v", len(codes), codes)
	}
	for _, c := range codes {
		if !strings.Contains(readme, "`"+c+"`") {
			t.Errorf("the README does not list the error code %q", c)
		}
	}
}
