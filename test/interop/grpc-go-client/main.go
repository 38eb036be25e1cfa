// grpc-go-client: grpc-go's xDS client (google.golang.org/grpc/xds) as a
// second real proxyless client beside grpc-js-xds.
//
// The bootstrap comes from GRPC_XDS_BOOTSTRAP, as for any grpc-go xDS
// application. Channels use xDS credentials (the management server's security
// config: certificate providers, mTLS) with plaintext as the fallback.
//
// It reads commands from stdin, one JSON object a line, and answers each with
// one JSON line on stdout:
//
//	{"id": 1, "target": "xds:///reviews.bookinfo.svc.cluster.local:9080",
//	 "n": 50, "concurrency": 10, "metadata": {"x-route": "canary"},
//	 "key": "k", "sleep_ms": 0, "fail_first": 0, "deadline_ms": 5000,
//	 "wait_ms": 15000, "duration_ms": 0, "fresh": false}
//
// wait_ms: first retry single calls until one succeeds (config arriving);
// duration_ms: call continuously for that long instead of n calls;
// fresh: a new channel for this command (new handshakes), closed after it.
// The answer holds per-backend counts (the Echo reply's version), the attempt
// numbers backends reported, status codes (numeric), the first distinct
// errors, and every NACK grpc-go's xDS client logged since the start.
// The Echo service is test/fixtures/e2e-xds/echo.proto, encoded by hand.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	xdscreds "google.golang.org/grpc/credentials/xds"
	"google.golang.org/grpc/grpclog"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"

	_ "google.golang.org/grpc/xds" // the xds:/// resolver, balancers, HTTP filters and certificate providers
)

const method = "/meshcd.e2e.Echo/Call"

// Bounds on what one command may ask for.
const (
	maxCalls       = 100000
	maxConcurrency = 200
	maxDuration    = 5 * time.Minute
	maxErrors      = 20
)

type command struct {
	ID          int               `json:"id"`
	Target      string            `json:"target"`
	N           int               `json:"n"`
	Concurrency int               `json:"concurrency"`
	Metadata    map[string]string `json:"metadata"`
	Key         string            `json:"key"`
	SleepMs     int32             `json:"sleep_ms"`
	FailFirst   int32             `json:"fail_first"`
	DeadlineMs  int               `json:"deadline_ms"`
	WaitMs      int               `json:"wait_ms"`
	DurationMs  int               `json:"duration_ms"`
	Fresh       bool              `json:"fresh"`
}

type answer struct {
	ID       int            `json:"id"`
	Calls    int            `json:"calls"`
	OK       int            `json:"ok"`
	Backends map[string]int `json:"backends"`
	Attempts map[string]int `json:"attempts"`
	Codes    map[string]int `json:"codes"`
	Errors   []string       `json:"errors"`
	Nacks    []string       `json:"nacks"`
	Failure  string         `json:"failure,omitempty"`
}

func main() {
	log := &capture{}
	grpclog.SetLoggerV2(log)
	creds, err := xdscreds.NewClientCredentials(xdscreds.ClientOptions{FallbackCreds: insecure.NewCredentials()})
	if err != nil {
		fmt.Fprintf(os.Stderr, "grpc-go-client: xDS credentials: %v\n", err)
		os.Exit(2)
	}
	channels := map[string]*grpc.ClientConn{}
	defer func() {
		for _, cc := range channels {
			cc.Close()
		}
	}()
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 64<<10), 1<<20)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		var c command
		a := answer{Backends: map[string]int{}, Attempts: map[string]int{}, Codes: map[string]int{}, Errors: []string{}}
		if err := json.Unmarshal(in.Bytes(), &c); err != nil {
			a.Failure = fmt.Sprintf("stdin: not a JSON command: %v", err)
		} else if msg := c.check(); msg != "" {
			a.ID, a.Failure = c.ID, msg
		} else {
			a.ID = c.ID
			cc, err := channel(channels, c, creds)
			if err != nil {
				a.Failure = fmt.Sprintf("dial %s: %v", c.Target, err)
			} else {
				run(cc, c, &a)
				if c.Fresh {
					cc.Close()
				}
			}
		}
		a.Nacks = log.nackList()
		if err := out.Encode(a); err != nil {
			os.Exit(2)
		}
	}
}

func (c *command) check() string {
	switch {
	case !strings.HasPrefix(c.Target, "xds:///"):
		return fmt.Sprintf("target %q: expected xds:///host:port", c.Target)
	case c.N < 0 || c.N > maxCalls:
		return fmt.Sprintf("n %d: expected 0..%d", c.N, maxCalls)
	case c.Concurrency < 0 || c.Concurrency > maxConcurrency:
		return fmt.Sprintf("concurrency %d: expected 0..%d", c.Concurrency, maxConcurrency)
	case time.Duration(c.DurationMs)*time.Millisecond > maxDuration || time.Duration(c.WaitMs)*time.Millisecond > maxDuration || c.DurationMs < 0 || c.WaitMs < 0:
		return fmt.Sprintf("duration_ms/wait_ms: at most %v", maxDuration)
	}
	if c.Concurrency == 0 {
		c.Concurrency = 1
	}
	if c.DeadlineMs <= 0 {
		c.DeadlineMs = 5000
	}
	return ""
}

func channel(channels map[string]*grpc.ClientConn, c command, creds credentials.TransportCredentials) (*grpc.ClientConn, error) {
	if cc, ok := channels[c.Target]; ok && !c.Fresh {
		return cc, nil
	}
	cc, err := grpc.NewClient(c.Target, grpc.WithTransportCredentials(creds))
	if err != nil {
		return nil, err
	}
	if !c.Fresh {
		channels[c.Target] = cc
	}
	return cc, nil
}

// run makes the calls a command asks for and records their outcome in a.
func run(cc *grpc.ClientConn, c command, a *answer) {
	var mu sync.Mutex
	seen := map[string]bool{}
	record := func(version string, attempt int32, err error) {
		mu.Lock()
		defer mu.Unlock()
		a.Calls++
		code := status.Code(err)
		a.Codes[strconv.Itoa(int(code))]++
		if err == nil {
			a.OK++
			a.Backends[version]++
			a.Attempts[strconv.Itoa(int(attempt))]++
			return
		}
		msg := fmt.Sprintf("%d %v: %s", code, code, status.Convert(err).Message())
		if !seen[msg] && len(a.Errors) < maxErrors {
			seen[msg] = true
			a.Errors = append(a.Errors, msg)
		}
	}
	if c.WaitMs > 0 {
		end := time.Now().Add(time.Duration(c.WaitMs) * time.Millisecond)
		for {
			if _, _, err := call(cc, c); err == nil || time.Now().After(end) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	var wg sync.WaitGroup
	next := make(chan struct{})
	for w := 0; w < c.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				v, n, err := call(cc, c)
				record(v, n, err)
			}
		}()
	}
	if c.DurationMs > 0 {
		end := time.Now().Add(time.Duration(c.DurationMs) * time.Millisecond)
		for time.Now().Before(end) {
			next <- struct{}{}
		}
	} else {
		for i := 0; i < c.N; i++ {
			next <- struct{}{}
		}
	}
	close(next)
	wg.Wait()
}

func call(cc *grpc.ClientConn, c command) (string, int32, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(c.DeadlineMs)*time.Millisecond)
	defer cancel()
	if len(c.Metadata) > 0 {
		ctx = metadata.NewOutgoingContext(ctx, metadata.New(c.Metadata))
	}
	req := protowire.AppendTag(nil, 1, protowire.BytesType)
	req = protowire.AppendString(req, c.Key)
	req = protowire.AppendTag(req, 2, protowire.VarintType)
	req = protowire.AppendVarint(req, uint64(int64(c.SleepMs)))
	req = protowire.AppendTag(req, 3, protowire.VarintType)
	req = protowire.AppendVarint(req, uint64(int64(c.FailFirst)))
	var reply []byte
	if err := cc.Invoke(ctx, method, &req, &reply, grpc.ForceCodec(rawCodec{})); err != nil {
		return "", 0, err
	}
	return decodeReply(reply)
}

// decodeReply reads EchoReply {string version = 1; int32 attempt = 2;}.
func decodeReply(b []byte) (string, int32, error) {
	var version string
	var attempt int32
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return "", 0, fmt.Errorf("EchoReply: %v", protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.BytesType:
			s, m := protowire.ConsumeString(b)
			if m < 0 {
				return "", 0, fmt.Errorf("EchoReply.version: %v", protowire.ParseError(m))
			}
			version, b = s, b[m:]
		case num == 2 && typ == protowire.VarintType:
			v, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return "", 0, fmt.Errorf("EchoReply.attempt: %v", protowire.ParseError(m))
			}
			attempt, b = int32(v), b[m:]
		default:
			m := protowire.ConsumeFieldValue(num, typ, b)
			if m < 0 {
				return "", 0, fmt.Errorf("EchoReply field %d: %v", num, protowire.ParseError(m))
			}
			b = b[m:]
		}
	}
	return version, attempt, nil
}

// rawCodec passes already-encoded protobuf bytes through (content-subtype "proto").
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	*(v.(*[]byte)) = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

// capture is grpc-go's logger: warnings and errors go to stderr, and every
// NACK the xDS client sends (it logs "Sending NACK … reason: …") is kept.
type capture struct {
	mu    sync.Mutex
	nacks []string
}

const maxNacks = 100

func (l *capture) note(msg string) {
	if !strings.Contains(msg, "NACK") && !strings.Contains(msg, "ResourceTypeUnsupported") {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.nacks) < maxNacks {
		l.nacks = append(l.nacks, msg)
	}
}

func (l *capture) nackList() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string{}, l.nacks...)
}

func (l *capture) warn(level string, args ...any) {
	msg := fmt.Sprint(args...)
	l.note(msg)
	fmt.Fprintf(os.Stderr, "%s %s: %s\n", time.Now().UTC().Format(time.RFC3339Nano), level, msg)
}

func (l *capture) Info(args ...any)                 {}
func (l *capture) Infoln(args ...any)               {}
func (l *capture) Infof(format string, args ...any) {}
func (l *capture) InfoDepth(depth int, args ...any) {}
func (l *capture) Warning(args ...any)              { l.warn("WARNING", args...) }
func (l *capture) Warningln(args ...any)            { l.warn("WARNING", fmt.Sprintln(args...)) }
func (l *capture) Warningf(format string, args ...any) {
	l.warn("WARNING", fmt.Sprintf(format, args...))
}
func (l *capture) WarningDepth(depth int, args ...any) { l.warn("WARNING", args...) }
func (l *capture) Error(args ...any)                   { l.warn("ERROR", args...) }
func (l *capture) Errorln(args ...any)                 { l.warn("ERROR", fmt.Sprintln(args...)) }
func (l *capture) Errorf(format string, args ...any)   { l.warn("ERROR", fmt.Sprintf(format, args...)) }
func (l *capture) ErrorDepth(depth int, args ...any)   { l.warn("ERROR", args...) }
func (l *capture) Fatal(args ...any)                   { l.warn("FATAL", args...); os.Exit(1) }
func (l *capture) Fatalln(args ...any)                 { l.warn("FATAL", fmt.Sprintln(args...)); os.Exit(1) }
func (l *capture) Fatalf(format string, args ...any) {
	l.warn("FATAL", fmt.Sprintf(format, args...))
	os.Exit(1)
}
func (l *capture) FatalDepth(depth int, args ...any) { l.warn("FATAL", args...); os.Exit(1) }
func (l *capture) V(level int) bool                  { return false }
