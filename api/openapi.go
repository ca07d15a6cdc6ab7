package api

import (
	_ "embed"
	"net/http"
)

// openapiDoc describes every route; TestOpenAPIMatchesRoutes keeps it honest.
//
//go:embed openapi.json
var openapiDoc []byte

// OpenAPI returns the OpenAPI document served at /v1/openapi.json.
func OpenAPI() []byte { return openapiDoc }

func (s *Server) openapi(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(openapiDoc)
}
