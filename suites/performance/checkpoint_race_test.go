package performance

import (
	"encoding/json"
	"sync"
	"testing"
	"time"
)

// A generator's checkpoint is encoded on its progress line while requests
// go on being recorded: it holds copies, not the recorder's live maps
// (encoding them raced with every request's count, and could end the
// generator with "concurrent map iteration and map write"). Run with -race
// (CI does) this fails on a shared map.
func TestACheckpointIsACopy(t *testing.T) {
	r := newRecorder(time.Now())
	r.keepParts()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			code, kind := 200, ""
			if i%3 == 0 {
				code, kind = 500+i%7, "status 50x"
			}
			r.requestKey("j › s", time.Now(), time.Millisecond, kind == "", code, kind, 10, 10)
		}
	}()
	for range 200 {
		p := r.checkpoint()
		if _, err := json.Marshal(message{Progress: true, Totals: p}); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	p := r.checkpoint()
	if p.Overall.Requests == 0 || len(p.Overall.Codes) == 0 {
		t.Fatalf("the checkpoint counts nothing: %+v", p.Overall)
	}
	p.Overall.Codes[999] = 1
	if r.checkpoint().Overall.Codes[999] != 0 {
		t.Fatal("a checkpoint's codes are the recorder's own map")
	}
}
