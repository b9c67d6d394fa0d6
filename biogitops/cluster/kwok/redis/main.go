// Command miniredis is Argo CD's cache beside a kwok cluster: a Redis-compatible server
// (github.com/alicebob/miniredis/v2, pinned in pins.yaml) listening on one address until
// SIGTERM or SIGINT. Keys expire with the wall clock, as Argo CD's cache expects.
//
// Build and run it (bio-gitops builds it into the tool cache, biogitops/toolchain/tools.py):
//
//	invoke tools.install --only miniredis
//	miniredis -addr 127.0.0.1:26410 -password-file <state>/argocd/redis-password
//
// The password is read from a file, never from the command line (other users can read that).
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/alicebob/miniredis/v2"
)

// version is set by the build: -ldflags "-X main.version=..."
var version = "unknown"

func main() {
	addr := flag.String("addr", "127.0.0.1:6379", "listen address (host:port)")
	passwordFile := flag.String("password-file", "", "file whose first line is the password clients must AUTH with (none: no password)")
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Printf("miniredis v%s\n", version)
		return
	}

	server := miniredis.NewMiniRedis()
	server.ClockTTL(true)
	if *passwordFile != "" {
		data, err := os.ReadFile(*passwordFile)
		if err != nil {
			log.Fatalf("reading the password: %v", err)
		}
		password := strings.TrimSpace(strings.SplitN(string(data), "\n", 2)[0])
		if password == "" {
			log.Fatalf("%s holds no password", *passwordFile)
		}
		server.RequireAuth(password)
	}
	// before the port opens: a supervisor that sees the port may stop us at once, and an
	// unhandled SIGTERM would end the process without closing the server
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	if err := server.StartAddr(*addr); err != nil {
		log.Fatalf("listening on %s: %v", *addr, err)
	}
	log.Printf("miniredis v%s ready on %s", version, server.Addr())
	got := <-stop
	server.Close()
	log.Printf("stopped on %s", got)
}
