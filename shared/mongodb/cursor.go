package mongodb

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strconv"

	"github.com/realmiam/realmiam/shared/problem"
)

// Page is a parsed list request: how many items, and the sort key of the last
// item the client has already seen ("" for the first page).
type Page struct {
	Limit int
	After string
}

// Limits of ?limit= (DESIGN.md §4).
const (
	DefaultLimit = 50
	MaxLimit     = 200
	// maxCursor bounds what DecodeCursor will look at.
	maxCursor = 2048
)

type cursorBody struct {
	V int    `json:"v"`
	A string `json:"a"`
}

// EncodeCursor makes the opaque nextCursor for a page that ended at after.
func EncodeCursor(after string) string {
	b, _ := json.Marshal(cursorBody{V: 1, A: after})
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor reverses EncodeCursor. Anything else is an Invalid error
// naming the cursor parameter.
func DecodeCursor(s string) (string, error) {
	bad := problem.InvalidField("cursor", "not a cursor returned by this API")
	if len(s) > maxCursor {
		return "", bad
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return "", bad
	}
	var c cursorBody
	if err := json.Unmarshal(raw, &c); err != nil || c.V != 1 || c.A == "" {
		return "", bad
	}
	return c.A, nil
}

// ParsePage reads ?limit= and ?cursor=. The schema has already checked the
// limit's range where the request went through the router.
func ParsePage(q url.Values) (Page, error) {
	p := Page{Limit: DefaultLimit}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxLimit {
			return Page{}, problem.InvalidField("limit", "must be an integer from 1 to 200")
		}
		p.Limit = n
	}
	if v := q.Get("cursor"); v != "" {
		after, err := DecodeCursor(v)
		if err != nil {
			return Page{}, err
		}
		p.After = after
	}
	return p, nil
}
