package tests

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

// BenchmarkEvaluateEndpoint asks evaluate, warm, over real HTTP through the
// whole pipeline (route, validation, the caller's authentication and
// authorization, the account's cached policies, the engine), the way a
// service would. Sub-benchmarks: as fast as one client can go, and at a fixed
// 1,000 requests per second (issue 3's target: p99 ≤ 10 ms), reporting
// latency percentiles.
func BenchmarkEvaluateEndpoint(b *testing.B) {
	realm := newRealm(b)
	base := "/api/realm/" + realm
	acct := createAccount(b, realm, "bench@example.com", "Bench-Passw0rd")
	// 20 policies of 5 statements, attached directly and through a group.
	group := createNamed(b, realm, "groups", map[string]any{"name": "bench"})
	put(b, base+"/accounts/"+acct+"/groups/"+group)
	for i := range 20 {
		doc := `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":"billing:Get*","Resource":"irn:billing:` + realm + `:invoice/*"},
			{"Effect":"Allow","Action":["billing:List*","billing:Describe*"],"Resource":"*"},
			{"Effect":"Deny","Action":"billing:Delete*","Resource":"irn:billing:` + realm + `:invoice/locked-*"},
			{"Effect":"Allow","Action":"orders:*","Resource":"irn:orders:` + realm + `:order/${iam:userid}/*"},
			{"Effect":"Allow","Action":"reports:Run","Resource":"*","Condition":{"StringEquals":{"app:Tier":"gold"}}}]}`
		pol := createNamed(b, realm, "policies", map[string]any{"name": "bench-" + string(rune('a'+i)), "document": json.RawMessage(doc)})
		if i%2 == 0 {
			put(b, base+"/accounts/"+acct+"/policies/"+pol)
		} else {
			put(b, base+"/groups/"+group+"/policies/"+pol)
		}
	}
	body, _ := json.Marshal(map[string]any{"accountId": acct, "action": "billing:GetInvoice",
		"resource": "irn:billing:" + realm + ":invoice/42", "context": map[string]any{"app:Tier": "gold"}})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	ask := func() time.Duration {
		req, _ := http.NewRequest("POST", env.URL+base+"/authz/evaluate", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+env.AdminToken)
		start := time.Now()
		res, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			b.Fatalf("status %d", res.StatusCode)
		}
		return time.Since(start)
	}
	ask() // warm the caches

	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ask()
		}
	})
	b.Run("1000rps", func(b *testing.B) {
		const rate = 1000
		n := max(b.N, 2000) // at least two seconds at the rate
		lat := make([]time.Duration, n)
		var wg sync.WaitGroup
		tick := time.NewTicker(time.Second / rate)
		defer tick.Stop()
		b.ResetTimer()
		for i := range n {
			<-tick.C
			wg.Go(func() { lat[i] = ask() })
		}
		wg.Wait()
		b.StopTimer()
		slices.Sort(lat)
		b.ReportMetric(float64(lat[n/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[n*99/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(lat[n-1].Microseconds())/1000, "max-ms")
	})
}
