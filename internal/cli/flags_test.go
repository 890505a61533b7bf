package cli_test

import (
	"flag"
	"io"
	"testing"
	"time"

	"github.com/blueox/ox/internal/cli"
)

func TestConventionsAcceptBothSeparators(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"the dash spelling as defined", []string{"--flush-interval", "2s", "--index_name", "x", "--dry-run"}},
		{"underscores for a dash flag", []string{"--flush_interval", "2s", "--index_name", "x", "--dry_run"}},
		{"dashes for an underscore flag", []string{"--flush-interval", "2s", "--index-name", "x", "-dry-run"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("oxtool", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			var (
				flush time.Duration
				index string
				dry   bool
				v     bool
			)
			cli.DurationVar(fs, &flush, "flush-interval", time.Second, "")
			fs.StringVar(&index, "index_name", "", "")
			fs.BoolVar(&dry, "dry-run", false, "")
			fs.BoolVar(&v, "v", false, "")
			cli.Conventions(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			if flush != 2*time.Second || index != "x" || !dry {
				t.Fatalf("flush %v index %q dry %v", flush, index, dry)
			}
			var own, aliases []string
			fs.VisitAll(func(f *flag.Flag) {
				if cli.IsAlias(f) {
					aliases = append(aliases, f.Name)
				} else {
					own = append(own, f.Name)
				}
			})
			if len(own) != 4 || len(aliases) != 3 {
				t.Fatalf("own flags %v, aliases %v", own, aliases)
			}
		})
	}
}

func TestConventionsKeepAFlagThatExistsInBothSpellings(t *testing.T) {
	fs := flag.NewFlagSet("oxtool", flag.ContinueOnError)
	a := fs.String("max-retries", "", "")
	b := fs.String("max_retries", "", "")
	cli.Conventions(fs)
	if err := fs.Parse([]string{"--max-retries", "1", "--max_retries", "2"}); err != nil {
		t.Fatal(err)
	}
	if *a != "1" || *b != "2" {
		t.Fatalf("got %q %q: two distinct flags must stay distinct", *a, *b)
	}
}

func TestParseDurationTakesGoDurationsAndSeconds(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"10s", 10 * time.Second, false},
		{"1m30s", 90 * time.Second, false},
		{"250ms", 250 * time.Millisecond, false},
		{"1", time.Second, false},
		{"0.5", 500 * time.Millisecond, false},
		{"-2", -2 * time.Second, false},
		{"0", 0, false},
		{"", 0, true},
		{"ten", 0, true},
		{"NaN", 0, true},
		{"Inf", 0, true},
		{"1e300", 0, true},
		{"5 s", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := cli.ParseDuration(tc.in)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("ParseDuration(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.wantErr)
			}
		})
	}
}
