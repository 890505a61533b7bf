package ox

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// LogDir returns the name of the per-day folder a collector writes t's files into,
// "YYYYMMDD" in UTC.
func LogDir(t time.Time) string {
	return t.UTC().Format("20060102")
}

// LogFileName returns the file name a collector writes events of type typ into at
// time t (UTC): "<typ>-YYYYMMDD.log" for daily files (rotateHours 0), or
// "<typ>-YYYYMMDDHH.log" with the hour floored to a multiple of rotateHours.
// The caller must have checked typ with ValidTypeName.
func LogFileName(typ string, t time.Time, rotateHours int) string {
	t = t.UTC()
	if rotateHours <= 0 {
		return typ + "-" + t.Format("20060102") + ".log"
	}
	h := t.Hour() / rotateHours * rotateHours
	return fmt.Sprintf("%s-%s%02d.log", typ, t.Format("20060102"), h)
}

// LogFile is what a log file's name says about it.
type LogFile struct {
	Type        string
	Start       time.Time // start of the day or hour the file covers, UTC
	Hourly      bool      // named with an hour (rotated every few hours)
	Host        string    // set on archived names: "<type>-<date>-<host>.log.gz"
	Compression string    // "", "gz" or "bz2"
}

// Name returns the file's name, the inverse of ParseLogFileName.
func (f LogFile) Name() string {
	date := f.Start.UTC().Format("20060102")
	if f.Hourly {
		date = f.Start.UTC().Format("2006010215")
	}
	s := f.Type + "-" + date
	if f.Host != "" {
		s += "-" + f.Host
	}
	s += ".log"
	if f.Compression != "" {
		s += "." + f.Compression
	}
	return s
}

var logFileRE = regexp.MustCompile(`^(.+)-(\d{8}|\d{10})(?:-(.+?))?\.log(?:\.(bz2|gz))?$`)

// ParseLogFileName parses a log file name:
// ^(type)-(YYYYMMDD|YYYYMMDDHH)(-host)?\.log(\.bz2|\.gz)?$. A name that does not
// match, or whose date is not a real date, is an error.
func ParseLogFileName(name string) (LogFile, error) {
	m := logFileRE.FindStringSubmatch(name)
	if m == nil {
		return LogFile{}, fmt.Errorf("ox: %q is not a log file name (<type>-<YYYYMMDD[HH]>[-host].log[.gz|.bz2])", name)
	}
	f := LogFile{Type: m[1], Host: m[3], Compression: m[4]}
	layout := "20060102"
	if len(m[2]) == 10 {
		layout, f.Hourly = "2006010215", true
	}
	t, err := time.Parse(layout, m[2])
	if err != nil {
		return LogFile{}, fmt.Errorf("ox: log file %q: bad date %q", name, m[2])
	}
	f.Start = t
	return f, nil
}

// ErrBadTypeName is wrapped by ValidTypeName's errors.
var ErrBadTypeName = errors.New("ox: bad type name")

// ValidTypeName reports whether typ can safely name a log file: at most 63 bytes,
// valid UTF-8, not empty, not starting with '.', and free of '/', '\', NUL and
// control characters. Type names come from the network; one that fails this check
// must never be used to build a path.
func ValidTypeName(typ string) error {
	if len(typ) <= MaxNameLen && typ != "" && typ[0] != '.' && plainName(typ) {
		return nil // printable ASCII without separators: what nearly every name is
	}
	return checkTypeName(typ)
}

// checkTypeName is ValidTypeName's full check.
func checkTypeName(typ string) error {
	switch {
	case typ == "":
		return fmt.Errorf("%w: empty", ErrBadTypeName)
	case len(typ) > MaxNameLen:
		return fmt.Errorf("%w: longer than %d bytes", ErrBadTypeName, MaxNameLen)
	case typ[0] == '.':
		return fmt.Errorf("%w: %q starts with '.'", ErrBadTypeName, typ)
	case !utf8.ValidString(typ):
		return fmt.Errorf("%w: %q is not valid UTF-8", ErrBadTypeName, typ)
	case strings.ContainsAny(typ, `/\`):
		return fmt.Errorf("%w: %q contains a path separator", ErrBadTypeName, typ)
	}
	for _, r := range typ {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return fmt.Errorf("%w: %q contains a control character", ErrBadTypeName, typ)
		}
	}
	return nil
}

// plainName reports whether s is printable ASCII without '/' or '\\'.
func plainName(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '/' || c == '\\' {
			return false
		}
	}
	return true
}
