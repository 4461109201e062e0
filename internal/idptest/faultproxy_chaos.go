package idptest

import "math/rand/v2"

// DropConnections makes every connection open to the proxy now dead
// without a word, as the connections a client kept for reuse are after
// its machine slept behind a NAT, or moved to another network: a request
// sent on one is never answered (nor is the connection closed), while new
// connections are served as usual. Such requests are counted in
// [Injected].Dropped.
func (p *FaultProxy) DropConnections() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dropped = p.conns
}

// Chaos fails a share of the requests, each drawn at random: FailRate of
// them are answered Status (503 when 0), HangRate are never answered.
// Half the requests left unanswered reach the provider first (see
// [Fault].Forward): a client that sent one of those refresh tokens again
// would be seen redeeming it twice.
// OnInject, when set, is called with each fault injected, as the request
// meets it.
type Chaos struct {
	FailRate, HangRate float64
	Status             int
	OnInject           func(Fault)
}

// Injected counts the faults the proxy injected.
type Injected struct {
	Failed  int // answered with an error status by Chaos
	Hung    int // held without an answer by Chaos
	Dropped int // sent on a connection DropConnections killed
}

// SetChaos makes the proxy fail requests at random (see [Chaos]) instead
// of as [FaultProxy.Set] says; nil stops it.
func (p *FaultProxy) SetChaos(c *Chaos) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.chaos = c
}

// Injected returns the faults injected so far.
func (p *FaultProxy) Injected() Injected {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.injects
}

// chaosFault draws the fate of one request, and whether it is a fault of
// Chaos's; p.mu is held.
func (p *FaultProxy) chaosFault() (Fault, bool) {
	c := p.chaos
	switch x := rand.Float64(); {
	case x < c.HangRate:
		p.injects.Hung++
		return Fault{Hang: true, Forward: x < c.HangRate/2}, true
	case x < c.HangRate+c.FailRate:
		p.injects.Failed++
		status := c.Status
		if status == 0 {
			status = 503
		}
		return Fault{Status: status}, true
	}
	return p.fault, false
}
