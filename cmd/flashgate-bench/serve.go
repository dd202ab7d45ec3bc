package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
)

// serve runs a backend for the other modes: a TCP echo, a TCP discard that
// closes after the client's EOF, or a UDP echo.
func serve(ctx context.Context, o options) error {
	switch o.mode {
	case "udp-echo":
		return serveUDP(ctx, o.listen)
	case "ws-echo":
		return serveWSEcho(ctx, o.listen)
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", o.listen, err)
	}
	go func() { <-ctx.Done(); ln.Close() }()
	var handle func(*net.TCPConn)
	switch o.mode {
	case "echo":
		handle = func(c *net.TCPConn) { _, _ = io.Copy(c, c) }
	case "discard":
		// Large reads keep the sink cheap (io.Discard reads 8 KiB at a
		// time, which cost the sink about 0.5 CPU s/GB, more than the
		// relays it measures): the CPU left on a small machine goes to the
		// target, as with iperf's 128 KiB buffers.
		handle = func(c *net.TCPConn) {
			buf := make([]byte, 256<<10)
			for {
				if _, err := c.Read(buf); err != nil {
					return
				}
			}
		}
	case "relay":
		// The bare Go relay the issue measures against: a dial per
		// connection, io.Copy each way (splice), half-close propagated.
		if o.to == "" {
			return fmt.Errorf("serve -mode relay needs -to ADDR")
		}
		handle = func(c *net.TCPConn) {
			b, err := net.Dial("tcp", o.to)
			if err != nil {
				return
			}
			defer b.Close()
			done := make(chan struct{})
			go func() {
				_, _ = io.Copy(b, c)
				_ = b.(*net.TCPConn).CloseWrite()
				close(done)
			}()
			_, _ = io.Copy(c, b)
			_ = c.CloseWrite()
			<-done
		}
	case "policy":
		// The minimal Go policy server the issue compares with: read the
		// request, write a fixed policy and its NUL, close.
		answer := []byte(`<?xml version="1.0"?><cross-domain-policy><allow-access-from domain="*" to-ports="*"/></cross-domain-policy>` + "\x00")
		handle = func(c *net.TCPConn) {
			buf := make([]byte, 64)
			if _, err := c.Read(buf); err == nil {
				_, _ = c.Write(answer)
			}
		}
	default:
		return fmt.Errorf("unknown -mode %q (echo, discard, policy, relay, udp-echo, ws-echo)", o.mode)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			continue
		}
		go func() {
			defer c.Close()
			handle(c.(*net.TCPConn))
		}()
	}
}

func serveUDP(ctx context.Context, addr string) error {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return fmt.Errorf("listen udp %s: %w", addr, err)
	}
	go func() { <-ctx.Done(); pc.Close() }()
	u := pc.(*net.UDPConn)
	buf := make([]byte, 65536)
	for {
		n, from, err := u.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			continue
		}
		_, _ = u.WriteToUDPAddrPort(buf[:n], from)
	}
}
