package lookup

import (
	"testing"
)

func TestPolicyDecide(t *testing.T) {
	t.Parallel()
	custom := Policy{Weights: DefaultWeights()}
	strict := Policy{BlockAt: 40, ChallengeAt: 20}
	const (
		stored = ScoreSourceStored
		policy = ScoreSourcePolicy
	)
	v := func(a Action, score uint8, src ScoreSource, reasons Category) Verdict {
		return Verdict{Action: a, Score: score, Source: src, Reasons: reasons}
	}
	for _, tt := range []struct {
		name string
		p    Policy
		r    Record
		want Verdict
	}{
		{"miss", DefaultPolicy(), Record{}, v(ActionAllow, 0, policy, 0)},
		{"zero policy uses stored score", Policy{}, Record{Score: 85, Scored: true, Categories: CategoryTorExit}, v(ActionBlock, 85, stored, CategoryTorExit)},
		{"challenge", DefaultPolicy(), Record{Score: 50, Scored: true, Categories: CategoryVPN}, v(ActionChallenge, 50, stored, CategoryVPN)},
		{"below challenge", DefaultPolicy(), Record{Score: 49, Scored: true, Categories: CategoryHosting | CategoryCrawler}, v(ActionAllow, 49, stored, CategoryHosting)},
		{"allowlisted, stored 0", DefaultPolicy(), Record{Scored: true, Categories: CategoryAllow | CategoryCrawler}, v(ActionAllow, 0, stored, 0)},
		{"allowlisted overrules a stored score", DefaultPolicy(), Record{Score: 99, Scored: true, Categories: CategoryAllow | CategoryTorExit}, v(ActionAllow, 0, policy, CategoryTorExit)},
		{"allowlisted, own weights", custom, Record{Scored: true, Categories: CategoryAllow}, v(ActionAllow, 0, policy, 0)},
		{"allowlisted, unscored", DefaultPolicy(), Record{Categories: CategoryAllow}, v(ActionAllow, 0, policy, 0)},
		{"weights: tor", custom, Record{Score: 1, Scored: true, Categories: CategoryTorExit}, v(ActionBlock, 90, policy, CategoryTorExit)},
		// Three hosting feeds set one category: it counts once, 40, not
		// 1 − 0.6³ = 78.
		{"weights: hosting from three feeds", custom, Record{Score: 78, Scored: true, Categories: CategoryHosting, Sources: 3}, v(ActionAllow, 40, policy, CategoryHosting)},
		{"unscored: hosting from three feeds", DefaultPolicy(), Record{Categories: CategoryHosting, Sources: 3}, v(ActionAllow, 40, policy, CategoryHosting)},
		// 1 − (1−0.9)(1−0.6) = 0.96
		{"weights: tor and abuse", custom, Record{Categories: CategoryTorExit | CategoryAbuse}, v(ActionBlock, 96, policy, CategoryTorExit|CategoryAbuse)},
		{"unscored: tor and abuse", DefaultPolicy(), Record{Categories: CategoryTorExit | CategoryAbuse}, v(ActionBlock, 96, policy, CategoryTorExit|CategoryAbuse)},
		// 1 − (1−0.5)(1−0.4) = 0.7
		{"weights: noisy-or", custom, Record{Categories: CategoryVPN | CategoryHosting}, v(ActionChallenge, 70, policy, CategoryVPN|CategoryHosting)},
		// 1 − 0.4·0.4·0.1 = 0.984
		{"weights: three", custom, Record{Categories: CategoryAbuse | CategoryPublicProxy | CategoryTorExit}, v(ActionBlock, 98, policy, CategoryAbuse|CategoryPublicProxy|CategoryTorExit)},
		{"weights clamped", Policy{Weights: [9]float64{7, -1}}, Record{Categories: CategoryTorExit | CategoryVPN}, v(ActionBlock, 100, policy, CategoryTorExit|CategoryVPN)},
		{"crawler weighs 0", custom, Record{Score: 70, Scored: true, Categories: CategoryCrawler}, v(ActionAllow, 0, policy, 0)},
		{"unscored crawler weighs 0", DefaultPolicy(), Record{Categories: CategoryCrawler}, v(ActionAllow, 0, policy, 0)},
		{"relay weighs 0", custom, Record{Categories: CategoryRelay}, v(ActionAllow, 0, policy, 0)},
		{"unscored relay weighs 0", DefaultPolicy(), Record{Categories: CategoryRelay | CategoryCrawler}, v(ActionAllow, 0, policy, 0)},
		{"relay beside vpn", DefaultPolicy(), Record{Categories: CategoryRelay | CategoryVPN}, v(ActionChallenge, 50, policy, CategoryVPN)},
		{"relay weighted by the policy", Policy{Weights: [9]float64{8: 0.3}}, Record{Categories: CategoryRelay}, v(ActionAllow, 30, policy, 0)},
		{"allow weight ignored", Policy{Weights: [9]float64{7: 1}}, Record{Categories: CategoryCrawler}, v(ActionAllow, 0, policy, 0)},
		{"custom thresholds", strict, Record{Score: 45, Scored: true}, v(ActionBlock, 45, stored, 0)},
		{"custom challenge", strict, Record{Score: 25, Scored: true}, v(ActionChallenge, 25, stored, 0)},
		// 100 × (1 − 0.9 × 0.55) computes as 50.4999…: the half rounds up,
		// as the builder rounds it.
		{"weights: half rounds up", Policy{Weights: [9]float64{0.1, 0.45}}, Record{Categories: CategoryTorExit | CategoryVPN}, v(ActionChallenge, 51, policy, CategoryTorExit|CategoryVPN)},
		// Third-party databases store no risk_score: the categories decide.
		{"unscored tor exit", DefaultPolicy(), Record{Categories: CategoryTorExit}, v(ActionBlock, 90, policy, CategoryTorExit)},
		{"unscored vpn and hosting", DefaultPolicy(), Record{Categories: CategoryVPN | CategoryHosting}, v(ActionChallenge, 70, policy, CategoryVPN|CategoryHosting)},
		{"unscored asn only", DefaultPolicy(), Record{ASN: 64496}, v(ActionAllow, 0, policy, 0)},
		{"stored zero wins", DefaultPolicy(), Record{Scored: true, Categories: CategoryTorExit}, v(ActionAllow, 0, stored, CategoryTorExit)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.Decide(tt.r); got != tt.want {
				t.Errorf("Decide(%+v) = %+v, want %+v", tt.r, got, tt.want)
			}
		})
	}
}

func TestScoreSourceString(t *testing.T) {
	t.Parallel()
	for s, want := range map[ScoreSource]string{ScoreSourcePolicy: "policy", ScoreSourceStored: "stored", 7: "ScoreSource(7)"} {
		if got := s.String(); got != want {
			t.Errorf("ScoreSource(%d).String() = %q, want %q", s, got, want)
		}
	}
}

func TestActionString(t *testing.T) {
	t.Parallel()
	for a, want := range map[Action]string{ActionAllow: "allow", ActionChallenge: "challenge", ActionBlock: "block", 9: "Action(9)"} {
		if got := a.String(); got != want {
			t.Errorf("Action(%d).String() = %q, want %q", a, got, want)
		}
	}
}
