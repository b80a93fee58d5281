package target

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"

	"github.com/cloudtest/cloudtest/internal/config"
)

// Kube is a target inside a Kubernetes cluster. cloudtest runs outside the
// cluster and reaches the target through a port-forward over the API
// server: a loopback listener whose every connection becomes a stream to a
// ready pod of the target, chosen again when the pods change (a pod killed
// and re-created is followed to its successor once that one is ready).
type Kube struct {
	Name string
	// Namespace is the target's namespace, resolved (never empty).
	Namespace string
	// Kubeconfig and Context say which cluster, as resolved from the target
	// (empty: kubectl's defaults); the fault journal keeps them so that
	// recover reaches the same cluster.
	Kubeconfig, Context string
	Rest                *rest.Config
	Clientset           kubernetes.Interface
	Dynamic             dynamic.Interface
	spec                *config.Kubernetes

	ln       net.Listener
	stopInf  chan struct{}
	ready    func() []podPort // the ready pods now, best first
	svcPort  string           // the Service port's name, to find it in EndpointSlices
	svcPortN int              // and its number
	reqID    atomic.Int64
	mu       sync.Mutex
	conns    map[string]httpstream.Connection // by pod name
	wg       sync.WaitGroup
	closing  atomic.Bool
	lastPod  atomic.Value // string: the pod the last connection went to
	selector map[string]string
}

// How long a Kubernetes target may take to have a ready pod at the start.
var kubeReadyTimeout = 2 * time.Minute

type podPort struct {
	pod  string
	port int
}

// KubeClients loads the kubeconfig the way kubectl does (an explicit path,
// else $KUBECONFIG, else ~/.kube/config) with the given context (else the
// current one) and returns the REST config and the context's namespace.
func KubeClients(kubeconfig, context string) (*rest.Config, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if kubeconfig != "" {
		rules.ExplicitPath = kubeconfig
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: context}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	rc, err := cc.ClientConfig()
	if err != nil {
		where := "the kubeconfig ($KUBECONFIG or ~/.kube/config)"
		if kubeconfig != "" {
			where = "the kubeconfig " + kubeconfig
		}
		if context != "" {
			where += " with context " + strconv.Quote(context)
		}
		return nil, "", fmt.Errorf("loading %s: %w", where, err)
	}
	ns, _, err := cc.Namespace()
	if err != nil || ns == "" {
		ns = "default"
	}
	rc.UserAgent = "cloudtest"
	return rc, ns, nil
}

func startKubernetes(ctx context.Context, inst *Instance, opts Options) (*Instance, error) {
	k, err := StartKube(ctx, inst.Name, inst.Config.Kubernetes)
	if err != nil {
		return nil, fmt.Errorf("target %q: %w", inst.Name, err)
	}
	// Like a process target, the target is ready when it can serve.
	if err := k.WaitReady(ctx, kubeReadyTimeout); err != nil {
		k.Close()
		return nil, err
	}
	inst.Kube = k
	inst.URL = k.URL()
	inst.stop = k.Close
	return inst, nil
}

// StartKube connects to the cluster, checks that the target's pods can be
// found, and opens the loopback listener of the port-forward.
func StartKube(ctx context.Context, name string, spec *config.Kubernetes) (*Kube, error) {
	rc, ns, err := KubeClients(spec.Kubeconfig, spec.Context)
	if err != nil {
		return nil, err
	}
	if spec.Namespace != "" {
		ns = spec.Namespace
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	k := &Kube{Name: name, Namespace: ns, Kubeconfig: spec.Kubeconfig, Context: spec.Context,
		Rest: rc, Clientset: cs, Dynamic: dyn, spec: spec, conns: map[string]httpstream.Connection{}, stopInf: make(chan struct{})}
	if err := k.watch(ctx); err != nil {
		close(k.stopInf)
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		close(k.stopInf)
		return nil, err
	}
	k.ln = ln
	k.wg.Add(1)
	go k.serve()
	return k, nil
}

// watch starts the informer that keeps the target's ready pods: the
// Service's EndpointSlices (the addresses the Service itself would send to)
// or the pods of the selector.
func (k *Kube) watch(ctx context.Context) error {
	if k.spec.Service != "" {
		return k.watchService(ctx)
	}
	return k.watchPods(ctx)
}

// watchService follows the ready endpoints of the target's Service, on the
// Service port it names.
func (k *Kube) watchService(ctx context.Context) error {
	spec := k.spec
	svc, err := k.Clientset.CoreV1().Services(k.Namespace).Get(ctx, spec.Service, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("finding Service %s/%s: %w", k.Namespace, spec.Service, err)
	}
	sp, err := servicePort(svc, spec.Port)
	if err != nil {
		return fmt.Errorf("Service %s/%s %w", k.Namespace, spec.Service, err)
	}
	k.svcPort, k.svcPortN = sp.Name, int(sp.Port)
	k.selector = svc.Spec.Selector
	f := informers.NewSharedInformerFactoryWithOptions(k.Clientset, 0, informers.WithNamespace(k.Namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.LabelSelector = discoveryv1.LabelServiceName + "=" + spec.Service
		}))
	inf := f.Discovery().V1().EndpointSlices()
	lister := inf.Lister()
	inf.Informer() // registers it before Start
	f.Start(k.stopInf)
	if !cache.WaitForCacheSync(ctxDone(ctx, k.stopInf), inf.Informer().HasSynced) {
		return fmt.Errorf("watching the endpoints of Service %s/%s: %w", k.Namespace, spec.Service, context.Cause(ctx))
	}
	k.ready = func() []podPort {
		slices, err := lister.List(labels.Everything())
		if err != nil {
			return nil
		}
		return readyEndpoints(slices, k.svcPort)
	}
	return nil
}

// servicePort is the Service's port numbered port (its only one when port
// is 0); the error says which ports it has.
func servicePort(svc *corev1.Service, port int) (*corev1.ServicePort, error) {
	var sp *corev1.ServicePort
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		if (port == 0 && len(svc.Spec.Ports) == 1) || int(p.Port) == port {
			sp = p
		}
	}
	if sp == nil {
		var have []string
		for _, p := range svc.Spec.Ports {
			have = append(have, strconv.Itoa(int(p.Port)))
		}
		if port == 0 {
			return nil, fmt.Errorf("has ports %s: say which with port = N", strings.Join(have, ", "))
		}
		return nil, fmt.Errorf("has no port %d (it has %s)", port, strings.Join(have, ", "))
	}
	return sp, nil
}

// readyEndpoints are the ready pods of the endpoint slices, on the Service
// port named svcPort, by pod name.
func readyEndpoints(slices []*discoveryv1.EndpointSlice, svcPort string) []podPort {
	var out []podPort
	for _, s := range slices {
		port := 0
		for _, p := range s.Ports {
			if p.Port != nil && (p.Name == nil && svcPort == "" || p.Name != nil && *p.Name == svcPort) {
				port = int(*p.Port)
			}
		}
		if port == 0 {
			continue
		}
		for _, e := range s.Endpoints {
			ready := e.Conditions.Ready == nil || *e.Conditions.Ready
			terminating := e.Conditions.Terminating != nil && *e.Conditions.Terminating
			if ready && !terminating && e.TargetRef != nil && e.TargetRef.Kind == "Pod" {
				out = append(out, podPort{pod: e.TargetRef.Name, port: port})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].pod < out[j].pod })
	return out
}

// watchPods follows the ready pods of the target's label selector.
func (k *Kube) watchPods(ctx context.Context) error {
	spec := k.spec
	k.selector = spec.Selector
	sel := labels.SelectorFromSet(spec.Selector).String()
	f := informers.NewSharedInformerFactoryWithOptions(k.Clientset, 0, informers.WithNamespace(k.Namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = sel }))
	inf := f.Core().V1().Pods()
	lister := inf.Lister()
	inf.Informer()
	f.Start(k.stopInf)
	if !cache.WaitForCacheSync(ctxDone(ctx, k.stopInf), inf.Informer().HasSynced) {
		return fmt.Errorf("watching the pods %s in namespace %s: %w", sel, k.Namespace, context.Cause(ctx))
	}
	k.ready = func() []podPort {
		pods, err := lister.List(labels.Everything())
		if err != nil {
			return nil
		}
		var out []podPort
		for _, p := range pods {
			if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning && podReady(p) {
				out = append(out, podPort{pod: p.Name, port: spec.Port})
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i].pod < out[j].pod })
		return out
	}
	return nil
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// ctxDone is a channel closed when ctx ends or stop is closed.
func ctxDone(ctx context.Context, stop <-chan struct{}) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
		case <-stop:
		}
		close(ch)
	}()
	return ch
}

// Selector returns the labels of the target's pods: the Service's selector
// or the target's own.
func (k *Kube) Selector() map[string]string { return k.selector }

// URL is the loopback address of the port-forward.
func (k *Kube) URL() string { return k.spec.Scheme + "://" + k.ln.Addr().String() }

// ClusterURL is the target's address from inside the cluster (a load
// generator pod's): the Service's DNS name and port, or, for a selector,
// the IP of one of the ready pods (the n-th, round robin).
func (k *Kube) ClusterURL(ctx context.Context, n int) (string, error) {
	if k.spec.Service != "" {
		return fmt.Sprintf("%s://%s.%s.svc:%d", k.spec.Scheme, k.spec.Service, k.Namespace, k.svcPortN), nil
	}
	pods := k.ready()
	if len(pods) == 0 {
		return "", fmt.Errorf("no ready pod of %s", k.describe())
	}
	p := pods[n%len(pods)]
	pod, err := k.Clientset.CoreV1().Pods(k.Namespace).Get(ctx, p.pod, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	if pod.Status.PodIP == "" {
		return "", fmt.Errorf("pod %s/%s has no IP yet", k.Namespace, p.pod)
	}
	return fmt.Sprintf("%s://%s", k.spec.Scheme, net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(p.port))), nil
}

// ReadyPods names the target's pods that are ready now.
func (k *Kube) ReadyPods() []string {
	var out []string
	for _, p := range k.ready() {
		out = append(out, p.pod)
	}
	return out
}

// WaitReady waits until at least one pod of the target is ready.
func (k *Kube) WaitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for len(k.ready()) == 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("no ready pod of %s after %s", k.describe(), timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// Close stops the listener, the connections and the informer.
func (k *Kube) Close() error {
	if !k.closing.CompareAndSwap(false, true) {
		return nil
	}
	err := k.ln.Close()
	close(k.stopInf)
	k.mu.Lock()
	for name, c := range k.conns {
		c.Close()
		delete(k.conns, name)
	}
	k.mu.Unlock()
	k.wg.Wait()
	return err
}

func (k *Kube) serve() {
	defer k.wg.Done()
	for {
		c, err := k.ln.Accept()
		if err != nil {
			return
		}
		k.wg.Add(1)
		go func() {
			defer k.wg.Done()
			k.forward(c)
		}()
	}
}

// forward carries one local connection to a ready pod. With no ready pod
// the connection is closed at once: the client sees the outage, as it
// would through the Service.
func (k *Kube) forward(local net.Conn) {
	defer local.Close()
	pods := k.ready()
	if len(pods) == 0 {
		return
	}
	// Spread connections over the ready pods, as the Service would.
	p := pods[int(k.reqID.Load())%len(pods)]
	sc, err := k.connection(p.pod)
	if err != nil {
		return
	}
	k.lastPod.Store(p.pod)
	id := strconv.FormatInt(k.reqID.Add(1), 10)
	h := http.Header{}
	h.Set(corev1.StreamType, corev1.StreamTypeError)
	h.Set(corev1.PortHeader, strconv.Itoa(p.port))
	h.Set(corev1.PortForwardRequestIDHeader, id)
	errStream, err := sc.CreateStream(h)
	if err != nil {
		k.drop(p.pod, sc)
		return
	}
	errStream.Close() // nothing is written to it
	h.Set(corev1.StreamType, corev1.StreamTypeData)
	data, err := sc.CreateStream(h)
	if err != nil {
		k.drop(p.pod, sc)
		return
	}
	defer sc.RemoveStreams(data, errStream)
	failed := make(chan struct{})
	go func() {
		// The kubelet writes here when it cannot reach the pod's port.
		if msg, _ := io.ReadAll(errStream); len(msg) > 0 {
			close(failed)
		}
	}()
	remoteDone := make(chan struct{})
	go func() {
		// A client that closes its side ends the request: the pod sees EOF.
		io.Copy(data, local)
		data.Close()
	}()
	go func() {
		io.Copy(local, data)
		close(remoteDone)
	}()
	select {
	case <-remoteDone: // the pod's side ended: the connection is over
	case <-failed:
	case <-sc.CloseChan():
	}
	data.Reset()
}

// connection returns the SPDY connection to pod, dialling it the first time.
func (k *Kube) connection(pod string) (httpstream.Connection, error) {
	k.mu.Lock()
	if c, ok := k.conns[pod]; ok {
		select {
		case <-c.CloseChan():
			delete(k.conns, pod)
		default:
			k.mu.Unlock()
			return c, nil
		}
	}
	// Connections to pods that are no longer ready go.
	live := map[string]bool{}
	for _, p := range k.ready() {
		live[p.pod] = true
	}
	for name, c := range k.conns {
		if !live[name] {
			c.Close()
			delete(k.conns, name)
		}
	}
	k.mu.Unlock()
	if k.closing.Load() {
		return nil, errors.New("closed")
	}
	c, err := k.dialWithin(pod, kubeDialTimeout)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if old, ok := k.conns[pod]; ok { // another connection dialled it meanwhile
		c.Close()
		return old, nil
	}
	if k.closing.Load() {
		c.Close()
		return nil, errors.New("closed")
	}
	k.conns[pod] = c
	return c, nil
}

// dialWithin dials pod, giving up after timeout (a connection that comes
// later is closed).
func (k *Kube) dialWithin(pod string, timeout time.Duration) (httpstream.Connection, error) {
	type dialed struct {
		c   httpstream.Connection
		err error
	}
	ch := make(chan dialed, 1)
	go func() {
		c, err := k.dial(pod)
		ch <- dialed{c, err}
	}()
	select {
	case d := <-ch:
		return d.c, d.err
	case <-time.After(timeout):
		go func() { // the late connection is not wanted
			if d := <-ch; d.c != nil {
				d.c.Close()
			}
		}()
		return nil, fmt.Errorf("port-forward to pod %s/%s: no connection after %s", k.Namespace, pod, timeout)
	}
}

// How long dialling a pod's port-forward through the API server may take.
var kubeDialTimeout = 15 * time.Second

func (k *Kube) dial(pod string) (httpstream.Connection, error) {
	transport, upgrader, err := spdy.RoundTripperFor(k.Rest)
	if err != nil {
		return nil, err
	}
	u := k.Clientset.CoreV1().RESTClient().Post().Resource("pods").Namespace(k.Namespace).Name(pod).SubResource("portforward").URL()
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, u)
	c, _, err := dialer.Dial(portforward.PortForwardProtocolV1Name)
	if err != nil {
		return nil, fmt.Errorf("port-forward to pod %s/%s: %w", k.Namespace, pod, err)
	}
	return c, nil
}

func (k *Kube) drop(pod string, c httpstream.Connection) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.conns[pod] == c {
		delete(k.conns, pod)
	}
	c.Close()
}

// LastPod names the pod the last forwarded connection went to.
func (k *Kube) LastPod() string {
	s, _ := k.lastPod.Load().(string)
	return s
}

// Container is the container container-kill acts on, as configured (empty: the pods' first).
func (k *Kube) Container() string { return k.spec.Container }

// describe names what the target selects, for messages.
func (k *Kube) describe() string {
	if k.spec.Service != "" {
		return fmt.Sprintf("Service %s/%s", k.Namespace, k.spec.Service)
	}
	return fmt.Sprintf("the pods %s in namespace %s", labels.SelectorFromSet(k.spec.Selector), k.Namespace)
}
