package cli

import (
	"errors"
	"flag"
	"math"
	"strconv"
	"time"
)

// ParseDuration reads a duration as every ox command takes one: a Go duration
// ("250ms", "1m30s") or a bare number of seconds ("10", "0.5"), the form the
// original BlueOx tools took. NaN, infinities and values past ~292 years are
// refused.
func ParseDuration(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > math.MaxInt64/float64(time.Second) {
			return 0, errors.New("not a duration or a number of seconds")
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errors.New("not a duration (10s, 1m30s, 250ms) or a number of seconds")
	}
	return d, nil
}

// Duration is a flag.Value for a duration read by ParseDuration.
type Duration struct{ D *time.Duration }

// String returns the duration as Go writes it ("10s").
func (d Duration) String() string {
	if d.D == nil {
		return ""
	}
	return d.D.String()
}

// Set parses s with ParseDuration.
func (d Duration) Set(s string) error {
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d.D = v
	return nil
}

// DurationVar defines a duration flag on fs that takes Go durations and bare
// seconds, like fs.DurationVar with the original tools' spelling added.
func DurationVar(fs *flag.FlagSet, p *time.Duration, name string, value time.Duration, usage string) {
	*p = value
	fs.Var(Duration{p}, name, usage)
}
