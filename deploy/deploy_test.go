// Package deploy_test checks the deployment files against each other and
// against the code, since no Docker engine or Kubernetes cluster runs where
// the tests do: every file parses, the services, ports, probes, secrets and
// metric names they mention exist.
package deploy_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// doc is a parsed YAML document.
type doc = map[string]any

func readYAML(t *testing.T, path string) []doc {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	var out []doc
	for {
		var d doc
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if d != nil {
			out = append(out, d)
		}
	}
}

// get walks a parsed document: keys for maps, ints for lists.
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(doc)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any, path ...any) string {
	s, _ := get(v, path...).(string)
	return s
}

func strs(v any, path ...any) []string {
	var out []string
	l, _ := get(v, path...).([]any)
	for _, x := range l {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func compose(t *testing.T) doc {
	t.Helper()
	docs := readYAML(t, "docker-compose.yml")
	if len(docs) != 1 {
		t.Fatalf("docker-compose.yml: %d documents", len(docs))
	}
	return docs[0]
}

func TestComposeTopology(t *testing.T) {
	c := compose(t)
	services, _ := get(c, "services").(doc)
	t.Run("three KurrentDB nodes seeding each other", func(t *testing.T) {
		for _, n := range []string{"node1", "node2", "node3"} {
			s := services[n]
			if img := str(s, "image"); !strings.Contains(img, "kurrentdb") {
				t.Errorf("%s: image %q is not KurrentDB", n, img)
			}
			if got := str(s, "environment", "KURRENTDB_CLUSTER_SIZE"); got != "3" {
				t.Errorf("%s: cluster size %q, want 3", n, got)
			}
			seeds := str(s, "environment", "KURRENTDB_GOSSIP_SEED")
			if strings.Count(seeds, ",") != 1 {
				t.Errorf("%s: gossip seed %q should name the two other nodes", n, seeds)
			}
			if str(s, "environment", "KURRENTDB_ADVERTISE_HOST_TO_CLIENT_AS") != n {
				t.Errorf("%s: must advertise its service name to clients (the certificates name it)", n)
			}
		}
	})
	apps := []string{"actionledger-1", "actionledger-2"}
	t.Run("two API replicas on the cluster", func(t *testing.T) {
		for _, a := range apps {
			s := services[a]
			cmd := strings.Join(strs(s, "command"), " ")
			if !strings.HasPrefix(cmd, "serve") || !strings.Contains(cmd, "--store kurrentdb") {
				t.Errorf("%s: command %q, want serve --store kurrentdb", a, cmd)
			}
			url := str(s, "environment", "ACTIONLEDGER_KURRENTDB_URL")
			for _, n := range []string{"node1:2113", "node2:2113", "node3:2113"} {
				if !strings.Contains(url, n) {
					t.Errorf("%s: connection string does not seed %s", a, n)
				}
			}
			if !strings.Contains(url, "tls=true") || !strings.Contains(url, "tlsCAFile=/certs/") {
				t.Errorf("%s: connection string must use TLS with the cluster's CA", a)
			}
			for _, k := range []string{"ACTIONLEDGER_ADMIN_TOKEN", "ACTIONLEDGER_TOKEN_SECRET"} {
				if v := str(s, "environment", k); !strings.HasPrefix(v, "${") {
					t.Errorf("%s: %s must come from the environment, not the file (%q)", a, k, v)
				}
			}
		}
	})
	t.Run("relay", func(t *testing.T) {
		cmd := strings.Join(strs(services["relay"], "command"), " ")
		if !strings.HasPrefix(cmd, "relay") || !strings.Contains(cmd, "nats://nats:4222") {
			t.Errorf("relay command %q", cmd)
		}
		if services["nats"] == nil || !slices.Contains(strs(services["nats"], "command"), "-js") {
			t.Error("no NATS service with JetStream")
		}
	})
	t.Run("every mounted file exists", func(t *testing.T) {
		for name, s := range services {
			for _, v := range strs(s, "volumes") {
				src, _, _ := strings.Cut(v, ":")
				if !strings.HasPrefix(src, ".") {
					continue // a named volume
				}
				if _, err := os.Stat(src); err != nil {
					t.Errorf("%s mounts %s: %v", name, src, err)
				}
			}
		}
	})
	t.Run("prometheus scrapes the replicas", func(t *testing.T) {
		p := readYAML(t, "prometheus.yml")[0]
		var targets []string
		for i := range len(get(p, "scrape_configs").([]any)) {
			if str(p, "scrape_configs", i, "job_name") == "actionledger" {
				targets = strs(p, "scrape_configs", i, "static_configs", 0, "targets")
			}
		}
		var want []string
		for _, a := range apps {
			want = append(want, a+":8080")
		}
		if !slices.Equal(targets, want) {
			t.Errorf("actionledger targets %v, want %v", targets, want)
		}
	})
	t.Run("prometheus reads the indicator gauges with a token", func(t *testing.T) {
		// They are area data: not on the open /metrics, but on an
		// authorised route, with the token from a secret file.
		p := readYAML(t, "prometheus.yml")[0]
		found := false
		for i := range len(get(p, "scrape_configs").([]any)) {
			if str(p, "scrape_configs", i, "metrics_path") != "/v1/stats/metrics" {
				continue
			}
			found = true
			file := str(p, "scrape_configs", i, "authorization", "credentials_file")
			name, ok := strings.CutPrefix(file, "/run/secrets/")
			if !ok {
				t.Fatalf("the indicator job's token is not read from a secret file: %q", file)
			}
			if !slices.Contains(strs(services["prometheus"], "secrets"), name) {
				t.Errorf("prometheus does not get the secret %q", name)
			}
			if targets := strs(p, "scrape_configs", i, "static_configs", 0, "targets"); len(targets) != len(apps) {
				t.Errorf("indicator targets %v", targets)
			}
		}
		if !found {
			t.Error("no job scrapes /v1/stats/metrics: the dashboard's indicator panels would be empty")
		}
	})
}

// metricsInCode lists the metric names the Go code registers.
func metricsInCode(t *testing.T) map[string]bool {
	t.Helper()
	desc := regexp.MustCompile(`NewDesc\(\s*"(actionledger_[a-z_]+)"`)
	opts := regexp.MustCompile(`Namespace:\s*"actionledger",\s*Name:\s*"([a-z_]+)"`)
	out := map[string]bool{}
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "deploy") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range desc.FindAllSubmatch(src, -1) {
			out[string(m[1])] = true
		}
		for _, m := range opts.FindAllSubmatch(src, -1) {
			out["actionledger_"+string(m[1])] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDashboard(t *testing.T) {
	raw, err := os.ReadFile("grafana/actionledger.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string `json:"uid"`
		Panels []struct {
			Type, Title string
			Datasource  struct{ UID string }
			Targets     []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	dsUID := str(readYAML(t, "grafana/provisioning/datasources/prometheus.yml")[0], "datasources", 0, "uid")
	known := metricsInCode(t)
	if len(known) < 10 {
		t.Fatalf("found only %d metrics in the code: %v", len(known), known)
	}
	name := regexp.MustCompile(`actionledger_[a-z_]+`)
	used := map[string]bool{}
	for _, p := range dash.Panels {
		if p.Type == "row" {
			continue
		}
		if p.Datasource.UID != dsUID {
			t.Errorf("panel %q: datasource %q, provisioned is %q", p.Title, p.Datasource.UID, dsUID)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			for _, m := range name.FindAllString(q.Expr, -1) {
				base := m
				for _, suffix := range []string{"_bucket", "_count", "_sum"} {
					if b, ok := strings.CutSuffix(m, suffix); ok && known[b] {
						base = b
					}
				}
				if !known[base] {
					t.Errorf("panel %q queries %s, which no code registers", p.Title, m)
				}
				used[base] = true
			}
		}
	}
	for _, must := range []string{"actionledger_completion_rate", "actionledger_trust_index", "actionledger_projection_lag_seconds",
		"actionledger_http_request_duration_seconds"} {
		if !used[must] {
			t.Errorf("no panel charts %s", must)
		}
	}
	prov := readYAML(t, "grafana/provisioning/dashboards/actionledger.yml")[0]
	if str(prov, "providers", 0, "options", "path") != "/var/lib/grafana/dashboards" {
		t.Error("the dashboard provider does not read where docker-compose.yml mounts the dashboard")
	}
}

func TestKubernetes(t *testing.T) {
	files, err := filepath.Glob("k8s/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("k8s manifests: %v", err)
	}
	byKind := map[string]map[string]doc{}
	var kust doc
	for _, f := range files {
		for _, d := range readYAML(t, f) {
			kind, name := str(d, "kind"), str(d, "metadata", "name")
			if kind == "Kustomization" {
				kust = d
				continue
			}
			if kind == "" || name == "" {
				t.Errorf("%s: a document without kind or name", f)
				continue
			}
			if byKind[kind] == nil {
				byKind[kind] = map[string]doc{}
			}
			byKind[kind][name] = d
		}
	}
	t.Run("kustomization lists every manifest", func(t *testing.T) {
		listed := strs(kust, "resources")
		for _, f := range files {
			if b := filepath.Base(f); b != "kustomization.yaml" && !slices.Contains(listed, b) {
				t.Errorf("%s is not in kustomization.yaml", b)
			}
		}
	})
	api := byKind["Deployment"]["actionledger"]
	c := get(api, "spec", "template", "spec", "containers", 0)
	t.Run("API deployment probes", func(t *testing.T) {
		cases := []struct{ probe, path string }{{"readinessProbe", "/readyz"}, {"livenessProbe", "/healthz"}}
		for _, pc := range cases {
			if got := str(c, pc.probe, "httpGet", "path"); got != pc.path {
				t.Errorf("%s path %q, want %q", pc.probe, got, pc.path)
			}
			if str(c, pc.probe, "httpGet", "port") != str(c, "ports", 0, "name") {
				t.Errorf("%s probes port %q, which the container does not name", pc.probe, str(c, pc.probe, "httpGet", "port"))
			}
		}
		if get(api, "spec", "template", "spec", "securityContext", "runAsNonRoot") != true {
			t.Error("pods must run as non-root")
		}
	})
	t.Run("service targets the container port", func(t *testing.T) {
		svc := byKind["Service"]["actionledger"]
		if str(svc, "spec", "ports", 0, "targetPort") != str(c, "ports", 0, "name") {
			t.Error("service targetPort does not match the container's port name")
		}
		sel, _ := get(svc, "spec", "selector").(doc)
		labels, _ := get(api, "spec", "template", "metadata", "labels").(doc)
		for k, v := range sel {
			if labels[k] != v {
				t.Errorf("service selects %s=%v, pods have %v", k, v, labels[k])
			}
		}
	})
	t.Run("configuration and secrets exist and stay apart", func(t *testing.T) {
		for _, d := range []doc{api, byKind["Deployment"]["actionledger-relay"]} {
			cc := get(d, "spec", "template", "spec", "containers", 0)
			if str(cc, "envFrom", 0, "configMapRef", "name") == "" || str(cc, "envFrom", 1, "secretRef", "name") == "" {
				t.Errorf("%s: configuration must come from a ConfigMap and a Secret", str(d, "metadata", "name"))
			}
			if byKind["ConfigMap"][str(cc, "envFrom", 0, "configMapRef", "name")] == nil || byKind["Secret"][str(cc, "envFrom", 1, "secretRef", "name")] == nil {
				t.Errorf("%s: refers to a ConfigMap or Secret that is not in the manifests", str(d, "metadata", "name"))
			}
		}
		cm, _ := get(byKind["ConfigMap"]["actionledger"], "data").(doc)
		for k := range cm {
			if strings.Contains(k, "TOKEN") || strings.Contains(k, "KURRENTDB_URL") {
				t.Errorf("ConfigMap holds %s: it is a secret", k)
			}
		}
		sec, _ := get(byKind["Secret"]["actionledger"], "stringData").(doc)
		for _, k := range []string{"ACTIONLEDGER_KURRENTDB_URL", "ACTIONLEDGER_ADMIN_TOKEN", "ACTIONLEDGER_TOKEN_SECRET"} {
			if sec[k] == nil {
				t.Errorf("Secret lacks %s", k)
			}
		}
	})
}

// TestKubernetesMonitoring checks the operator's PodMonitor and the plain
// scrape configuration beside it: both must reach the open /metrics and the
// token-guarded indicator route on the API pods, or the dashboard's
// indicator panels stay empty on Kubernetes.
func TestKubernetesMonitoring(t *testing.T) {
	var api doc
	for _, d := range readYAML(t, "k8s/deployment.yaml") {
		if str(d, "kind") == "Deployment" && str(d, "metadata", "name") == "actionledger" {
			api = d
		}
	}
	labels, _ := get(api, "spec", "template", "metadata", "labels").(doc)
	port := str(api, "spec", "template", "spec", "containers", 0, "ports", 0, "name")
	var pm, scrape doc
	for _, d := range readYAML(t, "k8s/monitoring/podmonitor.yaml") {
		switch str(d, "kind") {
		case "PodMonitor":
			pm = d
		case "ConfigMap":
			var cfg doc
			if err := yaml.Unmarshal([]byte(str(d, "data", "scrape.yml")), &cfg); err != nil {
				t.Fatalf("scrape.yml: %v", err)
			}
			scrape = cfg
		}
	}
	if pm == nil || scrape == nil {
		t.Fatal("k8s/monitoring/podmonitor.yaml needs a PodMonitor and a ConfigMap with scrape.yml")
	}
	t.Run("the PodMonitor selects the API pods", func(t *testing.T) {
		sel, _ := get(pm, "spec", "selector", "matchLabels").(doc)
		if len(sel) == 0 {
			t.Fatal("no selector")
		}
		for k, v := range sel {
			if labels[k] != v {
				t.Errorf("selects %s=%v, the API pods have %v", k, v, labels[k])
			}
		}
	})
	t.Run("the PodMonitor reads both routes, the indicators with a token", func(t *testing.T) {
		paths := map[string]doc{}
		for i := range len(get(pm, "spec", "podMetricsEndpoints").([]any)) {
			ep, _ := get(pm, "spec", "podMetricsEndpoints", i).(doc)
			if str(ep, "port") != port {
				t.Errorf("endpoint %s scrapes port %q, the container names %q", str(ep, "path"), str(ep, "port"), port)
			}
			paths[str(ep, "path")] = ep
		}
		if paths["/metrics"] == nil {
			t.Error("no endpoint for /metrics")
		}
		ind := paths["/v1/stats/metrics"]
		if ind == nil {
			t.Fatal("no endpoint for /v1/stats/metrics")
		}
		if str(ind, "authorization", "credentials", "name") == "" || str(ind, "authorization", "credentials", "key") == "" {
			t.Error("the indicator endpoint takes no token from a Secret")
		}
	})
	t.Run("the plain scrape configuration does the same", func(t *testing.T) {
		found := map[string]bool{}
		for i := range len(get(scrape, "scrape_configs").([]any)) {
			path := str(scrape, "scrape_configs", i, "metrics_path")
			found[path] = true
			if path == "/v1/stats/metrics" && str(scrape, "scrape_configs", i, "authorization", "credentials_file") == "" {
				t.Error("the indicator job reads no token file")
			}
		}
		if !found["/metrics"] || !found["/v1/stats/metrics"] {
			t.Errorf("jobs scrape %v, want /metrics and /v1/stats/metrics", found)
		}
	})
}

func TestDockerfile(t *testing.T) {
	raw, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	src := string(raw)
	cases := []struct {
		name string
		ok   bool
	}{
		{"multi-stage", strings.Count(src, "\nFROM ") >= 2},
		{"static binary", strings.Contains(src, "CGO_ENABLED=0")},
		{"non-root user", regexp.MustCompile(`(?m)^USER\s+[1-9][0-9]*`).MatchString(src)},
		{"exposes the API port", regexp.MustCompile(`(?m)^EXPOSE\s+8080\b`).MatchString(src)},
		{"builds the binary", strings.Contains(src, "./services/actionledger")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !c.ok {
				t.Errorf("Dockerfile: %s missing", c.name)
			}
		})
	}
}
