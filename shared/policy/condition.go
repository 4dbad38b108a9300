package policy

import (
	"cmp"
	"strings"
)

// eval decides one (operator, key) pair of a Condition block.
//
// AWS's rules, with the choices described in the package comment:
//   - Null tests presence alone.
//   - ForAnyValue: some request value satisfies the operator; false when the
//     key is missing or empty. ForAllValues: every request value satisfies
//     it; true when the key is missing or empty. IfExists changes neither.
//   - Otherwise a missing key makes the condition true for IfExists and for
//     negated operators, false for the rest; a present key is true when some
//     value matches (positive operators) or when no value matches (negated
//     operators, the exact negation).
func (cd *cond) eval(ctx *Context, res *Result) bool {
	var values []string
	if e := ctx.lookup(cd.key); e != nil {
		values = e.values
	}
	present := len(values) > 0
	if cd.spec.base == opNull {
		for _, isNull := range cd.nulls {
			if isNull != present {
				return true
			}
		}
		return false
	}
	switch cd.set {
	case setAny:
		for _, v := range values {
			if cd.test(v, ctx, res) {
				return true
			}
		}
		return false
	case setAll:
		for _, v := range values {
			if !cd.test(v, ctx, res) {
				return false
			}
		}
		return true
	}
	if !present {
		return cd.ifExists || cd.spec.negated
	}
	if cd.spec.negated {
		for _, v := range values {
			if !cd.test(v, ctx, res) {
				return false
			}
		}
		return true
	}
	for _, v := range values {
		if cd.test(v, ctx, res) {
			return true
		}
	}
	return false
}

// test applies the operator to one request value: a positive operator holds
// when v matches a policy value (OR); a negated one when v matches none of
// them (NOR) and every policy value could be resolved.
func (cd *cond) test(v string, ctx *Context, res *Result) bool {
	matched, unresolved := cd.matchAny(v, ctx, res)
	if cd.spec.negated {
		return !matched && !unresolved
	}
	return matched
}

// matchAny reports whether v matches some policy value under the base
// operator, and whether some policy value held a variable without a value.
func (cd *cond) matchAny(v string, ctx *Context, res *Result) (matched, unresolved bool) {
	switch cd.spec.base {
	case opString, opStringFold, opStringLike, opBool:
		for i := range cd.strs {
			t := &cd.strs[i]
			if t.parts == nil && cd.spec.base == opStringLike {
				if t.g.match(v) {
					return true, unresolved
				}
				continue
			}
			pv := t.text
			if t.parts != nil {
				var ok bool
				if res.buf, ok = t.resolve(res.buf[:0], ctx); !ok {
					unresolved = true
					continue
				}
				pv = scratch(res.buf)
			}
			if cd.matchString(pv, v) {
				return true, unresolved
			}
		}
		return false, unresolved
	case opNumeric:
		n, ok := parseNumber(v)
		if !ok {
			return false, false
		}
		for _, p := range cd.nums {
			if compared(cd.spec.cmp, cmp.Compare(n, p)) {
				return true, false
			}
		}
	case opDate:
		d, ok := parseDate(v)
		if !ok {
			return false, false
		}
		for _, p := range cd.dates {
			if compared(cd.spec.cmp, d.Compare(p)) {
				return true, false
			}
		}
	case opIP:
		a, ok := parseAddr(v)
		if !ok {
			return false, false
		}
		for _, p := range cd.nets {
			if p.Contains(a) {
				return true, false
			}
		}
	}
	return false, false
}

// matchString compares request value v with policy value pv.
func (cd *cond) matchString(pv, v string) bool {
	switch cd.spec.base {
	case opString:
		return pv == v
	case opStringFold:
		return strings.EqualFold(pv, v)
	case opStringLike:
		return match(pv, v)
	default: // opBool
		want, ok1 := parseBool(pv)
		got, ok2 := parseBool(v)
		return ok1 && ok2 && want == got
	}
}

// compared reports whether a comparison result c (request value against
// policy value) satisfies op.
func compared(op cmpOp, c int) bool {
	switch op {
	case cmpLt:
		return c < 0
	case cmpLe:
		return c <= 0
	case cmpGt:
		return c > 0
	case cmpGe:
		return c >= 0
	default:
		return c == 0
	}
}
