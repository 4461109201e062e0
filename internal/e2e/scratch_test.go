package e2e

import (
	"testing"
	"time"
)

func TestScratchTiming(t *testing.T) {
	e := newEnv(t)
	e.loginWithoutBrowser()
	for _, args := range [][]string{{"status"}, {"token", "--no-login"}, {"token", "--force-refresh", "--no-login"}, {"token", "--force-refresh", "--no-login"}, {"help"}} {
		start := time.Now()
		r := e.authc(nil, args...)
		t.Logf("%v: %v exit %d", args, time.Since(start), r.code)
	}
	start := time.Now()
	e.killDaemon()
	t.Logf("kill %v", time.Since(start))
	start = time.Now()
	e.startDaemon()
	t.Logf("start %v", time.Since(start))
	t.Logf("%s", e.daemon.logs)
}
