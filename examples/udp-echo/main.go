// Command udp-echo is a small UDP echo backend: every datagram goes back to
// its sender unchanged. It stands behind the udp block in flashgate.hcl.
//
//	go run ./examples/udp-echo -listen 127.0.0.1:55556
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"syscall"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:55556", "UDP address to echo on")
	workers := flag.Int("workers", runtime.GOMAXPROCS(0), "goroutines reading the socket")
	flag.Parse()
	if err := run(*listen, *workers); err != nil {
		fmt.Fprintln(os.Stderr, "udp-echo:", err)
		os.Exit(1)
	}
}

func run(listen string, workers int) error {
	addr, err := net.ResolveUDPAddr("udp", listen)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", listen, err)
	}
	c, err := net.ListenUDP("udp", addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "udp-echo: echoing on %s\n", c.LocalAddr())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); c.Close() }()
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			echo(c)
		}()
	}
	wg.Wait()
	return nil
}

// echo sends each datagram back to its sender until the socket is closed.
func echo(c *net.UDPConn) {
	buf := make([]byte, 65536)
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		_, _ = c.WriteToUDPAddrPort(buf[:n], from)
	}
}
