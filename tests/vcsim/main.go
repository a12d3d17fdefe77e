// vcsim for reconciler's tests: govmomi's vCenter simulator with a datacenter, one cluster of ESXi hosts
// and VMs on each host, a login enforced, TLS, the host power system and test-controlled CPU ready.
//
// Settings come from the environment (the test generates the credentials at run time):
//
//	VCSIM_USERNAME, VCSIM_PASSWORD  the only login accepted
//	VCSIM_TLS_CERT, VCSIM_TLS_KEY   PEM server certificate chain and key (plain http without them)
//	VCSIM_HOSTS                     hosts in the cluster (default 3)
//	VCSIM_HOST_NAMES                comma-separated host names (default esx01.lab.example, ...)
//	VCSIM_VMS_PER_HOST              VMs placed on each host (default 2; the last one of each host is off)
//	VCSIM_CPU_READY_FILE            JSON file of CPU ready samples (see perf.go)
//
// It prints one JSON line, {"url": ..., "hosts": [...], "vms": [...]}, then serves until killed.
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/vmware/govmomi/simulator"
)

func envInt(name string, fallback int) int {
	if value, err := strconv.Atoi(os.Getenv(name)); err == nil && value >= 0 {
		return value
	}
	return fallback
}

func hostNames(count int) []string {
	if given := strings.TrimSpace(os.Getenv("VCSIM_HOST_NAMES")); given != "" {
		names := strings.Split(given, ",")
		if len(names) != count {
			log.Fatalf("VCSIM_HOST_NAMES names %d hosts, VCSIM_HOSTS is %d", len(names), count)
		}
		return names
	}
	names := make([]string, count)
	for i := range names {
		names[i] = fmt.Sprintf("esx%02d.lab.example", i+1)
	}
	return names
}

// renameHosts gives the cluster's hosts DNS names (the simulator calls them DC0_C0_H0 ...); before
// the server starts, so no lock is needed.
func renameHosts(names []string) []*simulator.HostSystem {
	var hosts []*simulator.HostSystem
	for _, obj := range simulator.Map.All("HostSystem") {
		host := simulator.Map.Get(obj.Reference()).(*simulator.HostSystem)
		if strings.HasPrefix(host.Name, "DC0_C0_H") {
			hosts = append(hosts, host)
		}
	}
	index := func(h *simulator.HostSystem) int {
		n, _ := strconv.Atoi(strings.TrimPrefix(h.Name, "DC0_C0_H"))
		return n
	}
	for i := range hosts {
		for j := i + 1; j < len(hosts); j++ {
			if index(hosts[j]) < index(hosts[i]) {
				hosts[i], hosts[j] = hosts[j], hosts[i]
			}
		}
	}
	for i, host := range hosts {
		host.Name = names[i]
		host.Summary.Config.Name = names[i]
	}
	return hosts
}

func main() {
	log.SetFlags(0)
	user, password := os.Getenv("VCSIM_USERNAME"), os.Getenv("VCSIM_PASSWORD")
	if user == "" || password == "" {
		log.Fatal("VCSIM_USERNAME and VCSIM_PASSWORD must be set (the login the simulator accepts)")
	}
	count := envInt("VCSIM_HOSTS", 3)
	perHost := envInt("VCSIM_VMS_PER_HOST", 2)

	model := simulator.VPX()
	model.Host = 0 // no standalone host: every host is in the cluster
	model.ClusterHost = count
	model.Machine = 0 // VMs are made below, per host, with the devices the inventory tests read
	model.Autostart = false
	if err := model.Create(); err != nil {
		log.Fatalf("creating the inventory: %v", err)
	}
	defer model.Remove()

	hosts := renameHosts(hostNames(count))
	installPowerSystems()
	installReadyPerformanceManager(os.Getenv("VCSIM_CPU_READY_FILE"))

	model.Service.Listen = &url.URL{Host: "127.0.0.1:0", User: url.UserPassword(user, password)}
	if certFile, keyFile := os.Getenv("VCSIM_TLS_CERT"), os.Getenv("VCSIM_TLS_KEY"); certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			log.Fatalf("loading VCSIM_TLS_CERT/VCSIM_TLS_KEY: %v", err)
		}
		model.Service.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	server := model.Service.NewServer()
	defer server.Close()

	vms, err := createMachines(context.Background(), server.URL, hosts, perHost)
	if err != nil {
		log.Fatalf("creating the VMs: %v", err)
	}

	address := *server.URL
	address.User = nil
	names := make([]string, len(hosts))
	for i, h := range hosts {
		names[i] = h.Name
	}
	line, _ := json.Marshal(map[string]interface{}{"url": address.String(), "hosts": names, "vms": vms})
	fmt.Println(string(line))

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
}
