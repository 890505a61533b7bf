package ox_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/blueox/ox"
	"github.com/blueox/ox/internal/testenv"
)

func readAll(t *testing.T, r io.Reader) ([][]byte, error) {
	t.Helper()
	rd := ox.NewReader(r)
	var out [][]byte
	for {
		v, err := rd.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, bytes.Clone(v))
	}
}

func TestReaderSplitsFixtureFiles(t *testing.T) {
	tests := []struct {
		name string
		file string
		want int
	}{
		{"plain daily file", "logs-daily/20261124/request.db-20261124.log", 2},
		{"plain hourly file", "logs-hourly/20261124/request.log-2026112412.log", 2},
		{"bzip2 from the original oxstore", "logs-zipped/20261123/request-20261123.log.bz2", 1},
		{"gzip", "logs-zipped/20261123/request.db-20261123.log.gz", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := os.Open(testenv.Fixture(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			lr, err := ox.NewLogReader(f)
			if err != nil {
				t.Fatal(err)
			}
			// One byte at a time exercises every refill path.
			vals, err := readAll(t, iotest.OneByteReader(lr))
			if err != nil {
				t.Fatal(err)
			}
			if len(vals) != tt.want {
				t.Fatalf("got %d events, want %d", len(vals), tt.want)
			}
			for _, v := range vals {
				if _, err := ox.DecodeRecord(v); err != nil {
					t.Errorf("DecodeRecord: %v", err)
				}
			}
		})
	}
}

func TestReaderReportsDamageAfterTheGoodEvents(t *testing.T) {
	data, err := os.ReadFile(testenv.Fixture(t, "logs-daily/20261124/request.db-20261124.log"))
	if err != nil {
		t.Fatal(err)
	}
	first, _ := ox.ValueLen(data)
	tests := []struct {
		name      string
		in        []byte
		good      int
		truncated bool
	}{
		{"cut inside the second event", data[:len(data)-5], 1, true},
		{"cut after one header byte", data[:first+1], 1, true},
		{"garbage after the events", append(bytes.Clone(data), 0xc1, 0xc1), 2, false},
		{"a non-map value", append(bytes.Clone(data), 0x01), 2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vals, err := readAll(t, bytes.NewReader(tt.in))
			if len(vals) != tt.good {
				t.Errorf("got %d good events before the damage, want %d", len(vals), tt.good)
			}
			var ce *ox.CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a CorruptError", err)
			}
			if errors.Is(err, ox.ErrTruncated) != tt.truncated {
				t.Errorf("err = %v, truncated = %v", err, tt.truncated)
			}
			if ce.Offset < int64(first) {
				t.Errorf("offset %d is before the damage", ce.Offset)
			}
		})
	}
}

func TestReaderDoesNotTrustLengthPrefixes(t *testing.T) {
	// A map whose first key claims a 4 GiB string: the reader must fail with
	// "truncated" after reading the few bytes there are, not allocate 4 GiB.
	in := []byte{0x81, 0xdb, 0xff, 0xff, 0xff, 0xff, 'a', 'b'}
	_, err := readAll(t, bytes.NewReader(in))
	if !errors.Is(err, ox.ErrTruncated) {
		t.Fatalf("err = %v, want ErrTruncated", err)
	}
}

func TestReaderLargeEvent(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	var stream []byte
	for range 3 {
		r := ox.Record{ID: "i", Type: "t", Start: time.Unix(1, 0), End: time.Unix(2, 0), Body: map[string]any{"big": big}}
		stream, _ = ox.AppendRecord(stream, r)
	}
	vals, err := readAll(t, bytes.NewReader(stream))
	if err != nil || len(vals) != 3 {
		t.Fatalf("got %d values, err %v", len(vals), err)
	}
}

func TestNewLogReaderPassesPlainDataThrough(t *testing.T) {
	for _, in := range []string{"", "a", "ab", "\x1f"} {
		r, err := ox.NewLogReader(strings.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(r)
		if string(got) != in {
			t.Errorf("NewLogReader(%q) read %q", in, got)
		}
	}
}

func TestLogFileName(t *testing.T) {
	at := time.Date(2026, 11, 24, 13, 5, 0, 0, time.UTC)
	tests := []struct {
		name   string
		rotate int
		want   string
	}{
		{"daily", 0, "request-20261124.log"},
		{"every hour", 1, "request-2026112413.log"},
		{"every 2 hours floors to 12", 2, "request-2026112412.log"},
		{"every 12 hours", 12, "request-2026112412.log"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ox.LogFileName("request", at, tt.rotate); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	local := time.Date(2026, 11, 25, 1, 0, 0, 0, time.FixedZone("X", 3*3600))
	if got := ox.LogDir(local); got != "20261124" {
		t.Errorf("LogDir uses local time: %s", got)
	}
}

func TestFixtureFileNamesParse(t *testing.T) {
	root := testenv.Fixture(t, ".")
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.Contains(path, "logs-") {
			return err
		}
		f, err := ox.ParseLogFileName(d.Name())
		if err != nil {
			t.Errorf("%s: %v", d.Name(), err)
			return nil
		}
		if f.Name() != d.Name() {
			t.Errorf("Name() = %q, want %q", f.Name(), d.Name())
		}
		if got := ox.LogDir(f.Start); got != filepath.Base(filepath.Dir(path)) {
			t.Errorf("%s: date %s is not its folder's", d.Name(), got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestParseLogFileName(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want ox.LogFile
		bad  bool
	}{
		{"daily", "request-20261124.log", ox.LogFile{Type: "request", Start: time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)}, false},
		{"hourly gz", "request.db-2026112412.log.gz", ox.LogFile{Type: "request.db", Start: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC), Hourly: true, Compression: "gz"}, false},
		{"archived with host", "my-app-20261124-web1.log.bz2", ox.LogFile{Type: "my-app", Start: time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC), Host: "web1", Compression: "bz2"}, false},
		{"impossible date", "request-20261345.log", ox.LogFile{}, true},
		{"hour 25", "request-2026112425.log", ox.LogFile{}, true},
		{"no date", "request.log", ox.LogFile{}, true},
		{"other extension", "request-20261124.txt", ox.LogFile{}, true},
		{"xz compression", "request-20261124.log.xz", ox.LogFile{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ox.ParseLogFileName(tt.in)
			if tt.bad {
				if err == nil {
					t.Fatalf("accepted %q as %+v", tt.in, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestValidTypeName(t *testing.T) {
	good := []string{"request", "request.db", "a-b_c", "héllo", strings.Repeat("x", 63)}
	bad := []string{"", ".", "..", "../x", "/etc/x", "a/../../b", `a\b`, "a\x00b", "a\nb", ".hidden",
		strings.Repeat("x", 64), "\xff\xfe", "tab\there", "del\x7f"}
	for _, s := range good {
		if err := ox.ValidTypeName(s); err != nil {
			t.Errorf("ValidTypeName(%q) = %v", s, err)
		}
	}
	for _, s := range bad {
		if err := ox.ValidTypeName(s); !errors.Is(err, ox.ErrBadTypeName) {
			t.Errorf("ValidTypeName(%q) = %v, want ErrBadTypeName", s, err)
		}
	}
}

func TestHostPort(t *testing.T) {
	tests := []struct {
		in, want string
		bad      bool
	}{
		{"localhost", "localhost:3514", false},
		{"10.0.0.1:4000", "10.0.0.1:4000", false},
		{"tcp://h:5", "h:5", false},
		{"[::1]:7", "[::1]:7", false},
		{"::1", "[::1]:3514", false},
		{"[::1]", "[::1]:3514", false},
		{"host:abc", "", true},
		{"host:", "", true},
		{"host:70000", "", true},
		{"", "", true},
		{":5", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ox.HostPort(tt.in, ox.DefaultCollectPort)
			if tt.bad {
				if err == nil {
					t.Fatalf("accepted %q as %q", tt.in, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("HostPort(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestAddrDefaultsFromEnvironment(t *testing.T) {
	t.Setenv("BLUEOX_HOST", "collector")
	t.Setenv("BLUEOX_CLIENT_HOST", "admin:9")
	if got, _ := ox.CollectAddr(""); got != "collector:3514" {
		t.Errorf("CollectAddr = %q", got)
	}
	if got, _ := ox.ControlAddr(""); got != "admin:9" {
		t.Errorf("ControlAddr = %q", got)
	}
	if got, _ := ox.CollectAddr("other"); got != "other:3514" {
		t.Errorf("an explicit host must win over the environment: %q", got)
	}
	t.Setenv("BLUEOX_HOST", "")
	if got, _ := ox.CollectAddr(""); got != "127.0.0.1:3514" {
		t.Errorf("default CollectAddr = %q", got)
	}
}
