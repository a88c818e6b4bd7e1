package lookup

import (
	"math/bits"
	"strconv"

	"github.com/ipintel/ipintel/schema"
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
	// Weights[6] for [CategoryCrawler], Weights[8] for [CategoryRelay];
	// Weights[7], the allow marker, is ignored). When every weight is
	// zero the policy uses the database's weights: the stored risk_score,
	// which the builder computed with its configured per-feed weights.
	// Otherwise the score is recomputed from the record's categories by
	// noisy-OR: round(100 × (1 − Π(1 − w))), each category counted once.
	// Weights outside [0, 1] are clamped.
	Weights [9]float64
	// BlockAt is the score at or above which a request is blocked;
	// 0 means schema.DefaultBlockThreshold (80).
	BlockAt int
	// ChallengeAt is the score at or above which a request is challenged;
	// 0 means schema.DefaultChallengeThreshold (50).
	ChallengeAt int
}

// DefaultPolicy returns the policy of docs/design.md §4: the stored risk_score
// (computed by the builder with the configured per-feed weights), block
// at 80, challenge at 50.
func DefaultPolicy() Policy {
	return Policy{
		BlockAt:     schema.DefaultBlockThreshold,
		ChallengeAt: schema.DefaultChallengeThreshold,
	}
}

// DefaultWeights returns the schema's default weight per category, in the
// layout of [Policy.Weights]: crawler and relay weigh 0.
func DefaultWeights() [9]float64 {
	var w [9]float64
	for i := range w {
		w[i] = Category(1 << i).DefaultWeight()
	}
	return w
}

var defaultWeights = DefaultWeights()

// noisyOR returns round(100 × (1 − Π(1 − w))) over the categories in c,
// with w clamped to [0, 1]. Each category is one factor: the feeds of a
// category are copies of one kind of evidence, and the record holds a
// category once however many feeds set it.
func noisyOR(c Category, w *[9]float64) uint8 {
	keep := 1.0
	for c &^= CategoryAllow; c != 0; c &= c - 1 {
		if i := bits.TrailingZeros16(uint16(c)); i < len(w) {
			keep *= 1 - min(max(w[i], 0), 1)
		}
	}
	return uint8(schema.Score(keep))
}

// ScoreSource says where the score of a [Verdict] comes from.
type ScoreSource uint8

const (
	// ScoreSourcePolicy: the policy computed the score from the record's
	// categories, because the record stores none (MaxMind's Anonymous IP
	// files, a miss) or the policy has weights of its own.
	ScoreSourcePolicy ScoreSource = iota
	// ScoreSourceStored: the score is the record's stored risk_score.
	ScoreSourceStored
)

// String returns "policy" or "stored".
func (s ScoreSource) String() string {
	switch s {
	case ScoreSourcePolicy:
		return "policy"
	case ScoreSourceStored:
		return "stored"
	default:
		return "ScoreSource(" + strconv.Itoa(int(s)) + ")"
	}
}

// Verdict is the outcome of [Policy.Decide]. The zero value allows with
// score 0 computed by the policy: the verdict of a miss.
type Verdict struct {
	Action Action
	// Score is the risk score (0-100) the action was decided on. Show
	// this, not [Record.Score], beside the action.
	Score uint8
	// Source says whether Score is the stored risk_score or the policy's.
	Source ScoreSource
	// Reasons holds the risk categories of the record (those in [CategoryRisk]).
	Reasons Category
}

// Decide returns the verdict for r. An allowlisted record is allowed with
// score 0; a miss (the zero Record) is allowed with score 0. Decide does
// not allocate.
func (p Policy) Decide(r Record) Verdict {
	v := Verdict{Reasons: r.Categories & CategoryRisk}
	own := p.Weights != [9]float64{}
	switch {
	case r.Categories&CategoryAllow != 0:
		// The builder stores 0 for an allowlisted record; a file that
		// stores more is overruled, and then the score is the policy's.
		if !own && r.Scored && r.Score == 0 {
			v.Source = ScoreSourceStored
		}
		return v
	case own:
		v.Score = noisyOR(r.Categories, &p.Weights)
	case r.Scored:
		v.Score, v.Source = r.Score, ScoreSourceStored
	default:
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
