package directions

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/ccplane/telephony/internal/testenv"
)

// countryCodes start the generated prefixes, so the trie has the shape of real rules:
// dense near the root, sparse below.
var countryCodes = strings.Fields(`1 7 20 27 30 31 33 34 36 39 40 41 43 44 45 46 47 48 49 51
	52 53 54 55 56 57 58 60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98 212 213 216
	234 254 255 351 353 358 370 371 372 373 374 375 380 381 420 421 852 855 880 886 961 962
	964 966 971 972 974 992 993 994 995 996 998`)

// benchRules returns n distinct prefixes of 1–12 digits, most of them allowed.
func benchRules(r *rand.Rand, n int) []Rule {
	seen := make(map[string]bool, n)
	rules := make([]Rule, 0, n)
	for len(rules) < n {
		p := []byte(countryCodes[r.IntN(len(countryCodes))])
		length := 1 + r.IntN(12)
		for len(p) < length {
			p = append(p, byte('0'+r.IntN(10)))
		}
		prefix := string(p[:length])
		if seen[prefix] {
			continue
		}
		seen[prefix] = true
		action := ActionAllow
		if r.IntN(100) < 15 {
			action = ActionDeny
		}
		rules = append(rules, Rule{Prefix: prefix, Action: action})
	}
	return rules
}

// benchNumber returns an 11–15 digit number: mostly under one of the rules, else under a
// country code.
func benchNumber(r *rand.Rand, rules []Rule) string {
	var p []byte
	if r.IntN(100) < 80 {
		p = []byte(rules[r.IntN(len(rules))].Prefix)
	} else {
		p = []byte(countryCodes[r.IntN(len(countryCodes))])
	}
	for length := 11 + r.IntN(5); len(p) < length; {
		p = append(p, byte('0'+r.IntN(10)))
	}
	return string(p)
}

type lookup struct {
	gateway string
	rs      *RuleSet
	number  string
}

// benchLookups compiles 100,000 rules over 50 gateways and returns 64Ki lookups spread
// over them, with the gateways' rules.
func benchLookups(b *testing.B) ([]lookup, map[string][]Rule) {
	r := rand.New(rand.NewPCG(1, 2))
	const gateways, perGateway = 50, 2000
	all := make(map[string][]Rule, gateways)
	sets := make(map[string]*RuleSet, gateways)
	for g := range gateways {
		id := fmt.Sprintf("gw-%02d", g)
		all[id] = benchRules(r, perGateway)
		rs, err := Compile(all[id])
		if err != nil {
			b.Fatal(err)
		}
		sets[id] = rs
	}
	lookups := make([]lookup, 1<<16)
	for i := range lookups {
		id := fmt.Sprintf("gw-%02d", r.IntN(gateways))
		lookups[i] = lookup{gateway: id, rs: sets[id], number: benchNumber(r, all[id])}
	}
	return lookups, all
}

func BenchmarkDecide(b *testing.B) {
	lookups, _ := benchLookups(b)
	b.ReportAllocs()
	matched := 0
	for i := 0; b.Loop(); i++ {
		l := &lookups[i&(len(lookups)-1)]
		if l.rs.Decide(l.number).Matched {
			matched++
		}
	}
	b.ReportMetric(float64(matched)/float64(b.N), "matched/op")
}

// BenchmarkCheck is Decide as the server calls it: gateway lookup and normalisation too.
func BenchmarkCheck(b *testing.B) {
	lookups, all := benchLookups(b)
	s := NewMemory()
	var ids []string
	for id, rules := range all {
		if _, err := s.Replace(b.Context(), id, rules); err != nil {
			b.Fatal(err)
		}
		ids = append(ids, id)
	}
	c := NewCache(CacheConfig{Gateways: ids}, s)
	if err := c.Load(b.Context()); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		l := &lookups[i&(len(lookups)-1)]
		if _, _, err := c.Check(l.gateway, l.number); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompile(b *testing.B) {
	for _, n := range []int{2000, 100_000} {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			rules := benchRules(rand.New(rand.NewPCG(3, 4)), n)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Compile(rules); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPropagation measures how long a rule added through one instance takes to be in
// force in another, through a real Redis: the write, the notification, and the other
// instance's reload and compile of the gateway's rules (a full reload, so it grows with
// the gateway's rules). Both instances run in this process, so they share its CPUs.
func BenchmarkPropagation(b *testing.B) {
	for _, n := range []int{1, 2000} {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			addr := testenv.StartRedis(b)
			cfg := CacheConfig{Gateways: []string{"gw"}, CheckInterval: time.Hour}
			writer := newInstance(b, addr, cfg, nil)
			if _, err := writer.store.Replace(b.Context(), "gw", benchRules(rand.New(rand.NewPCG(5, 6)), n)); err != nil {
				b.Fatal(err)
			}
			reader := &instance{client: newClient(b, addr)}
			reader.store = NewRedis(reader.client)
			reader.cache = NewCache(cfg, reader.store)
			swaps := make(chan uint64, 1) // the benchmark waits for each swap before the next change
			reader.cache.swapped = func(_ string, v uint64) {
				select {
				case swaps <- v:
				default:
				}
			}
			if err := reader.cache.Load(b.Context()); err != nil {
				b.Fatal(err)
			}
			<-swaps
			runCache(b, reader.cache)
			waitSubscribers(b, writer.client, 2)
			for i := 0; b.Loop(); i++ {
				// Flip one rule, so the gateway keeps its size however many iterations run.
				v, err := writer.store.Add(b.Context(), "gw", []Rule{{Prefix: "999999", Action: Action(1 + i%2)}})
				if err != nil {
					b.Fatal(err)
				}
				for got := uint64(0); got < v; {
					got = receive(b, swaps, fmt.Sprintf("version %d", v))
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N), "ms/propagation")
		})
	}
}
