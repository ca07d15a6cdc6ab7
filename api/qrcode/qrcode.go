// Package qrcode draws QR codes (ISO/IEC 18004, byte mode, error correction
// level M or L, versions 1 to 10: up to 213 bytes at M) for the console's
// sign-in links: a coordinator issues a mobilizer a new token and the
// mobilizer's phone scans it, with no typing of a 47-character secret on a
// small keypad. It is written here rather than imported so that the binary
// carries no third-party code for the screens, and it renders to SVG (for
// pages) and to an image (for tests, which check every code with a real
// decoder).
package qrcode

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"strings"
)

// Level is the error correction level: how much of the code may be
// damaged (a scratched screen, a smudged print) and still read.
type Level int

const (
	// M recovers about 15% of the code.
	M Level = iota
	// L recovers about 7% and holds more.
	L
)

// Code is an encoded QR symbol: Size×Size modules, true for dark.
type Code struct {
	Version int
	Size    int
	modules [][]bool
}

// Dark reports whether the module at row y, column x is dark.
func (c *Code) Dark(x, y int) bool { return c.modules[y][x] }

// blocks describes one version at one level: ECC codewords per block and the
// data codewords of each block (short blocks first).
type blocks struct {
	ecc  int
	data []int
}

func rep(n, v int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// table holds ISO/IEC 18004 table 9 for versions 1–10, levels M and L.
var table = [11][2]blocks{
	1:  {{10, rep(1, 16)}, {7, rep(1, 19)}},
	2:  {{16, rep(1, 28)}, {10, rep(1, 34)}},
	3:  {{26, rep(1, 44)}, {15, rep(1, 55)}},
	4:  {{18, rep(2, 32)}, {20, rep(1, 80)}},
	5:  {{24, rep(2, 43)}, {26, rep(1, 108)}},
	6:  {{16, rep(4, 27)}, {18, rep(2, 68)}},
	7:  {{18, rep(4, 31)}, {20, rep(2, 78)}},
	8:  {{22, append(rep(2, 38), rep(2, 39)...)}, {24, rep(2, 97)}},
	9:  {{22, append(rep(3, 36), rep(2, 37)...)}, {30, rep(2, 116)}},
	10: {{26, append(rep(4, 43), 44)}, {18, append(rep(2, 68), rep(2, 69)...)}},
}

var alignment = [11][]int{2: {6, 18}, 3: {6, 22}, 4: {6, 26}, 5: {6, 30}, 6: {6, 34}, 7: {6, 22, 38}, 8: {6, 24, 42}, 9: {6, 26, 46}, 10: {6, 28, 50}}

// ErrTooLong is returned for data that no supported version holds.
var ErrTooLong = errors.New("qrcode: data too long for version 10")

func dataCapacity(b blocks) int {
	n := 0
	for _, d := range b.data {
		n += d
	}
	return n
}

// Encode encodes data in the smallest version that holds it at level.
func Encode(data []byte, level Level) (*Code, error) {
	for v := 1; v <= 10; v++ {
		countBits := 8
		if v >= 10 {
			countBits = 16
		}
		b := table[v][level]
		if 4+countBits+8*len(data) <= 8*dataCapacity(b) {
			return build(v, level, data, countBits), nil
		}
	}
	return nil, ErrTooLong
}

// bitBuffer appends bits most significant first.
type bitBuffer []bool

func (bb *bitBuffer) put(v, n int) {
	for i := n - 1; i >= 0; i-- {
		*bb = append(*bb, v>>i&1 == 1)
	}
}

func build(version int, level Level, data []byte, countBits int) *Code {
	b := table[version][level]
	capacity := dataCapacity(b)

	var bits bitBuffer
	bits.put(0b0100, 4) // byte mode
	bits.put(len(data), countBits)
	for _, x := range data {
		bits.put(int(x), 8)
	}
	bits.put(0, min(4, capacity*8-len(bits)))
	bits.put(0, (8-len(bits)%8)%8)
	codewords := make([]byte, 0, capacity)
	for i := 0; i < len(bits); i += 8 {
		var x byte
		for j := 0; j < 8; j++ {
			if bits[i+j] {
				x |= 1 << (7 - j)
			}
		}
		codewords = append(codewords, x)
	}
	for pad := byte(0xEC); len(codewords) < capacity; pad ^= 0xEC ^ 0x11 {
		codewords = append(codewords, pad)
	}

	// Split into blocks, compute each block's ECC, interleave.
	divisor := rsDivisor(b.ecc)
	var dataBlocks, eccBlocks [][]byte
	off := 0
	longest := 0
	for _, n := range b.data {
		blk := codewords[off : off+n]
		off += n
		dataBlocks = append(dataBlocks, blk)
		eccBlocks = append(eccBlocks, rsRemainder(blk, divisor))
		longest = max(longest, n)
	}
	var stream []byte
	for i := 0; i < longest; i++ {
		for _, blk := range dataBlocks {
			if i < len(blk) {
				stream = append(stream, blk[i])
			}
		}
	}
	for i := 0; i < b.ecc; i++ {
		for _, blk := range eccBlocks {
			stream = append(stream, blk[i])
		}
	}

	c := newCanvas(version)
	c.place(stream)
	best, bestPenalty := -1, 0
	for mask := 0; mask < 8; mask++ {
		c.applyMask(mask)
		c.drawFormat(level, mask)
		p := c.penalty()
		if best < 0 || p < bestPenalty {
			best, bestPenalty = mask, p
		}
		c.applyMask(mask) // XOR again undoes it
	}
	c.applyMask(best)
	c.drawFormat(level, best)
	return &Code{Version: version, Size: c.size, modules: c.dark}
}

// canvas is a symbol being drawn: function modules (finders, timing,
// alignment, format and version areas) are fixed; the rest carry data.
type canvas struct {
	size     int
	version  int
	dark     [][]bool
	function [][]bool
}

func newCanvas(version int) *canvas {
	size := 17 + 4*version
	c := &canvas{size: size, version: version}
	c.dark = make([][]bool, size)
	c.function = make([][]bool, size)
	for i := range c.dark {
		c.dark[i] = make([]bool, size)
		c.function[i] = make([]bool, size)
	}
	for i := 0; i < size; i++ {
		c.set(6, i, i%2 == 0)
		c.set(i, 6, i%2 == 0)
	}
	for _, p := range [][2]int{{3, 3}, {size - 4, 3}, {3, size - 4}} {
		for dy := -4; dy <= 4; dy++ {
			for dx := -4; dx <= 4; dx++ {
				x, y := p[0]+dx, p[1]+dy
				if x < 0 || y < 0 || x >= size || y >= size {
					continue
				}
				d := max(abs(dx), abs(dy))
				c.set(x, y, d != 2 && d != 4)
			}
		}
	}
	pos := alignment[version]
	for i, ay := range pos {
		for j, ax := range pos {
			if i == 0 && j == 0 || i == 0 && j == len(pos)-1 || i == len(pos)-1 && j == 0 {
				continue // under a finder
			}
			for dy := -2; dy <= 2; dy++ {
				for dx := -2; dx <= 2; dx++ {
					c.set(ax+dx, ay+dy, max(abs(dx), abs(dy)) != 1)
				}
			}
		}
	}
	c.drawFormat(M, 0) // reserves the format areas; redrawn per mask
	if version >= 7 {
		rem := version
		for i := 0; i < 12; i++ {
			rem = rem<<1 ^ (rem>>11)*0x1F25
		}
		bits := version<<12 | rem
		for i := 0; i < 18; i++ {
			bit := bits>>i&1 == 1
			a, b := size-11+i%3, i/3
			c.set(a, b, bit)
			c.set(b, a, bit)
		}
	}
	return c
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// set fixes a function module at column x, row y.
func (c *canvas) set(x, y int, dark bool) {
	c.dark[y][x] = dark
	c.function[y][x] = true
}

func (c *canvas) drawFormat(level Level, mask int) {
	levelBits := map[Level]int{L: 1, M: 0}[level]
	data := levelBits<<3 | mask
	rem := data
	for i := 0; i < 10; i++ {
		rem = rem<<1 ^ (rem>>9)*0x537
	}
	bits := (data<<10 | rem) ^ 0x5412
	bit := func(i int) bool { return bits>>i&1 == 1 }
	for i := 0; i <= 5; i++ {
		c.set(8, i, bit(i))
	}
	c.set(8, 7, bit(6))
	c.set(8, 8, bit(7))
	c.set(7, 8, bit(8))
	for i := 9; i < 15; i++ {
		c.set(14-i, 8, bit(i))
	}
	for i := 0; i < 8; i++ {
		c.set(c.size-1-i, 8, bit(i))
	}
	for i := 8; i < 15; i++ {
		c.set(8, c.size-15+i, bit(i))
	}
	c.set(8, c.size-8, true)
}

// place lays the codewords in the two-column zigzag from the bottom right.
func (c *canvas) place(stream []byte) {
	i := 0
	for right := c.size - 1; right >= 1; right -= 2 {
		if right == 6 {
			right = 5
		}
		for vert := 0; vert < c.size; vert++ {
			for j := 0; j < 2; j++ {
				x := right - j
				upward := (right+1)&2 == 0
				y := vert
				if upward {
					y = c.size - 1 - vert
				}
				if !c.function[y][x] && i < len(stream)*8 {
					c.dark[y][x] = stream[i>>3]>>(7-i&7)&1 == 1
					i++
				}
			}
		}
	}
}

func (c *canvas) applyMask(mask int) {
	for y := 0; y < c.size; y++ {
		for x := 0; x < c.size; x++ {
			if c.function[y][x] {
				continue
			}
			var flip bool
			switch mask {
			case 0:
				flip = (x+y)%2 == 0
			case 1:
				flip = y%2 == 0
			case 2:
				flip = x%3 == 0
			case 3:
				flip = (x+y)%3 == 0
			case 4:
				flip = (x/3+y/2)%2 == 0
			case 5:
				flip = x*y%2+x*y%3 == 0
			case 6:
				flip = (x*y%2+x*y%3)%2 == 0
			case 7:
				flip = ((x+y)%2+x*y%3)%2 == 0
			}
			c.dark[y][x] = c.dark[y][x] != flip
		}
	}
}

// penalty scores a masked symbol by the standard's four rules; the mask
// with the lowest score is kept.
func (c *canvas) penalty() int {
	n := c.size
	p := 0
	line := func(get func(i int) bool) {
		run := 1
		for i := 1; i < n; i++ {
			if get(i) == get(i-1) {
				run++
				continue
			}
			if run >= 5 {
				p += 3 + run - 5
			}
			run = 1
		}
		if run >= 5 {
			p += 3 + run - 5
		}
		// 1:1:3:1:1 finder-like runs with four light modules beside them.
		pat := []bool{true, false, true, true, true, false, true}
		for i := 0; i+7 <= n; i++ {
			ok := true
			for k, v := range pat {
				if get(i+k) != v {
					ok = false
					break
				}
			}
			if !ok {
				continue
			}
			light := func(from, to int) bool {
				for k := from; k < to; k++ {
					if k >= 0 && k < n && get(k) {
						return false
					}
				}
				return true
			}
			if light(i-4, i) || light(i+7, i+11) {
				p += 40
			}
		}
	}
	for y := 0; y < n; y++ {
		line(func(i int) bool { return c.dark[y][i] })
	}
	for x := 0; x < n; x++ {
		line(func(i int) bool { return c.dark[i][x] })
	}
	dark := 0
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			if c.dark[y][x] {
				dark++
			}
			if x+1 < n && y+1 < n {
				v := c.dark[y][x]
				if c.dark[y][x+1] == v && c.dark[y+1][x] == v && c.dark[y+1][x+1] == v {
					p += 3
				}
			}
		}
	}
	total := n * n
	k := (abs(dark*20-total*10)+total-1)/total - 1
	return p + max(0, k)*10
}

// rsDivisor is the Reed–Solomon generator polynomial of the degree, over
// GF(2^8) with the polynomial 0x11D, highest coefficient dropped.
func rsDivisor(degree int) []byte {
	out := make([]byte, degree)
	out[degree-1] = 1
	root := byte(1)
	for i := 0; i < degree; i++ {
		for j := 0; j < degree; j++ {
			out[j] = gfMul(out[j], root)
			if j+1 < degree {
				out[j] ^= out[j+1]
			}
		}
		root = gfMul(root, 2)
	}
	return out
}

func rsRemainder(data, divisor []byte) []byte {
	out := make([]byte, len(divisor))
	for _, b := range data {
		factor := b ^ out[0]
		copy(out, out[1:])
		out[len(out)-1] = 0
		for i, d := range divisor {
			out[i] ^= gfMul(d, factor)
		}
	}
	return out
}

func gfMul(x, y byte) byte {
	var z int
	for i := 7; i >= 0; i-- {
		z = z<<1 ^ (z>>7)*0x11D
		z ^= int(y>>i&1) * int(x)
	}
	return byte(z)
}

// quiet is the light margin the standard asks around a symbol.
const quiet = 4

// SVG renders the code as an SVG element of the given pixel size, with its
// quiet zone, as one path (small, and crisp when printed).
func (c *Code) SVG(px int, title string) string {
	n := c.Size + 2*quiet
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" shape-rendering="crispEdges" role="img" aria-label="%s">`, n, n, px, px, escape(title))
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, n, n)
	for y := 0; y < c.Size; y++ {
		for x := 0; x < c.Size; x++ {
			if c.modules[y][x] {
				fmt.Fprintf(&b, "M%d %dh1v1h-1z", x+quiet, y+quiet)
			}
		}
	}
	b.WriteString(`"/></svg>`)
	return b.String()
}

func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#39;").Replace(s)
}

// Image renders the code with scale pixels a module, quiet zone included.
func (c *Code) Image(scale int) image.Image {
	n := (c.Size + 2*quiet) * scale
	img := image.NewGray(image.Rect(0, 0, n, n))
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			mx, my := x/scale-quiet, y/scale-quiet
			v := color.Gray{Y: 255}
			if mx >= 0 && my >= 0 && mx < c.Size && my < c.Size && c.modules[my][mx] {
				v = color.Gray{Y: 0}
			}
			img.SetGray(x, y, v)
		}
	}
	return img
}
