// Package mobileapp serves the mobilizers' app: an installable, offline-first
// web app (a PWA) at /app/, embedded in the binary so that `go build` alone
// builds it and nothing else is installed on the server or fetched from
// anywhere but this origin.
//
// The app is a shell of static files (HTML, CSS, a few small ES modules of our
// own) that a service worker precaches under a version derived from the
// files' contents: a new binary with changed files gets a new version, the
// phone fetches the new shell once, and everything keeps working offline in
// between. The app writes only through POST /v1/sync, so every rule,
// authorization and answer it meets is the JSON API's own; this package holds
// none of them.
package mobileapp

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io/fs"
	"math"
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"
)

//go:embed static
var files embed.FS

// Prefix is where the app is served.
const Prefix = "/app/"

// contentTypes are set explicitly: the platform's MIME table may lack .mjs
// or .webmanifest, and a module served as text/plain does not run.
var contentTypes = map[string]string{
	".html":        "text/html; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".mjs":         "text/javascript; charset=utf-8",
	".webmanifest": "application/manifest+json",
	".png":         "image/png",
}

// csp keeps every request of the app on this origin: no CDN, no inline
// script, nothing a hostile string in a record could turn into code.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; worker-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Handler serves the app. It is built once: the shell's version and the
// generated icons do not change while the binary runs.
type Handler struct {
	assets  map[string][]byte // path under Prefix -> content
	version string
}

// New builds the handler from the embedded files.
func New() (*Handler, error) {
	h := &Handler{assets: map[string][]byte{}}
	sub, err := fs.Sub(files, "static")
	if err != nil {
		return nil, err
	}
	var names []string
	err = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(sub, p)
		if err != nil {
			return err
		}
		h.assets[p] = b
		names = append(names, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, size := range []int{192, 512} {
		b, err := icon(size)
		if err != nil {
			return nil, err
		}
		name := "icon-" + strconv.Itoa(size) + ".png"
		h.assets[name] = b
		names = append(names, name)
	}
	h.assets["manifest.webmanifest"] = manifest()
	names = append(names, "manifest.webmanifest")
	sort.Strings(names)

	// The version covers every file the worker precaches, so any change to
	// the shell reaches phones as one new, consistent version.
	sum := sha256.New()
	var shell []string
	for _, n := range names {
		if n == "sw.js" {
			continue
		}
		sum.Write([]byte(n))
		sum.Write(h.assets[n])
		if n == "index.html" {
			shell = append(shell, Prefix)
		} else {
			shell = append(shell, Prefix+n)
		}
	}
	h.version = hex.EncodeToString(sum.Sum(nil))[:12]
	list, _ := json.Marshal(shell)
	sw := h.assets["sw.js"]
	sw = bytes.ReplaceAll(sw, []byte(`"__VERSION__"`), []byte(`"`+h.version+`"`))
	sw = bytes.ReplaceAll(sw, []byte(`["__SHELL__"]`), list)
	h.assets["sw.js"] = sw
	h.assets["index.html"] = bytes.ReplaceAll(h.assets["index.html"], []byte("__VERSION__"), []byte(h.version))
	return h, nil
}

// Version is the shell's version, as the service worker caches it.
func (h *Handler) Version() string { return h.version }

// ShellBytes is the size of every file the worker precaches.
func (h *Handler) ShellBytes() int {
	n := 0
	for _, b := range h.assets {
		n += len(b)
	}
	return n
}

// ServeHTTP serves GET and HEAD of the app's files.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if r.URL.Path == strings.TrimSuffix(Prefix, "/") {
		http.Redirect(w, r, Prefix, http.StatusMovedPermanently)
		return
	}
	name := strings.TrimPrefix(r.URL.Path, Prefix)
	if name == "" {
		name = "index.html"
	}
	b, ok := h.assets[name]
	if !ok || strings.Contains(name, "/") {
		http.NotFound(w, r)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", contentTypes[path.Ext(name)])
	hd.Set("Content-Security-Policy", csp)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	// The worker and the page that registers it are revalidated on every
	// load, so a new version is found; the rest is versioned by the
	// worker's cache and may be kept.
	if name == "sw.js" || name == "index.html" {
		hd.Set("Cache-Control", "no-cache")
	} else {
		hd.Set("Cache-Control", "public, max-age=3600")
	}
	hd.Set("ETag", `"`+h.version+`"`)
	if match := r.Header.Get("If-None-Match"); match == `"`+h.version+`"` {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(b)
}

func manifest() []byte {
	b, _ := json.MarshalIndent(map[string]any{
		"name":             "actionledger — mobilizers",
		"short_name":       "actionledger",
		"description":      "Record community visits, action points, referrals and feedback, offline first.",
		"start_url":        Prefix,
		"scope":            Prefix,
		"display":          "standalone",
		"background_color": "#ffffff",
		"theme_color":      "#1d5e3a",
		"icons": []map[string]string{
			{"src": Prefix + "icon-192.png", "sizes": "192x192", "type": "image/png", "purpose": "any"},
			{"src": Prefix + "icon-512.png", "sizes": "512x512", "type": "image/png", "purpose": "any maskable"},
		},
	}, "", "  ")
	return b
}

// icon draws the app's icon: a white check mark on the app's green, drawn
// here so that no binary image is committed.
func icon(size int) ([]byte, error) {
	img := image.NewPaletted(image.Rect(0, 0, size, size), color.Palette{
		color.RGBA{0x1d, 0x5e, 0x3a, 0xff}, color.White,
	})
	s := float64(size)
	stroke := s * 0.09
	// Two strokes of the check: (0.27,0.52)->(0.43,0.68) and
	// (0.43,0.68)->(0.74,0.34), as distance-to-segment tests.
	segs := [][4]float64{{0.27, 0.52, 0.43, 0.68}, {0.43, 0.68, 0.74, 0.34}}
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			px, py := (float64(x)+0.5)/s, (float64(y)+0.5)/s
			for _, g := range segs {
				if distSeg(px, py, g) < stroke/s/2 {
					img.SetColorIndex(x, y, 1)
				}
			}
		}
	}
	var buf bytes.Buffer
	err := png.Encode(&buf, img)
	return buf.Bytes(), err
}

func distSeg(px, py float64, g [4]float64) float64 {
	ax, ay, bx, by := g[0], g[1], g[2], g[3]
	dx, dy := bx-ax, by-ay
	t := ((px-ax)*dx + (py-ay)*dy) / (dx*dx + dy*dy)
	t = max(0, min(1, t))
	cx, cy := ax+t*dx-px, ay+t*dy-py
	return math.Hypot(cx, cy)
}
