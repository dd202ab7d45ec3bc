//go:build unix

// Command udpcompare measures datagrams per second and loss through udprelay,
// nginx's stream UDP proxy and socat, all in front of the same UDP echo
// backend on loopback, against the echo directly as the limit. Each target
// runs for -duration with the same load (udpload.Run), one after the other.
//
//	go run ./udprelay/internal/udpcompare -duration 5s -conns 8 -size 64
//
// It needs the echo example (built from ./examples/udp-echo), and nginx with
// the stream module and socat on PATH (targets whose tool is missing are
// skipped). With -mode relay it is just a udprelay in front of -backend.
// Unix only: it stops its peers by process group.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/flashgate/flashgate/udprelay"
	"github.com/flashgate/flashgate/udprelay/udpload"
)

func main() {
	mode := flag.String("mode", "compare", "compare | relay | load")
	listen := flag.String("listen", "127.0.0.1:0", "relay mode: listen address")
	backend := flag.String("backend", "", "relay mode: backend address")
	duration := flag.Duration("duration", 5*time.Second, "sending time per target")
	conns := flag.Int("conns", 8, "client sockets")
	size := flag.Int("size", 64, "payload bytes")
	window := flag.Int("window", udpload.DefaultWindow, "datagrams in flight per socket")
	cpuprofile := flag.String("cpuprofile", "", "relay mode: write a CPU profile here")
	rounds := flag.Int("rounds", 1, "passes over all targets (results per pass)")
	echoBin := flag.String("echo", "", "udp-echo binary (default: go build ./examples/udp-echo)")
	nginxWorkers := flag.Int("nginx-workers", 2, "nginx worker_processes")
	flag.Parse()
	var err error
	switch *mode {
	case "relay":
		if *cpuprofile != "" {
			f, ferr := os.Create(*cpuprofile)
			if ferr == nil && pprof.StartCPUProfile(f) == nil {
				defer pprof.StopCPUProfile()
			}
		}
		err = runRelay(*listen, *backend)
	case "load": // just the driver, at -listen
		var res udpload.Result
		res, err = udpload.RunOptions(context.Background(), udpload.Options{Target: *listen, Conns: *conns, Size: *size, Duration: *duration, Window: *window})
		fmt.Println(res)
	case "compare":
		err = compare(*duration, *conns, *size, *window, *rounds, *echoBin, *nginxWorkers)
	default:
		err = fmt.Errorf("unknown mode %q", *mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "udpcompare:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func runRelay(listen, backend string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := udprelay.New(udprelay.Config{Name: "bench", Listen: listen, Backends: []string{backend}, MaxDatagram: 1472},
		zerolog.New(os.Stderr).Level(zerolog.InfoLevel))
	if err != nil {
		return err
	}
	defer r.Close()
	go func() {
		<-ctx.Done()
		st := r.Stats()
		fmt.Fprintf(os.Stderr, "relay stats: %+v\n", st)
	}()
	return r.Serve(ctx)
}

func freePort() (int, error) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}

type target struct {
	name string
	addr string
}

func compare(duration time.Duration, conns, size, window, rounds int, echoBin string, nginxWorkers int) error {
	dir, err := os.MkdirTemp("", "udpcompare")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			_ = syscall.Kill(-p.Process.Pid, syscall.SIGTERM)
			done := make(chan struct{})
			go func() { _ = p.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(2 * time.Second):
				_ = syscall.Kill(-p.Process.Pid, syscall.SIGKILL)
				<-done
			}
		}
	}()
	start := func(name string, args ...string) error {
		cmd := exec.Command(name, args...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		// Own process group, so socat's forked children go with it.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			return err
		}
		procs = append(procs, cmd)
		return nil
	}
	if echoBin == "" {
		echoBin = filepath.Join(dir, "udp-echo")
		if out, err := exec.Command("go", "build", "-o", echoBin, "./examples/udp-echo").CombinedOutput(); err != nil {
			return fmt.Errorf("build echo: %v: %s", err, out)
		}
	}
	port := func() string { p, _ := freePort(); return "127.0.0.1:" + strconv.Itoa(p) }
	echo := port()
	if err := start(echoBin, "-listen", echo); err != nil {
		return fmt.Errorf("echo: %w", err)
	}
	targets := []target{{"direct", echo}}

	self, err := os.Executable()
	if err != nil {
		return err
	}
	relay := port()
	if err := start(self, "-mode", "relay", "-listen", relay, "-backend", echo); err != nil {
		return fmt.Errorf("relay: %w", err)
	}
	targets = append(targets, target{"udprelay", relay})

	if _, err := exec.LookPath("nginx"); err == nil {
		ng := port()
		conf := filepath.Join(dir, "nginx.conf")
		mod := "/usr/lib/nginx/modules/ngx_stream_module.so"
		load := ""
		if _, err := os.Stat(mod); err == nil {
			load = "load_module " + mod + ";\n"
		}
		text := fmt.Sprintf(`%sworker_processes %d;
daemon off;
pid %s/nginx.pid;
error_log %s/error.log warn;
events { worker_connections 4096; }
stream {
  server {
    listen %s udp reuseport;
    proxy_pass %s;
    proxy_timeout 60s;
  }
}
`, load, nginxWorkers, dir, dir, ng, echo)
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			return err
		}
		if err := start("nginx", "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log")); err != nil {
			fmt.Fprintln(os.Stderr, "nginx:", err)
		} else {
			targets = append(targets, target{"nginx", ng})
		}
	}
	if _, err := exec.LookPath("socat"); err == nil {
		so := port()
		_, p, _ := net.SplitHostPort(so)
		if err := start("socat", "-T", "30", "UDP4-LISTEN:"+p+",bind=127.0.0.1,fork,reuseaddr", "UDP4:"+echo); err == nil {
			targets = append(targets, target{"socat", so})
		}
	}
	time.Sleep(500 * time.Millisecond) // let everything bind

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Printf("load: %d sockets, %d-byte datagrams, window %d, %s per target\n", conns, size, window, duration)
	fmt.Printf("%-9s %10s %10s %8s %12s %9s %9s\n", "target", "sent", "received", "loss%", "datagrams/s", "vs direct", "vs nginx")
	for round := 1; round <= rounds && ctx.Err() == nil; round++ {
		if rounds > 1 {
			fmt.Printf("-- pass %d\n", round)
		}
		if err := pass(ctx, targets, duration, conns, size, window); err != nil {
			return err
		}
	}
	return nil
}

func pass(ctx context.Context, targets []target, duration time.Duration, conns, size, window int) error {
	results := map[string]udpload.Result{}
	for _, t := range targets {
		// short warm-up: sessions, forks and caches
		_, _ = udpload.RunOptions(ctx, udpload.Options{Target: t.addr, Conns: conns, Size: size, Duration: 300 * time.Millisecond, Window: window})
		res, err := udpload.RunOptions(ctx, udpload.Options{Target: t.addr, Conns: conns, Size: size, Duration: duration, Window: window})
		if err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
		if res.Mismatched > 0 {
			fmt.Printf("%s: %d replies reached the wrong client!\n", t.name, res.Mismatched)
		}
		results[t.name] = res
		vs := func(base string) string {
			b, ok := results[base]
			if !ok || b.PerSecond == 0 {
				return "-"
			}
			return fmt.Sprintf("%.2f", res.PerSecond/b.PerSecond)
		}
		fmt.Printf("%-9s %10d %10d %8.3f %12.0f %9s %9s\n", t.name, res.Sent, res.Received, 100*res.Loss, res.PerSecond, vs("direct"), vs("nginx"))
		if ctx.Err() != nil {
			break
		}
	}
	if n, ok := results["nginx"]; ok {
		if r, ok := results["udprelay"]; ok && n.PerSecond > 0 {
			fmt.Printf("udprelay / nginx = %.2f\n", r.PerSecond/n.PerSecond)
		}
	}
	return nil
}
