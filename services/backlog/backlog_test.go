package backlog_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/actionledger/actionledger/services/backlog"
)

func TestParseItem(t *testing.T) {
	cases := []struct {
		name string
		line string
		want backlog.Item
		err  string
	}{
		{"plain", `{"key":"k1","method":"POST","path":"/v1/feedback","body":{"id":"F1","text":"a \"quoted\" word, {braces}"}}`,
			backlog.Item{Key: "k1", Method: "POST", Path: "/v1/feedback", Body: json.RawMessage(`{"id":"F1","text":"a \"quoted\" word, {braces}"}`)}, ""},
		{"with as and if_match", `{"as":"mob-1","key":"k2","method":"POST","path":"/v1/action-points/A/start","if_match":"\"1\"","body":{}}`,
			backlog.Item{As: "mob-1", Key: "k2", Method: "POST", Path: "/v1/action-points/A/start", IfMatch: `"1"`, Body: json.RawMessage(`{}`)}, ""},
		{"spaces", `{ "key": "k3", "method": "POST", "path": "/v1/x" }`, backlog.Item{Key: "k3", Method: "POST", Path: "/v1/x"}, ""},
		{"null body", `{"key":"k4","method":"POST","path":"/v1/x","body":null}`, backlog.Item{Key: "k4", Method: "POST", Path: "/v1/x"}, ""},
		{"body last key first", `{"body":[1,{"a":[2]}],"path":"/v1/x","method":"POST","key":"k5"}`,
			backlog.Item{Key: "k5", Method: "POST", Path: "/v1/x", Body: json.RawMessage(`[1,{"a":[2]}]`)}, ""},
		{"string body", `{"key":"k6","method":"POST","path":"/v1/x","body":"s,}"}`, backlog.Item{Key: "k6", Method: "POST", Path: "/v1/x", Body: json.RawMessage(`"s,}"`)}, ""},
		{"escaped key", `{"key":"k\u00e9","method":"POST","path":"/v1/x"}`, backlog.Item{Key: "ké", Method: "POST", Path: "/v1/x"}, ""},
		{"no key", `{"method":"POST","path":"/v1/x"}`, backlog.Item{}, "needs key"},
		{"unknown field", `{"key":"k","method":"POST","path":"/v1/x","zzz":1}`, backlog.Item{}, "zzz"},
		{"bad body", `{"key":"k","method":"POST","path":"/v1/x","body":{"a":}}`, backlog.Item{}, "invalid"},
		{"user line", `{"user":{"ref":"u","role":"mobilizer"}}`, backlog.Item{}, "before the first item"},
		{"trailing garbage", `{"key":"k","method":"POST","path":"/v1/x"} x`, backlog.Item{}, "more than one JSON value"},
		{"not json", `key=k`, backlog.Item{}, "not a backlog line"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := backlog.ParseItem([]byte(tc.line))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one mentioning %q (got %+v)", err, tc.err, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// TestReaderRoundTrip writes a file and reads it back, users and items in
// order, the meta first.
func TestReaderRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w := backlog.NewWriter(&buf)
	users := []backlog.User{{Ref: "c", Name: "Coord", Role: "coordinator", District: "Kenema"}, {Ref: "m", Name: "Mob", Role: "mobilizer", District: "Kenema", Chiefdom: "Nongowa"}}
	items := []backlog.Item{
		{As: "c", Key: "1", Method: "POST", Path: "/v1/communities", Body: json.RawMessage(`{"id":"C1"}`)},
		{As: "m", Key: "2", Method: "POST", Path: "/v1/communities/C1/triggering", IfMatch: `"1"`, Body: json.RawMessage(`{"attendance":5}`)},
	}
	must(t, w.Meta(backlog.Meta{Format: backlog.Format, Users: 2, Items: 2}))
	for _, u := range users {
		must(t, w.User(u))
	}
	for _, it := range items {
		must(t, w.Item(it))
	}
	must(t, w.Flush())
	r := backlog.NewReader(&buf)
	var got []backlog.Item
	for {
		it, err := r.Next()
		if err == io.EOF {
			break
		}
		must(t, err)
		got = append(got, it)
	}
	if !reflect.DeepEqual(got, items) {
		t.Errorf("items %+v\nwant %+v", got, items)
	}
	if m := r.Meta(); m == nil || m.Users != 2 || m.Items != 2 {
		t.Errorf("meta %+v", m)
	}
	if !reflect.DeepEqual(r.Order, []string{"c", "m"}) || r.Users["m"] != users[1] {
		t.Errorf("users %v %v", r.Order, r.Users)
	}
}

func TestReaderRefuses(t *testing.T) {
	for _, tc := range []struct{ name, file, err string }{
		{"undeclared user", `{"as":"x","key":"1","method":"POST","path":"/v1/x"}`, "no earlier user line"},
		{"user twice", "{\"user\":{\"ref\":\"u\",\"role\":\"mobilizer\"}}\n{\"user\":{\"ref\":\"u\",\"role\":\"mobilizer\"}}", "declared twice"},
		{"meta not first", "{\"user\":{\"ref\":\"u\",\"role\":\"mobilizer\"}}\n{\"meta\":{\"users\":1,\"items\":0}}", "must be the first"},
		{"item and user", `{"user":{"ref":"u","role":"mobilizer"},"key":"1","method":"POST","path":"/v1/x"}`, "exactly one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := backlog.NewReader(strings.NewReader(tc.file))
			var err error
			for err == nil {
				_, err = r.Next()
			}
			if err == io.EOF || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("err = %v, want %q", err, tc.err)
			}
		})
	}
}

func TestPartitioner(t *testing.T) {
	p := backlog.NewPartitioner()
	for _, tc := range []struct {
		it   backlog.Item
		want string
	}{
		{backlog.Item{Method: "POST", Path: "/v1/communities", Body: json.RawMessage(`{"id":"C1"}`)}, "C1"},
		{backlog.Item{Method: "POST", Path: "/v1/communities/C1/visits"}, "C1"},
		{backlog.Item{Method: "POST", Path: "/v1/action-points", Body: json.RawMessage(`{"id":"A1","community_id":"C2"}`)}, "C2"},
		{backlog.Item{Method: "POST", Path: "/v1/action-points/A1/start"}, "C2"},
		{backlog.Item{Method: "POST", Path: "/v1/referrals/R9/acknowledge"}, ""},
		{backlog.Item{Method: "POST", Path: "/v1/users"}, ""},
		{backlog.Item{Method: "POST", Path: "/healthz"}, ""},
	} {
		if got := p.Community(tc.it); got != tc.want {
			t.Errorf("%s %s: community %q, want %q", tc.it.Method, tc.it.Path, got, tc.want)
		}
	}
}

// Records are remembered by a hash of their name: where two names share one
// (forced here), an item naming either must not be sent to the other's
// community (its order there would mean nothing); it is told "" and runs
// alone. Names that do not collide are unaffected.
func TestPartitionerForgetsRecordsWhoseHashesCollide(t *testing.T) {
	create := func(res, id, community string) backlog.Item {
		return backlog.Item{Method: "POST", Path: "/v1/" + res, Body: json.RawMessage(`{"id":"` + id + `","community_id":"` + community + `"}`)}
	}
	step := func(res, id string) backlog.Item {
		return backlog.Item{Method: "POST", Path: "/v1/" + res + "/" + id + "/start"}
	}
	type ask struct {
		it   backlog.Item
		want string
	}
	for _, tc := range []struct {
		name    string
		collide func(record string) bool // these names share one hash
		asks    []ask
	}{
		{"apart", func(string) bool { return false }, []ask{
			{create("action-points", "A1", "C1"), "C1"},
			{create("referrals", "R1", "C2"), "C2"},
			{step("action-points", "A1"), "C1"},
			{step("referrals", "R1"), "C2"},
			{step("feedback", "F1"), ""},
		}},
		{"shared hash, two communities", func(r string) bool { return r == "action-points/A1" || r == "referrals/R1" }, []ask{
			{create("action-points", "A1", "C1"), "C1"},
			{step("action-points", "A1"), "C1"},
			{create("referrals", "R1", "C2"), "C2"},
			{step("action-points", "A1"), ""},
			{step("referrals", "R1"), ""},
			{create("action-points", "A2", "C1"), "C1"},
			{step("action-points", "A2"), "C1"},
		}},
		{"shared hash, one community", func(r string) bool { return r == "action-points/A1" || r == "feedback/F1" }, []ask{
			{create("action-points", "A1", "C1"), "C1"},
			{create("feedback", "F1", "C1"), "C1"},
			{step("action-points", "A1"), "C1"},
			{step("feedback", "F1"), "C1"},
		}},
		{"created again in another community", func(string) bool { return false }, []ask{
			{create("action-points", "A1", "C1"), "C1"},
			{create("action-points", "A1", "C1"), "C1"},
			{step("action-points", "A1"), "C1"},
			{create("action-points", "A1", "C2"), "C2"},
			{step("action-points", "A1"), ""},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			names := map[string]uint64{}
			p := backlog.NewPartitionerHashing(func(r string) uint64 {
				if tc.collide(r) {
					return 7
				}
				if _, ok := names[r]; !ok {
					names[r] = uint64(len(names)) + 100
				}
				return names[r]
			})
			for i, a := range tc.asks {
				if got := p.Community(a.it); got != a.want {
					t.Errorf("ask %d, %s %s: community %q, want %q", i, a.it.Path, a.it.Body, got, a.want)
				}
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestFastParserMatchesFull: every item line the writer produces takes the
// fast path and parses to exactly what the full decoder gives.
func TestFastParserMatchesFull(t *testing.T) {
	items := []backlog.Item{
		{As: "mob-1", Key: "KAI01-0001/7", Method: "POST", Path: "/v1/action-points/KAI01-0001-AP1/start", IfMatch: `"1"`, Body: json.RawMessage(`{"note":"Agreed, \"all\" of it","occurred_at":"2015-01-07T10:00:00Z"}`)},
		{Key: "k", Method: "POST", Path: "/v1/feedback", Body: json.RawMessage(`{"text":"tab\tand unicode é — ok","concerns":[{"need":"basic"}]}`)},
		{Key: "k2", Method: "POST", Path: "/v1/referrals/R1/acknowledge"},
		{Key: `we"ird\key`, Method: "POST", Path: "/v1/x", IfMatch: `W/"12"`},
	}
	var buf bytes.Buffer
	w := backlog.NewWriter(&buf)
	for _, it := range items {
		must(t, w.Item(it))
	}
	must(t, w.Flush())
	for i, line := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		fast, ok := backlog.ParseItemFast(line)
		if !ok {
			t.Errorf("line %d took the slow path: %s", i+1, line)
			continue
		}
		full, err := backlog.ParseItemFull(line)
		must(t, err)
		if !reflect.DeepEqual(fast, full) {
			t.Errorf("line %d: fast %+v, full %+v", i+1, fast, full)
		}
	}
}

// BenchmarkPartitionerRecords learns b.N records, as an import of a
// national history does (2.6 million at ten times CLEA), and reports the
// heap they hold.
func BenchmarkPartitionerRecords(b *testing.B) {
	communities := make([]string, 1000)
	for i := range communities {
		communities[i] = fmt.Sprintf("KEN-NON-%06d", i)
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	p := backlog.NewPartitioner()
	b.ResetTimer()
	for i := range b.N {
		c := communities[i%len(communities)]
		p.Resolve(backlog.Hint{Community: c, Record: fmt.Sprintf("referrals/%s-R%d", c, i), Creates: true})
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(b.N), "heap-B/record")
	runtime.KeepAlive(p)
}
