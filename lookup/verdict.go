package lookup

import (
	"strconv"

	"github.com/ipintel/ipintel/internal/schema"
)

// Action is what a [Policy] decides to do with a request.
type Action uint8

// The actions, from the most to the least permissive.
const (
	ActionAllow Action = iota
	ActionChallenge
	ActionBlock
)

// String returns "allow", "challenge" or "block".
func (a Action) String() string {
	switch a {
	case ActionAllow:
		return "allow"
	case ActionChallenge:
		return "challenge"
	case ActionBlock:
		return "block"
	default:
		return "Action(" + strconv.Itoa(int(a)) + ")"
	}
}

// Policy turns a [Record] into a [Verdict]. Its zero value uses the
// database's stored risk_score (or, for a record without one, the noisy-OR
// of its categories' default weights) and the default thresholds of the schema
// (block at 80, challenge at 50). A Policy is a plain value: safe to copy
// and to use from many goroutines.
type Policy struct {
	// Weights holds a score weight in [0, 1] per category, indexed by the
	// category's bit position (Weights[0] for [CategoryTorExit], …,
	// Weights[6] for [CategoryCrawler]; Weights[7], the allow marker, is
	// ignored). When every weight is zero the stored risk_score is used;
	// otherwise the score is recomputed from the record's categories by
	// noisy-OR: round(100 × (1 − Π(1 − w))). Weights outside [0, 1] are
	// clamped.
	Weights [8]float64
	// BlockAt is the score at or above which a request is blocked;
	// 0 means schema.DefaultBlockThreshold (80).
	BlockAt int
	// ChallengeAt is the score at or above which a request is challenged;
	// 0 means schema.DefaultChallengeThreshold (50).
	ChallengeAt int
}

// DefaultPolicy returns the policy of DESIGN §4: the stored risk_score
// (computed by the builder with the configured per-feed weights), block
// at 80, challenge at 50.
func DefaultPolicy() Policy {
	return Policy{
		BlockAt:     schema.DefaultBlockThreshold,
		ChallengeAt: schema.DefaultChallengeThreshold,
	}
}

// DefaultWeights returns the schema's default weight per category, in the
// layout of [Policy.Weights].
func DefaultWeights() [8]float64 {
	var w [8]float64
	for i := range w {
		w[i] = Category(1 << i).DefaultWeight()
	}
	return w
}

var defaultWeights = DefaultWeights()

// noisyOR returns round(100 × (1 − Π(1 − w))) over the categories in c,
// with w clamped to [0, 1].
func noisyOR(c Category, w *[8]float64) uint8 {
	keep := 1.0
	for i := range 7 {
		if c&(1<<i) != 0 {
			keep *= 1 - min(max(w[i], 0), 1)
		}
	}
	return uint8(schema.Score(keep))
}

// Verdict is the outcome of [Policy.Decide].
type Verdict struct {
	Action Action
	// Score is the risk score (0-100) the action was decided on.
	Score uint8
	// Reasons holds the risk categories of the record (those in [CategoryRisk]).
	Reasons Category
}

// Decide returns the verdict for r. An allowlisted record is allowed with
// score 0; a miss (the zero Record) is allowed with score 0. Decide does
// not allocate.
func (p Policy) Decide(r Record) Verdict {
	v := Verdict{Reasons: r.Categories & CategoryRisk}
	if r.Categories&CategoryAllow != 0 {
		return v
	}
	v.Score = r.Score
	switch {
	case p.Weights != [8]float64{}:
		v.Score = noisyOR(r.Categories, &p.Weights)
	case !r.Scored:
		// A database without risk_score (MaxMind's Anonymous IP, say)
		// still says what the network is: score its categories with
		// the default weights, so a Tor exit is not allowed for want of
		// a number.
		v.Score = noisyOR(r.Categories, &defaultWeights)
	}
	block, challenge := p.BlockAt, p.ChallengeAt
	if block == 0 {
		block = schema.DefaultBlockThreshold
	}
	if challenge == 0 {
		challenge = schema.DefaultChallengeThreshold
	}
	switch s := int(v.Score); {
	case s >= block:
		v.Action = ActionBlock
	case s >= challenge:
		v.Action = ActionChallenge
	}
	return v
}
