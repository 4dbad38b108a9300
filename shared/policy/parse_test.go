package policy

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/realmiam/realmiam/shared/problem"
)

func TestParseErrors(t *testing.T) {
	t.Parallel()
	ok := st("", "Allow", `"svc:Do"`, `"*"`, "")
	withCond := func(cond string) string { return doc(st("", "Allow", `"svc:Do"`, `"*"`, cond)) }
	cases := []struct {
		name   string
		raw    string
		field  string
		reason string // a part of the reason
	}{
		{"not JSON", `{"Version":`, "", "malformed JSON"},
		{"trailing data", doc(ok) + `{}`, "", "after the document"},
		{"not an object", `[]`, "", "must be a JSON object"},
		{"nested too deeply", `{"Version":"2012-10-17","Statement":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, "", "nested too deeply"},
		{"missing Version", `{"Statement":[` + ok + `]}`, "Version", "is required"},
		{"old Version", `{"Version":"2008-10-17","Statement":[` + ok + `]}`, "Version", "2008-10-17"},
		{"unknown Version", `{"Version":"2012-10-18","Statement":[` + ok + `]}`, "Version", `must be "2012-10-17"`},
		{"Version not a string", `{"Version":2012,"Statement":[` + ok + `]}`, "Version", "must be the string"},
		{"unknown top-level element", `{"Version":"2012-10-17","Statements":[` + ok + `]}`, "Statements", "not an element"},
		{"duplicate top-level element", `{"Version":"2012-10-17","Version":"2012-10-17","Statement":[` + ok + `]}`, "Version", "more than once"},
		{"missing Statement", `{"Version":"2012-10-17"}`, "Statement", "at least one"},
		{"empty Statement", `{"Version":"2012-10-17","Statement":[]}`, "Statement", "at least one"},
		{"Statement a string", `{"Version":"2012-10-17","Statement":"x"}`, "Statement", "must be an object or a list"},
		{"statement not an object", doc(ok, `"x"`), "Statement[1]", "must be an object"},
		{"missing Effect", doc(`{"Action":"svc:Do","Resource":"*"}`), "Statement[0].Effect", "is required"},
		{"Effect lower-case", doc(st("", "allow", `"svc:Do"`, `"*"`, "")), "Statement[0].Effect", `"Allow" or "Deny"`},
		{"Effect not a string", doc(`{"Effect":true,"Action":"svc:Do","Resource":"*"}`), "Statement[0].Effect", `"Allow" or "Deny"`},
		{"Action and NotAction", doc(`{"Effect":"Allow","Action":"svc:Do","NotAction":"svc:Undo","Resource":"*"}`), "Statement[0].NotAction", "not both"},
		{"no Action", doc(`{"Effect":"Allow","Resource":"*"}`), "Statement[0].Action", "is required"},
		{"Action without colon in second statement", doc(ok, st("", "Allow", `"svcDo"`, `"*"`, "")), "Statement[1].Action", "service:Operation"},
		{"Action with two colons", doc(st("", "Allow", `"svc:Do:It"`, `"*"`, "")), "Statement[0].Action", "service:Operation"},
		{"Action with empty operation", doc(st("", "Allow", `"svc:"`, `"*"`, "")), "Statement[0].Action", "service:Operation"},
		{"Action with a space", doc(st("", "Allow", `"svc:Do It"`, `"*"`, "")), "Statement[0].Action", "letters, digits"},
		{"Action with a variable", doc(st("", "Allow", `"svc:${iam:userid}"`, `"*"`, "")), "Statement[0].Action", "service:Operation"},
		{"Action list element not a string", doc(st("", "Allow", `["svc:Do",7]`, `"*"`, "")), "Statement[0].Action[1]", "must be a string"},
		{"Action empty list", doc(st("", "Allow", `[]`, `"*"`, "")), "Statement[0].Action", "empty list"},
		{"Action an object", doc(st("", "Allow", `{}`, `"*"`, "")), "Statement[0].Action", "a string or a list"},
		{"NotAction bad", doc(`{"Effect":"Allow","NotAction":"nope","Resource":"*"}`), "Statement[0].NotAction", "service:Operation"},
		{"Resource and NotResource", doc(`{"Effect":"Allow","Action":"*","Resource":"*","NotResource":"*"}`), "Statement[0].NotResource", "not both"},
		{"no Resource", doc(`{"Effect":"Allow","Action":"*"}`), "Statement[0].Resource", "is required"},
		{"Resource not an IRN", doc(st("", "Allow", `"*"`, `"arn:aws:s3:::bucket"`, "")), "Statement[0].Resource", "irn:{service}:{tenantId}:{resource}"},
		{"Resource with too few parts", doc(st("", "Allow", `"*"`, `"irn:*"`, "")), "Statement[0].Resource", "irn:{service}:{tenantId}:{resource}"},
		{"Resource with empty resource part", doc(st("", "Allow", `"*"`, `"irn:svc:acme:"`, "")), "Statement[0].Resource", "irn:{service}:{tenantId}:{resource}"},
		{"Resource with upper-case tenant", doc(st("", "Allow", `"*"`, `"irn:svc:Acme:x"`, "")), "Statement[0].Resource", "realm id"},
		{"Resource with bad service", doc(st("", "Allow", `"*"`, `"irn:s/v:acme:x"`, "")), "Statement[0].Resource", "service part"},
		{"Resource variable in tenant", doc(st("", "Allow", `"*"`, `"irn:svc:${iam:realm}:x"`, "")), "Statement[0].Resource", "only in the resource part"},
		{"Resource unterminated variable", doc(st("", "Allow", `"*"`, `"irn:svc:acme:user/${iam:userid"`, "")), "Statement[0].Resource", "malformed policy variable"},
		{"Resource empty variable", doc(st("", "Allow", `"*"`, `"irn:svc:acme:user/${}"`, "")), "Statement[0].Resource", "malformed policy variable"},
		{"Resource variable not a key", doc(st("", "Allow", `"*"`, `"irn:svc:acme:user/${userid}"`, "")), "Statement[0].Resource", "malformed policy variable"},
		{"Resource default unquoted", doc(st("", "Allow", `"*"`, `"irn:svc:acme:user/${iam:userid, anon}"`, "")), "Statement[0].Resource", "malformed policy variable"},
		{"Resource default unterminated", doc(st("", "Allow", `"*"`, `"irn:svc:acme:user/${iam:userid, 'anon}"`, "")), "Statement[0].Resource", "malformed policy variable"},
		{"Resource control character", doc(st("", "Allow", `"*"`, `"irn:svc:acme:a\u0001"`, "")), "Statement[0].Resource", "control character"},
		{"NotResource bad", doc(`{"Effect":"Allow","Action":"*","NotResource":["*","x"]}`), "Statement[0].NotResource", "irn:"},
		{"Principal", doc(`{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}`), "Statement[0].Principal", "identity policy"},
		{"unknown statement element", doc(`{"Effect":"Allow","Actions":"*","Action":"*","Resource":"*"}`), "Statement[0].Actions", "not an element"},
		{"duplicate statement element", doc(`{"Effect":"Allow","Effect":"Deny","Action":"*","Resource":"*"}`), "Statement[0].Effect", "more than once"},
		{"element names are exact", doc(`{"effect":"Allow","Action":"*","Resource":"*"}`), "Statement[0].effect", "not an element"},
		{"Sid with a dash", doc(st("my-sid", "Allow", `"*"`, `"*"`, "")), "Statement[0].Sid", "letters and digits"},
		{"Sid not a string", doc(`{"Sid":1,"Effect":"Allow","Action":"*","Resource":"*"}`), "Statement[0].Sid", "must be a string"},
		{"duplicate Sid", doc(st("s1", "Allow", `"*"`, `"*"`, ""), st("s2", "Allow", `"*"`, `"*"`, ""), st("s1", "Deny", `"*"`, `"*"`, "")), "Statement[2].Sid", "Statement[0]"},
		{"Id not a string", `{"Version":"2012-10-17","Id":[],"Statement":[` + ok + `]}`, "Id", "must be a string"},
		{"single statement path", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"bad","Resource":"*"}}`, "Statement.Action", "service:Operation"},
		{"Condition not an object", withCond(`[]`), "Statement[0].Condition", "must be an object"},
		{"Condition operator not an object", withCond(`{"StringEquals":"x"}`), "Statement[0].Condition.StringEquals", "must be an object"},
		{"Condition operator without keys", withCond(`{"StringEquals":{}}`), "Statement[0].Condition.StringEquals", "at least one condition key"},
		{"unknown operator", withCond(`{"StringMatches":{"app:x":"y"}}`), "Statement[0].Condition.StringMatches", "not a supported"},
		{"ARN operator", withCond(`{"ArnLike":{"app:x":"irn:*"}}`), "Statement[0].Condition.ArnLike", "not supported"},
		{"IfExists twice", withCond(`{"StringEqualsIfExistsIfExists":{"app:x":"y"}}`), "Statement[0].Condition.StringEqualsIfExistsIfExists", "not a supported"},
		{"unknown qualifier", withCond(`{"ForSomeValues:StringEquals":{"app:x":"y"}}`), "Statement[0].Condition.ForSomeValues:StringEquals", "not a supported"},
		{"Null with qualifier", withCond(`{"ForAnyValue:Null":{"app:x":"true"}}`), "Statement[0].Condition.ForAnyValue:Null", "Null takes"},
		{"Null with IfExists", withCond(`{"NullIfExists":{"app:x":"true"}}`), "Statement[0].Condition.NullIfExists", "Null takes"},
		{"Null value", withCond(`{"Null":{"app:x":"maybe"}}`), "Statement[0].Condition.Null.app:x", "is not \"true\""},
		{"Bool value", withCond(`{"Bool":{"app:x":"yes"}}`), "Statement[0].Condition.Bool.app:x", "not a boolean"},
		{"Numeric value", withCond(`{"NumericLessThan":{"app:x":"ten"}}`), "Statement[0].Condition.NumericLessThan.app:x", "not a number"},
		{"Numeric hex value", withCond(`{"NumericLessThan":{"app:x":"0x10"}}`), "Statement[0].Condition.NumericLessThan.app:x", "not a number"},
		{"Numeric variable", withCond(`{"NumericLessThan":{"app:x":"${app:max}"}}`), "Statement[0].Condition.NumericLessThan.app:x", "not a number"},
		{"Date value", withCond(`{"DateLessThan":{"app:x":"yesterday"}}`), "Statement[0].Condition.DateLessThan.app:x", "not a date"},
		{"Date impossible day", withCond(`{"DateLessThan":{"app:x":"2026-02-30"}}`), "Statement[0].Condition.DateLessThan.app:x", "not a date"},
		{"IP value", withCond(`{"IpAddress":{"iam:SourceIp":"10.0.0.300"}}`), "Statement[0].Condition.IpAddress.iam:SourceIp", "not an IP"},
		{"IP prefix too long", withCond(`{"IpAddress":{"iam:SourceIp":"10.0.0.0/33"}}`), "Statement[0].Condition.IpAddress.iam:SourceIp", "not an IP"},
		{"String bad variable", withCond(`{"StringEquals":{"app:x":"${oops"}}`), "Statement[0].Condition.StringEquals.app:x", "malformed policy variable"},
		{"key without prefix", withCond(`{"StringEquals":{"tier":"gold"}}`), "Statement[0].Condition.StringEquals.tier", "not a condition key"},
		{"key with variable", withCond(`{"StringEquals":{"app:${iam:userid}":"x"}}`), "Statement[0].Condition.StringEquals.app:${iam:userid}", "not a condition key"},
		{"keys differing in case", withCond(`{"StringEquals":{"app:Tier":"gold","app:tier":"silver"}}`), "Statement[0].Condition.StringEquals.app:tier", "ignore case"},
		{"duplicate key", withCond(`{"StringEquals":{"app:tier":"gold","app:tier":"silver"}}`), "Statement[0].Condition.StringEquals.app:tier", "more than once"},
		{"duplicate operator", withCond(`{"Bool":{"app:a":"true"},"Bool":{"app:b":"true"}}`), "Statement[0].Condition.Bool", "more than once"},
		{"empty value list", withCond(`{"StringEquals":{"app:x":[]}}`), "Statement[0].Condition.StringEquals.app:x", "empty list"},
		{"value an object", withCond(`{"StringEquals":{"app:x":{}}}`), "Statement[0].Condition.StringEquals.app:x", "string, number or boolean"},
		{"value null in list", withCond(`{"StringEquals":{"app:x":["a",null]}}`), "Statement[0].Condition.StringEquals.app:x[1]", "string, number or boolean"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tc.raw))
			require.Error(t, err)
			pe, ok := err.(*problem.Error)
			require.True(t, ok, "%T", err)
			require.Equal(t, problem.Invalid, pe.Kind)
			require.Equal(t, "invalid_policy", pe.Code)
			var found bool
			for _, f := range pe.Fields {
				if f.Field == tc.field && strings.Contains(f.Reason, tc.reason) {
					found = true
				}
			}
			require.True(t, found, "want field %q with %q, got %+v", tc.field, tc.reason, pe.Fields)
		})
	}
}

func TestParseReportsEveryField(t *testing.T) {
	t.Parallel()
	raw := doc(
		st("", "Allow", `"bad"`, `"also bad"`, ""),
		`{"Effect":"Maybe","Action":"svc:Do","Resource":"*","Condition":{"Bool":{"app:x":"1"}}}`)
	_, err := Parse([]byte(raw))
	pe := err.(*problem.Error)
	var fields []string
	for _, f := range pe.Fields {
		fields = append(fields, f.Field)
	}
	require.Equal(t, []string{"Statement[0].Action", "Statement[0].Resource", "Statement[1].Effect", "Statement[1].Condition.Bool.app:x"}, fields)
	require.Contains(t, pe.Detail, "Statement[0].Action")
}

func TestParseBoundsFieldErrors(t *testing.T) {
	t.Parallel()
	var stmts []string
	for range 50 {
		stmts = append(stmts, st("", "Allow", `"bad"`, `"*"`, ""))
	}
	_, err := Parse([]byte(doc(stmts...)))
	require.Len(t, err.(*problem.Error).Fields, maxFieldErrors)
}

func TestParseSize(t *testing.T) {
	t.Parallel()
	// A document of exactly n characters, whitespace not counted.
	sized := func(n int, pad string) string {
		base := doc(st("", "Allow", `"svc:Do"`, `"irn:svc:acme:x"`, ""))
		fill := n - size([]byte(base))
		return strings.Replace(base, "irn:svc:acme:x", "irn:svc:acme:x"+strings.Repeat("y", fill), 1) + pad
	}
	_, err := Parse([]byte(sized(MaxSize, "")))
	require.NoError(t, err)

	// Whitespace does not count, outside strings or inside.
	spaced := strings.ReplaceAll(sized(MaxSize, strings.Repeat(" \n\t\r", 5000)), `":`, "\"\n\t : ")
	_, err = Parse([]byte(spaced))
	require.NoError(t, err)
	inString := strings.Replace(sized(MaxSize, ""), "irn:svc:acme:x", "irn:svc:acme:x"+strings.Repeat(" ", 100), 1)
	_, err = Parse([]byte(inString))
	require.NoError(t, err)

	_, err = Parse([]byte(sized(MaxSize+1, "")))
	require.Error(t, err)
	pe := err.(*problem.Error)
	require.Equal(t, "policy_too_large", pe.Code)
	require.Equal(t, problem.Invalid, pe.Kind)
	require.Contains(t, pe.Detail, "6145")

	// Characters, not bytes: a two-byte character counts once.
	wide := strings.Replace(sized(MaxSize, ""), "yy", "é", 1)
	require.Equal(t, MaxSize-1, size([]byte(wide)))
	_, err = Parse([]byte(wide))
	require.NoError(t, err)

	// Characters as they are, not as the client's encoder escaped them.
	for plain, escaped := range map[string]string{
		"é": `\u00e9`,
		"a": `\u0061`,
		"<": `\u003c`,
		"😀": `\uD83D\uDE00`,
		`"`: `\"`,
		"":  `\n\t\r\u0020`, // whitespace, escaped or not, is not counted
	} {
		require.Equal(t, size([]byte(`"x`+plain+`"`)), size([]byte(`"x`+escaped+`"`)), "%s", escaped)
	}
	escapedWide := strings.Replace(sized(MaxSize, ""), "yy", `\u00e9`, 1)
	require.Equal(t, MaxSize-1, size([]byte(escapedWide)))
	_, err = Parse([]byte(escapedWide))
	require.NoError(t, err)
	// Broken escapes are counted without reading past the end.
	for _, s := range []string{`"\`, `"\u12`, `"\uD83D\u`, `"\uD83D\uZZZZ"`} {
		require.Positive(t, size([]byte(s)))
	}
}

func TestParseAccepts(t *testing.T) {
	t.Parallel()
	raw := `{
		"Version": "2012-10-17",
		"Id": "example",
		"Statement": {
			"Sid": "One",
			"Effect": "Deny",
			"NotAction": ["iam:Get*", "iam:List*"],
			"NotResource": "irn:iam:acme:account/${iam:userid, 'it''s me'}",
			"Condition": {
				"NumericLessThan": {"app:n": 10},
				"bool": {"app:mfa": true},
				"ForAllValues:StringLikeIfExists": {"iam:PrincipalGroups": ["ops-*", "dev"]},
				"DateGreaterThan": {"iam:CurrentTime": ["2026-12", "2026-12-01T10:00:00.5+02:00", "1796119200"]},
				"IpAddress": {"iam:SourceIp": ["10.0.0.0/8", "2001:db8::/32", "::ffff:192.0.2.0/120"]},
				"Null": {"app:token": "FALSE"}
			}
		}
	}`
	d, err := Parse([]byte(raw))
	require.NoError(t, err)
	require.Equal(t, "example", d.ID)
	require.Len(t, d.Statement, 1)
	s := d.Statement[0]
	require.Equal(t, Deny, s.Effect)
	require.Equal(t, []string{"iam:Get*", "iam:List*"}, s.NotAction)
	require.Equal(t, []string{"10"}, s.Condition["NumericLessThan"]["app:n"])
	require.Equal(t, []string{"true"}, s.Condition["bool"]["app:mfa"])

	out, err := json.Marshal(d)
	require.NoError(t, err)
	again, err := Parse(out)
	require.NoError(t, err)
	require.Equal(t, d.Statement, again.Statement)
}

func TestCompileChecksHandBuiltDocuments(t *testing.T) {
	t.Parallel()
	_, err := Compile("id", "name", nil)
	require.Error(t, err)
	_, err = Compile("id", "name", &Document{Version: Version, Statement: []Statement{{Effect: Allow, Action: []string{"x"}, Resource: []string{"*"}}}})
	require.Error(t, err)
	require.Equal(t, "Statement[0].Action", err.(*problem.Error).Fields[0].Field)
	c, err := Compile("id", "name", &Document{Version: Version, Statement: []Statement{{Effect: Allow, Action: []string{"x:Y"}, Resource: []string{"*"}}}})
	require.NoError(t, err)
	require.Equal(t, "id", c.ID)
}
