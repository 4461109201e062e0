//go:build linux

// Command bench measures authd against floors and targets and prints one
// table: scripts/bench.sh builds the binaries and runs it.
//
//	go run ./tools/bench [--bin DIR] [--write BENCHMARKS.md] [--quick] [--keep] [--sections 1,3]
//
// Everything runs on this machine: the test OpenID provider of
// internal/idptest and small proxies on 127.0.0.1, the real authd binary as a
// subprocess on a Unix socket (so that its RSS can be read from /proc), and
// echo servers on Unix sockets. Every process the bench starts is stopped
// when it ends. It runs on Linux only: it reads /proc, ties its children's
// lives to its own (Pdeathsig) and stops the daemon with SIGSTOP.
//
// # Sections
//
//  1. `authc token` on a cached token, whole-process time with hyperfine,
//     beside two floors built from tools/bench/floor: a static binary
//     that prints a string, and a raw Unix-socket request/response.
//  2. GetToken through the client package, 1, 64 and 256 concurrent callers,
//     beside a plain grpc-go echo service on one grpc-go ClientConn.
//  3. A refresh storm of 1000 callers with the token endpoint behind a
//     50 ms proxy: after expiry with the daemon stopped (SIGSTOP) across it,
//     after a restart, and across the proactive refresh point.
//  4. The daemon's RSS idle after login and after each of two million calls.
//  5. Isolation: one profile's provider hung while callers in another
//     process press it; the other profile's p99 beside its baseline.
//  6. The credential helpers: 'authc header', 'authc kubectl' and 'authc
//     exec -- true' beside 'authc token', whole process with hyperfine;
//     target at most 1.2x.
//
// The echo server and the pressing callers are this program run again
// (`bench serve-echo SOCKET`, `bench press SOCKET PROFILE N`), so that
// they are processes of their own, as the daemon is.
//
// Each figure is a median with its spread; each ratio comes from the same
// run. --write replaces the generated block of BENCHMARKS.md and keeps the
// rest of the file.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"authd.dev/authd/internal/idptest"
)

func main() {
	// The bench runs itself for the servers and clients that must be
	// processes of their own.
	switch {
	case len(os.Args) == 3 && os.Args[1] == "serve-echo":
		if err := serveEcho(os.Args[2]); err != nil {
			log.Fatalf("serve-echo: %v", err)
		}
		return
	case len(os.Args) == 5 && os.Args[1] == "press":
		n, err := strconv.Atoi(os.Args[4])
		if err == nil {
			err = press(os.Args[2], os.Args[3], n)
		}
		if err != nil {
			log.Fatalf("press: %v", err)
		}
		return
	}
	log.SetFlags(0)
	log.SetPrefix("bench: ")
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

// plan sets how much each section measures.
type plan struct {
	hyperfineWarmup, hyperfineRuns int // in all, over the rounds
	hyperfineRounds                int

	concurrency []int
	repeats     int           // per point, interleaved authd / echo
	pointTime   time.Duration // per repeat

	million    int64 // calls per RSS step
	millionCap time.Duration

	stormCallers  int
	stormLifetime time.Duration // the storm provider's access token lifetime
	stormMinValid time.Duration // what the storm callers ask for
	proxyDelay    time.Duration
	pacedPause    time.Duration // mean pause between a paced caller's calls

	isolationCallers, stuckCallers int
	isolationRepeats               int // alternating baseline and pressed runs of pointTime
}

var fullPlan = plan{
	hyperfineWarmup: 30, hyperfineRuns: 300, hyperfineRounds: 3,
	concurrency: []int{1, 64, 256}, repeats: 3, pointTime: 2 * time.Second,
	million: 1_000_000, millionCap: 150 * time.Second,
	stormCallers: 1000, stormLifetime: 20 * time.Second, stormMinValid: 5 * time.Second,
	proxyDelay: 50 * time.Millisecond, pacedPause: time.Second,
	isolationCallers: 16, stuckCallers: 64, isolationRepeats: 5,
}

// quickPlan is a smoke run: every section, figures too small to compare.
var quickPlan = plan{
	hyperfineWarmup: 3, hyperfineRuns: 21, hyperfineRounds: 3,
	concurrency: []int{1, 64, 256}, repeats: 1, pointTime: 300 * time.Millisecond,
	million: 20_000, millionCap: 30 * time.Second,
	stormCallers: 200, stormLifetime: 8 * time.Second, stormMinValid: 2 * time.Second,
	proxyDelay: 50 * time.Millisecond, pacedPause: time.Second,
	isolationCallers: 16, stuckCallers: 16, isolationRepeats: 1,
}

func run() error {
	binDir := flag.String("bin", "", "directory with authd, authc, hello and rawclient built with the release flags (default: build them)")
	write := flag.String("write", "", "write the results into this markdown file (its generated block)")
	command := flag.String("command", "go run ./tools/bench", "the command line to record with the results")
	quick := flag.Bool("quick", false, "a short smoke run; its figures are not comparable")
	keep := flag.Bool("keep", false, "keep the work directory (configs, daemon logs, hyperfine JSON)")
	only := flag.String("sections", "1,2,3,4,5,6", "the sections to run, comma-separated")
	flag.Parse()
	p := fullPlan
	if *quick {
		p = quickPlan
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var clean cleanups
	defer clean.run()

	work, err := os.MkdirTemp("", "authd-bench-")
	if err != nil {
		return err
	}
	if *keep {
		log.Printf("work directory: %s", work)
	} else {
		clean.add(func() { os.RemoveAll(work) })
	}
	if *binDir == "" {
		*binDir = filepath.Join(work, "bin")
		log.Printf("building %d binaries (CGO_ENABLED=0 go %s)", len(binaries), strings.Join(buildFlags, " "))
		if err := build(ctx, *binDir); err != nil {
			return err
		}
	}
	for _, b := range binaries {
		if _, err := os.Stat(filepath.Join(*binDir, b.name)); err != nil {
			return fmt.Errorf("binary %s: %w", b.name, err)
		}
	}

	started := time.Now()
	b := &bench{plan: p, bin: *binDir, work: work, clean: &clean}
	sections := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"1. authc start-up", b.startup},
		{"2. in-process GetToken", b.inProcess},
		{"3. refresh storm", b.storm},
		{"4. daemon RSS", b.memory},
		{"5. isolation", b.isolation},
		{"6. credential helpers", b.helpers},
	}
	b.loadBefore = loadAverage()
	for i, s := range sections {
		if !slices.Contains(strings.Split(*only, ","), strconv.Itoa(i+1)) {
			continue
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		t0 := time.Now()
		log.Printf("== %s", s.name)
		if err := s.fn(ctx); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		log.Printf("   %s done in %s", s.name, time.Since(t0).Round(100*time.Millisecond))
	}
	elapsed := time.Since(started).Round(time.Second)
	b.loadAfter = loadAverage()

	block := b.markdown(*command, *quick, elapsed)
	fmt.Print(block)
	if *write != "" {
		old, err := os.ReadFile(*write)
		if err != nil && !os.IsNotExist(err) {
			return err
		}
		if err := os.WriteFile(*write, []byte(replaceBlock(string(old), fileHead, block)), 0o644); err != nil {
			return err
		}
		log.Printf("wrote %s", *write)
	}
	return nil
}

// bench holds what the sections share and the rows they produce.
type bench struct {
	plan  plan
	bin   string
	work  string
	clean *cleanups

	main    *daemon           // sections 1 and 2
	mainIDP *idptest.Provider // also the provider of section 4

	rows  []row
	notes []string

	loadBefore, loadAfter string // the machine's load average
}

// row is one line of the table.
type row struct {
	section, what, figure, target, verdict string
}

func (b *bench) add(section, what, figure string) {
	b.rows = append(b.rows, row{section: section, what: what, figure: figure})
}

func (b *bench) check(section, what, figure, target string, pass bool) {
	v := "MISS"
	if pass {
		v = "PASS"
	}
	b.rows = append(b.rows, row{section, what, figure, target, v})
}

func (b *bench) note(format string, args ...any) {
	b.notes = append(b.notes, fmt.Sprintf(format, args...))
}

const (
	blockBegin = "<!-- bench:begin: generated by scripts/bench.sh --write; edits inside are lost -->"
	blockEnd   = "<!-- bench:end -->"
)

const fileHead = `# Benchmarks

` + "`scripts/bench.sh`" + ` builds authd, authc and the bench's floors with the release
flags, starts the test provider and the real daemon, and prints the table
below; ` + "`scripts/bench.sh --write`" + ` regenerates it here.

`

// replaceBlock puts block between the markers of old, keeping everything
// around them; a file without markers gets the block appended, an empty
// one head and the block.
func replaceBlock(old, head, block string) string {
	wrapped := blockBegin + "\n" + block + blockEnd + "\n"
	i := strings.Index(old, blockBegin)
	j := strings.Index(old, blockEnd)
	switch {
	case old == "":
		return head + wrapped
	case i < 0 || j < i:
		return strings.TrimRight(old, "\n") + "\n\n" + wrapped
	}
	rest := old[j+len(blockEnd):]
	rest = strings.TrimPrefix(rest, "\n")
	return old[:i] + wrapped + rest
}

// markdown renders the results, the command and the machine.
func (b *bench) markdown(command string, quick bool, elapsed time.Duration) string {
	var s strings.Builder
	fmt.Fprintf(&s, "## Results\n\n")
	if quick {
		fmt.Fprintf(&s, "**Quick smoke run: these figures are not comparable.**\n\n")
	}
	fmt.Fprintf(&s, "Command: `%s` (took %s), %s.\n\n", command, elapsed, time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&s, "Machine: %s; load average (1, 5, 15 min) %s at the start, %s at the end: other work on the machine skews the figures.\n\n", machine(), b.loadBefore, b.loadAfter)
	fmt.Fprintf(&s, "Figures are medians; the spread in brackets is p25–p75 of the runs for sections 1 and 6 and min–max over the repeats or samples elsewhere.\n\n")
	fmt.Fprintf(&s, "| # | measure | median [spread] | target | |\n|---|---|---|---|---|\n")
	for _, r := range b.rows {
		fmt.Fprintf(&s, "| %s | %s | %s | %s | %s |\n", r.section, r.what, r.figure, r.target, r.verdict)
	}
	if len(b.notes) > 0 {
		fmt.Fprintf(&s, "\n")
		for _, n := range b.notes {
			fmt.Fprintf(&s, "- %s\n", n)
		}
	}
	fmt.Fprintf(&s, "\n")
	return s.String()
}

// loadAverage reads the 1, 5 and 15 minute load averages.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// machine describes where the bench ran.
func machine() string {
	cpu := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	kernel := "unknown kernel"
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = "Linux " + strings.TrimSpace(string(data))
	}
	hf := "hyperfine missing"
	if out, err := exec.Command("hyperfine", "--version").Output(); err == nil {
		hf = strings.TrimSpace(string(out))
	}
	var mem string
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		first, _, _ := strings.Cut(string(data), "\n")
		mem = ", " + strings.Join(strings.Fields(first)[1:], " ") + " RAM"
	}
	return fmt.Sprintf("nproc %d, %s%s, %s, %s %s/%s, %s", runtime.NumCPU(), cpu, mem, kernel, runtime.Version(), runtime.GOOS, runtime.GOARCH, hf)
}
