package main

import (
	"bufio"
	"fmt"
	"github.com/ipintel/ipintel/serve"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ipintel/ipintel/internal/testhttp"
)

var (
	binOnce sync.Once
	binFile string
	binErr  error
)

// ipintelBinary builds the ipintel command once per test run.
func ipintelBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ipintel-bin-")
		if err != nil {
			binErr = err
			return
		}
		binFile = filepath.Join(dir, "ipintel")
		out, err := exec.Command("go", "build", "-o", binFile, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binFile
}

// startBinary runs "ipintel serve" as a child process on 127.0.0.1:0 and
// returns it with its base URL, read from the "serving" log line.
func startBinary(t *testing.T, args ...string) (*exec.Cmd, string, *testhttp.LockedBuffer) {
	t.Helper()
	cmd := exec.Command(ipintelBinary(t), append([]string{"serve", "-listen", "127.0.0.1:0"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	logs := &testhttp.LockedBuffer{}
	addrc := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`msg=serving addr=(\S+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			fmt.Fprintln(logs, sc.Text())
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addrc <- m[1]
			}
		}
	}()
	select {
	case addr := <-addrc:
		return cmd, "http://" + addr, logs
	case <-time.After(30 * time.Second):
		t.Fatalf("ipintel serve did not start; log:\n%s", logs.String())
		return nil, "", nil
	}
}

// TestServeBinarySignals runs the real binary: SIGHUP reloads the replaced
// database (file watching is off, so only the signal can), SIGTERM shuts
// it down gracefully with exit status 0.
func TestServeBinarySignals(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGHUP on Windows")
	}
	t.Parallel()
	path := sampleDB(t)
	cmd, url, logs := startBinary(t, "-db", path, "-watch-interval", "0")
	if testhttp.GetAnswer[serve.Answer](t, url, "2001:db8:3::1").Found {
		t.Fatal("2001:db8:3::1 found before the new database")
	}
	replaceFile(t, path, func(tmp string) { writeTestDB(t, tmp, sampleNewNets, testManifest(len(sampleNewNets))) })
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testhttp.WaitFor(t, "the reload after SIGHUP", func() bool { return testhttp.GetAnswer[serve.Answer](t, url, "2001:db8:3::1").Found })
	// The new database can answer before the child's reload line has
	// been written and copied from its stderr pipe: wait for it too.
	testhttp.WaitFor(t, "the signal-triggered reload in the log", func() bool { return strings.Contains(logs.String(), "trigger=signal") })
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ipintel serve after SIGTERM: %v; log:\n%s", err, logs.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("ipintel serve did not exit after SIGTERM")
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// nginxConf is the forward-auth setup of the README. nginx is the only
// client of ipintel and connects from loopback, which ipintel trusts; it
// appends its own peer ($remote_addr) to any X-Forwarded-For it received
// ($proxy_add_x_forwarded_for), so ipintel, walking from the right, takes
// the nearest untrusted hop: the real client, whatever it claims further
// left. Passing $http_x_forwarded_for alone would let any client choose
// its address. Here the test client itself is on loopback, so it plays a
// trusted load balancer in front of nginx and its X-Forwarded-For counts.
const nginxConf = `
worker_processes 1;
%s
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path %[2]s/tmp/body;
    proxy_temp_path %[2]s/tmp/proxy;
    fastcgi_temp_path %[2]s/tmp/fastcgi;
    uwsgi_temp_path %[2]s/tmp/uwsgi;
    scgi_temp_path %[2]s/tmp/scgi;
    server {
        listen 127.0.0.1:%[3]d;
        root %[2]s/www;

        location / {
            auth_request /_ipintel;
            auth_request_set $ipintel_action $upstream_http_x_ipintel_action;
            add_header X-Ipintel-Action $ipintel_action always;
            error_page 401 = @challenge;
        }
        location @challenge {
            return 302 /captcha;
        }
        location = /_ipintel {
            internal;
            proxy_pass http://127.0.0.1:%[4]s/v1/auth;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }
    }
}
`

// TestNginxAuthRequest puts ipintel behind a real nginx with auth_request.
// It needs nginx on PATH; CI installs it, so there the test never skips.
func TestNginxAuthRequest(t *testing.T) {
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("nginx not found, and CI=true: install nginx")
		}
		t.Skip("nginx not installed")
	}
	t.Parallel()
	ts := startServe(t, serveConfig{db: sampleDB(t)})
	_, servePort, _ := net.SplitHostPort(strings.TrimPrefix(ts.url, "http://"))

	dir := t.TempDir()
	for _, d := range []string{"www", "tmp", "logs"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "www", "index.html"), []byte("welcome\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;" // workers must read the 0700 test directory
	}
	port := freePort(t)
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, nginxConf, user, dir, port, servePort), 0o644); err != nil {
		t.Fatal(err)
	}
	logs := &testhttp.LockedBuffer{}
	cmd := exec.Command(nginx, "-p", dir, "-c", conf, "-g", "daemon off; pid "+filepath.Join(dir, "nginx.pid")+"; error_log stderr;")
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("nginx log:\n%s", logs.String())
		}
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	testhttp.WaitFor(t, "nginx", func() bool {
		resp, err := http.Get(base + "/")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})

	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tt := range []struct {
		name, xff    string
		wantStatus   int
		wantAction   string
		wantBody     string
		wantLocation string
	}{
		{name: "tor exit blocked", xff: "192.0.2.10", wantStatus: 403, wantAction: "block"},
		{name: "clean passes", xff: "203.0.113.50", wantStatus: 200, wantAction: "allow", wantBody: "welcome\n"},
		{name: "no header passes", wantStatus: 200, wantAction: "allow", wantBody: "welcome\n"},
		{name: "vpn challenged", xff: "198.51.100.7", wantStatus: 302, wantLocation: "/captcha"},
		{name: "tor exit ipv6 blocked", xff: "2001:db8:2::99", wantStatus: 403, wantAction: "block"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", base+"/", nil)
			if tt.xff != "" {
				req.Header.Set("X-Forwarded-For", tt.xff)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("GET / (X-Forwarded-For %q) via nginx = %d %s, want %d", tt.xff, resp.StatusCode, body, tt.wantStatus)
			}
			if got := resp.Header.Get("X-Ipintel-Action"); tt.wantAction != "" && got != tt.wantAction {
				t.Errorf("X-Ipintel-Action = %q, want %q", got, tt.wantAction)
			}
			if tt.wantBody != "" && string(body) != tt.wantBody {
				t.Errorf("body = %q, want %q", body, tt.wantBody)
			}
			if got := resp.Header.Get("Location"); tt.wantLocation != "" && !strings.HasSuffix(got, tt.wantLocation) {
				t.Errorf("Location = %q, want %q", got, tt.wantLocation)
			}
		})
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binFile != "" {
		_ = os.RemoveAll(filepath.Dir(binFile))
	}
	os.Exit(code)
}
