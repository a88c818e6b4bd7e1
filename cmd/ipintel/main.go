// Command ipintel builds an IP-intelligence database from public threat
// feeds and answers lookups from it. Run "ipintel help" for the commands.
package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := notifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// notifyContext is signal.NotifyContext, except that the cause of the
// cancellation is an [*interrupted] naming the signal, so that a command
// can exit with the status a shell gives a process the signal killed, and
// that a second signal has its default effect (it kills the process): a
// user who presses ^C twice does not wait for a graceful stop.
func notifyContext(parent context.Context, sigs ...os.Signal) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, sigs...)
	go func() {
		select {
		case s := <-ch:
			cancel(&interrupted{sig: s})
			signal.Stop(ch)
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		cancel(nil)
		signal.Stop(ch)
	}
}

// interrupted is the cause of a context that a signal cancelled. It
// matches context.Canceled, as signal.NotifyContext's cause does.
type interrupted struct{ sig os.Signal }

func (e *interrupted) Error() string { return "interrupted by " + signalName(e.sig) }

func (e *interrupted) Is(target error) bool { return target == context.Canceled }

// exitCode is 128 plus the signal's number (130 for SIGINT, 143 for
// SIGTERM), the status a shell reports for a process the signal killed.
func (e *interrupted) exitCode() int {
	if s, ok := e.sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return exitRuntime
}

// interruption returns the signal that cancelled ctx, if one did.
func interruption(ctx context.Context) (*interrupted, bool) {
	return errors.AsType[*interrupted](context.Cause(ctx))
}

func signalName(sig os.Signal) string {
	switch sig {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGHUP:
		return "SIGHUP"
	}
	return sig.String()
}
