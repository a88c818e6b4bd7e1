package lookup

import (
	"testing"
)

func TestPolicyDecide(t *testing.T) {
	t.Parallel()
	custom := Policy{Weights: DefaultWeights()}
	strict := Policy{BlockAt: 40, ChallengeAt: 20}
	for _, tt := range []struct {
		name string
		p    Policy
		r    Record
		want Verdict
	}{
		{"miss", DefaultPolicy(), Record{}, Verdict{ActionAllow, 0, 0}},
		{"zero policy uses stored score", Policy{}, Record{Score: 85, Scored: true, Categories: CategoryTorExit}, Verdict{ActionBlock, 85, CategoryTorExit}},
		{"challenge", DefaultPolicy(), Record{Score: 50, Scored: true, Categories: CategoryVPN}, Verdict{ActionChallenge, 50, CategoryVPN}},
		{"below challenge", DefaultPolicy(), Record{Score: 49, Scored: true, Categories: CategoryHosting | CategoryCrawler}, Verdict{ActionAllow, 49, CategoryHosting}},
		{"allowlisted", DefaultPolicy(), Record{Score: 99, Categories: CategoryAllow | CategoryCrawler}, Verdict{ActionAllow, 0, 0}},
		{"weights: tor", custom, Record{Score: 1, Categories: CategoryTorExit}, Verdict{ActionBlock, 90, CategoryTorExit}},
		// 1 − (1−0.5)(1−0.4) = 0.7
		{"weights: noisy-or", custom, Record{Categories: CategoryVPN | CategoryHosting}, Verdict{ActionChallenge, 70, CategoryVPN | CategoryHosting}},
		// 1 − 0.4·0.4·0.1 = 0.984
		{"weights: three", custom, Record{Categories: CategoryAbuse | CategoryPublicProxy | CategoryTorExit}, Verdict{ActionBlock, 98, CategoryAbuse | CategoryPublicProxy | CategoryTorExit}},
		{"weights clamped", Policy{Weights: [8]float64{7, -1}}, Record{Categories: CategoryTorExit | CategoryVPN}, Verdict{ActionBlock, 100, CategoryTorExit | CategoryVPN}},
		{"crawler weighs 0", custom, Record{Score: 70, Categories: CategoryCrawler}, Verdict{ActionAllow, 0, 0}},
		{"custom thresholds", strict, Record{Score: 45, Scored: true}, Verdict{ActionBlock, 45, 0}},
		{"custom challenge", strict, Record{Score: 25, Scored: true}, Verdict{ActionChallenge, 25, 0}},
		// 100 × (1 − 0.9 × 0.55) computes as 50.4999…: the half rounds up,
		// as the builder rounds it.
		{"weights: half rounds up", Policy{Weights: [8]float64{0.1, 0.45}}, Record{Categories: CategoryTorExit | CategoryVPN}, Verdict{ActionChallenge, 51, CategoryTorExit | CategoryVPN}},
		// Third-party databases store no risk_score: the categories decide.
		{"unscored tor exit", DefaultPolicy(), Record{Categories: CategoryTorExit}, Verdict{ActionBlock, 90, CategoryTorExit}},
		{"unscored vpn and hosting", DefaultPolicy(), Record{Categories: CategoryVPN | CategoryHosting}, Verdict{ActionChallenge, 70, CategoryVPN | CategoryHosting}},
		{"unscored asn only", DefaultPolicy(), Record{ASN: 64496}, Verdict{ActionAllow, 0, 0}},
		{"stored zero wins", DefaultPolicy(), Record{Scored: true, Categories: CategoryTorExit}, Verdict{ActionAllow, 0, CategoryTorExit}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.Decide(tt.r); got != tt.want {
				t.Errorf("Decide(%+v) = %+v, want %+v", tt.r, got, tt.want)
			}
		})
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
