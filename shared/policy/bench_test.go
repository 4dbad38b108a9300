package policy

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// The benchmark principal: 20 policies of 100 statements. Each policy is
// centred on one service, as AWS's managed policies are, and one statement
// in ten reaches into another service. Statements mix exact actions with
// prefix, suffix and middle wildcards and whole-service grants; resources
// mix exact IRNs, wildcards at the end, wildcard tenants, per-user paths
// through ${iam:userid}, "?" patterns and "*". About 5% are Deny, a few use
// NotAction or NotResource.
//
// With 20 services, a request is matched by about 3 statements. The dense
// variant crams the same 2,000 statements into 8 services, so that about 8
// statements match each request: a stress case, reported alongside.

var (
	benchServices = []string{"iam", "billing", "storage", "compute", "queue", "audit", "report", "mail", "dns", "cdn",
		"db", "cache", "search", "stream", "secrets", "keys", "logs", "metrics", "batch", "ml"}
	benchVerbs = []string{"Get", "List", "Create", "Update", "Delete", "Describe", "Put", "Tag", "Start", "Stop"}
	benchNouns = []string{"Account", "Group", "Invoice", "Bucket", "Object", "Instance", "Message", "Report", "Key", "Job"}
)

func benchConditions(r *rand.Rand) Condition {
	switch r.IntN(7) {
	case 0:
		return Condition{"IpAddress": {"iam:SourceIp": {"10.0.0.0/8", "192.0.2.0/24"}}}
	case 1:
		return Condition{"StringEquals": {"iam:Realm": {"acme"}}}
	case 2:
		return Condition{"DateLessThan": {"iam:CurrentTime": {"2030-01-01T00:00:00Z"}}}
	case 3:
		return Condition{"Bool": {"app:mfa": {"true"}}}
	case 4:
		return Condition{"ForAnyValue:StringEquals": {"iam:PrincipalGroups": {"ops", "dev"}}}
	case 5:
		return Condition{"NumericLessThanEquals": {"app:size": {"100"}}}
	default:
		return Condition{"StringLike": {"app:path": {"home/${iam:username}/*"}}, "StringEqualsIfExists": {"app:tier": {"gold"}}}
	}
}

func benchDocument(r *rand.Rand, p int, services []string, conditions bool) *Document {
	main := services[p%len(services)]
	pick := func(list []string) string { return list[r.IntN(len(list))] }
	benchServices := services
	d := &Document{Version: Version}
	for j := range 100 {
		s := Statement{Sid: fmt.Sprintf("S%d", j), Effect: Allow}
		if r.IntN(100) < 5 {
			s.Effect = Deny
		}
		svc := main
		if r.IntN(10) == 0 {
			svc = pick(benchServices)
		}
		for range 1 + r.IntN(3) {
			var a string
			switch n := r.IntN(100); {
			case n < 50:
				a = svc + ":" + pick(benchVerbs) + pick(benchNouns)
			case n < 75:
				a = svc + ":" + pick(benchVerbs) + "*"
			case n < 85:
				a = svc + ":*" + pick(benchNouns)
			case n < 90:
				a = svc + ":" + pick(benchVerbs) + "*" + pick(benchNouns)[:3] + "*"
			case n < 95:
				a = svc + ":*"
			default:
				a = pick(benchServices) + ":" + pick(benchVerbs) + pick(benchNouns)
			}
			s.Action = append(s.Action, a)
		}
		for range 1 + r.IntN(2) {
			noun := pick(benchNouns)
			var res string
			switch n := r.IntN(100); {
			case n < 40:
				res = fmt.Sprintf("irn:%s:acme:%s/%d", svc, lower(noun), r.IntN(1000))
			case n < 70:
				res = fmt.Sprintf("irn:%s:acme:%s/*", svc, lower(noun))
			case n < 80:
				res = fmt.Sprintf("irn:%s:*:%s/*", svc, lower(noun))
			case n < 90:
				res = fmt.Sprintf("irn:%s:acme:%s/${iam:userid}/*", svc, lower(noun))
			case n < 95:
				res = "*"
			default:
				res = fmt.Sprintf("irn:%s:acme:%s/team-??/*", svc, lower(noun))
			}
			s.Resource = append(s.Resource, res)
		}
		switch r.IntN(200) {
		case 0:
			s.NotAction, s.Action = []string{main + ":Delete*", main + ":Put*"}, nil
		case 1, 2, 3:
			s.NotResource, s.Resource = []string{fmt.Sprintf("irn:%s:acme:secret/*", main)}, nil
		}
		if conditions && r.IntN(100) < 30 {
			s.Condition = benchConditions(r)
		}
		d.Statement = append(d.Statement, s)
	}
	return d
}

func lower(s string) string { return lowerASCII(s) }

func benchPrincipal(tb testing.TB, conditions, dense bool) (*Set, []Request) {
	services := benchServices
	if dense {
		services = benchServices[:8]
	}
	r := rand.New(rand.NewPCG(2026, 12))
	vias := []Via{
		{Kind: ViaDirect},
		{Kind: ViaGroup, GroupID: "g1", GroupName: "ops"},
		{Kind: ViaRole, RoleID: "r1", RoleName: "deployer"},
		{Kind: ViaGroupRole, GroupID: "g1", GroupName: "ops", RoleID: "r2", RoleName: "auditor"},
	}
	var atts []Attachment
	for p := range 20 {
		d := benchDocument(r, p, services, conditions)
		// Through the parser, as stored documents would be.
		raw, err := json.Marshal(d)
		require.NoError(tb, err)
		parsed, err := parse(raw)
		require.NoError(tb, err)
		c, err := Compile(fmt.Sprintf("pol-%d", p), fmt.Sprintf("Policy%d", p), parsed)
		require.NoError(tb, err)
		atts = append(atts, Attachment{Policy: c, Via: vias[p%len(vias)]})
	}
	set := NewSet(atts...)

	reqs := make([]Request, 256)
	for i := range reqs {
		svc := services[r.IntN(len(services))]
		noun := benchNouns[r.IntN(len(benchNouns))]
		req := &reqs[i]
		req.Action = svc + ":" + benchVerbs[r.IntN(len(benchVerbs))] + noun
		if r.IntN(4) == 0 {
			req.Resource = fmt.Sprintf("irn:%s:acme:%s/u-42/doc-%d", svc, lower(noun), r.IntN(100))
		} else {
			req.Resource = fmt.Sprintf("irn:%s:acme:%s/%d", svc, lower(noun), r.IntN(1000))
		}
		c := &req.Context
		c.Set(KeySourceIP, "10.1.2.3")
		c.Set(KeyCurrentTime, "2026-12-01T10:00:00Z")
		c.Set(KeyEpochTime, "1796119200")
		c.Set(KeyPrincipalID, "u-42")
		c.Set(KeyUserID, "u-42")
		c.Set(KeyUsername, "alice@example.com")
		c.Set(KeyRealm, "acme")
		c.SetMulti(KeyPrincipalGroups, "dev", "readers")
		c.SetMulti(KeyPrincipalRoles, "deployer")
		c.Set("app:mfa", []string{"true", "false"}[r.IntN(2)])
		c.Set("app:size", fmt.Sprint(r.IntN(200)))
		c.Set("app:path", "home/alice@example.com/x")
	}
	return set, reqs
}

func BenchmarkEvaluate(b *testing.B) {
	for _, bc := range []struct {
		name              string
		conditions, dense bool
	}{
		{"no conditions", false, false},
		{"with conditions", true, false},
		{"dense no conditions", false, true},
		{"dense with conditions", true, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			set, reqs := benchPrincipal(b, bc.conditions, bc.dense)
			var res Result
			var allowed, matched int
			for i := range reqs {
				set.Evaluate(&reqs[i], &res)
				if res.Allowed {
					allowed++
				}
				matched += len(res.Matched)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				set.Evaluate(&reqs[i&255], &res)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
			b.ReportMetric(100*float64(allowed)/float64(len(reqs)), "%allowed")
			b.ReportMetric(float64(matched)/float64(len(reqs)), "matched/op")
		})
	}
}

// TestEvaluateAllocatesNothing guards the benchmark's promise in the
// ordinary test run.
func TestEvaluateAllocatesNothing(t *testing.T) {
	for _, conditions := range []bool{false, true} {
		set, reqs := benchPrincipal(t, conditions, false)
		var res Result
		for i := range reqs {
			set.Evaluate(&reqs[i], &res) // grow res once
		}
		i := 0
		allocs := testing.AllocsPerRun(1000, func() {
			set.Evaluate(&reqs[i&255], &res)
			i++
		})
		require.Zero(t, allocs, "conditions: %v", conditions)
	}
}

// BenchmarkNewSet measures indexing the benchmark principal's 20 compiled
// policies, which shared/access does once per account and caches.
func BenchmarkNewSet(b *testing.B) {
	set, _ := benchPrincipal(b, true, false)
	atts := set.Attachments()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		NewSet(atts...)
	}
}
