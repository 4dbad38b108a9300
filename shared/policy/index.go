package policy

import "strings"

// prefixTree is a radix tree over the literal prefixes of patterns (the text
// before their first wildcard or variable). Walking a string down it finds
// the statements whose patterns the string may match, in time bounded by
// the string's length and the number of distinct patterns met on the way.
//
// Entries are grouped by what remains to be checked: a glob over the rest
// of the string and, for resources, a glob over the request's tenant. A
// group marked as proof settles the match; other groups only say that the
// statement may match, and the caller checks it in full.
type prefixTree struct {
	label string        // the edge from the parent
	first string        // the first byte of each child's label
	kids  []*prefixTree // in the order of first
	wide  *[256]uint8   // for many children: 1 + the index of the child by first byte

	groups []entryGroup // checked whenever the walk reaches this node
	// exact (at the root only) holds the groups of patterns without
	// wildcards, by the whole string: one lookup instead of a walk.
	exact map[string][]entryGroup

	building map[groupKey]int // index in groups, or in exact[key]
}

type entryGroup struct {
	rest   glob // over the rest of the string
	tenant glob // over the request's tenant
	proof  bool
	gs     []int32
	bits   []uint64 // gs as a bitset, when that is cheaper
}

type groupKey struct {
	exact        string // the whole string, for exact groups
	rest, tenant string
	proof        bool
}

// add files statement g under key (a literal prefix, or the whole string if
// exact) with what remains to be checked.
func (t *prefixTree) add(key string, exact bool, rest, tenant string, proof bool, g int32) {
	k := groupKey{rest: rest, tenant: tenant, proof: proof}
	n := t
	if exact {
		k.exact = key // exact groups live at the root, by key
	} else {
		n = t.node(key)
	}
	i, ok := n.building[k]
	if !ok {
		if n.building == nil {
			n.building = map[groupKey]int{}
		}
		grp := entryGroup{rest: compileGlob(rest), tenant: compileGlob(tenant), proof: proof}
		if exact {
			if t.exact == nil {
				t.exact = map[string][]entryGroup{}
			}
			i = len(t.exact[key])
			t.exact[key] = append(t.exact[key], grp)
		} else {
			i = len(n.groups)
			n.groups = append(n.groups, grp)
		}
		n.building[k] = i
	}
	list := n.groups // shares its elements with the stored slice
	if exact {
		list = t.exact[key]
	}
	// A statement lists its patterns one after another.
	if gs := list[i].gs; len(gs) == 0 || gs[len(gs)-1] != g {
		list[i].gs = append(gs, g)
	}
}

// addAction files statement g under lower-cased action pattern p. The
// groups decide the match, so every statement the action tree finds
// matches.
func (t *prefixTree) addAction(p string, g int32) {
	w := strings.IndexAny(p, "*?")
	if w < 0 {
		t.add(p, true, "*", "*", false, g)
		return
	}
	t.add(p[:w], false, p[w:], "*", false, g)
}

// node returns the node for key, creating and splitting nodes as needed.
func (t *prefixTree) node(key string) *prefixTree {
	n := t
	for key != "" {
		i := strings.IndexByte(n.first, key[0])
		if i < 0 {
			c := &prefixTree{label: key}
			n.first += key[:1]
			n.kids = append(n.kids, c)
			return c
		}
		c := n.kids[i]
		l := commonPrefix(c.label, key)
		if l < len(c.label) {
			mid := &prefixTree{label: c.label[:l], first: c.label[l : l+1], kids: []*prefixTree{c}}
			c.label = c.label[l:]
			n.kids[i] = mid
			c = mid
		}
		key = key[l:]
		n = c
	}
	return n
}

func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// seal ends building: it drops the build maps and turns long statement
// lists into bitsets of the given number of words.
func (t *prefixTree) seal(words int) {
	t.building = nil
	if len(t.kids) > 8 && len(t.kids) < 256 {
		t.wide = new([256]uint8)
		for i := range len(t.first) {
			t.wide[t.first[i]] = uint8(i + 1)
		}
	}
	lists := [][]entryGroup{t.groups}
	for _, l := range t.exact {
		lists = append(lists, l)
	}
	for _, list := range lists {
		for i := range list {
			if grp := &list[i]; len(grp.gs) > words {
				grp.bits = make([]uint64, words)
				for _, g := range grp.gs {
					grp.bits[g>>6] |= 1 << (uint(g) & 63)
				}
			}
		}
	}
	for _, c := range t.kids {
		c.seal(words)
	}
}

// mark walks s down the tree and sets in found the statements of the
// groups whose checks pass, and in proven those of proof groups.
func (t *prefixTree) mark(s, tenant string, found, proven []uint64) {
	if t.exact != nil {
		exact := t.exact[s]
		for i := range exact {
			if grp := &exact[i]; grp.tenant.matchFast(tenant) {
				grp.set(found, proven)
			}
		}
	}
	n := t
	for {
		for i := range n.groups {
			if grp := &n.groups[i]; grp.rest.matchFast(s) && grp.tenant.matchFast(tenant) {
				grp.set(found, proven)
			}
		}
		if s == "" {
			return
		}
		var c *prefixTree
		if n.wide != nil {
			if i := n.wide[s[0]]; i != 0 {
				c = n.kids[i-1]
			}
		} else {
			for i := 0; i < len(n.first); i++ {
				if n.first[i] == s[0] {
					c = n.kids[i]
					break
				}
			}
		}
		if c == nil || len(s) < len(c.label) {
			return
		}
		// Labels are short: compare them here rather than call memequal.
		// The first byte is known to match.
		for j := 1; j < len(c.label); j++ {
			if s[j] != c.label[j] {
				return
			}
		}
		s = s[len(c.label):]
		n = c
	}
}

// takeRoot removes the root's groups, which every walk reaches, and
// returns them as bitsets of the given number of words: the statements
// found, and those proven. It must be called before seal.
func (t *prefixTree) takeRoot(words int) (found, proven []uint64) {
	found, proven = make([]uint64, words), make([]uint64, words)
	var rest []entryGroup
	for _, grp := range t.groups {
		if grp.rest.shape != globAny || grp.tenant.shape != globAny {
			rest = append(rest, grp)
			continue
		}
		grp.set(found, proven)
	}
	t.groups = rest
	t.building = nil
	return found, proven
}

func (grp *entryGroup) set(found, proven []uint64) {
	if grp.bits != nil {
		for i, w := range grp.bits {
			found[i] |= w
		}
		if grp.proof {
			for i, w := range grp.bits {
				proven[i] |= w
			}
		}
		return
	}
	for _, g := range grp.gs {
		found[g>>6] |= 1 << (uint(g) & 63)
	}
	if grp.proof {
		for _, g := range grp.gs {
			proven[g>>6] |= 1 << (uint(g) & 63)
		}
	}
}

// resourceKey is the key under which the resource tree files an IRN: its
// service and resource parts, the tenant left out ("irn:svc::rest"). The
// tenant is checked apart, so that patterns with a wildcard tenant stay as
// selective as the others.
func appendResourceKey(b []byte, service, rest string) []byte {
	b = append(b, irnPrefix...)
	b = append(b, service...)
	b = append(b, "::"...)
	return append(b, rest...)
}

// addResource files statement g under resource pattern p.
func (t *prefixTree) addResource(p *resPattern, g int32) {
	if p.any {
		t.add("", false, "*", "*", true, g)
		return
	}
	rest, _ := strings.CutPrefix(p.lit, irnPrefix)
	service, rest, _ := strings.Cut(rest, ":")
	tenant, rest, _ := strings.Cut(rest, ":")
	if hasWild(service) {
		// Rare: file it under "irn:" and let the caller check it.
		t.add(irnPrefix, false, "*", "*", false, g)
		return
	}
	key := string(appendResourceKey(nil, service, ""))
	if p.exact {
		t.add(key+rest, true, "*", tenant, true, g)
		return
	}
	// The resource part up to its first wildcard or variable is literal.
	// When a final * is all that follows, the groups decide the match.
	cut := strings.IndexAny(rest, "*?$")
	if cut < 0 { // only the tenant has a wildcard
		t.add(key+rest, true, "*", tenant, true, g)
		return
	}
	t.add(key+rest[:cut], false, "*", tenant, rest[cut:] == "*", g)
}
