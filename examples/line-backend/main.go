// Command line-backend is a line-based chat server in the style of the Java
// SimpleServer in Adobe's "Setting up a socket policy file server" guide: it
// reads one line per message (readLine) and sends each line to every
// connected client, ending it with "\r\n". Put flashgate with backend
// framing = "line" in front of it and XMLSocket clients can talk to it.
package main

import (
	"bufio"
	"flag"
	"log"
	"net"
	"sync"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:5000", "address to listen on")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("line chat on %s", ln.Addr())
	var mu sync.Mutex
	clients := map[net.Conn]bool{}
	broadcast := func(line string) {
		mu.Lock()
		defer mu.Unlock()
		for c := range clients {
			c.Write([]byte(line + "\r\n"))
		}
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		mu.Lock()
		clients[c] = true
		mu.Unlock()
		go func() {
			defer func() {
				mu.Lock()
				delete(clients, c)
				mu.Unlock()
				c.Close()
			}()
			sc := bufio.NewScanner(c)
			sc.Buffer(make([]byte, 4096), 64<<10)
			for sc.Scan() { // one message per line, like readLine()
				log.Printf("%s: %s", c.RemoteAddr(), sc.Text())
				broadcast(sc.Text())
			}
		}()
	}
}
