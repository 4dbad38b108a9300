package policy

import (
	"strings"
	"unicode/utf8"
	"unsafe"
)

// match reports whether s matches the glob pattern p, in which * matches any
// run of characters, ? exactly one character, and a backslash makes the next
// byte literal. Characters are UTF-8 sequences (an invalid byte counts as
// one). Comparison is byte for byte: callers lower-case both sides where
// case must not matter.
//
// The matcher is iterative: on a mismatch it lets the most recent * swallow
// one more character and retries from there, which is enough for * and ?
// patterns and bounds the work by len(p)*len(s).
func match(p, s string) bool {
	pi, si := 0, 0
	starP, starS := -1, 0
	for {
		if pi < len(p) {
			switch ch := p[pi]; ch {
			case '*':
				if pi == len(p)-1 {
					return true // a trailing * takes the rest
				}
				starP, starS = pi, si
				pi++
				continue
			case '?':
				if si < len(s) {
					if s[si] < utf8.RuneSelf {
						si++
					} else {
						si += charLen(s, si)
					}
					pi++
					continue
				}
			case '\\':
				if pi+1 < len(p) && si < len(s) && s[si] == p[pi+1] {
					pi += 2
					si++
					continue
				}
			default:
				if si < len(s) && s[si] == ch {
					pi++
					si++
					continue
				}
			}
		} else if si == len(s) {
			return true
		}
		if starP < 0 || starS >= len(s) {
			return false
		}
		if s[starS] < utf8.RuneSelf {
			starS++
		} else {
			starS += charLen(s, starS)
		}
		pi, si = starP+1, starS
	}
}

// charLen is the length of the character that starts s[i:].
func charLen(s string, i int) int {
	_, n := utf8.DecodeRuneInString(s[i:])
	return n
}

// glob is a wildcard pattern compiled to its shape, so that the common
// shapes cost one or two string comparisons instead of a scan.
type glob struct {
	shape  globShape
	pat    string // the whole pattern (globGeneral)
	lo, hi string // literal prefix and suffix, or the infix of globContains
}

type globShape uint8

const (
	globGeneral  globShape = iota
	globExact              // lit
	globAny                // *
	globPrefix             // lit*
	globSuffix             // *lit
	globAffix              // lit*lit
	globContains           // *lit*
)

// compileGlob classifies pattern p (glob syntax, see match). Patterns with
// ? or an escape stay general. The shapes agree with match: a literal that
// is valid UTF-8 can only start at a character boundary of s.
func compileGlob(p string) glob {
	if strings.ContainsAny(p, "?\\") {
		return glob{shape: globGeneral, pat: p}
	}
	switch stars := strings.Count(p, "*"); {
	case stars == 0:
		return glob{shape: globExact, lo: p}
	case p == "*" || strings.Trim(p, "*") == "":
		return glob{shape: globAny}
	case stars == 1:
		lo, hi, _ := strings.Cut(p, "*")
		switch {
		case hi == "":
			return glob{shape: globPrefix, lo: lo}
		case lo == "":
			return glob{shape: globSuffix, hi: hi}
		}
		return glob{shape: globAffix, lo: lo, hi: hi}
	case stars == 2 && p[0] == '*' && p[len(p)-1] == '*':
		return glob{shape: globContains, lo: p[1 : len(p)-1]}
	}
	return glob{shape: globGeneral, pat: p}
}

// matchFast is match with the two commonest shapes decided inline.
func (g *glob) matchFast(s string) bool {
	switch g.shape {
	case globAny:
		return true
	case globExact:
		return s == g.lo
	}
	return g.match(s)
}

func (g *glob) match(s string) bool {
	switch g.shape {
	case globExact:
		return s == g.lo
	case globAny:
		return true
	case globPrefix:
		return strings.HasPrefix(s, g.lo)
	case globSuffix:
		return strings.HasSuffix(s, g.hi)
	case globAffix:
		return len(s) >= len(g.lo)+len(g.hi) && strings.HasPrefix(s, g.lo) && strings.HasSuffix(s, g.hi)
	case globContains:
		return strings.Contains(s, g.lo)
	}
	return match(g.pat, s)
}

// appendLowerASCII appends s to b with ASCII letters lower-cased.
func appendLowerASCII(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if 'A' <= ch && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		b = append(b, ch)
	}
	return b
}

// appendEscaped appends s to b as literal glob text.
func appendEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if ch := s[i]; ch == '\\' || ch == '*' || ch == '?' {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return b
}

// scratch views b as a string without copying. The string is only used
// before b is next written (within one comparison), so it never changes
// underneath its reader; this keeps evaluation free of allocations.
func scratch(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}
