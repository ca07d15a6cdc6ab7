package api

import (
	"net/http"
	"time"

	"github.com/actionledger/actionledger/domain"
)

// DefaultMaxInFlight is how many requests the server works on at once by
// default; DefaultQueueWait is how long one more may wait for a slot before
// it is turned away.
//
// Without a bound an open-loop overload (phones syncing at once after a
// network outage) is accepted whole: every waiting request holds its
// buffers, the heap outgrows its limit, the collector runs without pause
// and everything slows down together (measured on the national history:
// 2,000 commands/s offered, 883/s done, p50 8.7 s, the server's heap at
// 900 MB). Turning the excess away at once keeps the rest fast, and every
// client here retries a 503 with backoff.
const (
	DefaultMaxInFlight = 128
	DefaultQueueWait   = time.Second
)

// codeOverloaded answers a request the server had no room for.
const codeOverloaded domain.Code = "overloaded"

// admit takes a slot for r, waiting up to the queue wait; it reports false
// (and has answered) when none came free. Probes and /metrics never wait:
// an overloaded server is alive, and its figures say why.
func (s *Server) admit(w http.ResponseWriter, r *http.Request) (release func(), ok bool) {
	switch r.URL.Path {
	case "/healthz", "/readyz", "/metrics":
		return func() {}, true
	}
	select {
	case s.slots <- struct{}{}:
		return s.releaseSlot, true
	default:
	}
	t := time.NewTimer(s.queueWait)
	defer t.Stop()
	select {
	case s.slots <- struct{}{}:
		return s.releaseSlot, true
	case <-t.C:
	case <-r.Context().Done():
		return nil, false // the client left; nobody reads an answer
	}
	s.metrics.shed.Inc()
	w.Header().Set("Retry-After", "1")
	s.writeError(w, r, errorf(codeOverloaded, "the server is working on %d requests and had no room for this one within %s; send it again in a moment", cap(s.slots), s.queueWait))
	return nil, false
}

func (s *Server) releaseSlot() { <-s.slots }
