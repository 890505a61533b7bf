package s3sig

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Config describes how to reach S3. Zero values mean defaults.
type Config struct {
	Credentials Credentials
	// Region defaults to "us-east-1".
	Region string
	// Endpoint is a custom S3-compatible endpoint such as "http://127.0.0.1:9000".
	// Empty means AWS. A custom endpoint is always addressed path-style.
	Endpoint string
	// HTTPClient defaults to a client with sensible transport timeouts.
	HTTPClient *http.Client
	// PartSize is the multipart part size (default 16 MiB, at least 5 MiB).
	PartSize int64
	// MultipartThreshold: objects larger than this are uploaded in parts
	// (default PartSize).
	MultipartThreshold int64
	// MaxAttempts bounds tries per request, first included (default 5).
	MaxAttempts int
	// RetryBase is the first backoff delay, doubled each retry (default 200ms).
	RetryBase time.Duration
	// Now is the clock used for signing (default time.Now).
	Now func() time.Time
}

// ErrNoCredentials means neither the environment nor the shared credentials
// file gave an access key.
var ErrNoCredentials = errors.New("s3: no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with ~/.aws/credentials")

// ConfigFromEnv builds a Config the way the AWS tools do, from getenv (os.Getenv
// in programs): AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN; else
// the AWS_PROFILE (default "default") section of AWS_SHARED_CREDENTIALS_FILE
// (default ~/.aws/credentials), else that profile in AWS_CONFIG_FILE (default
// ~/.aws/config). Region from AWS_REGION, AWS_DEFAULT_REGION, the
// profile's region in AWS_CONFIG_FILE (default ~/.aws/config), else us-east-1.
// Endpoint from AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL. AWS_MAX_ATTEMPTS
// bounds the tries per request. It returns ErrNoCredentials (wrapped) when no access key is found.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	var cfg Config
	home := getenv("HOME")
	profile := getenv("AWS_PROFILE")
	if profile == "" {
		profile = "default"
	}
	cfg.Credentials = Credentials{
		AccessKeyID:     getenv("AWS_ACCESS_KEY_ID"),
		SecretAccessKey: getenv("AWS_SECRET_ACCESS_KEY"),
		SessionToken:    getenv("AWS_SESSION_TOKEN"),
	}
	if cfg.Credentials.AccessKeyID == "" || cfg.Credentials.SecretAccessKey == "" {
		path := getenv("AWS_SHARED_CREDENTIALS_FILE")
		if path == "" && home != "" {
			path = filepath.Join(home, ".aws", "credentials")
		}
		sec, err := iniSection(path, profile)
		if err != nil {
			return cfg, err
		}
		cfg.Credentials = Credentials{
			AccessKeyID:     sec["aws_access_key_id"],
			SecretAccessKey: sec["aws_secret_access_key"],
			SessionToken:    sec["aws_session_token"],
		}
	}
	configPath := getenv("AWS_CONFIG_FILE")
	if configPath == "" && home != "" {
		configPath = filepath.Join(home, ".aws", "config")
	}
	configSection := "profile " + profile
	if profile == "default" {
		configSection = "default"
	}
	if cfg.Credentials.AccessKeyID == "" || cfg.Credentials.SecretAccessKey == "" {
		// The AWS tools also accept keys in the config file.
		if sec, err := iniSection(configPath, configSection); err == nil && sec["aws_access_key_id"] != "" {
			cfg.Credentials = Credentials{
				AccessKeyID:     sec["aws_access_key_id"],
				SecretAccessKey: sec["aws_secret_access_key"],
				SessionToken:    sec["aws_session_token"],
			}
		}
	}
	cfg.Region = getenv("AWS_REGION")
	if cfg.Region == "" {
		cfg.Region = getenv("AWS_DEFAULT_REGION")
	}
	if cfg.Region == "" {
		if sec, err := iniSection(configPath, configSection); err == nil {
			cfg.Region = sec["region"]
		}
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	cfg.Endpoint = getenv("AWS_ENDPOINT_URL_S3")
	if cfg.Endpoint == "" {
		cfg.Endpoint = getenv("AWS_ENDPOINT_URL")
	}
	if v := getenv("AWS_MAX_ATTEMPTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return cfg, fmt.Errorf("s3: AWS_MAX_ATTEMPTS=%q is not a positive number", v)
		}
		cfg.MaxAttempts = n
	}
	if cfg.Credentials.AccessKeyID == "" || cfg.Credentials.SecretAccessKey == "" {
		return cfg, fmt.Errorf("%w (profile %q)", ErrNoCredentials, profile)
	}
	return cfg, nil
}

// iniSection reads one [section] of an AWS-style ini file. A missing file is an
// empty section, not an error.
func iniSection(path, section string) (map[string]string, error) {
	out := map[string]string{}
	if path == "" {
		return out, nil
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("s3: read %s: %w", path, err)
	}
	defer f.Close()
	return parseINISection(f, section)
}

func parseINISection(r io.Reader, section string) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(r)
	in := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' && strings.HasSuffix(line, "]") {
			in = strings.TrimSpace(line[1:len(line)-1]) == section
			continue
		}
		if !in {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		out[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("s3: read credentials: %w", err)
	}
	return out, nil
}
