package api_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestConsoleBesideTheAPI: the web console answers at / and /assets/ as
// HTML, while the JSON API's own answers — its 404 and 405 problems, the
// health routes — are as they were.
func TestConsoleBesideTheAPI(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name, method, path string
		status             int
		contentType        string
		body               string
	}{
		{name: "the sign-in page", method: http.MethodGet, path: "/", status: 200, contentType: "text/html; charset=utf-8", body: `<label for="token">Token</label>`},
		{name: "the stylesheet", method: http.MethodGet, path: "/assets/console.css", status: 200, contentType: "text/css; charset=utf-8", body: "@media print"},
		{name: "a console page's wrong method", method: http.MethodDelete, path: "/", status: 405, contentType: "text/html; charset=utf-8", body: "This page cannot do that"},
		{name: "healthz", method: http.MethodGet, path: "/healthz", status: 200, contentType: "application/json", body: `"ok"`},
		{name: "an unknown path is the API's problem", method: http.MethodGet, path: "/nowhere", status: 404, contentType: "application/problem+json", body: "route_not_found"},
		{name: "an API route's wrong method is the API's problem", method: http.MethodDelete, path: "/v1/stats/completion", status: 405, contentType: "application/problem+json", body: "method_not_allowed"},
		{name: "a bearer token does not open the console", method: http.MethodGet, path: "/", status: 200, contentType: "text/html; charset=utf-8", body: `action="/sign-in"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, e.ts.URL+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+adminToken)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tc.status || res.Header.Get("Content-Type") != tc.contentType {
				t.Errorf("%s %s: %d %q, want %d %q", tc.method, tc.path, res.StatusCode, res.Header.Get("Content-Type"), tc.status, tc.contentType)
			}
			if !strings.Contains(string(body), tc.body) {
				t.Errorf("%s %s: body lacks %q:\n%s", tc.method, tc.path, tc.body, body)
			}
		})
	}
}
