// Package browser starts Debian's Chromium headless for tests, driven by
// chromedp (github.com/chromedp/chromedp). The flags keep it off the
// network (this machine's closed network refuses its background
// connections) and its profile in the test's temporary directory.
package browser

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/chromedp/chromedp"
)

// Path finds chromium (Debian's package; $LEASED_CHROMIUM overrides).
func Path() (string, bool) {
	for _, p := range []string{os.Getenv("LEASED_CHROMIUM"), "chromium", "chromium-browser"} {
		if p == "" {
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			return path, true
		}
	}
	return "", false
}

// New starts a headless Chromium and returns a chromedp context for one
// tab (limit each step with a context derived from it: a timeout on the
// first call would stop the browser); the browser is stopped (by chromedp, which started it: its PID is
// killed and waited for) and its profile removed when the test ends.
// Without chromium the test is skipped, or fails when CI is set (the
// project's rule for missing tools; scripts/deps.sh installs it).
func New(t testing.TB) context.Context {
	t.Helper()
	path, ok := Path()
	if !ok {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium not found (CI: scripts/deps.sh installs Debian's chromium)")
		}
		t.Skip("chromium not found: apt-get install chromium (scripts/deps.sh)")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()), // fresh profile, removed with the test's directory
		chromedp.Headless,
		chromedp.NoSandbox, // root on this machine
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc() // kills the browser process and waits for it
	})
	if err := chromedp.Do(ctx); err != nil { // start the browser now, so failures name it
		t.Fatalf("starting %s: %v", path, err)
	}
	return ctx
}
