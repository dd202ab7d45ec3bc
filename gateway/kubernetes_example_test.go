package gateway_test

import (
	"fmt"
	"net"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/flashgate/flashgate/gateway/config"
	"gopkg.in/yaml.v3"
)

// The few fields of the Kubernetes objects the example test reads.
type k8sMeta struct {
	Name   string            `yaml:"name"`
	Labels map[string]string `yaml:"labels"`
}

type k8sPort struct {
	Name          string `yaml:"name"`
	ContainerPort int    `yaml:"containerPort"`
	Port          int    `yaml:"port"`
	TargetPort    any    `yaml:"targetPort"` // a number or a port name
	Protocol      string `yaml:"protocol"`
}

type k8sProbe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
}

type k8sContainer struct {
	Name           string    `yaml:"name"`
	Args           []string  `yaml:"args"`
	Ports          []k8sPort `yaml:"ports"`
	ReadinessProbe *k8sProbe `yaml:"readinessProbe"`
	LivenessProbe  *k8sProbe `yaml:"livenessProbe"`
	Lifecycle      struct {
		PreStop struct {
			Sleep struct {
				Seconds int `yaml:"seconds"`
			} `yaml:"sleep"`
		} `yaml:"preStop"`
	} `yaml:"lifecycle"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

type k8sSelector struct {
	MatchLabels map[string]string `yaml:"matchLabels"`
}

type k8sObject struct {
	APIVersion string            `yaml:"apiVersion"`
	Kind       string            `yaml:"kind"`
	Metadata   k8sMeta           `yaml:"metadata"`
	Data       map[string]string `yaml:"data"`
	Spec       struct {
		// Deployment
		Replicas int       `yaml:"replicas"`
		Selector yaml.Node `yaml:"selector"` // a label selector (Deployment, PDB) or a map (Service)
		Template struct {
			Metadata k8sMeta `yaml:"metadata"`
			Spec     struct {
				TerminationGracePeriodSeconds *int           `yaml:"terminationGracePeriodSeconds"`
				Containers                    []k8sContainer `yaml:"containers"`
				Volumes                       []struct {
					Name      string `yaml:"name"`
					ConfigMap *struct {
						Name string `yaml:"name"`
					} `yaml:"configMap"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
		// Service
		Type  string    `yaml:"type"`
		Ports []k8sPort `yaml:"ports"`
		// PodDisruptionBudget
		MinAvailable *int `yaml:"minAvailable"`
	} `yaml:"spec"`
}

// loadK8s reads every object of the example's YAML files, by kind.
func loadK8s(t *testing.T, dir string) map[string]*k8sObject {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no YAML in %s: %v", dir, err)
	}
	objs := map[string]*k8sObject{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var o k8sObject
		if err := yaml.Unmarshal(b, &o); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if o.Kind == "" || o.APIVersion == "" || o.Metadata.Name == "" {
			t.Fatalf("%s: kind %q, apiVersion %q, name %q", f, o.Kind, o.APIVersion, o.Metadata.Name)
		}
		if objs[o.Kind] != nil {
			t.Fatalf("%s: a second %s", f, o.Kind)
		}
		objs[o.Kind] = &o
	}
	for _, kind := range []string{"ConfigMap", "Deployment", "Service", "PodDisruptionBudget"} {
		if objs[kind] == nil {
			t.Fatalf("examples/kubernetes has no %s", kind)
		}
	}
	return objs
}

func portOf(t *testing.T, address string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(address)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// selectorLabels reads a selector node: {matchLabels: {...}} or a plain map.
func selectorLabels(t *testing.T, n yaml.Node) map[string]string {
	t.Helper()
	var ls k8sSelector
	if err := n.Decode(&ls); err == nil && len(ls.MatchLabels) > 0 {
		return ls.MatchLabels
	}
	var m map[string]string
	if err := n.Decode(&m); err != nil {
		t.Fatalf("selector: %v", err)
	}
	return m
}

func matches(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// TestKubernetesExample checks examples/kubernetes against the config in
// its ConfigMap: the config is valid; every listener, UDP and admin port is
// a container port with the right protocol; the Service exposes every
// listener and UDP port and targets real container ports; readiness and
// liveness GET /healthz on the admin port; the grace period covers the
// preStop sleep and shutdown_timeout; labels and selectors agree.
func TestKubernetesExample(t *testing.T) {
	dir := filepath.Join("..", "examples", "kubernetes")
	objs := loadK8s(t, dir)
	cm, dep, svc, pdb := objs["ConfigMap"], objs["Deployment"], objs["Service"], objs["PodDisruptionBudget"]

	src, ok := cm.Data["config.hcl"]
	if !ok {
		t.Fatal("ConfigMap has no config.hcl")
	}
	t.Setenv("FLASHGATE_ADMIN_TOKEN", "from-the-secret") // the Deployment sets it: an unset one is an error
	cfg, err := config.Parse([]byte(src), filepath.Join(dir, "config.hcl"))
	if err != nil {
		t.Fatalf("the ConfigMap's config.hcl:\n%v", err)
	}
	if cfg.Admin == nil {
		t.Fatal("the config has no admin block: nothing for the probes")
	}

	// What the config listens on.
	type pp struct {
		port  int
		proto string
	}
	want := map[pp]string{} // → what it is
	for _, l := range cfg.Listeners {
		want[pp{portOf(t, l.Address), "TCP"}] = "listener " + l.Name
	}
	for _, u := range cfg.UDP {
		want[pp{portOf(t, u.Address), "UDP"}] = "udp " + u.Name
	}
	adminPort := portOf(t, cfg.Admin.Address)
	want[pp{adminPort, "TCP"}] = "admin"

	if dep.Spec.Replicas != 2 {
		t.Errorf("Deployment replicas %d, want 2", dep.Spec.Replicas)
	}
	pod := dep.Spec.Template
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]
	byName := map[string]k8sPort{}
	have := map[pp]bool{}
	for _, p := range c.Ports {
		proto := p.Protocol
		if proto == "" {
			proto = "TCP"
		}
		p.Protocol = proto
		have[pp{p.ContainerPort, proto}] = true
		if p.Name != "" {
			byName[p.Name] = p
		}
		if want[pp{p.ContainerPort, proto}] == "" {
			t.Errorf("container port %d/%s is nothing in the config", p.ContainerPort, proto)
		}
	}
	for k, what := range want {
		if !have[k] {
			t.Errorf("%s listens on %d/%s: no container port", what, k.port, k.proto)
		}
	}
	// resolve finds the container port a Service targetPort or probe port names.
	resolve := func(v any) (k8sPort, bool) {
		switch x := v.(type) {
		case string:
			p, ok := byName[x]
			return p, ok
		case int:
			for _, p := range c.Ports {
				if p.ContainerPort == x {
					return p, true
				}
			}
		}
		return k8sPort{}, false
	}

	// Service: every listener and UDP port exposed, with its protocol; admin
	// stays private.
	exposed := map[pp]bool{}
	for _, sp := range svc.Spec.Ports {
		proto := sp.Protocol
		if proto == "" {
			proto = "TCP"
		}
		target := sp.TargetPort
		if target == nil {
			target = sp.Port
		}
		cp, ok := resolve(target)
		if !ok {
			t.Errorf("Service port %s (%d) targets %v: no such container port", sp.Name, sp.Port, target)
			continue
		}
		if cp.Protocol != proto {
			t.Errorf("Service port %s is %s, its container port %d is %s", sp.Name, proto, cp.ContainerPort, cp.Protocol)
		}
		if cp.ContainerPort == adminPort {
			t.Errorf("Service exposes the admin port %d", adminPort)
		}
		exposed[pp{cp.ContainerPort, proto}] = true
	}
	for k, what := range want {
		if what != "admin" && !exposed[k] {
			t.Errorf("%s (%d/%s) is not in the Service", what, k.port, k.proto)
		}
	}

	// Probes.
	for name, pr := range map[string]*k8sProbe{"readinessProbe": c.ReadinessProbe, "livenessProbe": c.LivenessProbe} {
		if pr == nil || pr.HTTPGet == nil {
			t.Errorf("no %s.httpGet", name)
			continue
		}
		if pr.HTTPGet.Path != "/healthz" {
			t.Errorf("%s path %q, want /healthz", name, pr.HTTPGet.Path)
		}
		if cp, ok := resolve(pr.HTTPGet.Port); !ok || cp.ContainerPort != adminPort {
			t.Errorf("%s port %v is not the admin port %d", name, pr.HTTPGet.Port, adminPort)
		}
	}

	// Grace: preStop sleep, then SIGTERM and up to shutdown_timeout of drain.
	g := pod.Spec.TerminationGracePeriodSeconds
	if g == nil {
		g = new(int) // Kubernetes' default is 30 s; the example must say it
	}
	need := time.Duration(c.Lifecycle.PreStop.Sleep.Seconds)*time.Second + cfg.ShutdownTimeout
	if time.Duration(*g)*time.Second < need {
		t.Errorf("terminationGracePeriodSeconds %d < preStop sleep %ds + shutdown_timeout %v", g, c.Lifecycle.PreStop.Sleep.Seconds, cfg.ShutdownTimeout)
	} else if time.Duration(*g)*time.Second > need+30*time.Second {
		t.Errorf("terminationGracePeriodSeconds %d is far above the %v flashgate needs", *g, need)
	}

	// The config file the container runs is the ConfigMap's config.hcl.
	var cfgPath string
	for i, a := range c.Args {
		if a == "-config" && i+1 < len(c.Args) {
			cfgPath = c.Args[i+1]
		}
	}
	mounted := false
	for _, vm := range c.VolumeMounts {
		for _, v := range pod.Spec.Volumes {
			if v.Name == vm.Name && v.ConfigMap != nil && v.ConfigMap.Name == cm.Metadata.Name &&
				cfgPath == path.Join(vm.MountPath, "config.hcl") {
				mounted = true
			}
		}
	}
	if !mounted {
		t.Errorf("the container runs -config %q, which is not config.hcl of ConfigMap %q", cfgPath, cm.Metadata.Name)
	}

	// Labels: the Deployment, Service and PDB select the pods.
	labels := pod.Metadata.Labels
	for kind, o := range map[string]*k8sObject{"Deployment": dep, "Service": svc, "PodDisruptionBudget": pdb} {
		if !matches(selectorLabels(t, o.Spec.Selector), labels) {
			t.Errorf("%s selector does not select the pods (%v)", kind, labels)
		}
	}
	if pdb.Spec.MinAvailable == nil || *pdb.Spec.MinAvailable < 1 || *pdb.Spec.MinAvailable >= dep.Spec.Replicas {
		t.Errorf("PodDisruptionBudget minAvailable %v: want 1 ≤ it < replicas %d", pdb.Spec.MinAvailable, dep.Spec.Replicas)
	}
	t.Logf("%d ports (%s), admin %d, grace %ds ≥ %v", len(want), fmt.Sprint(want), adminPort, *g, need)
}
