package mongodb_test

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/realmiam/realmiam/shared/mongodb"
	"github.com/realmiam/realmiam/shared/problem"
)

func TestCursorRoundTrip(t *testing.T) {
	t.Parallel()
	for _, after := range []string{
		"a",
		"alice@example.com",
		"t-abcdefghijkl",
		`"quoted"@example.com`,
		"o'brien+tag@example.com",
		"ü@bücher.example",
		"<&>\u2028\\",
		strings.Repeat("x", 254),
		// The longest cursor an email can need: 254 characters, nearly all
		// of which JSON escapes to six bytes.
		strings.Repeat("&", 252) + "@&",
	} {
		t.Run(after, func(t *testing.T) {
			c := mongodb.EncodeCursor(after)
			require.LessOrEqual(t, len(c), 2048, "fits the spec's cursor maxLength")
			for _, r := range c {
				require.True(t, r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9',
					"URL-safe without escaping: %q", c)
			}
			got, err := mongodb.DecodeCursor(c)
			require.NoError(t, err)
			require.Equal(t, after, got)
		})
	}
}

func TestDecodeCursorRejects(t *testing.T) {
	t.Parallel()
	b64 := base64.RawURLEncoding.EncodeToString
	for _, tc := range []struct{ name, cursor string }{
		{"empty", ""},
		{"not base64", "garbage!"},
		{"base64 of non-JSON", b64([]byte("hello"))},
		{"padded base64", base64.URLEncoding.EncodeToString([]byte(`{"v":1,"a":"xy"}`))},
		{"standard alphabet", base64.StdEncoding.EncodeToString([]byte(`{"v":1,"a":"x>?"}`))},
		{"other version", b64([]byte(`{"v":2,"a":"x"}`))},
		{"no version", b64([]byte(`{"a":"x"}`))},
		{"empty position", b64([]byte(`{"v":1,"a":""}`))},
		{"no position", b64([]byte(`{"v":1}`))},
		{"position not a string", b64([]byte(`{"v":1,"a":{"$gt":""}}`))},
		{"JSON null", b64([]byte(`null`))},
		{"JSON array", b64([]byte(`[1,"x"]`))},
		{"too long", mongodb.EncodeCursor(strings.Repeat("x", 2000))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := mongodb.DecodeCursor(tc.cursor)
			requireInvalidField(t, err, "cursor")
		})
	}
}

func FuzzDecodeCursor(f *testing.F) {
	f.Add(mongodb.EncodeCursor("alice@example.com"))
	f.Add(mongodb.EncodeCursor(strings.Repeat("é", 300)))
	f.Add("")
	f.Add("garbage")
	f.Add("eyJ2IjoxLCJhIjoieCJ9")
	f.Add("eyJ2IjoxLCJhIjoieCIsInYiOjJ9")
	f.Add(base64.RawURLEncoding.EncodeToString([]byte(`{"V":1,"A":"x","a":"y"}`)))
	f.Add(base64.RawURLEncoding.EncodeToString([]byte("{\"v\":1,\"a\":\"\xff\"}")))
	f.Fuzz(func(t *testing.T, s string) {
		after, err := mongodb.DecodeCursor(s)
		if err != nil {
			var e *problem.Error
			if !errors.As(err, &e) || e.Kind != problem.Invalid || len(e.Fields) != 1 || e.Fields[0].Field != "cursor" {
				t.Fatalf("DecodeCursor(%q): %v is not an Invalid error naming cursor", s, err)
			}
			return
		}
		if after == "" {
			t.Fatalf("DecodeCursor(%q) accepted an empty position", s)
		}
		again, err := mongodb.DecodeCursor(mongodb.EncodeCursor(after))
		if err != nil || again != after {
			t.Fatalf("DecodeCursor(%q) = %q, which re-encodes to %q (%v)", s, after, again, err)
		}
	})
}

func FuzzCursorRoundTrip(f *testing.F) {
	f.Add("alice@example.com")
	f.Add("\u2028")
	f.Fuzz(func(t *testing.T, after string) {
		if after == "" || !utf8.ValidString(after) || len(after) > 1024 {
			t.Skip() // positions are non-empty stored strings, which are UTF-8
		}
		got, err := mongodb.DecodeCursor(mongodb.EncodeCursor(after))
		if err != nil || got != after {
			t.Fatalf("round trip of %q gave %q, %v", after, got, err)
		}
	})
}

func TestParsePage(t *testing.T) {
	t.Parallel()
	cursor := mongodb.EncodeCursor("bob@example.com")
	for _, tc := range []struct {
		name  string
		query string
		want  mongodb.Page
		field string // the field the error names; "" for no error
	}{
		{"defaults", "", mongodb.Page{Limit: mongodb.DefaultLimit}, ""},
		{"limit 1", "limit=1", mongodb.Page{Limit: 1}, ""},
		{"limit 200", "limit=200", mongodb.Page{Limit: 200}, ""},
		{"empty limit is the default", "limit=", mongodb.Page{Limit: mongodb.DefaultLimit}, ""},
		{"cursor", "cursor=" + cursor, mongodb.Page{Limit: mongodb.DefaultLimit, After: "bob@example.com"}, ""},
		{"limit and cursor", "limit=7&cursor=" + cursor, mongodb.Page{Limit: 7, After: "bob@example.com"}, ""},
		{"empty cursor is the first page", "cursor=", mongodb.Page{Limit: mongodb.DefaultLimit}, ""},
		{"limit 0", "limit=0", mongodb.Page{}, "limit"},
		{"limit 201", "limit=201", mongodb.Page{}, "limit"},
		{"limit -1", "limit=-1", mongodb.Page{}, "limit"},
		{"limit abc", "limit=abc", mongodb.Page{}, "limit"},
		{"limit 1.5", "limit=1.5", mongodb.Page{}, "limit"},
		{"limit huge", "limit=99999999999999999999", mongodb.Page{}, "limit"},
		{"garbage cursor", "cursor=garbage", mongodb.Page{}, "cursor"},
		{"good limit, bad cursor", "limit=5&cursor=%7B%7D", mongodb.Page{}, "cursor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, err := url.ParseQuery(tc.query)
			require.NoError(t, err)
			got, err := mongodb.ParsePage(q)
			if tc.field != "" {
				requireInvalidField(t, err, tc.field)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func requireInvalidField(t *testing.T, err error, field string) {
	t.Helper()
	require.Error(t, err)
	var e *problem.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, problem.Invalid, e.Kind)
	require.Equal(t, http.StatusBadRequest, e.Kind.Status())
	require.Len(t, e.Fields, 1)
	require.Equal(t, field, e.Fields[0].Field)
}
