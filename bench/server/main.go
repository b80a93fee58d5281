// Command server is the small HTTP server the load generators are measured
// against: it answers every request with "ok" and nothing else, so that the
// generator, not the server, is what the benchmark measures. With -delay it
// sleeps that long before answering (the first-step latency row).
package main

import (
	"flag"
	"log"
	"net/http"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18099", "address to listen on")
	delay := flag.Duration("delay", 0, "how long to wait before answering")
	flag.Parse()
	ok := []byte("ok")
	log.Fatal(http.ListenAndServe(*addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if *delay > 0 {
			time.Sleep(*delay)
		}
		w.Write(ok)
	})))
}
